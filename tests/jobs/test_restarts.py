"""Runs until done: the restart policy, the claim race, and real process jobs restarted.

The process jobs are real processes (the fake `oumi` script exits as a job killed by
SIGTERM would: 143), so each attempt really ends, is decided, and is relaunched from
the newest complete checkpoint of the output dir. Checkpoints are made by the test
(one complete, one half-written) in the job's output dir.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs import registry_runs
from oumi_mcp_server.jobs.policies.restarts import (
    DEFAULT_RESTART_ON,
    Attempt,
    RestartPolicy,
    RestartRequest,
    check_restart_arguments,
    decide,
)
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs.test_registry import record
from tests.jobs_support import job_service_for, wait_for_state

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
LATER = 10_000.0  # each `now` given is this much past the one before: past every backoff
_NOWS = itertools.count(1)


def _later() -> float:
    return time.time() + LATER * next(_NOWS)


ENDED = {"queued", "failed", "completed", "cancelled"}


def _policy(
    max_restarts: int = 2, restart_on: tuple[str, ...] = DEFAULT_RESTART_ON
) -> RestartPolicy:
    return RestartPolicy(max_restarts, restart_on, RestartRequest("train", "", "", ()))


# -- the policy -----------------------------------------------------------------------


def test_only_causes_that_are_not_the_jobs_fault_restart_and_only_max_restarts_times() -> None:
    policy = _policy(max_restarts=2)
    assert decide(policy, 1, "failed", "time_limit") == "restart"
    assert decide(policy, 2, "failed", "preempted") == "restart"
    assert decide(policy, 3, "failed", "preempted") == "gave_up"
    assert decide(policy, 1, "failed", "config_error") == "not_restartable"
    assert decide(policy, 1, "failed", "gpu_oom") == "not_restartable"
    assert decide(policy, 1, "completed", "none") == "completed"
    assert decide(policy, 1, "cancelled", "none") == "stopped"
    # Slurm may report a time limit as cancelled: the cause decides.
    assert decide(policy, 1, "cancelled", "time_limit") == "restart"


def test_restart_arguments_are_checked_with_what_is_allowed() -> None:
    assert check_restart_arguments(0, None) == DEFAULT_RESTART_ON
    assert check_restart_arguments(3, ["SIGTERM", "lost", "SIGTERM"]) == ("SIGTERM", "lost")
    for bad, field in (
        ((21, None), "max_restarts"),
        ((-1, None), "max_restarts"),
        ((1, ["config_error"]), "restart_on"),
        ((1, ["rm -rf"]), "restart_on"),
        ((1, []), "restart_on"),
    ):
        with pytest.raises(InvalidArgumentError) as raised:
            check_restart_arguments(*bad)  # type: ignore[arg-type]
        assert raised.value.field == field
    with pytest.raises(InvalidArgumentError, match="never restart"):
        check_restart_arguments(1, ["dataset_not_found"])


def test_a_policy_survives_its_json() -> None:
    policy = RestartPolicy(
        3,
        ("time_limit",),
        RestartRequest("train", "slurm", "root@localhost", ("a=1",), {"time_limit": "1"}),
    )
    assert RestartPolicy.from_json(policy.to_json()) == policy
    assert policy.backoff_before(1) <= policy.backoff_before(2) <= policy.backoff_before(9)


def test_two_servers_never_both_claim_one_attempts_end(tmp_path: Path) -> None:
    """Sixteen claimers (two registries, as two servers would open it): one wins."""
    registries = [Registry(tmp_path), Registry(tmp_path)]
    registries[0].add(record("run-1"))
    ended = Attempt(
        1,
        "pid 1",
        1.0,
        ended_at=2.0,
        end_state="failed",
        cause="time_limit",
        decision="restart",
        restart_at=3.0,
    )
    wins: list[str] = []
    start = threading.Barrier(16)

    def claim(index: int) -> None:
        start.wait()
        if registry_runs.claim_end(registries[index % 2], "run-1", ended, f"server-{index}"):
            wins.append(f"server-{index}")

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    (kept,) = registry_runs.attempts(registries[1], "run-1")
    assert kept.claimed_by == wins[0] and kept.decision == "restart"
    assert not registry_runs.take_over_restart(registries[0], "run-1", 1, "someone", "me")
    assert registry_runs.take_over_restart(registries[0], "run-1", 1, wins[0], "me")


# -- real process jobs ------------------------------------------------------------------


def _checkpoint(output: Path, step: int, *, complete: bool) -> Path:
    folder = output / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    state = json.dumps({"global_step": step})
    (folder / "trainer_state.json").write_text(state if complete else state[:-3])
    return folder


async def _launch(job_service: JobService, project: Path, **kwargs: object) -> str:
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        # Runs a moment, then ends as if killed by SIGTERM (128 + 15).
        envs={"FAKE_OUMI_EXIT": "143", "FAKE_OUMI_SLEEP": "2"},
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.launched and result.restarts is not None, result.message
    return result.job_id


async def _ended(job_service: JobService, job_id: str) -> str:
    return await wait_for_state(job_service, job_id, ENDED, 60.0)


async def test_a_job_killed_by_a_listed_signal_restarts_from_its_newest_complete_checkpoint(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    job_id = await _launch(job_service, project, max_restarts=2, restart_on=["SIGTERM"])
    assert await _ended(job_service, job_id) == "queued"  # ended; not final: a restart follows
    output = project / "output" / "run"
    good = _checkpoint(output, 10, complete=True)
    _checkpoint(output, 20, complete=False)  # half-written: skipped

    assert await job_service.drive_restarts(now=time.time()) == []  # decided: backoff first
    status = await job_service.status(job_id)
    assert status.state == "queued" and status.restarts is not None
    assert status.restarts.next_action.startswith("restarting in")
    assert [a.cause for a in status.attempts] == ["SIGTERM"]

    assert await job_service.drive_restarts(now=_later()) == [job_id]
    assert (await job_service.status(job_id)).state == "running"  # attempt 2, not 1's end
    await _ended(job_service, job_id)
    assert await job_service.drive_restarts(now=_later()) == []  # decides attempt 2
    assert await job_service.drive_restarts(now=_later()) == [job_id]  # attempt 3
    await _ended(job_service, job_id)
    assert await job_service.drive_restarts(now=_later()) == []  # gives up

    status = await job_service.status(job_id)
    assert status.job_id == job_id and status.state == "failed" and status.terminal
    assert [a.attempt for a in status.attempts] == [1, 2, 3]
    assert [a.resumed_from for a in status.attempts] == ["", str(good), str(good)]
    assert status.restarts is not None and status.restarts.restarts_used == 2
    assert status.restarts.next_action == "gave up: max_restarts reached (2)"
    # Each attempt ran in its own run dir, the resume option on its command line, and
    # the env the launch was given.
    attempt_two = job_settings.state_dir / "jobs" / job_id / "attempt-2"
    printed = (attempt_two / "stdout.log").read_text()
    assert f"--training.resume_from_checkpoint={good}" in printed
    audit = (job_settings.state_dir / "audit.jsonl").read_text()
    assert audit.count('"automatic_restart"') == 5  # 3 ends decided, 2 launches


async def test_a_cause_not_listed_never_restarts(job_service: JobService, project: Path) -> None:
    job_id = await _launch(job_service, project, max_restarts=3)  # default list: no SIGTERM
    await _ended(job_service, job_id)
    assert await job_service.drive_restarts(now=_later()) == []
    status = await job_service.status(job_id)
    assert status.state == "failed" and len(status.attempts) == 1
    assert status.restarts is not None
    assert status.restarts.next_action.startswith("not restartable: ")


async def test_cancel_stops_the_run_and_its_pending_restart(
    job_service: JobService, project: Path
) -> None:
    job_id = await _launch(job_service, project, max_restarts=2, restart_on=["SIGTERM"])
    await _ended(job_service, job_id)
    await job_service.drive_restarts(now=time.time())  # restart decided, waiting its backoff
    cancelled = await job_service.cancel(job_id)
    assert cancelled.action == "cancelled"
    assert await job_service.drive_restarts(now=_later()) == []
    status = await job_service.status(job_id)
    assert status.state == "cancelled" and len(status.attempts) == 1


async def test_a_restart_due_while_no_server_ran_happens_in_the_next_server(
    job_settings: Settings, project: Path
) -> None:
    first = await job_service_for(job_settings)
    try:
        job_id = await _launch(first, project, max_restarts=1, restart_on=["SIGTERM"])
    finally:
        await first.close()  # the server goes away; its job ends meanwhile
    time.sleep(1.0)
    second = await job_service_for(job_settings)
    third = await job_service_for(job_settings)  # two servers on one state dir
    try:
        await _ended(second, job_id)
        launched = []
        for _ in (1, 2):  # the end is decided, then the restart launched
            now = _later()
            launched += await second.drive_restarts(now=now)
            launched += await third.drive_restarts(now=now)
        assert launched == [job_id]  # one relaunch, never two
        status = await second.status(job_id)
        assert [a.attempt for a in status.attempts] == [1, 2]
    finally:
        await second.close()
        await third.close()


async def test_a_job_whose_processes_vanished_is_lost_and_restarts_by_default(
    job_service: JobService, project: Path
) -> None:
    """The machine restarted (here: the whole process group killed with SIGKILL, so no
    exit status was recorded): 'lost' is in the default restart_on."""
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        envs={"FAKE_OUMI_SLEEP": "60"},
        max_restarts=1,
    )
    job_id = result.job_id
    assert await wait_for_state(job_service, job_id, {"running"}, 30.0) == "running"
    pid = job_service.registry.get(job_id).pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    assert await _ended(job_service, job_id) == "queued"
    assert await job_service.drive_restarts(now=_later()) == []  # decided
    (attempt,) = (await job_service.status(job_id)).attempts
    assert attempt.cause == "lost" and attempt.state == "failed"
    assert await job_service.drive_restarts(now=_later()) == [job_id]
    assert (await job_service.status(job_id)).state == "running"
    assert (await job_service.cancel(job_id)).action == "cancelled"
    status = await job_service.status(job_id)
    assert status.state == "cancelled" and len(status.attempts) == 2
    assert status.restarts is not None and status.restarts.next_action.startswith("stopped")
