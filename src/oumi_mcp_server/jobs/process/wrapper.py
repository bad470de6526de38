"""The tiny supervisor that runs inside every process job, in the job's own process group.

    python -P -m oumi_mcp_server.jobs.process.wrapper --run-dir DIR --marker MARK -- oumi ...

It writes ``pid.json`` when it starts, runs the command (inheriting the
working directory, environment and log files it was given), and when the
command ends writes ``exit.json`` atomically: exit code, end time and the
signals it received. So the final state is known even if no server was alive
when the job ended. A cancel is requested by the server writing
``cancel.json`` before it signals the process group. It imports only the
standard library and the two small run-dir modules (themselves standard library
only): this runs in the job, not in the server.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from oumi_mcp_server.jobs.process.files import EXIT_FILE, PID_FILE
from oumi_mcp_server.jobs.rundir import CANCEL_FILE, write_json_atomically

EXEC_FAILED = 127
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="oumi_mcp_server.jobs.process.wrapper")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command given after --")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    run_dir = Path(args.run_dir)
    started_at = time.time()
    write_json_atomically(
        run_dir / PID_FILE, {"pid": os.getpid(), "started_at": started_at, "marker": args.marker}
    )
    received: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        # A cancel from the server signals the whole group; anything else (a
        # signal sent to this process alone) is passed on to the command.
        if child is not None and not (run_dir / CANCEL_FILE).exists():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, on_signal)

    error = ""
    if received or (run_dir / CANCEL_FILE).exists():
        exit_code = -(received[0] if received else signal.SIGTERM)  # cancelled before it began
    else:
        try:
            child = subprocess.Popen(args.command)
        except OSError as exc:
            error = f"could not start {args.command[0]}: {exc}"
            print(f"oumi-mcp-server: {error}", file=sys.stderr, flush=True)
            exit_code = EXEC_FAILED
        else:
            if received:  # a signal arrived while the command was starting: pass it on
                child.send_signal(received[0])
            exit_code = child.wait()
    write_json_atomically(
        run_dir / EXIT_FILE,
        {
            "exit_code": exit_code,
            "started_at": started_at,
            "ended_at": time.time(),
            "signals_received": received,
            "error": error,
        },
    )
    return exit_code if exit_code >= 0 else 128 - exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
