"""Slurm for real: the loopback cluster (scripts/slurm-loopback), real oumi.launcher, the
real server over stdio with the official MCP client.

Skipped with a message saying how to start the cluster when it is not up; CI
starts it and sets OUMI_MCP_REQUIRE_SLURM=1, so there these tests must run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env
from tests.conftest import stdio_parameters
from tests.e2e.test_jobs_e2e import call
from tests.project import write_yaml
from tests.slurm_support import slurm_cluster
from tests.tiny_project import training_config

pytestmark = [pytest.mark.anyio, pytest.mark.slurm]

VENV_BIN = str(Path(sys.executable).parent)
FINISHED = {"completed", "failed", "cancelled"}


def slurm_env(cluster: str, connections: str = "") -> dict[str, str]:
    return {
        "OUMI_SLURM_CONNECTIONS": connections or cluster,
        "OUMI_MCP_SLURM_SETUP": f"export PATH={VENV_BIN}:$PATH",
        "OUMI_MCP_CLOUDS": "slurm",
        "OUMI_MCP_LIST_CACHE_S": "0",
        "DO_NOT_TRACK": "1",
    }


def job_config(project: Path, run: str, name: str = "job.yaml") -> str:
    write_yaml(
        project / "jobs" / name,
        {"resources": {"cloud": "slurm"}, "envs": {"HF_HUB_OFFLINE": "1"}, "run": run},
    )
    return f"jobs/{name}"


async def wait_for(
    client: Client, job_id: str, states: set[str], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await call(client, "get_job_status", {"job_id": job_id})
        if status["state"] in states or time.monotonic() > deadline:
            return status
        await anyio.sleep(1.0)


def ssh(cluster: str, command: str) -> str:
    done = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", cluster, command],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def in_squeue(cluster: str, slurm_id: str) -> bool:
    return bool(ssh(cluster, f"squeue -h -j {slurm_id} -o %i 2>/dev/null || true").strip())


async def test_tiny_training_on_slurm_with_its_loss_in_the_logs(
    tmp_path: Path, tiny_model: Path
) -> None:
    cluster = slurm_cluster()
    project = tmp_path / "project"
    shutil.copytree(tiny_model, project / "model")
    (project / "data").mkdir(parents=True)
    import json

    from tests.tiny_project import _conversations  # the same 60 chats

    (project / "data" / "chat.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in _conversations())
    )
    write_yaml(project / "configs" / "train.yaml", training_config(Path("model")))
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "cloud": "slurm",
        "cluster_name": cluster,
        "envs": {"HF_HUB_OFFLINE": "1"},
        "cpus": 1,
    }
    async with Client(stdio_parameters(tmp_path, **slurm_env(cluster)), mode="legacy") as client:
        dry = await call(client, "run_oumi_job", arguments)
        assert dry["checks"]["valid"] and not dry["checks"]["blocking"], dry["checks"]
        assert dry["job_config"]["working_dir"] == f"{project}/"
        assert (
            "#!/bin/bash" in dry["job_script"]
            and "oumi train -c configs/train.yaml" in (dry["job_script"])
        )
        started = time.monotonic()
        launched = await call(client, "run_oumi_job", {**arguments, "dry_run": False})
        assert time.monotonic() - started < 10.0
        assert launched["launched"] and launched["state"] == "launching", launched
        job_id = launched["job_id"]

        status = await wait_for(client, job_id, FINISHED, 300.0)
        assert status["state"] == "completed", status
        assert status["launcher_job_id"] and status["cluster_name"] == cluster
        logs = await call(client, "get_job_logs", {"job_id": job_id, "lines": 400})
        text = "".join(chunk["text"] for chunk in logs["chunks"])
        assert "'loss'" in text, text[-2000:]
        listed = await call(client, "list_jobs", {"status": "completed"})
        assert job_id in [row["job_id"] for row in listed["jobs"]], listed


async def test_a_long_slurm_job_cancelled_leaves_nothing_in_squeue_or_running(
    tmp_path: Path,
) -> None:
    cluster = slurm_cluster()
    project = tmp_path / "project"
    config = job_config(project, "echo started; sleep 600")
    arguments = {
        "config_path": config,
        "command": "train",
        "client_cwd": str(project),
        "cluster_name": cluster,
        "dry_run": False,
    }
    async with Client(stdio_parameters(tmp_path, **slurm_env(cluster)), mode="legacy") as client:
        job_id = (await call(client, "run_oumi_job", arguments))["job_id"]
        status = await wait_for(client, job_id, {"running"} | FINISHED, 60.0)
        assert status["state"] == "running", status
        slurm_id = status["launcher_job_id"]
        assert in_squeue(cluster, slurm_id)
        cancelled = await call(client, "cancel_job", {"job_id": job_id})
        assert cancelled["action"] == "cancelled" and cancelled["state"] == "cancelled", cancelled
        assert not in_squeue(cluster, slurm_id)
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "cancelled", status  # not oumi's "pending" misreading
        listed = await call(client, "list_jobs", {"status": "all"})
        mine = [row for row in listed["jobs"] if row["job_id"] == job_id]
        assert mine and mine[0]["state"] == "cancelled", listed
        again = await call(client, "cancel_job", {"job_id": job_id})
        assert again["action"] == "already_finished", again
    time.sleep(1.0)
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []


async def test_a_failing_slurm_job_is_failed_with_slurms_reason_and_its_log_tail(
    tmp_path: Path,
) -> None:
    cluster = slurm_cluster()
    project = tmp_path / "project"
    config = job_config(project, "echo about to fail; exit 3")
    arguments = {
        "config_path": config,
        "command": "train",
        "client_cwd": str(project),
        "cluster_name": cluster,
        "dry_run": False,
    }
    async with Client(stdio_parameters(tmp_path, **slurm_env(cluster)), mode="legacy") as client:
        job_id = (await call(client, "run_oumi_job", arguments))["job_id"]
        status = await wait_for(client, job_id, FINISHED, 60.0)
        assert status["state"] == "failed", status
        assert status["exit_code"] == 3 and "NonZeroExitCode" in status["reason"], status
        assert "about to fail" in "\n".join(status["stdout_tail"] + status["stderr_tail"]), status


async def test_a_restarted_server_follows_its_slurm_job_to_the_end(tmp_path: Path) -> None:
    cluster = slurm_cluster()
    project = tmp_path / "project"
    config = job_config(project, "sleep 45; echo done")
    arguments = {
        "config_path": config,
        "command": "train",
        "client_cwd": str(project),
        "cluster_name": cluster,
        "dry_run": False,
    }
    # The second server does not list the cluster: the job's record names it.
    first_env = slurm_env(cluster)
    async with Client(stdio_parameters(tmp_path, **first_env), mode="legacy") as client:
        job_id = (await call(client, "run_oumi_job", arguments))["job_id"]
        status = await wait_for(client, job_id, {"running"} | FINISHED, 60.0)
        assert status["state"] == "running", status
    later_env = {**first_env, "OUMI_SLURM_CONNECTIONS": ""}
    async with Client(stdio_parameters(tmp_path, **later_env), mode="legacy") as client:
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "running", status
        status = await wait_for(client, job_id, FINISHED, 90.0)
        assert status["state"] == "completed", status


async def test_list_jobs_shows_hand_submitted_jobs_and_an_unreachable_cluster_as_a_warning(
    tmp_path: Path,
) -> None:
    cluster = slurm_cluster()
    submitted = ssh(
        cluster,
        "sbatch --parsable -J made-by-hand -o $HOME/oumi_slurm_logs/%j.out --wrap 'sleep 30'",
    ).strip()
    try:
        unreachable = "nobody@127.0.0.2"
        env = slurm_env(cluster, connections=f"{cluster},{unreachable}")
        env["OUMI_MCP_WORKER_IDLE_S"] = "1"
        async with Client(stdio_parameters(tmp_path, **env), mode="legacy") as client:
            listed = await call(client, "list_jobs", {"status": "all", "limit": 1000})
            rows = [row for row in listed["jobs"] if row["launcher_job_id"] == submitted]
            assert rows and rows[0]["job_id"] == "" and rows[0]["cluster_name"] == cluster, listed
            assert rows[0]["name"] == "made-by-hand"
            warnings = [w for w in listed["warnings"] if w["cluster_name"] == unreachable]
            assert len(warnings) == 1 and warnings[0]["cloud"] == "slurm", listed["warnings"]
            assert "ssh" in warnings[0]["next_step"]
        # The engine worker, leaving a second after its last server, closed the ssh master
        # oumi opened in it (it would outlive it by hours).
        deadline = time.monotonic() + 20
        while True:
            check = subprocess.run(
                ["ssh", "-o", "ControlPath=~/.ssh/control-%h-%p-%r", "-O", "check", cluster],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if check.returncode != 0 or time.monotonic() > deadline:
                break
            await anyio.sleep(0.5)
        assert check.returncode != 0, check.stderr
    finally:
        ssh(cluster, f"scancel {submitted} || true")
