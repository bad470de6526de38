"""Start a process job: the wrapper as the leader of a new session, detached from the server.

The wrapper (``python -m oumi_mcp_server.jobs.process.wrapper``) gets the
job's log files as stdout/stderr, then the server closes its copies: the job
survives the server exiting and records its own exit status. Blocking: call
from a worker thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from oumi_mcp_server.errors import EngineUnavailableError
from oumi_mcp_server.jobs.os_processes import process_start_time
from oumi_mcp_server.jobs.process.files import EXIT_FILE
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.private import open_private

WRAPPER_MODULE = "oumi_mcp_server.jobs.process.wrapper"
SPAWN_FAILED = 127


def default_oumi_executable() -> str | None:
    """The ``oumi`` script next to the server's Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "oumi"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("oumi")


def wrapper_argv(python: str, record: JobRecord, argv: Sequence[str]) -> list[str]:
    return [
        python,
        # Isolated: never import from the job's working directory, and ignore PYTHONPATH,
        # PYTHONSTARTUP and the user's site (the job's envs are for oumi, not the wrapper).
        "-I",
        "-m",
        WRAPPER_MODULE,
        "--run-dir",
        record.run_dir,
        "--marker",
        record.marker,
        "--",
        *argv,
    ]


def spawn(
    wrapper: list[str], record: JobRecord, env: dict[str, str], runtime: JobRuntime
) -> tuple[subprocess.Popen[bytes], float]:
    """Start the wrapper; its process and start time. A failure is recorded as the exit."""
    for log in (record.stdout_path, record.stderr_path):  # private: outputs may hold secrets
        descriptor = open_private(Path(log), os.O_WRONLY | os.O_APPEND)
        runtime.open_files.append(os.fdopen(descriptor, "ab"))
    try:
        process = subprocess.Popen(
            wrapper,
            cwd=record.client_cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=runtime.open_files[0],
            stderr=runtime.open_files[1],
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        RunDir.of(record).write(
            EXIT_FILE,
            {"exit_code": SPAWN_FAILED, "ended_at": time.time(), "error": f"spawn failed: {exc}"},
        )
        raise EngineUnavailableError(
            f"Could not start the job: {exc}",
            next_step="Check that the server's Python and oumi are installed.",
        ) from exc
    finally:
        runtime.close_files()  # the child has its own copies
    return process, process_start_time(process.pid) or time.time()
