"""The state JobService's parts share, and the lookups each of them uses.

JobService (service.py) is one class split by meaning over a few modules: this
base (its engines, registry and runtimes; finding a record and the engine that
holds it; the one-time recovery before launches), the diagnoses
(service_diagnosis.py), the launches and relaunches (service_launches.py) and the
views (service_views.py: status, list, logs, metrics, cancel). Nothing here is
cached: identity comes from the registry, state from the engines (a finished job's
diagnosis, which never changes, is kept: service_diagnosis.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import NotFoundError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.acceptance import owner
from oumi_mcp_server.jobs.backend import (
    JobBackend,
    JobHolder,
    LauncherJobs,
    Observation,
)
from oumi_mcp_server.jobs.checks import LaunchChecks
from oumi_mcp_server.jobs.cluster_list import IdleClock
from oumi_mcp_server.jobs.diagnosis import DiagnosisMemory
from oumi_mcp_server.jobs.naming import check_job_id
from oumi_mcp_server.jobs.pending import PendingLaunches
from oumi_mcp_server.jobs.pricing import Pricer
from oumi_mcp_server.jobs.records import PENDING_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.validation.service import ValidationService

ACCEPT_WAIT_S = 30.0  # a status or cancel waits this long for a launch being accepted


class JobServiceBase:
    """What every part of JobService shares: its engines (reached through their
    Protocols), the registry, the runtimes, and how a job id finds its engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        validation: ValidationService,
        preflight: PreflightService,
        config_roots: Sequence[Path] = (),
        registry: Registry,
        runtimes: RuntimeTable,
        process: JobBackend[Any],
        launcher: LauncherJobs[Any],
        pricer: Pricer | None = None,
    ) -> None:
        self._settings = settings
        self._checks = LaunchChecks(validation, preflight)
        self._config_roots = tuple(config_roots)  # besides the project: readable configs
        self.registry = registry
        self.runtimes = runtimes
        self._process = process
        self._launcher = launcher
        engines: dict[str, JobHolder] = {process.name: process, launcher.name: launcher}
        self._holders: dict[str, JobHolder] = {
            **engines,
            PENDING_BACKEND: PendingLaunches(registry, engines),
        }
        self._diagnoses = DiagnosisMemory()  # finished jobs' diagnoses (service_diagnosis.py)
        self._owner = owner()  # this server process, as the owner of the launches it accepts
        # Named launches between their request and their record: a status or cancel that
        # comes meanwhile waits for the record instead of answering "no job".
        self._accepting: dict[str, asyncio.Event] = {}
        self._reconciled = False
        self._reconcile_lock: asyncio.Lock | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._pricer = pricer  # prices for quotes and spend (jobs/pricing.py)
        self._quiet: dict[str, tuple[str, float]] = {}  # guards: output seen, since when
        self._guard_log_reads: dict[str, float] = {}  # guards: a cluster log's last read
        self._idle = IdleClock()  # clusters: since when each had nothing to run

    # -- finding a job and its engine -----------------------------------------------------

    async def _record(self, job_id: str) -> JobRecord:
        checked = check_job_id(job_id)
        try:
            return await registry_ops.call(lambda: self.registry.get(checked))
        except NotFoundError:
            announced = self._accepting.get(checked)
            if announced is None:
                raise
        await asyncio.wait_for(announced.wait(), ACCEPT_WAIT_S)  # its launch is being accepted
        return await registry_ops.call(lambda: self.registry.get(checked))

    def _holder(self, record: JobRecord) -> JobHolder:
        return self._holders[record.backend]

    def _by_engine(self, records: Sequence[JobRecord]) -> list[tuple[JobHolder, list[JobRecord]]]:
        return [
            (backend, [record for record in records if record.backend == name])
            for name, backend in self._holders.items()
        ]

    async def _observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        """Live state of each record, in order, each from its own engine (in parallel)."""
        groups = self._by_engine(records)
        answers = await asyncio.gather(*(backend.observe(group) for backend, group in groups))
        by_id = by_job_id(groups, answers)
        return [by_id[record.job_id] for record in records]

    # -- recovery before launches ---------------------------------------------------------

    async def ensure_reconciled(self) -> None:
        if self._reconciled:
            return
        if self._reconcile_lock is None:
            self._reconcile_lock = asyncio.Lock()
        async with self._reconcile_lock:
            if not self._reconciled:
                await self.reconcile()
                self._reconciled = True

    async def reconcile(self) -> dict[str, int]:
        """Let each engine look at the jobs left unfinished; the count per state."""
        counts: dict[str, int] = {}
        for backend in self._holders.values():
            for state, count in (await backend.recover()).items():
                counts[state] = counts.get(state, 0) + count
        return counts


def by_job_id(
    groups: Sequence[tuple[object, list[JobRecord]]], answers: Sequence[list[Observation]]
) -> dict[str, Observation]:
    """Each engine's observations (one list per group, in the group's order), by job id."""
    return {
        record.job_id: observation
        for (_, group), observed in zip(groups, answers, strict=True)
        for record, observation in zip(group, observed, strict=True)
    }
