"""Pre-flight on GPU machines: a fake `nvidia-smi` on PATH, real processes, offline estimates.

The fake is a shell script placed in a tmp dir. The hardware check is given that dir as
its search path, or a real server process gets it first on its PATH.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.preflight.context import build_context
from oumi_mcp_server.preflight.hardware_check import HardwareAssessment, assess_hardware
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import Settings
from tests.conftest import stdio_parameters
from tests.project import make_project, training_config, write_yaml

BIG = "meta-llama/Llama-3.1-8B-Instruct"  # ~8B parameters, derived from the name
SMALL_GPU = "NVIDIA Fake 8GB, 8192, 512, 8.6"
BIG_GPU = "NVIDIA Fake 80GB, 81920, 0, 9.0"


def fake_nvidia_smi(directory: Path, *gpu_lines: str, body: str = "") -> Path:
    """A `nvidia-smi` that answers the memory query with ``gpu_lines`` (or runs ``body``)."""
    directory.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"echo '{line}'\n" for line in gpu_lines)
    script = directory / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *memory.total*memory.used*) ;; *) echo "bad query: $*" >&2; exit 2;; esac\n'
        + (body or listed)
    )
    script.chmod(0o755)
    return directory


def project_with(tmp_path: Path, model: dict[str, Any], **sections: Any) -> Path:
    project = make_project(tmp_path / "project")
    config = training_config()
    config["model"] = model
    config.update(sections)
    write_yaml(project / "configs" / "train.yaml", config)
    return project


def assess(project: Path, smi_dir: Path, timeout_s: float = 5.0) -> HardwareAssessment:
    ctx = build_context("configs/train.yaml", str(project), "")
    return assess_hardware(ctx, search_path=str(smi_dir), nvidia_smi_timeout_s=timeout_s)


def _messages(findings: list[Any]) -> str:
    return "\n".join(f"{finding.message} {finding.hint}" for finding in findings)


def test_a_model_too_big_for_an_8gb_gpu_is_a_warning_with_numbers(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"model_name": BIG, "torch_dtype_str": "bfloat16"})
    result = assess(project, fake_nvidia_smi(tmp_path / "bin", SMALL_GPU))
    assert result.report.source == "nvidia-smi"
    assert [gpu.memory_gb for gpu in result.report.gpus] == [8.0]
    assert result.report.gpus[0].compute_capability == "8.6"
    (warning,) = [w for w in result.warnings if "does not fit" in w.message]
    assert "~8B parameters" in warning.message and "128.0 GB" in warning.message
    assert "full fine-tuning" in warning.message and "8 GB" in warning.message
    assert "LoRA" in warning.hint and "QLoRA" in warning.hint and "cloud" in warning.hint
    assert "per_device_train_batch_size" in warning.hint
    assert not result.notes
    assert "CPU-only" not in _messages(result.warnings)


def test_a_model_that_fits_an_80gb_gpu_is_a_note_not_a_warning(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        {"model_name": BIG, "torch_dtype_str": "bfloat16"},
        training={**training_config()["training"], "use_peft": True},  # type: ignore[dict-item]
    )
    result = assess(project, fake_nvidia_smi(tmp_path / "bin", BIG_GPU))
    assert "GPU memory" not in _messages(result.warnings)
    assert "CPU-only" not in _messages(result.warnings)
    (note,) = result.notes
    assert "fits" in note.message and "LoRA" in note.message
    assert "20.0 GB" in note.message and "80 GB" in note.message  # 8B x (2 + 0.5) bytes
    assert result.report.memory_fit == note.message  # what pre-flight's report shows


@pytest.mark.parametrize(
    ("sections", "fits"),
    [
        ({"model": {"model_name": BIG, "device_map": "cuda:0"}}, False),  # each GPU: 80 GB
        ({"model": {"model_name": BIG}}, True),  # device_map auto spreads it over 160 GB
        ({"model": {"model_name": BIG, "device_map": "cuda"}, "fsdp": {"enable_fsdp": True}}, True),
        (
            {
                "model": {"model_name": BIG, "device_map": "cuda"},
                "deepspeed": {"enable_deepspeed": True, "zero_stage": "3"},
            },
            True,
        ),
    ],
)
def test_sharding_counts_the_gpus_together(
    tmp_path: Path, sections: dict[str, Any], fits: bool
) -> None:
    # Full fine-tuning of ~8B parameters: ~128 GB, more than one 80 GB GPU, less than two.
    rest = {key: value for key, value in sections.items() if key != "model"}
    project = project_with(tmp_path, sections["model"], **rest)
    result = assess(project, fake_nvidia_smi(tmp_path / "bin", BIG_GPU, BIG_GPU))
    too_big = [w for w in result.warnings if "does not fit" in w.message]
    assert bool(too_big) is not fits, _messages(result.warnings + result.notes)
    if fits:
        assert "the 2 GPUs together have 160 GB" in result.notes[0].message
    else:
        assert "each GPU" in too_big[0].message and "FSDP" in too_big[0].hint


def test_qlora_is_priced_below_lora(tmp_path: Path) -> None:
    seventy = {"model_name": "meta-llama/Llama-3.3-70B-Instruct", "torch_dtype_str": "bfloat16"}
    training = {**training_config()["training"], "use_peft": True}  # type: ignore[dict-item]
    lora = assess(
        project_with(tmp_path / "lora", seventy, training=training),
        fake_nvidia_smi(tmp_path / "bin", BIG_GPU),
    )
    qlora = assess(
        project_with(tmp_path / "qlora", seventy, training=training, peft={"q_lora": True}),
        fake_nvidia_smi(tmp_path / "bin", BIG_GPU),
    )
    assert any("does not fit" in w.message and "175.0 GB" in w.message for w in lora.warnings)
    assert qlora.notes and "QLoRA" in qlora.notes[0].message and "49.0 GB" in qlora.notes[0].message


def test_a_failing_nvidia_smi_is_a_warning(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"model_name": BIG})
    smi = fake_nvidia_smi(
        tmp_path / "bin",
        body='echo "NVIDIA-SMI has failed because it couldn\'t communicate with the driver."\n'
        "exit 9\n",
    )
    result = assess(project, smi)
    (warning,) = [w for w in result.warnings if "could not read GPU memory" in w.message]
    assert "status 9" in warning.message and "communicate with the driver" in warning.message
    assert "128.0 GB" in warning.message  # the estimate is still given
    assert result.report.gpus == [] and result.report.source == "nvidia-smi failed"
    assert "CPU-only" not in _messages(result.warnings)


def test_unparseable_output_is_a_warning(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"model_name": BIG})
    result = assess(project, fake_nvidia_smi(tmp_path / "bin", "No devices were found here"))
    assert any("could not read GPU memory" in w.message for w in result.warnings)


def test_a_hanging_nvidia_smi_is_a_warning_fast_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    project = project_with(tmp_path, {"model_name": BIG})
    child = tmp_path / "child.pid"
    smi = fake_nvidia_smi(tmp_path / "bin", body=f"sleep 60 &\necho $! > {child}\nwait\n")
    started = time.monotonic()
    result = assess(project, smi, timeout_s=1.0)
    assert time.monotonic() - started < 3.5
    assert any(
        "could not read GPU memory" in w.message and "timed out" in w.message
        for w in result.warnings
    ), _messages(result.warnings)
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the hanging nvidia-smi's child outlived the check"


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def test_no_nvidia_smi_keeps_the_cpu_estimate(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"model_name": BIG})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = assess(project, empty)
    assert result.report.source == "none (no nvidia-smi)"
    assert any("CPU-only machine" in w.message for w in result.warnings)
    assert "GPU memory" not in _messages(result.warnings)


@pytest.mark.anyio
async def test_the_server_process_reads_the_gpus_on_its_path(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"model_name": BIG, "torch_dtype_str": "bfloat16"})
    smi = fake_nvidia_smi(tmp_path / "bin", SMALL_GPU)
    parameters = stdio_parameters(tmp_path, PATH=f"{smi}{os.pathsep}{os.environ['PATH']}")
    async with Client(parameters, mode="legacy") as client:
        result = await client.call_tool(
            "pre_flight_check", {"config": "configs/train.yaml", "client_cwd": str(project)}
        )
    assert not result.is_error
    report = result.structured_content or {}
    assert report["hardware"]["gpus"][0]["memory_gb"] == 8.0
    warnings = "\n".join(w["message"] for w in report["warnings"])
    assert "does not fit in GPU memory" in warnings and "128.0 GB" in warnings


@pytest.mark.anyio
async def test_a_cloud_target_is_not_checked_against_this_machines_gpus(
    settings: Settings, tmp_path: Path
) -> None:
    project = project_with(tmp_path, {"model_name": BIG})
    checker = CloudChecker(lambda: ["gcp"], timeout_s=5, cache_s=300)
    service = PreflightService(settings, cloud_checker=checker, library=LibraryService(settings))
    report = await service.check("configs/train.yaml", str(project), "gcp")
    assert report.target == "gcp" and report.hardware is None
    assert not [w for w in report.warnings if w.check == "hardware"]
