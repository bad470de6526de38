"""``oumi-mcp-server doctor``: a read-only check of this installation, in a few seconds.

versions, config library, docs index, job registry, SkyPilot, clouds, Slurm,
Hugging Face token and GPU, each ok / warn / fail with a fix, plus the client
configuration to paste. Nothing is downloaded, built, created or started.
No MCP imports: cli.py prints what ``run_doctor`` returns.
"""

from oumi_mcp_server.doctor.models import ClientConfig, DoctorReport, Section
from oumi_mcp_server.doctor.run import render_text, run_doctor

__all__ = ["ClientConfig", "DoctorReport", "Section", "render_text", "run_doctor"]
