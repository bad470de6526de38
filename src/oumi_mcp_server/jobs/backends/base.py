"""The interface every job backend implements: local processes now, oumi.launcher clouds later.

The service picks a backend by the record's ``cloud``; backends are injected
(tests pass real or fake engines through the constructor, never by patching).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from oumi_mcp_server.jobs.logs import LogPage
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.jobs.status import JobState


@dataclass(frozen=True)
class LaunchSpec:
    """A record (already in the registry) plus what to execute for it.

    Process jobs run ``argv`` with ``env_additions``; launcher jobs hand
    ``job_config`` (an oumi JobConfig as a mapping) to ``launcher.up``.
    """

    record: JobRecord
    argv: list[str] = field(default_factory=list)
    env_additions: dict[str, str] = field(default_factory=dict)
    job_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Observation:
    """The engine's live answer for one job."""

    state: JobState
    reason: str
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None


@dataclass(frozen=True)
class CancelOutcome:
    action: str  # cancelled | already_finished | still_running
    previous: Observation
    final: Observation
    signals_sent: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LogRead:
    stream: str
    path: str
    page: LogPage


class JobBackend(Protocol):
    def handles(self, cloud: str) -> bool:
        """True if this backend runs jobs for ``cloud``."""

    async def launch(self, spec: LaunchSpec, runtime: JobRuntime) -> JobRecord:
        """Start the job; return its record completed with the engine identity."""

    async def observe(
        self, records: Sequence[JobRecord], *, launching: frozenset[str] = frozenset()
    ) -> list[Observation]:
        """Live state of each record, in order (``launching``: ids whose launch is in flight)."""

    async def cancel(
        self, record: JobRecord, *, force: bool, runtime: JobRuntime | None
    ) -> CancelOutcome:
        """Stop the job if it is still running, and say what was done."""

    async def read_logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        """A bounded tail (``offset`` None) or forward page of each stream."""
