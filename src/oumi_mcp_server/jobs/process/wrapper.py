"""The tiny supervisor that runs inside every process job, in the job's own process group.

    python -I -m oumi_mcp_server.jobs.process.wrapper --run-dir DIR --marker MARK -- oumi ...

It writes ``pid.json`` when it starts, runs the command (inheriting the
working directory, environment and log files it was given), and when the
command ends writes ``exit.json`` atomically: exit code, end time and the
signals it received. So the final state is known even if no server was alive
when the job ended. Before it records the exit it stops whatever the command
left running in the group (data-loader workers of a killed trainer, a
background helper): nothing outlives a finished job, and the exit is written
only once the group is down to the wrapper. A cancel is requested by the server writing
``cancel.json`` before it signals the process group. It imports only the
standard library and three small modules of ours that are standard library only
at import time (run dir, its files, the process table): this runs in the job,
not in the server.
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

from oumi_mcp_server.jobs.os_processes import process_groups
from oumi_mcp_server.jobs.process.files import EXIT_FILE, PID_FILE
from oumi_mcp_server.jobs.rundir import CANCEL_FILE, write_json_atomically

EXEC_FAILED = 127
LEFTOVER_GRACE_S = 5.0  # SIGTERM to what the command left, then SIGKILL after this
KILL_WAIT_S = 2.0
POLL_S = 0.05
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
    stopped = stop_the_rest_of_the_group()
    if stopped:
        print(
            f"oumi-mcp-server: stopped {stopped} process(es) the command left running",
            file=sys.stderr,
            flush=True,
        )
    write_json_atomically(
        run_dir / EXIT_FILE,
        {
            "exit_code": exit_code,
            "started_at": started_at,
            "ended_at": time.time(),
            "signals_received": received,
            "error": error,
            "leftovers_stopped": stopped,
        },
    )
    return exit_code if exit_code >= 0 else 128 - exit_code


def stop_the_rest_of_the_group(grace_s: float = LEFTOVER_GRACE_S) -> int:
    """SIGTERM every other live process of this group, SIGKILL what is left after
    ``grace_s``; the number of processes found. Only a wrapper that leads its own
    group does this: started any other way, the group is its caller's."""
    me, group = os.getpid(), os.getpgid(0)
    if group != me:
        return 0

    def others() -> list[int]:
        return [pid for pid in process_groups().get(group, []) if pid != me]

    found = others()
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, KILL_WAIT_S)):
        left = others()
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
        deadline = time.monotonic() + wait_s
        while others() and time.monotonic() < deadline:
            time.sleep(POLL_S)
    return len(found)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
