"""The newest checkpoint a failed run can resume from.

The Hugging Face Trainer (and so Oumi) saves ``checkpoint-N`` folders under the
output dir: the weights first, then the optimizer, scheduler and RNG states, and
``trainer_state.json`` last. A run killed mid-save leaves a half-written folder
(no trainer_state.json, an empty or cut file, a shard missing from the index); that
folder is skipped for the one before it. Newer transformers write to
``tmp-checkpoint-N`` and rename it when done: those are never complete.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TRAINER_STATE = "trainer_state.json"
WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "adapter_model.safetensors",
    "adapter_model.bin",
)
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# Sharded trainers keep the weights in a folder of their own (FSDP, DeepSpeed).
WEIGHT_FOLDER_PATTERN = re.compile(r"^(?:pytorch_model_fsdp_\d+|global_step\d+)$")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_MAX_INDEX_BYTES = 16 * 1024 * 1024


def newest_checkpoint(output_dir: Path) -> Path | None:
    """The ``checkpoint-N`` folder with the highest N whose files are all written, or None."""
    try:
        entries = list(output_dir.iterdir())
    except OSError:
        return None
    numbered = []
    for entry in entries:
        found = _CHECKPOINT.match(entry.name)
        if found is not None and entry.is_dir():
            numbered.append((int(found.group(1)), entry))
    for _, folder in sorted(numbered, reverse=True):
        if is_complete(folder):
            return folder
    return None


def is_complete(folder: Path) -> bool:
    """Whether a checkpoint folder holds a finished save: its trainer state and its weights."""
    return _trainer_state_written(folder / TRAINER_STATE) and _weights_written(folder)


def _trainer_state_written(path: Path) -> bool:
    """Written to the end: a JSON object's closing brace is its last non-blank byte."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size == 0:
                return False
            handle.seek(max(0, size - 64))
            return handle.read().rstrip().endswith(b"}")
    except OSError:
        return False


def _weights_written(folder: Path) -> bool:
    if any(_non_empty(folder / name) for name in WEIGHT_FILES):
        return True
    for index_name in WEIGHT_INDEXES:
        index = folder / index_name
        if index.is_file():
            return _shards_written(index)
    try:
        return any(
            WEIGHT_FOLDER_PATTERN.match(entry.name) and entry.is_dir() and any(entry.iterdir())
            for entry in folder.iterdir()
        )
    except OSError:
        return False


def _shards_written(index: Path) -> bool:
    """Every shard the index names exists and is not empty."""
    try:
        if index.stat().st_size > _MAX_INDEX_BYTES:
            return False
        weight_map = json.loads(index.read_text()).get("weight_map", {})
    except (OSError, ValueError, AttributeError):
        return False
    shards = {str(name) for name in weight_map.values()} if isinstance(weight_map, dict) else set()
    return bool(shards) and all(_non_empty(index.parent / shard) for shard in shards)


def _non_empty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False
