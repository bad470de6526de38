"""Which clouds SkyPilot can launch on: asked of SkyPilot itself, or read from its record.

``sky check`` is slow (it starts SkyPilot's local API server on first use and
probes every cloud's credentials) and prints a table to stdout, so it runs in a
worker thread, under a time limit, at most once at a time, and its answer is
cached for a few minutes; only a person's explicit request runs it
(check_environment with check_clouds=true). Pre-flight reads the record of the
last check instead (``recorded_enabled_clouds``): SkyPilot's own launch goes by
that record too, and reading it starts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.blocking import SingleFlight
from oumi_mcp_server.engines import load
from oumi_mcp_server.environment.skypilot_state import SKY_DIR, read_skypilot_record
from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.errors import EngineTimeoutError, EngineUnavailableError

EnabledCloudsProbe = Callable[[], list[str]]


class CloudReadiness(AnswerModel):
    """What SkyPilot reported about enabled clouds."""

    skypilot_version: str | None = Field(description="Installed SkyPilot version, if any.")
    enabled_clouds: list[str] = Field(description="Clouds with working credentials.")
    checked_at: float | None = Field(
        description="Unix time of the check that produced this answer."
    )
    from_cache: bool = Field(description="True when this answer is a cached earlier check.")
    error: str | None = Field(default=None, description="Why the check could not complete.")
    next_step: str | None = Field(default=None, description="What to do when no cloud is usable.")


def skypilot_enabled_clouds() -> list[str]:
    """Run ``sky check`` through SkyPilot's SDK and return the enabled clouds.

    Blocking, slow, and prints to stdout: call it from a worker thread.
    """
    try:
        sdk = load("sky.client.sdk")
    except ImportError as exc:
        raise EngineUnavailableError(
            f"SkyPilot is not importable: {exc}",
            next_step="Install oumi with its launcher dependencies (pip install 'oumi==0.9.*').",
        ) from exc
    sdk.stream_and_get(sdk.check(infra_list=None, verbose=False))
    return sorted(str(cloud) for cloud in sdk.get(sdk.enabled_clouds()))


def recorded_enabled_clouds(sky_dir: Path = SKY_DIR) -> list[str]:
    """The clouds SkyPilot's last ``sky check`` enabled (its lower-case names), read from
    its state file: nothing is started. Blocking (a file read)."""
    record = read_skypilot_record(sky_dir)
    if record.error or record.enabled is None:
        raise EngineUnavailableError(
            f"{record.describe()}; pre-flight does not start SkyPilot's API server to run one.",
            next_step="Run `sky check` in a terminal (or check_environment with "
            "check_clouds=true) to see which clouds are enabled, then pre-flight again.",
        )
    return list(record.enabled)


class CloudChecker:
    """Cached, time-bounded answers to "which clouds are enabled?"."""

    def __init__(
        self,
        probe: EnabledCloudsProbe = skypilot_enabled_clouds,
        *,
        timeout_s: float,
        cache_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._flight = SingleFlight(probe, what="SkyPilot's cloud check (sky check)")
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._clock = clock
        self._last: CloudReadiness | None = None

    def _cached(self) -> CloudReadiness | None:
        last = self._last
        if last is None or last.checked_at is None:
            return None
        if self._clock() - last.checked_at >= self._cache_s:
            return None
        return last.model_copy(update={"from_cache": True})

    async def check(self, *, refresh: bool = False) -> CloudReadiness:
        cached = None if refresh else self._cached()
        if cached is not None:
            return cached
        version = installed_version("skypilot")
        try:
            clouds = await self._flight.run(
                timeout_s=self._timeout_s,
                next_step="The check keeps running in the background; call again in a minute.",
            )
        except (EngineTimeoutError, EngineUnavailableError) as exc:
            return CloudReadiness(
                skypilot_version=version,
                enabled_clouds=[],
                checked_at=None,
                from_cache=False,
                error=exc.message,
                next_step=exc.next_step,
            )
        except Exception as exc:  # SkyPilot raises many kinds; report, never crash
            return CloudReadiness(
                skypilot_version=version,
                enabled_clouds=[],
                checked_at=None,
                from_cache=False,
                error=f"sky check failed: {type(exc).__name__}: {exc}",
                next_step="Run `sky check` in a terminal to see the full error.",
            )
        result = CloudReadiness(
            skypilot_version=version,
            enabled_clouds=clouds,
            checked_at=self._clock(),
            from_cache=False,
            next_step=None
            if clouds
            else "No cloud has credentials. Configure one (see `sky check`), or run jobs locally.",
        )
        self._last = result
        return result
