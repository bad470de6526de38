"""Where oumi's ``slurm`` cloud keeps things on a cluster, and how its connections are named."""

from __future__ import annotations

import re

from oumi_mcp_server.errors import InvalidArgumentError

LOG_DIR = "oumi_slurm_logs"  # under the remote $HOME: where oumi has sbatch write job output
CONNECTIONS_ENV = "OUMI_SLURM_CONNECTIONS"
SSH_HINT = (
    "oumi reaches the cluster with ssh in the background, so no prompt can be answered. "
    "Make `ssh -o BatchMode=yes {cluster} true` work in a terminal: add an entry to "
    "~/.ssh/config (`Host {host}` with HostName, Port, `User {user}`, IdentityFile "
    "~/.ssh/<key> and `BatchMode yes`), put the key's .pub line in ~/.ssh/authorized_keys "
    "on the cluster, and accept the host key once by running `ssh {cluster} true`."
)

_LOG_DIR = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]{0,200}")


def require_log_dir(log_dir: str) -> str:
    """``log_dir`` if it is a plain relative path under the remote home."""
    if not _LOG_DIR.fullmatch(log_dir) or ".." in log_dir.split("/"):
        raise InvalidArgumentError("log_dir", "a plain directory path under the remote home")
    return log_dir
