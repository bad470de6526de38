"""Bounded file reads and the places Oumi writes metrics to.

A run's metric files grow with its length (a long run's log or trainer_state.json
can be hundreds of MB); each read here costs at most ``max_bytes``, taken from
the file's end, because the newest points are the ones being asked about.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MAX_READ_BYTES = 8 * 1024 * 1024
METRICS_JSONL_GLOB = "metrics_rank*.jsonl"  # Oumi's MetricsLoggerCallback, rank 0 writes
TRAINER_STATE = "trainer_state.json"  # Hugging Face Trainer, at each save
CHECKPOINT_GLOB = "checkpoint-*"


@dataclass(frozen=True)
class Tail:
    text: str
    size: int
    bytes_read: int
    truncated: bool  # the file's head was not read


def read_tail(path: Path, max_bytes: int = MAX_READ_BYTES) -> Tail:
    """The last ``max_bytes`` of ``path`` as text, starting at a line boundary when cut."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        truncated = size > max_bytes
        if truncated:
            handle.seek(size - max_bytes)
        data = handle.read(max_bytes)
    if truncated:
        newline = data.find(b"\n")
        data = data[newline + 1 :] if newline >= 0 else b""
    return Tail(data.decode("utf-8", errors="replace"), size, len(data), truncated)


def metrics_jsonl_files(output_dir: Path) -> list[Path]:
    """Oumi's per-rank metric files, rank 0 first."""
    return sorted(output_dir.glob(METRICS_JSONL_GLOB))


def trainer_state_files(output_dir: Path) -> list[Path]:
    """trainer_state.json of the run and of its checkpoints, newest first."""
    found = [output_dir / TRAINER_STATE, *output_dir.glob(f"{CHECKPOINT_GLOB}/{TRAINER_STATE}")]
    stamped = []
    for path in found:
        try:
            stamped.append((path.stat().st_mtime, _checkpoint_number(path), path))
        except OSError:
            continue
    return [path for _, _, path in sorted(stamped, reverse=True)]


def _checkpoint_number(path: Path) -> int:
    suffix = path.parent.name.removeprefix("checkpoint-")
    return int(suffix) if suffix.isdigit() else -1
