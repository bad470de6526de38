"""Blocking calls run in threads, under time limits, never piling up."""

from __future__ import annotations

import threading
import time

import pytest

from oumi_mcp_server.blocking import SingleFlight, run_blocking
from oumi_mcp_server.errors import EngineTimeoutError

pytestmark = pytest.mark.anyio


async def test_run_blocking_returns_the_result() -> None:
    assert await run_blocking(lambda: 41 + 1, timeout_s=5, what="adding") == 42


async def test_run_blocking_times_out_with_a_clear_error() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError, match=r"a hanging engine did not answer within 0\.2 s"):
        await run_blocking(lambda: release.wait(10), timeout_s=0.2, what="a hanging engine")
    assert time.monotonic() - started < 2
    release.set()


async def test_run_blocking_passes_exceptions_through() -> None:
    def fail() -> None:
        raise ValueError("engine said no")

    with pytest.raises(ValueError, match="engine said no"):
        await run_blocking(fail, timeout_s=5, what="failing")


async def test_single_flight_shares_the_call_in_flight() -> None:
    calls = 0
    release = threading.Event()

    def slow() -> int:
        nonlocal calls
        calls += 1
        release.wait(10)
        return calls

    flight = SingleFlight(slow, what="slow engine")
    for _ in range(3):
        with pytest.raises(EngineTimeoutError):
            await flight.run(timeout_s=0.05)
    release.set()
    assert await flight.run(timeout_s=5) == 1
    assert calls == 1
