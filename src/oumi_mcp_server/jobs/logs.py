"""Read job logs cheaply: tails from the end of the file, forward pages from an offset.

A tail reads backwards in blocks until it has the lines asked for, so its cost
follows the size of the answer, not of the file (a 1 GiB log tails as fast as
a small one). Every read is capped at ``MAX_CHARS`` bytes (hence characters);
offsets are byte offsets, so "call again with offset=N" continues exactly
where the last page stopped. Progress bars that redraw a line with carriage
returns are shown as a terminal would show them: only the last redraw.
Blocking: call from worker threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.jobs.catalog import MAX_LOG_CHARS as MAX_CHARS
from oumi_mcp_server.jobs.catalog import MAX_LOG_LINES as MAX_LINES

BLOCK_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogPage:
    text: str
    start: int  # byte offset of the first byte returned
    end: int  # byte offset just after the last byte returned
    size: int  # file size when read
    lines: int
    truncated: bool  # the cap cut the answer short

    @property
    def more_after(self) -> bool:
        return self.end < self.size


def _display(data: bytes) -> tuple[str, int]:
    text = data.decode("utf-8", errors="replace")
    if not text:
        return "", 0
    shown = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [part for part in line.split("\r") if part.strip()]
            line = parts[-1] if parts else ""
        shown.append(line)
    body = "\n".join(shown)
    return body, len(text.splitlines())


def tail(path: Path, lines: int, max_chars: int = MAX_CHARS) -> LogPage:
    """The last ``lines`` lines of ``path`` (at most ``max_chars`` bytes of them)."""
    lines = max(1, min(lines, MAX_LINES))
    max_chars = max(1, min(max_chars, MAX_CHARS))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except OSError:  # missing (not started yet), or not a readable file
        return LogPage("", 0, 0, 0, 0, False)
    with handle:
        size = os.fstat(handle.fileno()).st_size
        position = size
        collected = b""
        # A trailing newline ends the last line; it does not start a new one.
        while position > 0 and collected.count(b"\n") <= lines and len(collected) <= max_chars:
            step = min(BLOCK_BYTES, position)
            position -= step
            handle.seek(position)
            collected = handle.read(step) + collected
    trailing = b"\n" if collected.endswith(b"\n") else b""
    parts = collected[: len(collected) - len(trailing)].split(b"\n")
    if position > 0 and len(parts) > 1:
        parts = parts[1:]  # the first part may be the end of an earlier line
    selected = parts[-lines:]
    data = b"\n".join(selected)
    truncated = False
    if len(data) > max_chars:
        data = data[len(data) - max_chars :]
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            data = data[cut + 1 :]  # whole lines, unless one line is all there is
        truncated = True
    if not data:
        trailing = b""
    start = size - len(data) - len(trailing)
    text, count = _display(data)
    return LogPage(text, start, size, size, count, truncated)


def read_from(
    path: Path, offset: int, lines: int = MAX_LINES, max_chars: int = MAX_CHARS
) -> LogPage:
    """Up to ``lines`` whole lines starting at byte ``offset`` (for reading forward)."""
    lines = max(1, min(lines, MAX_LINES))
    max_chars = max(1, min(max_chars, MAX_CHARS))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except OSError:  # missing (not started yet), or not a readable file
        return LogPage("", 0, 0, 0, 0, False)
    with handle:
        size = os.fstat(handle.fileno()).st_size
        offset = max(0, min(offset, size))
        handle.seek(offset)
        data = handle.read(min(max_chars, size - offset))
    truncated = False
    at_end = offset + len(data) >= size
    count, cut, position = 0, 0, -1
    while count < lines:
        position = data.find(b"\n", position + 1)
        if position < 0:
            break
        count, cut = count + 1, position + 1
    if count >= lines or (not at_end and count):
        data = data[:cut]  # whole lines only
    elif not at_end:
        truncated = True  # one line longer than the cap
    text, count = _display(data[:-1] if data.endswith(b"\n") else data)
    return LogPage(text, offset, offset + len(data), size, count, truncated)


def read_page(path: Path, lines: int, offset: int | None) -> LogPage:
    """The tail of ``path`` (``offset`` None), or a forward page from byte ``offset``."""
    return tail(path, lines) if offset is None else read_from(path, offset, lines)
