"""A log read within a byte budget: its head and its tail, with true line numbers.

A job's log can be gigabytes (a progress bar redrawn for days), so a diagnosis never
loads it whole: it reads at most ``max_bytes``, the first ``HEAD_BYTES`` (where a
failure to start shows) and the rest from the end (where a failure to finish shows).
Lines in the tail keep their true numbers: the newlines of the skipped middle are
counted in chunks (bytes counted, nothing decoded) when the middle is under
``COUNT_LIMIT``; past that, tail lines have no number (None).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
HEAD_BYTES = 1024 * 1024
COUNT_LIMIT = 256 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Segment:
    """A run of whole lines of one log, as bytes."""

    data: bytes
    first_line: int | None  # 1-based number of the first line; None when not counted
    source: str  # the log's name, shown with evidence


@dataclass(frozen=True)
class LogText:
    """What was read of a log: one segment, or its head and its tail."""

    segments: tuple[Segment, ...]
    size: int  # bytes in the whole log
    skipped: int  # bytes between head and tail that were not read


def read_log(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, source: str = "") -> LogText:
    """The head and tail of the file at ``path``, at most ``max_bytes`` read (sync)."""
    name = source or path.name
    # O_NONBLOCK: a path that became a pipe since it was checked opens at once (no writer
    # needed) and is refused, instead of blocking the reading thread for good.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        size = status.st_size
        if size <= max_bytes:
            return LogText((Segment(handle.read(max_bytes), 1, name),), size, 0)
        head = _whole_lines(handle.read(min(HEAD_BYTES, max_bytes // 4)))
        tail_start = size - (max_bytes - len(head))
        middle_newlines = _count_newlines(handle, len(head), tail_start)
        handle.seek(tail_start)
        tail = handle.read(max_bytes - len(head))
    return _split(head, tail, tail_start, size, middle_newlines, name)


def text_log(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES, source: str = "") -> LogText:
    """A log already in memory, cut to the same head and tail as a file would be."""
    data = text.encode("utf-8", errors="replace") if isinstance(text, str) else text
    if len(data) <= max_bytes:
        return LogText((Segment(data, 1, source),), len(data), 0)
    head = _whole_lines(data[: min(HEAD_BYTES, max_bytes // 4)])
    tail_start = len(data) - (max_bytes - len(head))
    middle = data[len(head) : tail_start]
    counted = middle.count(b"\n") if len(middle) <= COUNT_LIMIT else None
    return _split(head, data[tail_start:], tail_start, len(data), counted, source)


def lines_log(
    lines: Iterable[str], max_bytes: int = DEFAULT_MAX_BYTES, source: str = ""
) -> LogText:
    """A log given line by line (a stream): the first lines up to the head budget and a
    rolling window of the last ones, so memory stays within ``max_bytes``."""
    head: list[bytes] = []
    head_size = 0
    head_budget = min(HEAD_BYTES, max_bytes // 4)
    tail: deque[bytes] = deque()
    tail_size = 0
    total = 0
    count = 0
    for raw in lines:
        line = raw.rstrip("\r\n").encode("utf-8", errors="replace") + b"\n"
        count += 1
        total += len(line)
        if not tail and head_size + len(line) <= head_budget:
            head.append(line)
            head_size += len(line)
            continue
        tail.append(line)
        tail_size += len(line)
        while tail_size > max_bytes - head_size and len(tail) > 1:
            tail_size -= len(tail.popleft())
    head_data = b"".join(head)
    segments = [Segment(head_data, 1, source)] if head else []
    if tail:
        segments.append(Segment(b"".join(tail), count - len(tail) + 1, source))
    return LogText(tuple(segments), total, total - head_size - tail_size)


def _whole_lines(data: bytes) -> bytes:
    newline = data.rfind(b"\n")
    return data[: newline + 1] if newline >= 0 else b""


def _count_newlines(handle: BinaryIO, start: int, end: int) -> int | None:
    if end - start > COUNT_LIMIT:
        return None
    handle.seek(start)
    counted = 0
    left = end - start
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            break
        counted += chunk.count(b"\n")
        left -= len(chunk)
    return counted


def _split(
    head: bytes, tail: bytes, tail_start: int, size: int, middle_newlines: int | None, name: str
) -> LogText:
    """Head and tail segments; the tail starts after its first (partial) line."""
    newline = tail.find(b"\n")
    dropped_newline = 1 if newline >= 0 else 0
    tail = tail[newline + 1 :] if newline >= 0 else b""
    first_tail_line = None
    if middle_newlines is not None:
        first_tail_line = head.count(b"\n") + middle_newlines + dropped_newline + 1
    skipped = size - len(head) - len(tail)
    segments = (Segment(head, 1, name), Segment(tail, first_tail_line, name))
    return LogText(tuple(segment for segment in segments if segment.data), size, skipped)
