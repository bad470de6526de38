"""A Slurm job's log read over ssh in bounded pieces: a tail, or a forward page from an offset.

oumi has sbatch write a job's output to ``~/oumi_slurm_logs/<job id>.out`` on
the cluster. oumi's own reader follows it with ``tail -F`` (it never ends while
the job runs) and expands ``$HOME`` on this machine, which names the wrong
directory whenever the local and the remote home differ. Here one ssh call
measures the file (``wc -c``) and sends at most ``max_bytes`` of it
(``tail -c +N | head -c M``, which seeks: the cost follows the answer, not the
file); ``$HOME`` is expanded by the remote shell. The call has a time limit;
past it ssh is killed with its process group, so nothing is left running here.
Pages hold whole lines and are cut at byte offsets, so "call again with
offset=N" continues exactly where the last page stopped. Blocking: call from
worker threads.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from oumi_mcp_server.errors import EngineTimeoutError, EngineUnavailableError, InvalidArgumentError
from oumi_mcp_server.jobs.backend import LogRead
from oumi_mcp_server.jobs.catalog import MAX_LOG_CHARS, MAX_LOG_LINES
from oumi_mcp_server.jobs.launcher.logs import STREAM_NAME
from oumi_mcp_server.jobs.logs import LogPage, _display
from oumi_mcp_server.masking import mask_text, shown
from oumi_mcp_server.slurm.layout import LOG_DIR
from oumi_mcp_server.slurm.ssh import require_cluster, run_remote_script

HEADER = b"@@oumi-mcp-log "
SSH_FAILED = 255  # ssh's own exit code: it could not connect or log in
_JOB_ID = re.compile(r"[0-9]{1,20}(?:_[0-9]{1,10})?")  # 123, or an array task 123_4


@dataclass(frozen=True)
class SlurmLog:
    """A piece of a Slurm job's log: bytes [start, end) of a file of ``size`` bytes."""

    text: str  # masked: what may be shown
    size: int  # the file's size when read (0 when there is no file yet)
    start: int  # byte offset of the first byte returned
    end: int  # byte offset just after the last byte returned
    complete: bool  # nothing follows ``end`` (when read): the whole rest of the log is here
    found: bool = True  # False: the job has written no log file (yet)
    lines: int = 0
    truncated: bool = False  # a line longer than max_bytes was cut


def log_path(job_id: str, log_dir: str = LOG_DIR) -> str:
    """The log's path relative to the remote home (Slurm job ids only: no path tricks)."""
    if not _JOB_ID.fullmatch(job_id):
        raise InvalidArgumentError(
            "job_id", f"{shown(job_id)} is not a Slurm job id (digits, or 123_4 for an array task)"
        )
    return f"{log_dir}/{job_id}.out"


def read_script(path: str, max_bytes: int, offset: int | None) -> str:
    """The remote script: a header ``size start count`` (or ``missing``), then the bytes."""
    start = "" if offset is None else str(offset)
    return f"""f="$HOME"/{shlex.quote(path)}
if [ ! -f "$f" ]; then echo "@@oumi-mcp-log missing"; exit 0; fi
size=$(wc -c < "$f" | tr -d ' ') || exit 3
max={max_bytes}
start={start}
if [ -z "$start" ]; then start=$((size - max)); [ "$start" -lt 0 ] && start=0; fi
[ "$start" -gt "$size" ] && start=$size
count=$((size - start)); [ "$count" -gt "$max" ] && count=$max
echo "@@oumi-mcp-log $size $start $count"
if [ "$count" -gt 0 ]; then tail -c +$((start + 1)) -- "$f" | head -c "$count"; fi
exit 0
"""


