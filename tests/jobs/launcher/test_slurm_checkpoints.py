"""A restart on Slurm finds the newest complete checkpoint in the job's own folder on the
cluster (its WorkDir), over ssh: the real loopback cluster, a real sbatch job."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.launcher.slurm_checkpoints import newest_remote_checkpoint
from tests.slurm_support import slurm_cluster


@pytest.fixture
def cluster() -> str:
    return slurm_cluster()


def _checkpoint(output: Path, step: int, *, complete: bool) -> None:
    folder = output / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    state = json.dumps({"global_step": step})
    (folder / "trainer_state.json").write_text(state if complete else state[:-4])


def test_the_newest_complete_checkpoint_is_found_in_the_jobs_work_dir(cluster: str) -> None:
    # The loopback cluster's remote home is this machine's /root: the job's folder is here.
    work_dir = Path.home() / f"oumi_mcp_checkpoint_test_{uuid.uuid4().hex[:8]}"
    try:
        _checkpoint(work_dir / "out", 5, complete=True)
        _checkpoint(work_dir / "out", 40, complete=True)
        _checkpoint(work_dir / "out", 90, complete=False)  # half-written: skipped
        submitted = subprocess.run(
            ["ssh", "-o", "BatchMode=yes", cluster, "sh", "-s"],
            input=f"cd {work_dir} && sbatch --parsable --output=/dev/null --wrap 'true'\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        job_id = submitted.stdout.strip().split(";")[0]
        newest = newest_remote_checkpoint(cluster, job_id, "out", timeout_s=20)
        assert newest == str(work_dir / "out" / "checkpoint-40")
        assert newest_remote_checkpoint(cluster, job_id, str(work_dir / "out"), timeout_s=20) == (
            newest
        )
        assert newest_remote_checkpoint(cluster, job_id, "elsewhere", timeout_s=20) is None
        assert newest_remote_checkpoint(cluster, "999999999", "out", timeout_s=20) is None
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
