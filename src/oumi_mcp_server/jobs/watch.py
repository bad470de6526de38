"""JobWatcher: polls live job state while someone watches, and says what changed.

It knows nothing of MCP. ``interest()`` says what is watched right now (some job
ids, and/or the running and completed collections); ``read_states`` answers the
live state of our jobs (all of them, or the ids asked; states already seen final
are passed back, not observed again); ``publish`` hears each change. The polling
task exists only while the interest is not empty: it starts on ``wake()`` (called
when a subscription arrives) and ends by itself at the first poll that finds
nobody watching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field

from oumi_mcp_server.jobs.status import TERMINAL, JobState
from oumi_mcp_server.settings import JOB_WATCH_INTERVAL_S

logger = logging.getLogger(__name__)

TERMINAL_STATES = frozenset(state.value for state in TERMINAL)


@dataclass(frozen=True)
class Interest:
    """What subscribers watch: these job ids, and whether any collection."""

    job_ids: frozenset[str] = frozenset()
    collections: bool = False

    @property
    def empty(self) -> bool:
        return not self.job_ids and not self.collections


@dataclass(frozen=True)
class JobChanges:
    """One poll's differences from the previous one."""

    states: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id: (before, now)
    running_changed: bool = False  # a job joined or left the unfinished ones
    completed_changed: bool = False  # a job joined or left the finished ones
    jobs_added_or_removed: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.states
            or self.running_changed
            or self.completed_changed
            or self.jobs_added_or_removed
        )


# (the job ids watched, or None: every job; states already seen final) -> states by id
ReadStates = Callable[[Collection[str] | None, Mapping[str, str]], Awaitable[dict[str, str]]]
Publish = Callable[[JobChanges], Awaitable[None]]


def diff_states(
    before: Mapping[str, str], now: Mapping[str, str], *, whole_registry: bool
) -> JobChanges:
    """What changed between two polls. ``whole_registry``: both cover every job, so a
    job present in only one of them was launched or removed in between."""
    states = {
        job_id: (before[job_id], state)
        for job_id, state in now.items()
        if job_id in before and before[job_id] != state
    }
    added_or_removed = whole_registry and before.keys() != now.keys()
    finished_before = {job for job, state in before.items() if state in TERMINAL_STATES}
    finished_now = {job for job, state in now.items() if state in TERMINAL_STATES}
    running_before = {job for job, state in before.items() if _unfinished(state)}
    running_now = {job for job, state in now.items() if _unfinished(state)}
    return JobChanges(
        states=states,
        running_changed=whole_registry and running_before != running_now,
        completed_changed=whole_registry and finished_before != finished_now,
        jobs_added_or_removed=added_or_removed,
    )


def _unfinished(state: str) -> bool:
    return state not in TERMINAL_STATES and state != JobState.UNKNOWN.value


class JobWatcher:
    def __init__(
        self,
        interest: Callable[[], Interest],
        read_states: ReadStates,
        publish: Publish,
        interval_s: float = JOB_WATCH_INTERVAL_S,
    ) -> None:
        self._interest = interest
        self._read_states = read_states
        self._publish = publish
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # how many polls ran, over the watcher's life

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Start polling if someone watches and no poll loop runs."""
        if self.running or self._interest().empty:
            return
        self._task = asyncio.get_running_loop().create_task(self._poll_while_watched())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _poll_while_watched(self) -> None:
        before: dict[str, str] | None = None
        before_whole = False
        while True:
            interest = self._interest()
            if interest.empty:
                return
            whole = interest.collections
            # A final state never changes: the engines are not asked about those again.
            final = {
                job: state for job, state in (before or {}).items() if state in TERMINAL_STATES
            }
            try:
                now = await self._read_states(None if whole else interest.job_ids, final)
            except Exception:  # a failing engine must not end the watch; try again later
                logger.exception("Job watcher: reading job states failed")
                await asyncio.sleep(self._interval_s)
                continue
            self.polls += 1
            if before is not None:
                changes = diff_states(before, now, whole_registry=whole and before_whole)
                if not changes.empty:
                    await self._publish(changes)
            before, before_whole = now, whole
            await asyncio.sleep(self._interval_s)
