"""Metric records out of the three formats Oumi leaves behind.

- ``metrics_rank0000.jsonl``: one JSON object per logging step, with ``step``.
- ``trainer_state.json``: ``log_history``, a list of flat objects with ``step``.
  A truncated or oversized file is scanned for those flat objects instead.
- The job's stdout: Hugging Face's progress callback prints each log as a Python
  dict, e.g. ``{'loss': '4.037', 'grad_norm': '2.017', ..., 'step': 1}``
  (transformers 5 rounds the values to strings; older versions print floats and
  no step). Its stderr carries tqdm's ``3/10 [00:00<00:01, 7.47it/s]``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, float]  # one logging event; "step" when it was logged

STEP_KEYS = ("step", "global_step")
_FLAT_OBJECT = re.compile(r"\{[^{}]*\}")
_LOG_DICT = re.compile(r"\{'[^{}]*\}")
_LOG_PAIR = re.compile(r"'([^']+)':\s*(?:'([^']*)'|([^,}]+))")
# An unlabelled tqdm bar (the trainer's; "Map:" or "Writing model shards:" bars have a label).
_PROGRESS = re.compile(r"^\s*\d+%\|[^|]*\|\s*(\d+)/(\d+) \[[^\]]*?([\d.]+)\s*(it/s|s/it)\]")
# A printed dict is a metrics log only if it carries one of these.
_LOG_MARKERS = ("loss", "learning_rate", "grad_norm", "epoch", "train_runtime")


@dataclass
class Parsed:
    records: list[Record] = field(default_factory=list)
    skipped: int = 0  # lines or objects that looked like records but did not parse
    max_steps: int | None = None  # when the format states it (trainer_state.json)


@dataclass(frozen=True)
class Progress:
    """The last tqdm progress bar in a log: step, total steps and the current rate."""

    step: int
    total: int
    steps_per_second: float


def to_float(value: Any) -> float | None:
    """A metric value as a float (NaN and inf kept), or None when it is not a number."""
    if type(value) is float:  # the common case, first
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _record(raw: dict[str, Any]) -> Record:
    record: Record = {}
    for key, value in raw.items():
        number = to_float(value)
        if number is not None:
            record[str(key)] = number
    return record


def _has_metric(record: Record) -> bool:
    return any(key not in STEP_KEYS for key in record)


def parse_jsonl(text: str) -> Parsed:
    lines = [line for line in (raw.strip() for raw in text.splitlines()) if line]
    try:  # one parse for the whole file is ~2x faster than one per line
        whole = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        whole = None
    if isinstance(whole, list) and len(whole) == len(lines):
        return _records_of(whole)
    items: list[Any] = []
    unreadable = 0
    for line in lines:
        try:
            items.append(json.loads(line))  # accepts NaN / Infinity as json.dumps writes them
        except ValueError:
            unreadable += 1  # e.g. the line being written right now
    parsed = _records_of(items)
    parsed.skipped += unreadable
    return parsed


def _records_of(items: list[Any]) -> Parsed:
    parsed = Parsed()
    for raw in items:
        record = _record(raw) if isinstance(raw, dict) else {}
        if _has_metric(record):
            parsed.records.append(record)
        else:
            parsed.skipped += 1
    return parsed


def parse_trainer_state(text: str, complete: bool) -> Parsed:
    """``log_history`` of a whole file; a cut or broken file is scanned for flat records."""
    if complete:
        try:
            state = json.loads(text)
        except ValueError:
            state = None
        if isinstance(state, dict) and isinstance(state.get("log_history"), list):
            parsed = _records_of(state["log_history"])
            parsed.max_steps = _positive_int(state.get("max_steps"))
            return parsed
    return _scan_flat_records(text)


def _scan_flat_records(text: str) -> Parsed:
    parsed = Parsed()
    start = text.find('"log_history"')
    for match in _FLAT_OBJECT.finditer(text, max(start, 0)):
        try:
            raw = json.loads(match.group())
        except ValueError:
            parsed.skipped += 1
            continue
        if not isinstance(raw, dict) or not any(key in raw for key in STEP_KEYS):
            continue  # e.g. TrainerControl's flags in stateful_callbacks
        record = _record(raw)
        if _has_metric(record):
            parsed.records.append(record)
    max_steps = re.search(r'"max_steps":\s*(\d+)', text)
    parsed.max_steps = _positive_int(max_steps.group(1)) if max_steps else None
    return parsed


def parse_log(text: str) -> Parsed:
    """Metric dicts printed by the Hugging Face progress callback (one per logging step)."""
    parsed = Parsed()
    for line in text.splitlines():  # also splits tqdm's carriage returns
        if "{'" not in line:
            continue
        for match in _LOG_DICT.finditer(line):
            record: Record = {}
            for key, quoted, bare in _LOG_PAIR.findall(match.group()):
                number = to_float(quoted if quoted else bare)
                if number is not None:
                    record[key] = number
            if any(marker in key for key in record for marker in _LOG_MARKERS):
                parsed.records.append(record)
    return parsed


def last_progress(text: str) -> Progress | None:
    """The newest tqdm bar with a rate (``it/s`` or ``s/it``) in a log's text."""
    for line in reversed(text[-65536:].splitlines()):
        match = _PROGRESS.match(line)
        if match is None:
            continue
        step, total, rate, unit = match.groups()
        value = float(rate)
        if value <= 0 or not math.isfinite(value):
            continue
        per_second = value if unit == "it/s" else 1.0 / value
        return Progress(int(step), int(total), per_second)
    return None


def _positive_int(value: Any) -> int | None:
    number = to_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        return None
    return int(number)
