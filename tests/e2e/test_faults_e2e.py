"""Launches under faults, through the real server over stdio (raw JSON-RPC lines).

- A cancel sent 0-100 ms after a launch request: the job never runs.
- The server killed with SIGKILL at any moment of a launch, then the same request
  sent again with the same job_name to a new server: exactly one job runs.

The fake `oumi` script keeps jobs short-lived and real (its own process group).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env, stop_processes
from tests.conftest import server_env
from tests.jobs_support import fake_oumi
from tests.jsonrpc import RawStdioSession, structured
from tests.project import make_project

WRAPPER = "oumi_mcp_server.jobs.process.wrapper"
LONG = {"FAKE_OUMI_SLEEP": "60"}


class Session(RawStdioSession):
    def answer(self, request_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        return structured(self.answer_to(request_id, timeout_s=timeout_s))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def _env(tmp_path: Path) -> dict[str, str]:
    return server_env(tmp_path, OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(tmp_path / "bin")))


def _wrappers(job_id: str) -> list[int]:
    """The job wrappers carrying this job's id: one per started job."""
    found = []
    for pid in processes_with_env(JOB_MARKER_ENV, job_id):
        try:
            if WRAPPER in Path(f"/proc/{pid}/cmdline").read_text():
                found.append(pid)
        except OSError:
            continue
    return found


def _launch_args(project: Path, name: str) -> dict[str, Any]:
    return {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
        "job_name": name,
        "envs": LONG,
    }


def test_a_cancel_0_to_100_ms_after_the_launch_request_means_the_job_never_runs(
    tmp_path: Path,
) -> None:
    """A fresh server validates its first config while importing oumi (seconds): every
    cancel lands while its launch is being checked."""
    project = make_project(tmp_path / "project")
    names = {delay_ms: f"early-{delay_ms}" for delay_ms in (0, 10, 50, 100)}
    with Session(_env(tmp_path), cwd=tmp_path) as session:
        session.initialize()
        pairs = []
        for delay_ms, name in names.items():
            launch = session.send_call("run_oumi_job", _launch_args(project, name))
            time.sleep(delay_ms / 1000)
            pairs.append((name, launch, session.send_call("cancel_job", {"job_id": name})))
        for name, launch, cancel in pairs:
            cancelled = session.answer(cancel)
            assert cancelled["action"] == "cancelled", (name, cancelled)
            assert cancelled["message"].startswith("Cancelled before start"), cancelled
            launched = session.answer(launch)
            assert not launched["launched"] and launched["state"] == "cancelled", launched
        time.sleep(0.5)
        for name in names.values():
            status = session.call_tool("get_job_status", {"job_id": name})
            assert status["result"]["structuredContent"]["state"] == "cancelled", status
            assert processes_with_env(JOB_MARKER_ENV, name) == []


@pytest.mark.parametrize("kill_after_ms", [0, 120, 600])  # checking; starting; started
def test_a_retry_after_the_server_was_killed_mid_launch_runs_exactly_one_job(
    tmp_path: Path, kill_after_ms: int
) -> None:
    project = make_project(tmp_path / "project")
    name = f"retry-{kill_after_ms}"
    env = _env(tmp_path)
    try:
        with Session(env, cwd=tmp_path) as first:
            first.initialize()
            warm = {**_launch_args(project, name), "dry_run": True}
            first.answer(first.send_call("run_oumi_job", warm), timeout_s=120)
            first.send_call("run_oumi_job", _launch_args(project, name))
            time.sleep(kill_after_ms / 1000)
            first.kill()
        with Session(env, cwd=tmp_path) as second:
            second.initialize()
            retried = second.answer(
                second.send_call("run_oumi_job", _launch_args(project, name)), timeout_s=120
            )
            assert retried["job_id"] == name, retried
            deadline = time.monotonic() + 30
            state = retried["state"]
            while state != "running" and time.monotonic() < deadline:
                status = second.answer(second.send_call("get_job_status", {"job_id": name}))
                state = status["state"]
                time.sleep(0.2)
            assert state == "running", (retried, status)
            assert len(_wrappers(name)) == 1, _wrappers(name)
            listed = second.answer(second.send_call("list_jobs", {"status": "all"}))
            assert [job["job_id"] for job in listed["jobs"]] == [name], listed
            cancelled = second.answer(second.send_call("cancel_job", {"job_id": name}))
            assert cancelled["state"] == "cancelled", cancelled
    finally:
        stop_processes(processes_with_env(JOB_MARKER_ENV, name), 2.0)
    assert processes_with_env(JOB_MARKER_ENV, name) == []
