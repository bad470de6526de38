"""Slurm job configs, as the dry run shows them: right for oumi's slurm cloud.

The real JobService, validation and planning; oumi.launcher is the recording
fake (the real cluster runs in tests/e2e/test_slurm_e2e.py).
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.launcher.slurm_job import OUMI_MISSING, job_script
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import RecordingLauncher, job_service_for_engine
from tests.project import make_project, write_yaml

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
CLUSTER = "alice@hpc.example"
ACTIVATE = "source ~/venvs/oumi/bin/activate"


@pytest.fixture
async def job_service(settings: Settings) -> AsyncIterator[JobService]:
    jobs = job_service_for_engine(replace(settings, slurm_setup=ACTIVATE), RecordingLauncher())
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


async def test_a_generated_slurm_job_is_right_for_oumis_slurm_cloud(
    job_service: JobService, project: Path
) -> None:
    dry = await job_service.run(
        CONFIG,
        "train",
        str(project),
        cloud="slurm",
        cluster_name=CLUSTER,
        envs={"GREETING": "hello world; rm -rf ~", "HF_TOKEN": "hf_" + "x" * 30},
        resources=CloudResources(
            accelerators="A100:2", cpus=8, memory_gb=64, time_limit="01:30:00"
        ),
    )
    job = dry.job_config
    assert job is not None
    assert job["user"] == "alice" and job["working_dir"] == f"{project}/"
    assert job["resources"] == {
        "cloud": "slurm",
        "accelerators": "A100:2",
        "cpus": "8",
        "memory": "64",
    }
    assert job["envs"]["GREETING"] == shlex.quote("hello world; rm -rf ~")
    assert job["setup"] == f"{ACTIVATE}\n{OUMI_MISSING}"  # never a pip install on a node
    assert job["run"].startswith("#SBATCH --time=01:30:00\n")
    script = dry.job_script
    assert script.startswith("#!/bin/bash\n#SBATCH --time=01:30:00\n\nexport ")
    assert "export GREETING='hello world; rm -rf ~'" in script
    assert "hf_xxxx" not in script and "hf_xxxx" not in str(job)  # masked in what is shown
    assert script.index(ACTIVATE) < script.index("oumi train -c configs/train.yaml")


async def test_a_given_slurm_job_config_gets_the_same_fixes(
    job_service: JobService, project: Path
) -> None:
    write_yaml(
        project / "jobs" / "slurm.yaml",
        {
            "resources": {"cloud": "slurm"},
            "working_dir": ".",
            "envs": {"NOTE": "two words"},
            "setup": "#SBATCH --partition=debug\nmodule load cuda",
            "run": "oumi train -c configs/train.yaml",
        },
    )
    dry = await job_service.run("jobs/slurm.yaml", "train", str(project), cluster_name=CLUSTER)
    job = dry.job_config
    assert job is not None
    assert job["working_dir"] == f"{project}/" and job["user"] == "alice"
    assert job["envs"]["NOTE"] == "'two words'"
    assert job["setup"] == f"#SBATCH --partition=debug\n{ACTIVATE}\nmodule load cuda"
    assert dry.job_script.startswith("#!/bin/bash\n#SBATCH --partition=debug\n\nexport ")


async def test_slurm_needs_user_at_host_and_a_time_limit_needs_slurm(
    job_service: JobService, project: Path
) -> None:
    with pytest.raises(InvalidArgumentError, match="user@host"):
        await job_service.run(CONFIG, "train", str(project), cloud="slurm", cluster_name="hpc")
    with pytest.raises(InvalidArgumentError, match="Slurm jobs only"):
        await job_service.run(
            CONFIG, "train", str(project), cloud="gcp", resources=CloudResources(time_limit="60")
        )
    for bad in ("-oProxyCommand=x@h", "a b@h", "root@", "@host"):
        with pytest.raises(InvalidArgumentError, match="cluster_name"):
            await job_service.run(CONFIG, "train", str(project), cloud="slurm", cluster_name=bad)
    with pytest.raises(InvalidArgumentError, match="time_limit"):
        await job_service.run(
            CONFIG,
            "train",
            str(project),
            cloud="slurm",
            cluster_name=CLUSTER,
            resources=CloudResources(time_limit="soon"),
        )


def test_the_job_script_puts_sbatch_lines_first_then_exports_setup_and_run() -> None:
    script = job_script(
        {
            "envs": {"A": "1"},
            "setup": "#SBATCH -p gpu\nsource env",
            "run": "#SBATCH --time=5\necho hi",
        }
    )
    assert script == (
        "#!/bin/bash\n#SBATCH -p gpu\n#SBATCH --time=5\n\nexport A=1\n\nsource env\necho hi\n"
    )


def test_slurms_reason_and_exit_code_are_read_from_its_own_words() -> None:
    from oumi_mcp_server.jobs.launcher.slurm_state import slurm_detail

    dump = "JobId=7 JobName=x\n   JobState=FAILED Reason=NonZeroExitCode Dependency=(null)\n"
    dump += "   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=1:0\n"
    assert slurm_detail(dump).summary == "Reason=NonZeroExitCode ExitCode=1:0"
    assert slurm_detail(dump).exit_code == 1
    killed = slurm_detail("JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15")
    assert (killed.summary, killed.exit_code) == ("Reason=TimeLimit ExitCode=0:15", -15)
    line = slurm_detail("7 job root RUNNING 1796294918 localhost")
    assert line.summary == "7 job root RUNNING 1796294918 localhost" and line.exit_code is None
