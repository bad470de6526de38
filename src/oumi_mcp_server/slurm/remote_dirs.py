"""What the server creates on a cluster before a launch (it writes: never used by checks).

Blocking (ssh): call from worker threads.
"""

from __future__ import annotations

import shlex

from oumi_mcp_server.errors import EngineTimeoutError, EngineUnavailableError
from oumi_mcp_server.slurm.layout import LOG_DIR, require_log_dir
from oumi_mcp_server.slurm.ssh import run_remote_script


def ensure_log_dir(cluster: str, *, log_dir: str = LOG_DIR, timeout_s: float = 10.0) -> None:
    """Create ``~/<log_dir>`` on the cluster (``mkdir -p``), as launches need it to exist."""
    quoted = shlex.quote(require_log_dir(log_dir))
    result = run_remote_script(cluster, f'mkdir -p -- "$HOME"/{quoted}\n', timeout_s=timeout_s)
    if result.timed_out:
        raise EngineTimeoutError(
            f"ssh {cluster} did not answer within {timeout_s:g} s (creating ~/{log_dir}).",
            next_step=f"Check that `ssh {cluster} true` answers, then try again.",
        )
    if result.returncode != 0:
        raise EngineUnavailableError(
            f"Could not create ~/{log_dir} on {cluster}: {result.stderr or result.returncode}.",
            next_step=f"Create it yourself: `ssh {cluster} mkdir -p {log_dir}`.",
        )
