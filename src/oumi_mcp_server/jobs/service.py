"""JobService: the job API. The job tools and the tests call it; it is the front door.

Identity comes from the registry, state from the engines (never stored). Each
record names its engine (``backend``), and every per-job call goes to that
engine through the ``JobBackend`` Protocol (backend.py): ``process/`` runs
``oumi`` as our own process group, ``launcher/`` goes through oumi.launcher.
Per-job runtimes live only while a launch or a process needs them. On start
the service lets each engine recover what earlier server processes left
before it accepts launches, then sweeps stale runtimes and prunes old records.
"""

from __future__ import annotations

import asyncio
import logging
import time

from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service_launches import JobLaunches
from oumi_mcp_server.jobs.service_views import JobViews
from oumi_mcp_server.jobs.status import is_terminal
from oumi_mcp_server.settings import JOB_PRUNE_INTERVAL_S, JOB_SWEEP_INTERVAL_S

logger = logging.getLogger(__name__)


class JobService(JobLaunches, JobViews):
    """The job API: launches and relaunches (service_launches.py), views
    (service_views.py), diagnoses (service_diagnosis.py), and here its lifecycle:
    recovery, the periodic sweep of stale runtimes and the pruning of old records."""

    def start(self) -> None:
        """Reconcile, then sweep runtimes and prune records periodically (background task)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        self.start_policy_loops()

    async def close(self) -> None:
        await self.stop_policy_loops()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for job_id in self.runtimes.ids():  # the jobs themselves keep running
            self.runtimes.evict_runtime(job_id)
        await self._launcher.close()

    async def _sweep_forever(self) -> None:
        last_prune = 0.0
        while True:
            try:
                await self.ensure_reconciled()  # tried again each sweep until it works
                self.cleanup_stale_runtimes()
                if time.monotonic() - last_prune >= JOB_PRUNE_INTERVAL_S or not last_prune:
                    last_prune = time.monotonic()
                    await self.prune()
            except OumiMcpError as exc:  # a damaged registry, say: said, not a traceback
                logger.warning("Job sweep: %s", exc.message)
            except Exception:  # the sweep must outlive any single failure
                logger.exception("Job sweep failed")
            await asyncio.sleep(JOB_SWEEP_INTERVAL_S)

    def cleanup_stale_runtimes(self) -> list[str]:
        return self.runtimes.cleanup_stale_runtimes()

    # -- pruning -----------------------------------------------------------------------

    async def prune(self, now: float | None = None) -> list[str]:
        """Delete records (and run dirs) older than the retention period, unless still active."""
        moment = time.time() if now is None else now
        cutoff = moment - self._settings.job_retention_days * 86400
        old = await registry_ops.call(lambda: self.registry.older_than(cutoff))
        if not old:
            return []
        observations = await self._as_runs(old, await self._observe(old))
        doomed = [r for r, o in zip(old, observations, strict=True) if is_terminal(o.state)]
        ids = [record.job_id for record in doomed]
        state_dir = self._settings.state_dir

        def delete() -> None:
            self.registry.delete(ids)
            for record in doomed:
                RunDir.of(record).remove(state_dir)

        await registry_ops.call(delete)
        for job_id in ids:
            self.runtimes.evict_runtime(job_id)
        for backend in self._holders.values():
            backend.forget(ids)
        self._diagnoses.forget(ids)
        if ids:
            logger.info("Pruned %d job record(s) older than the retention period", len(ids))
        return ids
