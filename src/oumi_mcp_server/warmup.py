"""Warm heavy imports in the background once a client is connected.

Importing oumi's config classes takes seconds (torch, transformers). Starting
it right after the client's handshake makes the first validation fast without
delaying ``initialize`` itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from oumi_mcp_server.answer_model import AnswerModel

logger = logging.getLogger(__name__)


class WarmupState(AnswerModel):
    state: str  # disabled, idle, running, done, failed
    seconds: float | None = None
    error: str | None = None
    listed: list[str] | None = None  # the listings' warm-up: the sources that answered


class Warmup:
    def __init__(self, load: Callable[[], None], *, enabled: bool, delay_s: float = 0.0) -> None:
        self._load = load
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self._state = WarmupState(state="idle" if enabled else "disabled")

    @property
    def state(self) -> WarmupState:
        return self._state

    def start(self) -> bool:
        """Start warming once; later calls do nothing. True if this call started it."""
        with self._lock:
            if self._state.state != "idle":
                return False
            self._state = WarmupState(state="running")
        threading.Thread(target=self._run, name="oumi-warmup", daemon=True).start()
        return True

    def _run(self) -> None:
        # Let the client's first burst of requests (tools/list, resources/list)
        # be answered before the import starts competing for the GIL.
        time.sleep(self._delay_s)
        started = time.monotonic()
        try:
            self._load()
        except Exception as exc:  # reported, never raised: warming is best effort
            logger.warning("Warming up oumi failed: %s", exc)
            self._state = WarmupState(
                state="failed", seconds=time.monotonic() - started, error=str(exc)
            )
            return
        self._state = WarmupState(state="done", seconds=round(time.monotonic() - started, 2))
        logger.info("oumi loaded in the background in %.1f s", time.monotonic() - started)
