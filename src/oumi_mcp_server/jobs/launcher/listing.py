"""What oumi.launcher knows, cloud by cloud: parallel, time-limited, briefly cached.

Each cloud is asked in its own worker thread with its own time limit, so a
slow or broken cloud becomes a warning and never hides the others. At most
one call per cloud is in flight (a burst of polls against a hanging cloud
joins the call already running instead of piling up threads). Answers are
cached for a few seconds to absorb polling bursts; the cache of a cloud is
dropped when we launch or cancel there. Nothing is ever read from the registry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from oumi_mcp_server.blocking import SingleFlight
from oumi_mcp_server.errors import EngineTimeoutError, OumiMcpError
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine, LauncherJob

ALL_CLOUDS = "*"  # a listing failure that affects every cloud (oumi.launcher did not load)


@dataclass(frozen=True)
class CloudListing:
    """One cloud's jobs, or why they could not be listed."""

    cloud: str
    jobs: list[LauncherJob] = field(default_factory=list)
    error: str = ""
    next_step: str = ""
    listed_at: float = 0.0  # monotonic
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


class CloudListings:
    def __init__(
        self,
        engine: Callable[[], LauncherEngine],
        *,
        timeout_s: float,
        cache_s: float,
        clouds_timeout_s: float,
        only: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._only = None if only is None else frozenset(only)
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clouds_timeout_s = clouds_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[str, SingleFlight[list[LauncherJob]]] = {}
        self._cache: dict[str, CloudListing] = {}
        self._clouds = SingleFlight(lambda: self._engine().clouds(), what="Loading oumi.launcher")
        self._known_clouds: list[str] | None = None

    async def clouds(self) -> list[str]:
        """The clouds to list: every cloud oumi.launcher knows, or the configured ones
        (none at all for an empty list).

        The first call loads oumi.launcher.
        """
        if self._known_clouds is None:
            known = await self._clouds.run(
                timeout_s=self._clouds_timeout_s,
                next_step="oumi.launcher is still loading; call again in a few seconds.",
            )
            self._known_clouds = [c for c in known if self._only is None or c in self._only]
        return self._known_clouds

    async def list_all(self) -> list[CloudListing]:
        """Every cloud's listing, asked in parallel."""
        try:
            clouds = await self.clouds()
        except OumiMcpError as exc:
            return [CloudListing(ALL_CLOUDS, error=exc.message, next_step=exc.next_step)]
        except Exception as exc:  # an engine that cannot load is a warning, not a crash
            return [CloudListing(ALL_CLOUDS, error=f"oumi.launcher failed to load: {exc}")]
        return list(await asyncio.gather(*(self.list_cloud(cloud) for cloud in clouds)))

    async def list_cloud(self, cloud: str) -> CloudListing:
        cached = self._cache.get(cloud)
        if cached is not None and self._clock() - cached.listed_at < self._cache_s:
            return CloudListing(cloud, cached.jobs, listed_at=cached.listed_at, from_cache=True)
        try:
            jobs = await self._flight(cloud).run(
                timeout_s=self._timeout_s,
                next_step="The call keeps running; list_jobs will show this cloud once it answers.",
            )
        except EngineTimeoutError as exc:
            return CloudListing(cloud, error=exc.message, next_step=exc.next_step)
        except Exception as exc:  # each cloud fails in its own way; report it, list the rest
            return CloudListing(
                cloud,
                error=f"{type(exc).__name__}: {exc}",
                next_step=f"Check {cloud}'s credentials and connectivity (e.g. `sky check`).",
            )
        listing = CloudListing(cloud, jobs, listed_at=self._clock())
        self._cache[cloud] = listing
        return listing

    def _flight(self, cloud: str) -> SingleFlight[list[LauncherJob]]:
        with self._lock:
            flight = self._flights.get(cloud)
            if flight is None:
                flight = self._flights[cloud] = SingleFlight(
                    lambda: self._engine().status(cloud), what=f"oumi.launcher status of {cloud}"
                )
            return flight

    def invalidate(self, cloud: str) -> None:
        self._cache.pop(cloud, None)
