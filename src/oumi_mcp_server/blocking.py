"""Run blocking engine calls off the event loop, with a time limit.

Oumi, SkyPilot, Hugging Face, file and SQLite calls may block for seconds or
hang outright. They run in worker threads; the caller waits at most
``timeout_s`` and then gets an ``EngineTimeoutError`` while the thread is left
to finish on its own (a thread cannot be killed; its result is dropped).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

from oumi_mcp_server.call_progress import stage
from oumi_mcp_server.errors import EngineTimeoutError

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def _start_thread(fn: Callable[[], T], name: str) -> Future[T]:
    future: Future[T] = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the awaiting caller
            future.set_exception(exc)

    # In the caller's context: what the call is doing (call_progress) and the warnings it
    # logs reach the call's client from this thread too.
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name=name, daemon=True).start()
    return future


def start_in_thread(fn: Callable[[], T], *, name: str) -> Future[T]:
    """Start ``fn`` in a daemon thread now; its future holds the result or the error."""
    return _start_thread(fn, name)


async def _await_within(future: Future[T], timeout_s: float, what: str, next_step: str) -> T:
    waited = asyncio.wrap_future(future)
    try:
        return await asyncio.wait_for(asyncio.shield(waited), timeout_s)
    except TimeoutError:
        # Nobody waits for it any more: its late error is dropped, not logged as unretrieved.
        waited.add_done_callback(_drop_outcome)
        raise EngineTimeoutError(
            f"{what} did not answer within {timeout_s:g} s.", next_step=next_step
        ) from None


def _drop_outcome(waited: asyncio.Future[T]) -> None:
    if not waited.cancelled():
        waited.exception()


async def run_blocking(
    fn: Callable[[], T], *, timeout_s: float, what: str, next_step: str = "Try again later."
) -> T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout_s`` for it."""
    stage(what)  # what a progress notification of the current call says
    return await _await_within(_start_thread(fn, what), timeout_s, what, next_step)


class SingleFlight(Generic[T]):
    """One blocking call at a time; concurrent callers share the call in flight.

    A caller that times out leaves the call running, and the next caller joins
    it instead of starting another (so a burst of polls never piles up threads
    against a hanging engine).
    """

    def __init__(self, fn: Callable[[], T], *, what: str) -> None:
        self._fn = fn
        self._what = what
        self._lock = threading.Lock()
        self._in_flight: Future[T] | None = None

    async def run(self, *, timeout_s: float, next_step: str = "Try again later.") -> T:
        stage(self._what)
        with self._lock:
            if self._in_flight is None or self._in_flight.done():
                self._in_flight = _start_thread(self._fn, self._what)
            future = self._in_flight
        return await _await_within(future, timeout_s, self._what, next_step)


class KeyedSingleFlight(Generic[K, T]):
    """Like ``SingleFlight``, one call in flight per key (e.g. per job polled)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[K, Future[T]] = {}

    def __len__(self) -> int:
        return len(self._in_flight)

    async def run(
        self,
        key: K,
        fn: Callable[[], T],
        *,
        timeout_s: float,
        what: str,
        next_step: str = "Try again later.",
    ) -> T:
        with self._lock:
            future = self._in_flight.get(key)
            if future is None or future.done():
                for done in [k for k, f in self._in_flight.items() if f.done()]:
                    del self._in_flight[done]
                future = self._in_flight[key] = _start_thread(fn, what)
        return await _await_within(future, timeout_s, what, next_step)
