"""diagnose_job and relaunch_job through the MCP client: real job processes (a fake `oumi`
script printing a real library error and exiting with its code), the diagnosis kept in
the run dir, the cause in get_job_status and list_jobs, and the fix relaunched."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client

from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import launch_fake_job, with_fake_oumi
from tests.project import make_project, training_config, write_yaml

pytestmark = pytest.mark.anyio

CORPUS = Path(__file__).parent / "fixtures" / "failures"
# What torch prints when a training step runs out of GPU memory (torch/cuda/memory.py).
OOM_TRACEBACK = "\n".join(
    [
        "Traceback (most recent call last):",
        '  File "/opt/conda/lib/python3.11/site-packages/transformers/trainer.py", line 2672, '
        "in _inner_training_loop",
        "    tr_loss_step = self.training_step(model, inputs, num_items_in_batch)",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
        "total capacity of 23.68 GiB of which 1.12 GiB is free. Of the allocated memory 20.1 "
        "GiB is allocated by PyTorch, and 1.9 GiB is reserved by PyTorch but unallocated.",
    ]
)
FAILING = {"FAKE_OUMI_STDERR": OOM_TRACEBACK, "FAKE_OUMI_EXIT": "1", "FAKE_OUMI_SLEEP": "0"}


@pytest.fixture
def oumi_settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_fake_oumi(settings, tmp_path)


@pytest.fixture
async def client(oumi_settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(oumi_settings)) as connected:
        yield connected


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "project")
    config = training_config(per_device_train_batch_size=6, gradient_accumulation_steps=3)
    write_yaml(root / "configs" / "train.yaml", config)
    return root


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content or {}


async def refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return str(result.content[0].text)  # type: ignore[union-attr]


async def wait_until_listed_as(client: Client, job_id: str, state: str) -> dict[str, Any]:
    """Wait through list_jobs (get_job_status would diagnose a failed job)."""
    with anyio.fail_after(30):
        while True:
            rows = (await call(client, "list_jobs"))["jobs"]
            row = next(row for row in rows if row["job_id"] == job_id)
            if row["state"] == state:
                return dict(row)
            await anyio.sleep(0.1)


async def failed_job(client: Client, project: Path) -> str:
    job_id = await launch_fake_job(client, project, **FAILING)
    await wait_until_listed_as(client, job_id, "failed")
    return job_id


async def test_a_failed_job_gets_its_cause_and_a_patch_from_its_config(
    client: Client, project: Path
) -> None:
    job_id = await failed_job(client, project)
    before = await wait_until_listed_as(client, job_id, "failed")
    assert before["cause"] == ""  # list_jobs never diagnoses

    answer = await call(client, "diagnose_job", job_id=job_id)
    assert answer["job_id"] == job_id and answer["state"] == "failed"
    assert answer["cause"] == "gpu_oom" and answer["confidence"] >= 0.8
    assert "out of memory" in answer["summary"].lower()
    assert answer["fix"]["config_patch"] == {
        "training.per_device_train_batch_size": 3,
        "training.gradient_accumulation_steps": 6,
    }
    assert answer["fix"]["steps"]
    decisive = [item for item in answer["evidence"] if "OutOfMemoryError" in item["text"]]
    assert decisive and decisive[0]["line"] is not None and decisive[0]["source"].endswith(".log")
    assert "relaunch_job" in answer["next_step"] and not answer["cached"]

    status = await call(client, "get_job_status", job_id=job_id)
    assert status["cause"] == "gpu_oom" and status["summary"] == answer["summary"]
    assert "diagnose_job" in status["next_step"]
    row = await wait_until_listed_as(client, job_id, "failed")
    assert row["cause"] == "gpu_oom"
    resource = await client.read_resource(f"jobs://{job_id}")
    assert '"cause": "gpu_oom"' in resource.contents[0].text  # type: ignore[union-attr]


async def test_get_job_status_diagnoses_a_failed_job_and_list_jobs_then_shows_it(
    client: Client, project: Path
) -> None:
    job_id = await failed_job(client, project)
    status = await call(client, "get_job_status", job_id=job_id)
    assert status["cause"] == "gpu_oom" and status["summary"]
    assert (await wait_until_listed_as(client, job_id, "failed"))["cause"] == "gpu_oom"


async def test_a_finished_job_is_diagnosed_once_and_kept(
    oumi_settings: Settings, client: Client, project: Path
) -> None:
    job_id = await failed_job(client, project)
    first = await call(client, "diagnose_job", job_id=job_id)
    status = await call(client, "get_job_status", job_id=job_id)
    run_dir = Path(status["stdout_path"]).parent
    assert (run_dir / "diagnosis.json").is_file()
    assert oct((run_dir / "diagnosis.json").stat().st_mode & 0o777) == "0o600"
    for log in (status["stdout_path"], status["stderr_path"]):
        Path(log).unlink()  # a second diagnosis could not read them
    # A new server (nothing in memory) reads the kept diagnosis from the run dir.
    async with Client(build_server(oumi_settings)) as fresh:
        again = await call(fresh, "diagnose_job", job_id=job_id)
        started = time.perf_counter()
        third = await call(fresh, "diagnose_job", job_id=job_id)
        elapsed = time.perf_counter() - started
    assert again["cached"] and third["cached"]
    assert again["cause"] == first["cause"] == "gpu_oom"
    assert again["fix"] == first["fix"] and again["evidence"] == first["evidence"]
    assert elapsed < 0.5  # the benchmark measures it (bench/diagnosis.py); here: no re-read


async def test_a_remembered_diagnosis_is_used_only_while_its_file_is_the_jobs(
    client: Client, project: Path
) -> None:
    job_id = await failed_job(client, project)
    status = await call(client, "get_job_status", job_id=job_id)
    assert status["cause"] == "gpu_oom"
    kept = Path(status["stdout_path"]).parent / "diagnosis.json"
    data = json.loads(kept.read_text())
    data["answer"]["cause"] = "disk_full"  # as if the id now named another job, diagnosed
    replacement = kept.with_name("replacement.json")
    replacement.write_text(json.dumps(data))
    replacement.replace(kept)
    assert (await call(client, "diagnose_job", job_id=job_id))["cause"] == "disk_full"
    kept.unlink()
    Path(status["stderr_path"]).write_text("")  # a new diagnosis reads what is there now
    Path(status["stdout_path"]).write_text("")
    again = await call(client, "diagnose_job", job_id=job_id)
    assert again["cause"] != "gpu_oom" and not again["cached"]


async def test_a_running_job_has_nothing_failed_yet(client: Client, project: Path) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="30")
    answer = await call(client, "diagnose_job", job_id=job_id)
    assert answer["state"] in {"launching", "running"} and answer["cause"] == "none"
    assert "nothing failed yet" in answer["summary"]
    assert "again once it ends" in answer["next_step"]
    await client.call_tool("cancel_job", {"job_id": job_id, "force": True})


async def test_a_log_from_elsewhere_is_diagnosed(client: Client, project: Path) -> None:
    (project / "logs").mkdir()
    shutil.copy(CORPUS / "gpu_oom_rank3_then_nccl_timeouts.log", project / "logs" / "run.log")
    answer = await call(
        client, "diagnose_job", log_path="logs/run.log", client_cwd=str(project), exit_code=1
    )
    assert answer["cause"] == "gpu_oom" and answer["job_id"] == ""
    assert answer["log_sources"] == [str(project / "logs" / "run.log")]
    assert any(item["source"] == "run.log" for item in answer["evidence"])


async def test_bad_requests_are_refused_saying_what_to_do(
    client: Client, project: Path, tmp_path: Path
) -> None:
    (project / "logs").mkdir()
    (project / "logs" / "run.log").write_text("hello\n")
    neither = await refused(client, "diagnose_job")
    assert "neither job_id nor log_path" in neither and "Pass job_id" in neither
    both = await refused(
        client, "diagnose_job", job_id="x", log_path="logs/run.log", client_cwd=str(project)
    )
    assert "both job_id and log_path" in both
    extra = await refused(client, "diagnose_job", job_id="x", client_cwd=str(project))
    assert "go with log_path only" in extra
    outside = tmp_path / "outside.log"
    outside.write_text("torch.OutOfMemoryError: CUDA out of memory.\n")
    away = await refused(client, "diagnose_job", log_path=str(outside), client_cwd=str(project))
    assert "outside the project" in away
    link = project / "logs" / "link.log"
    link.symlink_to(outside)
    assert "outside the project" in await refused(
        client, "diagnose_job", log_path="logs/link.log", client_cwd=str(project)
    )
    os.mkfifo(project / "logs" / "pipe.log")
    with anyio.fail_after(10):  # a FIFO is refused at once, never opened
        pipe = await refused(
            client, "diagnose_job", log_path="logs/pipe.log", client_cwd=str(project)
        )
    assert "not a regular file" in pipe
    system = await refused(client, "diagnose_job", log_path="passwd", client_cwd="/etc")
    assert "system folder" in system
    missing = await refused(
        client, "diagnose_job", log_path="logs/none.log", client_cwd=str(project)
    )
    assert "not found" in missing
    unknown = await refused(client, "diagnose_job", job_id="no-such-job")
    assert "No job with id 'no-such-job'" in unknown


async def test_relaunch_dry_run_writes_nothing(client: Client, project: Path) -> None:
    job_id = await failed_job(client, project)
    before = sorted(path.name for path in (project / "configs").iterdir())
    answer = await call(client, "relaunch_job", job_id=job_id)
    assert sorted(path.name for path in (project / "configs").iterdir()) == before
    assert answer["dry_run"] and not answer["written"] and answer["cause"] == "gpu_oom"
    assert answer["new_config_path"] == str(project / "configs" / "train.fix-1.yaml")
    assert answer["original_config_path"] == str(project / "configs" / "train.yaml")
    assert answer["config_patch"]["training.per_device_train_batch_size"] == 3
    text = yaml.safe_load(answer["new_config_text"])
    assert text["training"]["per_device_train_batch_size"] == 3
    assert text["training"]["gradient_accumulation_steps"] == 6
    run = answer["run"]
    assert run["dry_run"] and not run["launched"] and run["command"] == "train"
    assert "--training.per_device_train_batch_size" not in " ".join(run["argv"])
    assert "FAKE_OUMI_EXIT" in answer["message"]  # its env values must be given again


async def test_relaunch_writes_a_new_config_and_launches_it(
    oumi_settings: Settings, client: Client, project: Path
) -> None:
    job_id = await failed_job(client, project)
    original = (project / "configs" / "train.yaml").read_bytes()
    refusal = await refused(client, "relaunch_job", job_id=job_id, dry_run=False)
    assert "FAKE_OUMI_EXIT" in refusal and "envs" in refusal
    assert not (project / "configs" / "train.fix-1.yaml").exists()

    envs = {"FAKE_OUMI_STDERR": "", "FAKE_OUMI_EXIT": "0", "FAKE_OUMI_SLEEP": "0"}
    answer = await call(client, "relaunch_job", job_id=job_id, dry_run=False, envs=envs)
    written = project / "configs" / "train.fix-1.yaml"
    assert answer["written"] and answer["new_config_path"] == str(written)
    assert (project / "configs" / "train.yaml").read_bytes() == original
    patched = yaml.safe_load(written.read_text())
    assert patched["training"]["per_device_train_batch_size"] == 3
    assert patched["training"]["gradient_accumulation_steps"] == 6
    run = answer["run"]
    assert run["launched"] and run["job_id"] != job_id and run["config_path"] == str(written)
    staged = yaml.safe_load(Path(run["staged_config_path"]).read_text())
    assert staged["training"]["per_device_train_batch_size"] == 3
    assert staged["training"]["gradient_accumulation_steps"] == 6
    audit = (oumi_settings.state_dir / "audit.jsonl").read_text().splitlines()
    audited = [json.loads(line) for line in audit if '"relaunch_job"' in line]
    assert [entry["result"] for entry in audited] == ["error", "ok"]
    # Again: the next free name, never over the first copy.
    again = await call(client, "relaunch_job", job_id=job_id, envs=envs)
    assert again["new_config_path"] == str(project / "configs" / "train.fix-2.yaml")


async def test_a_relaunch_resumes_from_the_newest_complete_checkpoint(
    client: Client, project: Path
) -> None:
    job_id = await launch_fake_job(client, project, **FAILING)
    output = project / "output" / "run"
    for step, complete in ((4, True), (8, False)):  # checkpoint-8: cut short mid-save
        folder = output / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "trainer_state.json").write_text('{"global_step": 4}' if complete else "{")
    await wait_until_listed_as(client, job_id, "failed")
    answer = await call(client, "diagnose_job", job_id=job_id)
    assert answer["fix"]["resume_from"] == str(output / "checkpoint-4")
    relaunch = await call(client, "relaunch_job", job_id=job_id)
    assert relaunch["resume_from"] == str(output / "checkpoint-4")
    assert relaunch["config_patch"]["training.resume_from_checkpoint"] == str(
        output / "checkpoint-4"
    )
    training = yaml.safe_load(relaunch["new_config_text"])["training"]
    assert training["resume_from_checkpoint"] == str(output / "checkpoint-4")
    assert training["per_device_train_batch_size"] == 3
    assert "resumes from" in relaunch["message"]


async def test_a_job_without_a_fix_runs_again_as_it_ran(client: Client, project: Path) -> None:
    done = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="0")
    await wait_until_listed_as(client, done, "completed")
    again = await call(client, "relaunch_job", job_id=done)
    assert again["cause"] == "none" and again["config_patch"] == {}
    assert again["new_config_path"].endswith("configs/train.rerun-1.yaml")
    assert "Nothing failed" in again["message"]
    failed = await failed_job(client, project)
    unfixed = await call(client, "relaunch_job", job_id=failed, apply_fix=False)
    assert unfixed["cause"] == "" and unfixed["config_patch"] == {}
    assert (
        yaml.safe_load(unfixed["new_config_text"])["training"]["per_device_train_batch_size"] == 6
    )


async def test_a_running_job_is_not_relaunched(client: Client, project: Path) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="30")
    refusal = await refused(client, "relaunch_job", job_id=job_id)
    assert "only a finished job" in refusal
    await client.call_tool("cancel_job", {"job_id": job_id, "force": True})


async def test_read_only_mode_has_diagnose_job_but_no_relaunch(settings: Settings) -> None:
    async with Client(build_server(replace(settings, read_only=True))) as connected:
        listed = {tool.name for tool in (await connected.list_tools()).tools}
        rendered = await connected.get_prompt("debug_failed_job", {"job_id": "train-42"})
    text = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert "diagnose_job" in listed and "relaunch_job" not in listed
    assert text.lstrip().startswith("Find out") and "diagnose_job" in text
    assert "relaunch_job(" not in text and "relaunch_job with" not in text


async def test_the_full_server_prompt_starts_from_diagnose_job(client: Client) -> None:
    rendered = await client.get_prompt("debug_failed_job", {"job_id": "train-42"})
    text = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert text.index("diagnose_job") < text.index("get_job_logs")
    assert "relaunch_job" in text


async def test_the_tool_over_the_whole_corpus_names_the_labelled_cause(client: Client) -> None:
    """Every labelled log the tool can be given alone (no engine record needed) through
    diagnose_job(log_path, client_cwd, exit_code): top-1 >= 95% on failures, no false alarm
    on clean runs. The confusion table is printed (pytest -s shows it)."""
    from tests.diagnosis.test_corpus import confusion_table

    labels: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "labels.yaml").read_text())
    pairs: list[tuple[str, str]] = []
    for name, label in sorted(labels.items()):
        if label.get("engine_state") or label.get("engine_reason"):
            continue  # the engine's own record is not an argument of log_path diagnoses
        arguments: dict[str, Any] = {"log_path": name, "client_cwd": str(CORPUS)}
        if label.get("exit_code") is not None:
            arguments["exit_code"] = label["exit_code"]
        result = await client.call_tool("diagnose_job", arguments)
        assert not result.is_error, (name, result.content)
        pairs.append((str(label["cause"]), str((result.structured_content or {})["cause"])))
    print("\n" + confusion_table(pairs))
    failures = [(want, got) for want, got in pairs if want != "none"]
    clean = [(want, got) for want, got in pairs if want == "none"]
    assert len(failures) >= 50 and len(clean) >= 10, (len(failures), len(clean))
    right = sum(want == got for want, got in failures)
    assert right / len(failures) >= 0.95, confusion_table(pairs)
    assert all(got == "none" for _, got in clean), clean
