"""Cloud checks: cached, time-bounded, and failures reported instead of raised."""

from __future__ import annotations

import threading

import pytest

from oumi_mcp_server.environment.clouds import CloudChecker

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_answers_are_cached_until_they_expire() -> None:
    calls: list[int] = []

    def probe() -> list[str]:
        calls.append(1)
        return ["aws", "gcp"]

    clock = FakeClock()
    checker = CloudChecker(probe, timeout_s=5, cache_s=300, clock=clock)
    first = await checker.check()
    second = await checker.check()
    assert first.enabled_clouds == ["aws", "gcp"] and not first.from_cache
    assert second.from_cache and len(calls) == 1
    clock.now += 301
    third = await checker.check()
    assert not third.from_cache and len(calls) == 2
    await checker.check(refresh=True)
    assert len(calls) == 3


async def test_a_hanging_check_becomes_an_error_report() -> None:
    release = threading.Event()

    def probe() -> list[str]:
        release.wait(10)
        return []

    checker = CloudChecker(probe, timeout_s=0.1, cache_s=300)
    report = await checker.check()
    release.set()
    assert report.enabled_clouds == []
    assert report.error is not None and "did not answer within 0.1 s" in report.error
    assert report.next_step


async def test_a_failing_check_becomes_an_error_report() -> None:
    def probe() -> list[str]:
        raise RuntimeError("API server exploded")

    report = await CloudChecker(probe, timeout_s=5, cache_s=300).check()
    assert report.error == "sky check failed: RuntimeError: API server exploded"


async def test_no_enabled_cloud_says_what_to_do() -> None:
    report = await CloudChecker(lambda: [], timeout_s=5, cache_s=300).check()
    assert report.error is None
    assert report.next_step is not None and "sky check" in report.next_step
