"""Cloud readiness (is the target cloud enabled?) and credentials that stay behind."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.environment.skypilot_state import SKYPILOT_CLOUDS
from oumi_mcp_server.preflight.context import PreflightContext
from oumi_mcp_server.preflight.models import CloudReport, Finding

CHECK = "cloud"
# Local variables a job usually needs that are not copied to the VM unless passed in envs.
LOCAL_ONLY_ENV_VARS = ("HF_TOKEN", "WANDB_API_KEY", "WANDB_PROJECT", "COMET_API_KEY")


async def check_cloud(
    ctx: PreflightContext, checker: CloudChecker
) -> tuple[CloudReport, list[Finding], list[Finding]]:
    target = ctx.target
    if target not in SKYPILOT_CLOUDS:  # checked by oumi.launcher itself at launch time
        report = CloudReport(
            target=target,
            uses_skypilot=False,
            enabled=None,
            note="Not a SkyPilot cloud: oumi.launcher checks it when launching.",
        )
        return report, [], []
    readiness = await checker.check()
    report = CloudReport(
        target=target,
        uses_skypilot=True,
        enabled=None,
        enabled_clouds=readiness.enabled_clouds,
        skypilot_version=readiness.skypilot_version,
    )
    if readiness.error:
        report.note = readiness.error
        warning = Finding(
            check=CHECK,
            message=f"Could not verify that {target} is enabled: {readiness.error}",
            hint=readiness.next_step or "Run `sky check` in a terminal.",
        )
        return report, [], [warning]
    report.enabled = SKYPILOT_CLOUDS[target] in {c.lower() for c in readiness.enabled_clouds}
    if not report.enabled:
        enabled = ", ".join(readiness.enabled_clouds) or "none"
        error = Finding(
            check=CHECK,
            message=f"Cloud '{target}' is not enabled in SkyPilot (enabled: {enabled}).",
            hint=f"Set up credentials for {target} and run `sky check {SKYPILOT_CLOUDS[target]}`.",
        )
        return report, [error], []
    return report, [], []


def env_hints(ctx: PreflightContext, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Local credentials that will not reach the VM unless passed through envs."""
    env = os.environ if environ is None else environ
    findings = []
    missing = [name for name in LOCAL_ONLY_ENV_VARS if env.get(name) and name not in ctx.envs]
    if missing:
        findings.append(
            Finding(
                check=CHECK,
                message=f"Set locally but not passed to the job: {', '.join(missing)}. "
                "The VM will not have them.",
                hint="Pass them through the job's envs (run_oumi_job envs=...) if the job "
                "needs them.",
            )
        )
    local_files = [name for name, value in ctx.envs.items() if _local_only_path(ctx, value)]
    if local_files:
        findings.append(
            Finding(
                check=CHECK,
                message=f"{', '.join(sorted(local_files))} point(s) at files outside the "
                "working dir, which are not synced: the path will not exist on the VM.",
                hint="Move the file into the project (and use a relative path), or add it to "
                "the job config's file_mounts.",
            )
        )
    return findings


def _local_only_path(ctx: PreflightContext, value: str) -> bool:
    if not value.startswith(("/", "~")):
        return False
    path = Path(value).expanduser()
    try:
        if not path.exists():
            return False
        path.resolve().relative_to(ctx.working_dir.resolve())
    except ValueError:
        return True
    except OSError:
        return False
    return False