def read_slurm_log(
    cluster: str,
    job_id: str,
    *,
    max_bytes: int = MAX_LOG_CHARS,
    offset: int | None,
    timeout_s: float,
    lines: int = MAX_LOG_LINES,
    log_dir: str = LOG_DIR,
) -> SlurmLog:
    """The last ``max_bytes`` of the log (``offset`` None: whole lines, at most ``lines``),
    or a forward page from byte ``offset`` (whole lines, unless one line is longer than
    ``max_bytes``). Raises EngineTimeoutError past ``timeout_s`` (ssh is killed) and
    EngineUnavailableError when the cluster cannot be reached."""
    require_cluster(cluster)
    path = log_path(job_id, log_dir)
    if offset is not None and offset < 0:
        raise InvalidArgumentError("offset", "must be 0 or more")
    max_bytes = max(1, min(int(max_bytes), MAX_LOG_CHARS))
    lines = max(1, min(int(lines), MAX_LOG_LINES))
    result = run_remote_script(cluster, read_script(path, max_bytes, offset), timeout_s=timeout_s)
    where = f"~/{path} on {cluster}"
    if result.timed_out:
        raise EngineTimeoutError(
            f"Reading {where} did not answer within {timeout_s:g} s.",
            next_step=f"Check that `ssh {cluster} true` answers quickly, then call again.",
        )
    found = result.stdout.find(HEADER)
    if found < 0:
        reason = result.stderr or f"exit code {result.returncode}"
        unreachable = result.returncode == SSH_FAILED
        raise EngineUnavailableError(
            f"Could not read {where}: {reason}.",
            next_step=f"Make `ssh -o BatchMode=yes {cluster} true` work, then call again."
            if unreachable
            else f"Check the file with `ssh {cluster} ls -l {path}`.",
        )
    header, _, data = result.stdout[found + len(HEADER) :].partition(b"\n")
    fields = header.decode("ascii", errors="replace").split()
    if fields == ["missing"]:
        return SlurmLog("", 0, 0, 0, True, found=False)
    try:
        size, start, count = (int(value) for value in fields)
    except ValueError:
        raise EngineUnavailableError(
            f"Could not read {where}: unexpected answer {shown(header)}.",
            next_step=f"Check the file with `ssh {cluster} ls -l {path}`.",
        ) from None
    return _whole_lines(data[:count], size, start, tail=offset is None, lines=lines)


def _whole_lines(data: bytes, size: int, start: int, *, tail: bool, lines: int) -> SlurmLog:
    """Trim a raw piece to whole lines (at most ``lines``), as local log pages are."""
    truncated = False
    if tail:
        if start > 0:  # the first line may be the end of an earlier one
            cut = data.find(b"\n")
            if 0 <= cut < len(data) - 1:
                data, start = data[cut + 1 :], start + cut + 1
            else:
                truncated = True  # one line longer than the cap
        body = data.removesuffix(b"\n")
        parts = body.split(b"\n")
        if len(parts) > lines:
            dropped = len(b"\n".join(parts[:-lines])) + 1
            data, start = data[dropped:], start + dropped
    else:
        if start + len(data) < size:  # more follows: stop after the last whole line
            cut = data.rfind(b"\n")
            if cut >= 0:
                data = data[: cut + 1]
            else:
                truncated = True
        position, count = -1, 0
        while count < lines:
            position = data.find(b"\n", position + 1)
            if position < 0:
                break
            count += 1
        if count >= lines and position < len(data) - 1:
            data = data[: position + 1]
    end = start + len(data)
    text, count = _display(data.removesuffix(b"\n"))
    return SlurmLog(mask_text(text), size, start, end, end >= size, True, count, truncated)


def to_log_page(log: SlurmLog) -> LogPage:
    """The same page as a local log read, for get_job_logs and ``logs_next_step``."""
    return LogPage(log.text, log.start, log.end, log.size, log.lines, log.truncated)


def slurm_log_read(
    cluster: str,
    job_id: str,
    *,
    lines: int,
    offset: int | None,
    timeout_s: float,
    max_bytes: int = MAX_LOG_CHARS,
) -> LogRead:
    """get_job_logs for a Slurm job: its one log (stdout and stderr together) as a page like
    a local log's; an empty page while the job has written no log yet."""
    log = read_slurm_log(
        cluster, job_id, max_bytes=max_bytes, offset=offset, timeout_s=timeout_s, lines=lines
    )
    return LogRead(STREAM_NAME, f"{cluster}:~/{log_path(job_id)}", to_log_page(log))
