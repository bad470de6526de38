"""The loopback Slurm cluster answers oumi.launcher for real (ssh, rsync, sbatch, squeue).

Needs ``make slurm-up`` (as root); skipped without it, mandatory in CI
(``OUMI_MCP_REQUIRE_SLURM=1``). The launcher runs in a child process of the venv's
python so that ``OUMI_SLURM_CONNECTIONS`` is set before oumi builds its clouds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slurm_support import slurm_cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

GREETING = "hello-from-slurm"
JOB_TIMEOUT_S = 30.0
# `import oumi.launcher` alone takes 10-20 s on a busy 2-CPU machine.
CHILD_TIMEOUT_S = 100.0

LAUNCH = """
import json, sys, time
from oumi import launcher

cluster_name, working_dir, run = sys.argv[1:4]
timeout_s = float(sys.argv[4])
job = launcher.JobConfig(
    name="oumi-mcp-slurm-hello",
    user="root",
    working_dir=working_dir,
    resources=launcher.JobResources(cloud="slurm"),
    run=run,
)
cluster, submitted = launcher.up(job, cluster_name)
deadline = time.monotonic() + timeout_s
seen = []
while True:
    status = cluster.get_job(submitted.id)
    if status is not None and (not seen or seen[-1] != status.status):
        seen.append(status.status)
    if (status is not None and status.done) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print("RESULT " + json.dumps({
    "id": submitted.id,
    "cluster": cluster.name(),
    "seen": seen,
    "status": status.status if status else None,
    "state": status.state.name if status else None,
    "done": bool(status and status.done),
}), flush=True)
"""


@pytest.fixture(scope="module")
def cluster() -> str:
    return slurm_cluster()


def launch(cluster: str, working_dir: Path, run: str) -> dict[str, object]:
    """launcher.up() a job on the cluster in a child process; poll get_job until it is done."""
    env = dict(os.environ, OUMI_SLURM_CONNECTIONS=cluster, DO_NOT_TRACK="1", HF_HUB_OFFLINE="1")
    done = subprocess.run(
        # rsync semantics: without the trailing slash the files land one level down.
        [sys.executable, "-c", LAUNCH, cluster, f"{working_dir}/", run, str(JOB_TIMEOUT_S)],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and results, (
        f"launcher child failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return json.loads(results[-1].removeprefix("RESULT "))


def read_when_has(path: Path, text: str, timeout_s: float = 5.0) -> str:
    """The file's content once it contains `text` (slurmd may close it just after the job)."""
    deadline = time.monotonic() + timeout_s
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            break
        time.sleep(0.2)
    return content


def test_a_job_runs_to_completion_through_the_launcher(cluster: str, tmp_path: Path) -> None:
    working_dir = tmp_path / "work"
    working_dir.mkdir()
    (working_dir / "README").write_text("synced to the cluster by oumi's rsync\n")

    result = launch(cluster, working_dir, f"echo {GREETING}; sleep 1")

    assert result["cluster"] == cluster
    assert result["done"], f"the job did not finish within {JOB_TIMEOUT_S:.0f} s: {result}"
    assert result["status"] == "COMPLETED", result
    assert result["state"] == "SUCCEEDED", result
    log = Path.home() / "oumi_slurm_logs" / f"{result['id']}.out"
    assert GREETING in read_when_has(log, GREETING).splitlines(), f"{log} lacks {GREETING!r}"
