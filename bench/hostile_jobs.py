"""The hostile pass's probes on real jobs (bench/hostile.py runs them): cancels at once,
a cancel during the launch, a stopped job, a config swapped while jobs launch, flagged envs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_world import CALL_LIMIT_S, CANARY, OUTCOMES, World, judged

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env, stop_processes


def concurrent_cancels(world: World) -> str:
    with world.server() as server:
        outcomes = []
        for round_number in range(3):
            _, _, started = server.call("run_oumi_job", world.launch(f"many-{round_number}"))
            job = {"job_id": started.get("job_id", "")}
            ids = [server.send_call("cancel_job", job) for _ in range(8)]
            for request_id in ids:
                message = server.answer_to(request_id, timeout_s=CALL_LIMIT_S)
                result = message.get("result") or {}
                text = "".join(str(part.get("text", "")) for part in result.get("content", []))
                outcomes.append(judged(bool(result.get("isError")), text))
        worst = [outcome for outcome in OUTCOMES[::-1] if outcome in outcomes]
        return worst[0] if worst and worst[0] not in ("ok", "clear error") else "ok"


def cancel_during_launch(world: World, delay_ms: int) -> str:
    with world.server() as server:
        launch = server.send_call("run_oumi_job", world.launch(f"early-{delay_ms}"))
        time.sleep(delay_ms / 1000)
        _, _, cancelled = server.call("cancel_job", {"job_id": f"early-{delay_ms}"})
        server.answer_to(launch, timeout_s=CALL_LIMIT_S)
        time.sleep(0.5)
        left = processes_with_env(JOB_MARKER_ENV, f"early-{delay_ms}")
        stop_processes(left, 1.0)
        if left or cancelled.get("action") != "cancelled":
            return "wrong state"  # this cancel stopped it (or should have): it must say so
        return "ok"


def stopped_job(world: World) -> str:
    with world.server() as server:
        server.call("run_oumi_job", world.launch("stopped"))
        job = {"job_id": "stopped"}
        deadline = time.monotonic() + 30
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            _, _, status = server.call("get_job_status", job)
            if status.get("state") == "running":
                break
            time.sleep(0.1)
        pid = int(status.get("pid") or 0)
        os.killpg(pid, signal.SIGSTOP)
        try:
            _, _, status = server.call("get_job_status", job)
            _, _, cancelled = server.call("cancel_job", job)
        finally:
            left = processes_with_env(JOB_MARKER_ENV, "stopped")
            for member in left:
                os.kill(member, signal.SIGKILL)
        if "stopped" not in str(status.get("reason")) or cancelled.get("action") != "cancelled":
            return "wrong state"
        return "ok"


def swapped_config(world: World) -> str:
    """The config flips between itself and a link out of the project while jobs launch."""
    config = world.project / "configs" / "train.yaml"
    original = config.read_text()
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            config.unlink(missing_ok=True)
            config.symlink_to(world.outside / "outside.yaml")
            time.sleep(0.0005)
            config.unlink(missing_ok=True)
            config.write_text(original)
            time.sleep(0.0005)

    outcome = "ok"
    with world.server() as server:
        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            for number in range(20):
                is_error, text, started = server.call(
                    "run_oumi_job", {**world.launch(f"swap-{number}"), "envs": {}}
                )
                staged = started.get("staged_config_path")
                if staged and CANARY in Path(staged).read_text(errors="replace"):
                    outcome = "wrong state"
                elif judged(is_error, text) == "failed unexpectedly":
                    outcome = "failed unexpectedly"
        finally:
            stop.set()
            flipper.join()
            config.unlink(missing_ok=True)
            config.write_text(original)
    return outcome


def flagged_env(world: World, name: str) -> str:
    with world.server() as server:
        arguments = {**world.launch("flag"), "dry_run": True, "envs": {name: "/tmp/x"}}
        is_error, _, answer = server.call("run_oumi_job", arguments)
        warnings = (answer.get("checks") or {}).get("warnings", [])
        if is_error or not any(item.get("field") == name for item in warnings):
            return "wrong state"
        return "ok"
