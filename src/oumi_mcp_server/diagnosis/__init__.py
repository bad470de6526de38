"""Why a job failed, from its logs, exit code and engine record, and the fix as a config patch.

A leaf of pure functions over text, files and signals (no jobs/, no MCP, no oumi or
torch): ``diagnose`` / ``diagnose_file`` (service.py) read a log within a byte budget,
find the root cause among a fixed vocabulary (models.Cause), and answer a
``Diagnosis`` with masked evidence and a ``Fix``; ``newest_checkpoint`` finds the
checkpoint to resume from. The caller runs them in a worker thread.
"""

from oumi_mcp_server.diagnosis.checkpoints import newest_checkpoint
from oumi_mcp_server.diagnosis.models import CAUSES, Candidate, Cause, Diagnosis, Evidence, Fix
from oumi_mcp_server.diagnosis.service import diagnose, diagnose_file, diagnose_files

__all__ = [
    "CAUSES",
    "Candidate",
    "Cause",
    "Diagnosis",
    "Evidence",
    "Fix",
    "diagnose",
    "diagnose_file",
    "diagnose_files",
    "newest_checkpoint",
]
