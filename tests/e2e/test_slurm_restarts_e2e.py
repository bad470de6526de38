"""Run until done on a real Slurm cluster: a tiny training with checkpoints and a one-minute
`--time` limit completes in several attempts, each resuming from the newest checkpoint,
and the server is stopped in the middle (a time limit hits while no server runs).

The loopback cluster (scripts/slurm-loopback), real oumi.launcher, real `oumi train`,
the real server over stdio with the official MCP client. Its remote home is this
machine's, so the test reads the job folders and logs the cluster wrote.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.diagnosis import newest_checkpoint
from tests.conftest import stdio_parameters
from tests.e2e.test_jobs_e2e import call
from tests.e2e.test_slurm_e2e import FINISHED, in_squeue, slurm_env, ssh, wait_for
from tests.project import write_yaml
from tests.slurm_support import slurm_cluster
from tests.tiny_project import _conversations, training_config

pytestmark = [pytest.mark.anyio, pytest.mark.slurm]

# 16 micro-batches a step: about 10-15 steps/s here, so one attempt (a minute, most of it
# training) does a few hundred steps and the run needs several.
MAX_STEPS = 1500
SAVE_STEPS = 50
# The log's last lines can be lost when Slurm kills the job (they were still buffered),
# so the last step it shows may lag the checkpoint that was saved.
RESTART_WITHIN_S = 30.0  # the target: a restart submitted within 30 s of a server's start
RUN_TIMEOUT_S = 900.0
_CHECKPOINT_STEP = re.compile(r"checkpoint-(\d+)$")


def _project(root: Path, tiny_model: Path) -> Path:
    shutil.copytree(tiny_model, root / "model")
    (root / "data").mkdir(parents=True)
    (root / "data" / "chat.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in _conversations())
    )
    config = training_config(Path("model"), max_steps=MAX_STEPS)
    config["training"].update(  # type: ignore[union-attr]
        {
            "save_steps": SAVE_STEPS,
            "logging_steps": 100,
            "gradient_accumulation_steps": 16,
            "save_final_model": False,
        }
    )
    write_yaml(root / "configs" / "train.yaml", config)
    return root


def _last_step_logged(slurm_id: str) -> int:
    """The highest step an attempt's progress bar reached, from its Slurm log."""
    log = (Path.home() / "oumi_slurm_logs" / f"{slurm_id}.out").read_text(errors="replace")
    steps = [int(found) for found in re.findall(rf"(\d+)/{MAX_STEPS} \[", log)]
    return max(steps, default=0)


def _work_dir(cluster: str, slurm_id: str) -> str:
    shown = ssh(cluster, f"scontrol show job -o {slurm_id} || true")
    found = re.search(r"WorkDir=(\S+)", shown)
    return found.group(1) if found else ""


async def _until_ended_on_the_cluster(cluster: str, slurm_id: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while in_squeue(cluster, slurm_id):
        assert time.monotonic() < deadline, f"Slurm job {slurm_id} outlived its time limit"
        await anyio.sleep(2.0)


# Several one-minute attempts, each mostly Python start-up on a 2-core machine: more than
# the suite's 5 minutes a test.
@pytest.mark.timeout(RUN_TIMEOUT_S + 300)
async def test_a_time_limited_training_completes_in_several_attempts_across_a_server_restart(
    tmp_path: Path, tiny_model: Path
) -> None:
    cluster = slurm_cluster()
    project = _project(tmp_path / "project", tiny_model)
    arguments: dict[str, Any] = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "cloud": "slurm",
        "cluster_name": cluster,
        "envs": {"HF_HUB_OFFLINE": "1"},
        "cpus": 1,
        "time_limit": "1",  # one minute: sbatch --time=1
        "max_restarts": 8,
        "dry_run": False,
    }
    parameters = stdio_parameters(tmp_path, **slurm_env(cluster))

    # The first server launches the run, sees it running, and goes away.
    async with Client(parameters, mode="legacy") as client:
        launched = await call(client, "run_oumi_job", arguments)
        assert launched["launched"] and launched["restarts"]["max_restarts"] == 8, launched
        assert "#SBATCH --time=1" in launched["job_script"]
        job_id = launched["job_id"]
        status = await wait_for(client, job_id, {"running"} | FINISHED, 120.0)
        assert status["state"] == "running", status
        first_slurm_id = status["launcher_job_id"]

    # The time limit hits while no server runs.
    await _until_ended_on_the_cluster(cluster, first_slurm_id, 240.0)

    async with Client(parameters, mode="legacy") as client:
        started = time.monotonic()
        while True:
            status = await call(client, "get_job_status", {"job_id": job_id})
            if len(status["attempts"]) >= 2:
                break
            assert time.monotonic() - started < RESTART_WITHIN_S, status
            await anyio.sleep(1.0)
        status = await wait_for(client, job_id, FINISHED, RUN_TIMEOUT_S)

    assert status["state"] == "completed", status
    attempts = status["attempts"]
    assert len(attempts) >= 2, attempts
    assert all(attempt["cause"] == "time_limit" for attempt in attempts[:-1]), attempts
    assert status["restarts"]["restarts_used"] == len(attempts) - 1
    for previous, attempt in itertools.pairwise(attempts):
        resumed = attempt["resumed_from"]
        found = _CHECKPOINT_STEP.search(resumed)
        assert found, attempts
        # Each attempt resumed from the newest checkpoint of the attempt before it (in
        # that attempt's own folder on the cluster, or the one it resumed from itself if
        # it saved none): at most one checkpoint interval of steps was lost.
        folder = _work_dir(cluster, previous["engine_job_id"])
        assert resumed.startswith(folder) or resumed == previous["resumed_from"], attempts
        if resumed.startswith(folder):  # the newest complete checkpoint there, exactly
            assert resumed == str(newest_checkpoint(Path(folder) / "output" / "tiny")), attempts
        lost = _last_step_logged(previous["engine_job_id"]) - int(found.group(1))
        assert lost <= SAVE_STEPS, (previous, attempt, lost)
    # The run's last checkpoint is the last step (in the last attempt's folder, or the one
    # it resumed from if the attempt before it had already saved it).
    output = Path(_work_dir(cluster, attempts[-1]["engine_job_id"])) / "output" / "tiny"
    saved = [*output.glob("checkpoint-*"), Path(attempts[-1]["resumed_from"])]
    newest = max(saved, key=lambda path: int(path.name.split("-")[1]))
    state = json.loads((newest / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
