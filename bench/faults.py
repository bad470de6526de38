"""A scripted fault run against the real server over stdio: is the job state the truth?

    .venv/bin/python bench/faults.py [--rounds 3]

Scenarios (each one a real server process, real job processes, a fake `oumi`
script that runs for minutes):

1. Kill -9 of a running job's wrapper only, of its `oumi` process only, and of
   its whole process group; then get_job_status and cancel_job.
2. cancel_job 0, 10, 50 and 100 ms after a run_oumi_job request (cold server:
   the first validation imports oumi).
3. The server killed with SIGKILL 0-1000 ms into a launch, then the same request
   (same job_name) sent to a new server, ``--rounds`` times per delay.
4. Malformed request lines on stdio (broken JSON, a lone surrogate, no method,
   not an object, a wrong jsonrpc version): does each get an answer, and does the
   next request still work?
5. SIGINT, SIGTERM and SIGHUP to a server with a running job: does it exit within
   a second, leaving the job running?

It prints one line per scenario and the totals the targets are about: the share
of scenarios that report the true state, the processes left after a cancel, the
duplicate jobs and the unanswered requests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import base_env

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env, stop_processes
from tests.jobs_support import fake_oumi
from tests.jsonrpc import RawStdioSession
from tests.project import make_project

WRAPPER = "oumi_mcp_server.jobs.process.wrapper"


@dataclass
class Outcome:
    scenario: str
    true_state: bool
    left_after_cancel: int = 0
    duplicates: int = 0
    unanswered: int = 0
    detail: str = ""


class Session(RawStdioSession):
    def answer(self, request_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        message = self.answer_to(request_id, timeout_s=timeout_s)
        result = message.get("result") or {}
        return dict(result.get("structuredContent") or result)

    def tool(self, name: str, arguments: dict[str, Any], timeout_s: float = 60.0) -> dict[str, Any]:
        return self.answer(self.send_call(name, arguments), timeout_s)


class Run:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = make_project(root / "project")
        self.env = base_env(
            root / "state",
            OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(root / "bin")),
            OUMI_MCP_WARMUP="0",
            OUMI_MCP_CLOUDS="none",
            OUMI_MCP_JOB_CANCEL_GRACE_S="2",
        )

    def session(self) -> Session:
        session = Session(self.env, cwd=self.root)
        session.initialize()
        return session

    def launch_args(self, name: str, **envs: str) -> dict[str, Any]:
        return {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(self.project),
            "dry_run": False,
            "job_name": name,
            "envs": {"FAKE_OUMI_SLEEP": "300", **envs},
        }


def left(job_id: str) -> int:
    return len(processes_with_env(JOB_MARKER_ENV, job_id))


def wrappers(job_id: str) -> int:
    count = 0
    for pid in processes_with_env(JOB_MARKER_ENV, job_id):
        try:
            count += WRAPPER in Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            continue
    return count


def wait_state(session: Session, job_id: str, wanted: set[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state = str(session.tool("get_job_status", {"job_id": job_id})["state"])
        if state in wanted or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


# -- 1. kill parts of a running job ---------------------------------------------------------


def process_faults(run: Run) -> list[Outcome]:
    outcomes = []
    kinds: dict[str, tuple[Callable[[int], None], str]] = {
        "kill -9 wrapper only": (lambda pid: os.kill(pid, signal.SIGKILL), "running"),
        "kill -9 oumi only": (
            lambda pid: os.kill(psutil.Process(pid).children()[0].pid, signal.SIGKILL),
            "failed",
        ),
        "kill -9 whole group": (lambda pid: os.killpg(pid, signal.SIGKILL), "failed"),
    }
    with run.session() as session:
        for index, (label, (kill, expected)) in enumerate(kinds.items()):
            name = f"fault-{index}"
            session.tool("run_oumi_job", run.launch_args(name, FAKE_OUMI_CHILD="1"), 120)
            wait_state(session, name, {"running"}, 30)
            time.sleep(0.5)  # the fake starts its child
            pid = int(session.tool("get_job_status", {"job_id": name})["pid"])
            kill(pid)
            time.sleep(0.3)
            state = (
                wait_state(session, name, {"failed"}, 15) if expected == "failed" else None
            ) or str(session.tool("get_job_status", {"job_id": name})["state"])
            alive_before = left(name)
            cancelled = session.tool("cancel_job", {"job_id": name})
            after = left(name)
            truth = state == expected and (
                (expected == "running" and alive_before > 0 and cancelled["state"] == "cancelled")
                or (expected == "failed" and alive_before == 0)
            )
            outcomes.append(
                Outcome(
                    label,
                    truth,
                    left_after_cancel=after,
                    detail=f"status {state} with {alive_before} job process(es) alive; "
                    f"cancel: {cancelled['action']}",
                )
            )
    return outcomes


# -- 2. early cancels -------------------------------------------------------------------------


def early_cancels(run: Run) -> list[Outcome]:
    outcomes = []
    with run.session() as session:
        pairs = []
        for delay_ms in (0, 10, 50, 100):
            name = f"early-{delay_ms}"
            launch = session.send_call("run_oumi_job", run.launch_args(name))
            time.sleep(delay_ms / 1000)
            cancel = session.send_call("cancel_job", {"job_id": name})
            pairs.append((delay_ms, name, launch, cancel))
        for delay_ms, name, launch, cancel in pairs:
            cancelled, launched = session.answer(cancel), session.answer(launch)
            time.sleep(0.3)
            status = session.tool("get_job_status", {"job_id": name})
            ran = Path(str(status.get("stdout_path") or "/nonexistent")).exists() and bool(
                Path(str(status["stdout_path"])).read_text()
            )
            truth = (
                cancelled.get("action") == "cancelled"
                and launched.get("state") == "cancelled"
                and status.get("state") == "cancelled"
                and not ran
            )
            outcomes.append(
                Outcome(
                    f"cancel {delay_ms} ms after launch",
                    truth,
                    left_after_cancel=left(name),
                    detail=f"cancel: {cancelled.get('action')}; launch: {launched.get('state')}; "
                    f"status: {status.get('state')}; ran: {ran}",
                )
            )
    return outcomes


# -- 3. server killed mid-launch, then a retry --------------------------------------------------


def retries(run: Run, rounds: int) -> list[Outcome]:
    outcomes = []
    for round_index in range(rounds):
        for delay_ms in (0, 50, 120, 250, 600, 1000):
            name = f"retry-{round_index}-{delay_ms}"
            first = run.session()
            with first:
                first.tool("run_oumi_job", {**run.launch_args(name), "dry_run": True}, 120)
                first.send_call("run_oumi_job", run.launch_args(name))
                time.sleep(delay_ms / 1000)
                first.process.kill()
                first.process.wait()
            with run.session() as second:
                retried = second.tool("run_oumi_job", run.launch_args(name), 120)
                state = wait_state(second, name, {"running"}, 30)
                count = wrappers(name)
                cancelled = second.tool("cancel_job", {"job_id": name})
            stop_processes(processes_with_env(JOB_MARKER_ENV, name), 2.0)
            outcomes.append(
                Outcome(
                    f"server killed {delay_ms} ms into a launch, retried (round {round_index + 1})",
                    state == "running" and count == 1 and cancelled.get("state") == "cancelled",
                    left_after_cancel=left(name),
                    duplicates=max(0, count - 1),
                    detail=f"retry answered existing={retried.get('existing')}, state {state}, "
                    f"{count} job(s) running",
                )
            )
    return outcomes


# -- 4. malformed request lines --------------------------------------------------------------------

MALFORMED: dict[str, bytes] = {
    "broken JSON": b'{"jsonrpc": "2.0", "id": 901, "method": "tools/list"',
    "lone surrogate": b'{"jsonrpc": "2.0", "id": 902, "method": "tools/list", "x": "\\ud800"}',
    "no method": b'{"jsonrpc": "2.0", "id": 903, "params": {}}',
    "not an object": b"[1, 2, 3]",
    "wrong jsonrpc version": b'{"jsonrpc": "1.0", "id": 905, "method": "tools/list"}',
}


def malformed_lines(run: Run) -> list[Outcome]:
    outcomes = []
    with run.session() as session:
        for label, line in MALFORMED.items():
            before = len(session.stdout_lines)
            session.send_line(line)
            answers = session.lines_after(before, timeout_s=5.0)
            errors = [json.loads(text) for text in answers if '"error"' in text]
            works = "tools" in session.request("tools/list", {}, timeout_s=10).get("result", {})
            outcomes.append(
                Outcome(
                    f"malformed line: {label}",
                    bool(errors) and works,
                    unanswered=0 if errors else 1,
                    detail=(f"answered {errors[0]['error']['code']}" if errors else "no answer")
                    + ("; next request works" if works else "; next request FAILED"),
                )
            )
    return outcomes


# -- 5. signals ------------------------------------------------------------------------------


def signals(run: Run) -> list[Outcome]:
    outcomes = []
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        name = f"signal-{signum.name.lower()}"
        session = run.session()
        session.tool("run_oumi_job", run.launch_args(name), 120)
        time.sleep(0.5)
        started = time.monotonic()
        session.process.send_signal(signum)
        try:
            session.process.wait(timeout=5)
            took = time.monotonic() - started
        except subprocess.TimeoutExpired:
            took = float("inf")
        session.close()
        running = wrappers(name) == 1
        stop_processes(processes_with_env(JOB_MARKER_ENV, name), 2.0)
        outcomes.append(
            Outcome(
                f"{signum.name} to the server",
                took <= 1.0 and running,
                detail=f"exited in {took:.2f} s; job still running: {running}",
            )
        )
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="retry rounds per kill delay")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oumi-mcp-faults-") as tmp:
        run = Run(Path(tmp))
        outcomes = [
            *process_faults(run),
            *early_cancels(run),
            *retries(run, args.rounds),
            *malformed_lines(run),
            *signals(run),
        ]
    for outcome in outcomes:
        mark = "ok  " if outcome.true_state else "FAIL"
        print(f"{mark} {outcome.scenario}: {outcome.detail}")
    true = sum(outcome.true_state for outcome in outcomes)
    print(
        f"\nscenarios: {len(outcomes)}; true state: {true}/{len(outcomes)} "
        f"({100 * true / len(outcomes):.0f}%); processes left after a cancel: "
        f"{sum(o.left_after_cancel for o in outcomes)}; duplicate jobs: "
        f"{sum(o.duplicates for o in outcomes)}; unanswered requests: "
        f"{sum(o.unanswered for o in outcomes)}"
    )
    return 0 if true == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
