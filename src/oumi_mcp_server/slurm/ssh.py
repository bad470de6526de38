"""Run a small script on a ``user@host`` over ssh: non-interactive, bounded, nothing left behind.

The cluster name is checked first (a plain user and host: nothing that ssh would
read as an option). ssh runs in batch mode (no prompt can hang it) in its own
process group; at the time limit the whole group is killed and reaped, and what
was printed so far is returned. Error output is masked and cut to its tail.
Blocking: call from worker threads.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass

from oumi_mcp_server.errors import EngineUnavailableError, InvalidArgumentError
from oumi_mcp_server.masking import mask_text

CONNECT_TIMEOUT_S = 5
STDERR_TAIL_CHARS = 400

_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9_.:\[\]][A-Za-z0-9_.:\[\]%-]{0,252}")


def cluster_problem(cluster: str) -> str:
    """Why ``cluster`` is not a usable ``user@host`` (options cannot be smuggled in), or ""."""
    user, at, host = cluster.partition("@")
    if not at:
        return "a Slurm cluster is named user@host (e.g. alice@login.example.org)"
    if not _USER.fullmatch(user):
        return "the user part must be a plain user name (letters, digits, '.', '_', '-')"
    if not _HOST.fullmatch(host):
        return "the host part must be a plain host name or address, not starting with '-'"
    return ""


def require_cluster(cluster: str, field_name: str = "cluster_name") -> tuple[str, str]:
    """(user, host) of a valid cluster name; InvalidArgumentError otherwise."""
    problem = cluster_problem(cluster)
    if problem:
        raise InvalidArgumentError(field_name, problem)
    user, _, host = cluster.partition("@")
    return user, host


@dataclass(frozen=True)
class RemoteResult:
    stdout: bytes
    stderr: str  # masked, its tail only
    returncode: int | None  # None: stopped at the time limit
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def ssh_command(cluster: str, remote: str = "sh -s") -> list[str]:
    require_cluster(cluster)
    return [
        "ssh",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT_S}",
        "-o",
        "ControlMaster=no",  # may use a master oumi opened; never leaves one running
        "--",
        cluster,
        remote,
    ]


def run_remote_script(
    cluster: str, script: str, *, timeout_s: float, remote: str = "sh -s"
) -> RemoteResult:
    """Run ``script`` with ``remote`` (a shell reading stdin) on ``cluster`` over ssh, for at
    most ``timeout_s``: then ssh and everything it started here are killed (own process group)
    and what was printed so far is returned. Nothing is left running on this machine."""
    command = ssh_command(cluster, remote)
    began = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise EngineUnavailableError(
            f"Cannot run ssh: {exc}.", next_step="Install an OpenSSH client on this machine."
        ) from exc
    returncode: int | None
    try:
        out, err = process.communicate(script.encode(), timeout=max(0.1, timeout_s))
        returncode = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = _collect(process)
        returncode = None
    except BaseException:
        _kill_group(process)
        _collect(process)
        raise
    said = err.decode("utf-8", errors="replace").strip().rstrip(".")
    stderr = mask_text(said)[-STDERR_TAIL_CHARS:]
    return RemoteResult(out, stderr, returncode, time.monotonic() - began)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


def _collect(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """What the killed process printed (kept across the timeout), and reap it."""
    try:
        return process.communicate(timeout=2.0)
    except subprocess.TimeoutExpired:  # something outside the group holds the pipes
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()
        return b"", b""
