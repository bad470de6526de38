"""What oumi.launcher knows, cloud by cloud: parallel, time-limited, briefly cached.

Only the clouds that can answer without starting anything new are asked
(asked_clouds.py), unless ``OUMI_MCP_CLOUDS`` names them. Each cloud is asked
in its own worker thread with its own time limit, so a slow or broken cloud
becomes a warning and never hides the others. A cloud whose clusters are each
reached on their own (Slurm: one login node each) is asked cluster by cluster,
so one unreachable cluster hides no other. At most one call per cloud is in
flight (a burst of polls against a hanging cloud joins the call already running
instead of piling up threads). Answers are cached for a few seconds to absorb
polling bursts; the cache of a cloud is dropped when we launch or cancel there.
Nothing is ever read from the registry (the survey passes the clouds of our jobs).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from oumi_mcp_server.blocking import SingleFlight, run_blocking
from oumi_mcp_server.environment.skypilot_state import SKY_DIR, read_skypilot_record
from oumi_mcp_server.errors import EngineTimeoutError, OumiMcpError
from oumi_mcp_server.jobs.catalog import SLURM_CLOUD
from oumi_mcp_server.jobs.launcher.asked_clouds import CloudsToAsk, clouds_to_ask
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine, LauncherJob
from oumi_mcp_server.masking import mask_text

ALL_CLOUDS = "*"  # a listing failure that affects every cloud (oumi.launcher did not load)
SKYPILOT_RECORD_TIMEOUT_S = 5.0  # a local SQLite read of SkyPilot's state file


@dataclass(frozen=True)
class CloudListing:
    """One cloud's jobs, or why they could not be listed."""

    cloud: str
    jobs: list[LauncherJob] = field(default_factory=list)
    error: str = ""
    next_step: str = ""
    listed_at: float = 0.0  # monotonic
    from_cache: bool = False
    cluster: str = ""  # set when the cloud is listed cluster by cluster

    @property
    def source(self) -> str:
        return f"{self.cloud}/{self.cluster}" if self.cluster else self.cloud

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Listed:
    """Every asked cloud's listing, and a note on the clouds left out (or '')."""

    listings: list[CloudListing]
    note: str = ""


class CloudListings:
    def __init__(
        self,
        engine: Callable[[], LauncherEngine],
        *,
        timeout_s: float,
        cache_s: float,
        clouds_timeout_s: float,
        only: Sequence[str] | None = None,
        skypilot_dir: Path = SKY_DIR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._only = None if only is None else frozenset(only)
        self._skypilot_dir = skypilot_dir
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clouds_timeout_s = clouds_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str], SingleFlight[list[LauncherJob]]] = {}
        self._cache: dict[tuple[str, str], CloudListing] = {}
        self._clouds = SingleFlight(lambda: self._engine().clouds(), what="Loading oumi.launcher")
        self._known_clouds: list[str] | None = None

    async def configured_clouds(self) -> list[str]:
        """The clouds ``OUMI_MCP_CLOUDS`` names that oumi.launcher knows (none at all for
        an empty list). The first call loads oumi.launcher."""
        if self._known_clouds is None:
            known = await self._clouds.run(
                timeout_s=self._clouds_timeout_s,
                next_step="oumi.launcher is still loading; call again in a few seconds.",
            )
            self._known_clouds = [c for c in known if self._only is None or c in self._only]
        return self._known_clouds

    async def to_ask(self, ours: Iterable[str] = (), named: Iterable[str] = ()) -> CloudsToAsk:
        """The clouds to list: those ``OUMI_MCP_CLOUDS`` names, else the ones that can
        answer without starting anything new (asked_clouds.py); ``ours``: clouds where
        jobs of ours are, ``named``: clouds the call names."""
        if self._only is not None:
            return CloudsToAsk(tuple(await self.configured_clouds()))
        record = await run_blocking(
            lambda: read_skypilot_record(self._skypilot_dir),
            timeout_s=SKYPILOT_RECORD_TIMEOUT_S,
            what="Reading SkyPilot's last `sky check`",
        )
        return clouds_to_ask(
            record,
            ours=ours,
            named=named,
            slurm_configured=bool(self._engine().clusters(SLURM_CLOUD)),
        )

    async def list_all(
        self,
        clusters: Iterable[tuple[str, str]] = (),
        *,
        ours: Iterable[str] = (),
        named: Iterable[str] = (),
        timeout_s: float | None = None,
    ) -> Listed:
        """Every asked cloud's listing, in parallel. ``clusters``: (cloud, cluster) pairs
        our jobs name, listed too where a cloud is listed cluster by cluster; ``ours``:
        clouds where jobs of ours are; ``named``: clouds the call names; ``timeout_s``:
        each cloud's limit (default: the listing limit)."""
        pairs = list(clusters)
        try:
            asked = await self.to_ask([*ours, *(cloud for cloud, _ in pairs)], named)
        except OumiMcpError as exc:
            return Listed([CloudListing(ALL_CLOUDS, error=exc.message, next_step=exc.next_step)])
        except Exception as exc:  # an engine that cannot load is a warning, not a crash
            return Listed([CloudListing(ALL_CLOUDS, error=f"oumi.launcher failed to load: {exc}")])
        asks = []
        for cloud in asked.clouds:
            separate = self._engine().clusters(cloud)
            if not separate:
                asks.append(self.list_cloud(cloud, timeout_s=timeout_s))
                continue
            wanted = [*separate, *(name for kind, name in pairs if kind == cloud and name)]
            asks += [
                self.list_cloud(cloud, name, timeout_s=timeout_s) for name in dict.fromkeys(wanted)
            ]
        return Listed(list(await asyncio.gather(*asks)), asked.note)

    async def list_cloud(
        self, cloud: str, cluster: str = "", *, timeout_s: float | None = None
    ) -> CloudListing:
        key = (cloud, cluster)
        cached = self._cache.get(key)
        if cached is not None and self._clock() - cached.listed_at < self._cache_s:
            return replace(cached, from_cache=True)
        where = f"{cloud} cluster {cluster}" if cluster else cloud
        try:
            jobs = await self._flight(cloud, cluster).run(
                timeout_s=timeout_s or self._timeout_s,
                next_step=f"The call keeps running; list_jobs will show {where} once it answers.",
            )
        except EngineTimeoutError as exc:
            return CloudListing(cloud, error=exc.message, next_step=exc.next_step, cluster=cluster)
        except Exception as exc:  # each cloud fails in its own way; report it, list the rest
            check = (
                f"Check that `ssh {cluster} sinfo` works without a password prompt"
                if cluster
                else f"Check {cloud}'s credentials and connectivity (e.g. `sky check`)"
            )
            return CloudListing(
                cloud,
                error=f"{type(exc).__name__}: {mask_text(str(exc))[:500]}",
                next_step=f"{check}; the other clouds and clusters are listed.",
                cluster=cluster,
            )
        listing = CloudListing(cloud, jobs, listed_at=self._clock(), cluster=cluster)
        self._cache[key] = listing
        return listing

    def _flight(self, cloud: str, cluster: str) -> SingleFlight[list[LauncherJob]]:
        with self._lock:
            flight = self._flights.get((cloud, cluster))
            if flight is None:
                flight = self._flights[(cloud, cluster)] = SingleFlight(
                    lambda: self._engine().status(cloud, cluster or None),
                    what=f"oumi.launcher status of {cloud}" + (f"/{cluster}" if cluster else ""),
                )
            return flight

    def invalidate(self, cloud: str) -> None:
        for key in [key for key in self._cache if key[0] == cloud]:
            self._cache.pop(key, None)
