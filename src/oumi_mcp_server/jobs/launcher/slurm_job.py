"""A JobConfig made right for oumi's ``slurm`` cloud, for a generated or a given job config.

What oumi 0.9's slurm cloud needs that no other cloud does (each change is
shown in the dry run, which shows the JobConfig as launched):

- ``cluster_name`` is ``user@host`` and the job's ``user`` is that user;
- ``working_dir`` ends with ``/``: it is copied with rsync, and without the
  slash it lands one directory down where the job cannot find its files;
- env values are shell-quoted: oumi writes ``export K=V`` into the job script
  without quoting them;
- the setup activates the user's oumi environment on the cluster
  (``OUMI_MCP_SLURM_SETUP``, e.g. ``source ~/venvs/oumi/bin/activate`` or
  ``module load oumi``); a generated job never pip-installs on a compute node,
  and without an activation it stops at once, saying so, if ``oumi`` is not on
  the cluster's PATH;
- a time limit becomes ``#SBATCH --time`` at the top of the run block (CPUs,
  memory and accelerators go to ``resources``: oumi turns them into
  ``--cpus-per-task``, ``--mem`` and ``--gres``).
"""

from __future__ import annotations

import copy
import shlex
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError

SLURM_SETUP_ENV = "OUMI_MCP_SLURM_SETUP"
OUMI_MISSING = (
    'command -v oumi >/dev/null || { echo "oumi is not on PATH on this cluster: set '
    f"{SLURM_SETUP_ENV} in the MCP server's environment to the command that activates "
    'it (e.g. source ~/venvs/oumi/bin/activate)" >&2; exit 127; }'
)


def slurm_user(cluster_name: str) -> str:
    """The user of a ``user@host`` cluster name (an error for anything else)."""
    user, at, host = cluster_name.partition("@")
    if not at or not user or not host:
        raise InvalidArgumentError(
            "cluster_name",
            "Slurm jobs run on a cluster named user@host (as in OUMI_SLURM_CONNECTIONS).",
            next_step="Pass cluster_name='user@login-node', e.g. cluster_name='alice@hpc.example'.",
        )
    return user


def for_slurm(
    job: dict[str, Any],
    cluster_name: str,
    *,
    activate: str,
    time_limit: str = "",
    generated: bool,
) -> dict[str, Any]:
    """``job`` (not changed) made right for oumi's slurm cloud."""
    user = slurm_user(cluster_name)
    given_user = job.get("user")
    if given_user and str(given_user) != user:
        raise InvalidArgumentError(
            "cluster_name",
            f"the job config's user '{given_user}' is not the cluster's user '{user}'.",
            next_step="Make them the same: oumi's slurm cloud submits as the cluster's user.",
        )
    result = copy.deepcopy(job)
    result["user"] = user
    working_dir = str(result.get("working_dir") or ".")
    result["working_dir"] = working_dir if working_dir.endswith("/") else working_dir + "/"
    result["envs"] = {
        str(name): shlex.quote(str(value)) for name, value in (result.get("envs") or {}).items()
    }
    given = str(result.get("setup") or "").strip()
    head, body = _split_after_last_sbatch(given.split("\n") if given else [])
    # sbatch reads #SBATCH lines only before the first command: activation comes after.
    setup = [*head, *([activate] if activate.strip() else [])]
    setup += [OUMI_MISSING] if generated else body
    if setup:
        result["setup"] = "\n".join(setup)
    else:
        result.pop("setup", None)
    if time_limit:
        result["run"] = f"#SBATCH --time={time_limit}\n{result.get('run') or ''}"
    return result


def job_script(job: dict[str, Any]) -> str:
    """The batch script oumi's slurm cloud writes for ``job`` (``oumi_job.sh``): the
    leading ``#SBATCH`` lines of setup and run, the exports, the setup, the run."""
    setup = str(job.get("setup") or "").strip()
    setup_lines = setup.split("\n") if setup else []
    run_lines = str(job.get("run") or "").strip().split("\n")
    setup_head, setup_body = _split_after_last_sbatch(setup_lines)
    run_head, run_body = _split_after_last_sbatch(run_lines)
    exports = [f"export {name}={value}" for name, value in (job.get("envs") or {}).items()]
    lines = [*setup_head, *run_head, *(["", *exports, ""] if exports else [])]
    lines += [*setup_body, *run_body]
    if not lines or not lines[0].startswith("#!/bin/bash"):
        lines.insert(0, "#!/bin/bash")
    return "\n".join(lines) + "\n"


def _split_after_last_sbatch(lines: list[str]) -> tuple[list[str], list[str]]:
    marked = [index for index, line in enumerate(lines) if line.startswith("#SBATCH")]
    last = marked[-1] if marked else -1
    return lines[: last + 1], lines[last + 1 :]
