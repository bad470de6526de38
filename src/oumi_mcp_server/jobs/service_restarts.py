"""JobService's runs until done: the restart loop, a restart's launch, and the run's state.

A job launched with ``max_restarts`` keeps one job id for its whole run. When an
attempt ends, the server (any server sharing the state dir: the first to claim the
end in the registry) decides by the policy (jobs/policies/restarts.py) and, after a
backoff, launches the next attempt on the same engine from the config as it ran,
resuming from the newest complete checkpoint the engine can see. Until the policy
has decided, an ended attempt reads ``queued`` (never a final state that a restart
would take back). Everything is in the registry: a server started later finishes
what an earlier one began.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from oumi_mcp_server.audit import append_entry
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.diagnosis.signals import signal_number
from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs import registry_runs
from oumi_mcp_server.jobs.acceptance import claimer_alive, owner_key
from oumi_mcp_server.jobs.arguments import CloudResources, check_arguments
from oumi_mcp_server.jobs.backend import JobBackend, Observation
from oumi_mcp_server.jobs.checks import ConfigSource
from oumi_mcp_server.jobs.models import CancelResult
from oumi_mcp_server.jobs.policies.restarts import (
    LOST,
    Attempt,
    RestartPolicy,
    current_attempt,
    decide,
    next_action,
    resume_override,
    without_resume,
)
from oumi_mcp_server.jobs.policies.run_reports import engine_job_id, run_observation
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.reports import cancel_result
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service_diagnosis import JobDiagnoses
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.paths import resolve_client_cwd
from oumi_mcp_server.private import private_dir
from oumi_mcp_server.settings import CONFIG_READ_TIMEOUT_S
from oumi_mcp_server.validation.documents import ConfigDocument, load_config_document

logger = logging.getLogger(__name__)

Run = tuple[RestartPolicy, bool, list[Attempt]]  # policy, stopped by a cancel, attempts
# A loop of what the server does on its own: its name, its interval, one pass.
PolicyLoop = tuple[str, float, Callable[[], Awaitable[object]]]
RESTART_ENVS_FILE = "restart_envs.json"  # in the first attempt's run dir (0700), 0600


class JobRestarts(JobDiagnoses):
    _policy_tasks: tuple[asyncio.Task[None], ...] = ()

    # -- the loops ----------------------------------------------------------------------

    def start_policy_loops(self) -> None:
        """Start what the server does on its own for jobs, each loop at its own pace."""
        if any(not task.done() for task in self._policy_tasks):
            return
        loop = asyncio.get_running_loop()
        self._policy_tasks = tuple(
            loop.create_task(self._every(interval_s, one_pass, what))
            for what, interval_s, one_pass in self._policy_loops()
        )

    def _policy_loops(self) -> list[PolicyLoop]:
        """The loops (service_guards.py adds the guards'): restarts at their own pace."""
        return [("Restarts", self._settings.restart_poll_s, self.drive_restarts)]

    async def stop_policy_loops(self) -> None:
        tasks, self._policy_tasks = self._policy_tasks, ()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(
        self, interval_s: float, one_pass: Callable[[], Awaitable[object]], what: str
    ) -> None:
        while True:
            try:
                await self.ensure_reconciled()
                await one_pass()
            except OumiMcpError as exc:
                logger.warning("%s: %s", what, exc.message)
            except Exception:  # the loop must outlive any single failure
                logger.exception("%s loop failed", what)
            await asyncio.sleep(interval_s)

    async def drive_restarts(self, now: float | None = None) -> list[str]:
        """One pass: decide each ended attempt of a run with restarts, and launch the
        restarts that are due. The job ids of the attempts launched."""
        policies = await registry_ops.call(lambda: registry_runs.policies(self.registry))
        launched = []
        for job_id, (text, stopped) in policies.items():
            if stopped:
                continue
            record = await registry_ops.call(partial(self.registry.find, job_id))
            if record is None or record.is_pending:
                continue
            policy = RestartPolicy.from_json(text)
            if await self._drive_one(record, policy, time.time() if now is None else now):
                launched.append(job_id)
        return launched

    async def _drive_one(self, record: JobRecord, policy: RestartPolicy, now: float) -> bool:
        attempts = await registry_ops.call(
            lambda: registry_runs.attempts(self.registry, record.job_id)
        )
        current = current_attempt(attempts, record.attempt)
        me = owner_key()
        if current is None or not current.decision:
            observation = (await self._holder(record).observe([record]))[0]
            if not is_terminal(observation.state):
                return False
            cause = await self._end_cause(record, observation, policy)
            decision = decide(policy, record.attempt, observation.state.value, cause)
            restart_at = (
                now + policy.backoff_before(record.attempt) if decision == "restart" else None
            )
            ended = Attempt(
                attempt=record.attempt,
                engine_job_id=engine_job_id(record, observation),
                started_at=current.started_at if current else observation.started_at,
                ended_at=observation.ended_at or now,
                end_state=observation.state.value,
                cause=cause,
                decision=decision,
                restart_at=restart_at,
            )
            won = await registry_ops.call(
                lambda: registry_runs.claim_end(self.registry, record.job_id, ended, me)
            )
            if not won:
                return False
            self._audit_restart(record, ended, policy)
            current = replace(ended, claimed_by=me)
        if current.decision != "restart" or current.relaunched:
            return False
        if current.claimed_by != me:
            if claimer_alive(current.claimed_by):
                return False
            took = await registry_ops.call(
                lambda: registry_runs.take_over_restart(
                    self.registry, record.job_id, current.attempt, current.claimed_by, me
                )
            )
            if not took:
                return False
        if (current.restart_at or 0.0) > now:
            return False
        return await self._launch_next_attempt(record, policy)

    async def _end_cause(
        self, record: JobRecord, observation: Observation, policy: RestartPolicy
    ) -> str:
        """Why an attempt ended, in restart_on's words: 'lost' (the process vanished), a
        signal the policy lists, or the diagnosis's cause."""
        if observation.state is JobState.COMPLETED:
            return "none"
        if observation.reason.startswith(LOST):
            return LOST
        number = signal_number(observation.exit_code)
        if number is not None:
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = ""
            if name in policy.restart_on:
                return name
        try:
            return (await self.diagnose(record.job_id)).cause
        except OumiMcpError as exc:
            logger.warning("Restarts: diagnosing %s failed: %s", record.job_id, exc.message)
            return "unknown"

    # -- a restart's launch ----------------------------------------------------------

    async def _launch_next_attempt(self, record: JobRecord, policy: RestartPolicy) -> bool:
        """The next attempt on the same engine, from the config as it ran, resuming from
        the newest complete checkpoint; False when another server did it first."""
        backend: JobBackend[Any] = self._process if record.is_process else self._launcher
        # None saved in this attempt: what it resumed from itself is still the newest.
        checkpoint = await backend.newest_checkpoint(record) or await self._resumed_from(record)
        overrides = list(without_resume(policy.request.overrides))
        if checkpoint:
            overrides.append(resume_override(checkpoint))
        elif backend is self._launcher:
            overrides.append("training.try_resume_from_last_checkpoint=true")
        first = RunDir.for_job(self._settings.state_dir, record.job_id)
        envs = await run_blocking(
            lambda: {str(k): str(v) for k, v in (first.read(RESTART_ENVS_FILE) or {}).items()},
            timeout_s=CONFIG_READ_TIMEOUT_S,
            what="Reading the run's envs",
        )
        args = check_arguments(
            policy.request.command,
            job_name=record.job_id,
            cloud=policy.request.cloud,
            cluster_name=policy.request.cluster_name,
            envs=envs,
            overrides=overrides,
            resources=CloudResources(**policy.request.resources),
        )
        args = replace(args, attempt=record.attempt + 1)
        source = await run_blocking(
            lambda: self._attempt_source(record),
            timeout_s=CONFIG_READ_TIMEOUT_S,
            what="Reading the config the job ran",
        )
        plan = await backend.plan(args, source)
        new = replace(
            plan.record(),
            submitted_at=record.submitted_at,
            request_digest=record.request_digest,
            attempt=record.attempt + 1,
        )
        await run_blocking(
            lambda: _stage(new, source.document),
            timeout_s=CONFIG_READ_TIMEOUT_S,
            what="Staging the config",
        )
        started = Attempt(record.attempt + 1, "", time.time(), resumed_from=checkpoint or "")
        if not await registry_ops.call(lambda: self.registry.start_attempt(new, started)):
            return False
        self.runtimes.evict_runtime(record.job_id)
        self._diagnoses.forget([record.job_id])
        logger.info(
            "Restarting job %s as attempt %d%s",
            record.job_id,
            new.attempt,
            f", resuming from {checkpoint}" if checkpoint else "",
        )
        self._audit(
            record.job_id,
            new.attempt,
            f"launched attempt {new.attempt}"
            + (f", resuming from {checkpoint}" if checkpoint else ", from the start"),
        )
        await backend.launch(plan, new)
        return True

    async def _resumed_from(self, record: JobRecord) -> str | None:
        job_id = record.job_id
        attempts = await registry_ops.call(lambda: registry_runs.attempts(self.registry, job_id))
        current = current_attempt(attempts, record.attempt)
        return current.resumed_from or None if current is not None else None

    def _attempt_source(self, record: JobRecord) -> ConfigSource:
        """The config as the previous attempt ran it (its staged copy), under the user's
        file name. Blocking."""
        staged = load_config_document(Path(record.staged_config_path), None)
        document = ConfigDocument(Path(record.config_path), staged.text, staged.data)
        return ConfigSource(resolve_client_cwd(record.client_cwd), document, self._config_roots)

    def _audit_restart(self, record: JobRecord, ended: Attempt, policy: RestartPolicy) -> None:
        logger.info(
            "Job %s attempt %d ended %s (%s): %s",
            record.job_id,
            ended.attempt,
            ended.end_state,
            ended.cause,
            next_action(ended, policy, time.time()),
        )
        self._audit(
            record.job_id,
            ended.attempt,
            f"attempt {ended.attempt} ended {ended.end_state} ({ended.cause}): "
            + next_action(ended, policy, time.time()),
        )

    def _audit(self, job_id: str, attempt: int, what: str, tool: str = "automatic_restart") -> None:
        """An audit log line for what the server did on its own (never fails the loop)."""
        try:
            append_entry(
                self._settings.state_dir,
                tool=tool,
                arguments={"job_id": job_id, "attempt": attempt},
                transport="server",
                ok=True,
                answer=what,
                duration_s=0.0,
            )
        except OSError as exc:
            logger.warning("Could not write the audit log entry of a restart: %s", exc)

    # -- the run's state -------------------------------------------------------------

    async def _runs(self, records: Sequence[JobRecord]) -> dict[str, Run]:
        """The restart policy (and whether a cancel stopped it) and attempts of those
        records that have one."""
        wanted = {record.job_id for record in records}
        if not wanted:
            return {}

        def read() -> dict[str, Run]:
            found = {}
            for job_id, (text, stopped) in registry_runs.policies(self.registry).items():
                if job_id in wanted:
                    attempts = registry_runs.attempts(self.registry, job_id)
                    found[job_id] = (RestartPolicy.from_json(text), stopped, attempts)
            return found

        return await registry_ops.call(read)

    async def _as_runs(
        self,
        records: Sequence[JobRecord],
        observations: Sequence[Observation],
        runs: dict[str, Run] | None = None,
    ) -> list[Observation]:
        """Each observation as its run reads: an ended attempt that a restart follows (or
        may follow: the policy has not decided yet) is ``queued``, not final. ``runs``:
        the records' runs, when the caller read them already."""
        runs = await self._runs(records) if runs is None else runs
        if not runs:
            return list(observations)
        now = time.time()
        return [
            run_observation(record, observation, *runs[record.job_id], now)
            if record.job_id in runs
            else observation
            for record, observation in zip(records, observations, strict=True)
        ]

    async def stop_run(self, record: JobRecord) -> bool:
        """cancel_job: no more restarts of this run (before its attempt is cancelled)."""
        return await registry_ops.call(
            lambda: registry_runs.stop_restarts(self.registry, record.job_id)
        )

    async def cancel(self, job_id: str, force: bool = False) -> CancelResult:
        """Cancel the job; a run with restarts stops first (no attempt starts after it)."""
        record = await self._record(job_id)
        await self.stop_run(record)
        outcome = await self._holder(record).cancel(record, force=force)
        runs = await self._runs([record])  # a run with restarts: was one still to come?
        if record.job_id in runs and outcome.action == "already_finished":
            attempts = runs[record.job_id][2]
            current = current_attempt(attempts, record.attempt)
            undecided = current is None or not current.decision
            waiting = current is not None and current.decision == "restart"
            if undecided or (waiting and current is not None and not current.relaunched):
                outcome = replace(
                    outcome,
                    action="cancelled",
                    final=replace(outcome.final, state=JobState.CANCELLED),
                    message=f"{outcome.message} Its pending restart is cancelled: the run "
                    "ends here.",
                )
        return cancel_result(record.job_id, outcome)

    async def keep_run_policy(
        self, record: JobRecord, policy: RestartPolicy, envs: dict[str, str]
    ) -> None:
        """At launch: the policy, the first attempt and the envs a restart passes again."""

        def keep() -> None:
            if envs:
                RunDir.of(record).write(RESTART_ENVS_FILE, dict(envs))
            registry_runs.set_policy(self.registry, record.job_id, policy.to_json())
            registry_runs.add_attempt(
                self.registry, record.job_id, Attempt(1, "", record.submitted_at)
            )

        await registry_ops.call(keep)


def _stage(record: JobRecord, document: ConfigDocument) -> None:
    """The next attempt's run dir (0700) and its staged config; a retry after a crash
    finds both and keeps them."""
    run = RunDir.of(record)
    private_dir(run.path)
    if not Path(record.staged_config_path).exists():
        run.stage(document.path, document.text)
