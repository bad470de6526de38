"""What a slow call is doing right now, for progress notifications. No MCP here.

The MCP layer opens a ``CallProgress`` for each tool call (a context variable, so
it is seen by the call's task and by the worker threads it starts with
``asyncio.to_thread``); domain code says where it is with ``stage("...")``, and
how far with ``stage("...", done, total)``. Outside a call both are no-ops.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass, field

MAX_LOG_RECORDS = 20  # per call: warnings forwarded to the client


@dataclass
class CallProgress:
    tool: str
    started: float = field(default_factory=time.monotonic)
    text: str = ""
    done: float | None = None
    total: float | None = None
    # Warnings logged during the call, waiting to go to the client.
    records: list[logging.LogRecord] = field(default_factory=list)
    dropped_records: int = 0

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def take_records(self) -> list[logging.LogRecord]:
        taken, self.records = self.records, []
        return taken


_current: contextvars.ContextVar[CallProgress | None] = contextvars.ContextVar(
    "oumi_mcp_call_progress", default=None
)


def current() -> CallProgress | None:
    return _current.get()


def open_call(tool: str) -> tuple[CallProgress, contextvars.Token[CallProgress | None]]:
    progress = CallProgress(tool)
    return progress, _current.set(progress)


def close_call(token: contextvars.Token[CallProgress | None]) -> None:
    _current.reset(token)


def stage(text: str, done: float | None = None, total: float | None = None) -> None:
    """Say what the current call is doing (a no-op outside a call)."""
    progress = _current.get()
    if progress is not None:
        progress.text, progress.done, progress.total = text, done, total


class KeepCallWarnings(logging.Handler):
    """Keeps this package's warnings logged during a call, for the client to hear."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        progress = _current.get()
        if progress is None:
            return
        if len(progress.records) < MAX_LOG_RECORDS:
            progress.records.append(record)
        else:
            progress.dropped_records += 1
