"""newest_checkpoint: the highest-numbered checkpoint whose save finished."""

from __future__ import annotations

import json
from pathlib import Path

from oumi_mcp_server.diagnosis import diagnose, newest_checkpoint

OOM = ["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory."]


def _checkpoint(output: Path, step: int, *, state: bool = True, weights: bytes = b"w") -> Path:
    folder = output / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    if state:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}, indent=2))
    return folder


def test_no_output_dir_or_no_checkpoint(tmp_path: Path) -> None:
    assert newest_checkpoint(tmp_path / "missing") is None
    (tmp_path / "runs").mkdir()
    (tmp_path / "checkpoint-latest").mkdir()
    assert newest_checkpoint(tmp_path) is None


def test_the_highest_step_wins_by_number_not_by_name(tmp_path: Path) -> None:
    for step in (500, 1000, 1500, 200):
        _checkpoint(tmp_path, step)
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoint-1500"


def test_a_half_written_checkpoint_is_skipped(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 100)
    _checkpoint(tmp_path, 200, state=False)  # killed before trainer_state.json
    _checkpoint(tmp_path, 300, weights=b"")  # weights file created, nothing written
    cut = _checkpoint(tmp_path, 400)
    (cut / "trainer_state.json").write_text('{"global_step": 400, "log_history": [')
    _checkpoint(tmp_path.parent / "elsewhere", 900)
    (tmp_path / "tmp-checkpoint-500").mkdir()  # transformers' folder before the rename
    assert newest_checkpoint(tmp_path) == tmp_path / "checkpoint-100"


def test_sharded_weights_need_every_shard(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path, 10)
    (folder / "model.safetensors").unlink()
    shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
    (folder / shards["a"]).write_bytes(b"1")
    assert newest_checkpoint(tmp_path) is None
    (folder / shards["b"]).write_bytes(b"2")
    assert newest_checkpoint(tmp_path) == folder


def test_adapter_and_sharded_trainer_checkpoints(tmp_path: Path) -> None:
    lora = _checkpoint(tmp_path, 5)
    (lora / "model.safetensors").rename(lora / "adapter_model.safetensors")
    assert newest_checkpoint(tmp_path) == lora
    fsdp = _checkpoint(tmp_path, 6)
    (fsdp / "model.safetensors").unlink()
    (fsdp / "pytorch_model_fsdp_0").mkdir()
    assert newest_checkpoint(tmp_path) == lora  # an empty shard folder is not a save
    (fsdp / "pytorch_model_fsdp_0" / "__0_0.distcp").write_bytes(b"x")
    assert newest_checkpoint(tmp_path) == fsdp


def test_the_diagnosis_points_at_the_checkpoint(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path, 700)
    assert diagnose(OOM, exit_code=1, output_dir=tmp_path).fix.resume_from == folder
    clean = diagnose(["done"], exit_code=0, output_dir=tmp_path)
    assert clean.fix.resume_from is None
