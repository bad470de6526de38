"""Where jobs can run for this person: which engines are in use, which are not configured.

Read from what is on this machine, never by starting anything: SkyPilot's record of
its last ``sky check`` (skypilot_state.py) and the Slurm clusters of
``OUMI_SLURM_CONNECTIONS``. get_started and doctor say it with the next step for each
engine not configured yet. Blocking (a file read): call from worker threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.environment.skypilot_state import SKY_DIR, SkyPilotRecord, read_skypilot_record
from oumi_mcp_server.slurm.layout import CONNECTIONS_ENV

THIS_MACHINE = "this machine"
SKYPILOT = "SkyPilot clouds"
SLURM = "Slurm"
SKYPILOT_NEXT_STEP = (
    "Set up a cloud's credentials (e.g. `gcloud auth application-default login`, "
    "`aws configure`), then run `sky check`: list_jobs and pre-flight follow its result."
)
SLURM_NEXT_STEP = (
    f"Set {CONNECTIONS_ENV}=user@login-node in the server's environment, with ssh working "
    "without prompts (README: Run on a Slurm cluster)."
)


class EngineUse(AnswerModel):
    engine: str = Field(description="this machine, SkyPilot clouds or Slurm.")
    in_use: bool = Field(description="False: not configured on this machine.")
    scope: str = Field(default="", description="The clouds or clusters in use.")
    detail: str
    next_step: str = Field(default="", description="How to start using it ('' if in use).")


def configured_clusters(environ: Mapping[str, str] | None = None) -> list[str]:
    """The Slurm clusters of ``OUMI_SLURM_CONNECTIONS`` (comma-separated ``user@host``)."""
    raw = (os.environ if environ is None else environ).get(CONNECTIONS_ENV, "")
    return list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))


def read_engines_in_use(sky_dir: Path = SKY_DIR) -> list[EngineUse]:
    return engines_in_use(read_skypilot_record(sky_dir), configured_clusters())


def engines_in_use(skypilot: SkyPilotRecord, slurm_clusters: Sequence[str]) -> list[EngineUse]:
    here = EngineUse(
        engine=THIS_MACHINE,
        in_use=True,
        detail="run_oumi_job(cloud='') runs jobs here in their own process group; a job "
        "config with resources.cloud: local runs here through oumi.launcher.",
    )
    return [here, _skypilot(skypilot), _slurm(slurm_clusters)]


def _skypilot(record: SkyPilotRecord) -> EngineUse:
    if record.remote_endpoint:
        return EngineUse(
            engine=SKYPILOT,
            in_use=True,
            scope=f"remote API server {record.remote_endpoint}",
            detail=f"through the remote SkyPilot API server at {record.remote_endpoint}; "
            "list_jobs asks every SkyPilot cloud.",
        )
    enabled = record.enabled_launcher_clouds()
    if enabled:
        return EngineUse(
            engine=SKYPILOT,
            in_use=True,
            scope=", ".join(enabled),
            detail=f"{', '.join(enabled)} (enabled by SkyPilot's last `sky check`; "
            "list_jobs asks these).",
        )
    return EngineUse(
        engine=SKYPILOT,
        in_use=False,
        detail=f"not configured: {record.describe()}; list_jobs asks no SkyPilot cloud "
        "(asking one would start SkyPilot's API server).",
        next_step=SKYPILOT_NEXT_STEP,
    )


def _slurm(clusters: Sequence[str]) -> EngineUse:
    if clusters:
        return EngineUse(
            engine=SLURM,
            in_use=True,
            scope=", ".join(clusters),
            detail=f"clusters {', '.join(clusters)} ({CONNECTIONS_ENV}).",
        )
    return EngineUse(
        engine=SLURM,
        in_use=False,
        detail=f"not configured ({CONNECTIONS_ENV} is not set).",
        next_step=SLURM_NEXT_STEP,
    )


def engines_line(engines: Sequence[EngineUse]) -> str:
    """One line: the engines in use, then those not configured with their next step."""
    used = ", ".join(
        f"{use.engine} ({use.scope})" if use.scope else use.engine for use in engines if use.in_use
    )
    unused = " ".join(f"{use.engine}: {use.next_step}" for use in engines if not use.in_use)
    return f"In use: {used}." + (f" Not configured: {unused}" if unused else "")
