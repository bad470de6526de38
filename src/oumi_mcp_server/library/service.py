"""LibraryService: the one API the library tools (and later pre-flight) call.

Preparing the library (finding a source, syncing if needed, loading or
building the index) runs once, in a background thread started after the
server starts. Tools wait for it at most ``Settings.library_wait_s``; after
that they answer clearly that it is still being prepared. Searches run inline:
they only touch in-memory dictionaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oumi_mcp_server.blocking import run_blocking, start_in_thread
from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.errors import (
    InvalidArgumentError,
    LibraryNotReadyError,
    LibraryUnavailableError,
)
from oumi_mcp_server.library.fetch import ChildProcesses
from oumi_mcp_server.library.models import (
    CategoriesReport,
    ConfigLookup,
    ConfigSummary,
    LibraryStatus,
    SearchResult,
)
from oumi_mcp_server.library.sources import (
    CheckoutFinder,
    LibrarySource,
    find_local_checkout,
    from_cache,
)
from oumi_mcp_server.settings import Settings

if TYPE_CHECKING:
    from oumi_mcp_server.library.fetch import ArchiveProvider
    from oumi_mcp_server.library.index import ConfigIndex

# The index, search, sync and message modules load on first use (in the
# preparing thread or the first tool call), not when the server is imported.

logger = logging.getLogger(__name__)

MAX_LIMIT = 100
RETRY_AFTER_S = 300.0  # a failed preparation is retried this late (sooner if the cache fills)
_UNSET = "<installed>"


@dataclass
class LoadedLibrary:
    source: LibrarySource
    index: ConfigIndex
    texts: list[str] | None = None  # lowercased file contents, loaded on first keyword search


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class LibraryService:
    def __init__(
        self,
        settings: Settings,
        *,
        oumi_version: str | None = _UNSET,
        providers: Sequence[ArchiveProvider] | None = None,
        checkout_finder: CheckoutFinder = find_local_checkout,
    ) -> None:
        self._settings = settings
        self._version_arg = oumi_version
        self._providers = providers
        self._checkout_finder = checkout_finder
        self._lock = threading.Lock()
        self._future: Future[LoadedLibrary] | None = None
        self._failed_at = 0.0
        self._phase = "not started"
        self._phase_since = time.monotonic()
        self._download_allowed = threading.Event()
        self._timer: threading.Timer | None = None
        self._children = ChildProcesses()

    # -- preparation (worker thread) -----------------------------------------

    def _oumi_version(self) -> str | None:
        return installed_version("oumi") if self._version_arg == _UNSET else self._version_arg

    def _set_phase(self, phase: str) -> None:
        self._phase, self._phase_since = phase, time.monotonic()

    def _default_providers(self) -> Sequence[ArchiveProvider]:
        from oumi_mcp_server.library.fetch import default_providers

        return default_providers(
            github_timeout_s=self._settings.github_timeout_s, children=self._children
        )

    def _prepare(self) -> LoadedLibrary:
        # Importing search and messages here keeps that off the first tool call.
        from oumi_mcp_server.library import messages, search  # noqa: F401
        from oumi_mcp_server.library.index import load_index
        from oumi_mcp_server.library.prepare import resolve_source

        started = time.monotonic()
        self._set_phase("looking for the config library")
        try:
            source = resolve_source(
                self._settings,
                self._oumi_version(),
                providers=self._default_providers
                if self._providers is None
                else (lambda: self._providers or []),
                checkout_finder=self._checkout_finder,
                download_allowed=self._download_allowed,
                on_phase=self._set_phase,
            )
            self._set_phase(f"indexing {source.root}")
            index = load_index(source.root, self._settings.cache_dir / "index")
        except BaseException:
            self._failed_at = time.monotonic()
            self._set_phase("failed")
            raise
        self._set_phase("ready")
        logger.info(
            "Config library ready: %d configs from %s (%s); index %s in %.0f ms",
            len(index.entries),
            source.source,
            source.detail,
            index.origin,
            (time.monotonic() - started) * 1000,
        )
        return LoadedLibrary(source, index)

    # -- lifecycle ------------------------------------------------------------

    def start(self, *, eager: bool = True) -> Future[LoadedLibrary]:
        """Start preparing in the background (idempotent; retries a stale failure).

        ``eager=False`` (at server start-up) defers a download by
        ``Settings.library_sync_delay_s`` unless a tool needs the library sooner.
        """
        if eager:
            self._download_allowed.set()
        elif self._timer is None:
            self._timer = threading.Timer(
                self._settings.library_sync_delay_s, self._download_allowed.set
            )
            self._timer.daemon = True
            self._timer.start()
        with self._lock:
            future = self._future
            if future is None or (future.done() and future.exception() and self._retry_due()):
                future = self._future = start_in_thread(self._prepare, name="config-library")
            return future

    @property
    def started(self) -> bool:
        return self._future is not None

    def close(self) -> None:
        """The server is stopping: end any download child (pip) now."""
        if self._timer is not None:
            self._timer.cancel()
        self._children.kill_all()

    def _retry_due(self) -> bool:
        if time.monotonic() - self._failed_at > RETRY_AFTER_S:
            return True
        version = self._oumi_version()
        return bool(version) and from_cache(self._settings.cache_dir, version or "") is not None

    async def _loaded(self) -> LoadedLibrary:
        from oumi_mcp_server.library import messages

        future = self.start()
        wait_s = self._settings.library_wait_s
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), wait_s)
        except TimeoutError:
            elapsed = time.monotonic() - self._phase_since
            raise LibraryNotReadyError(
                f"The config library is not ready yet: {self._phase} ({elapsed:.0f} s so far).",
                next_step=messages.not_ready_next_step(self._settings.library_sync_timeout_s),
            ) from None

    def status_now(self) -> LibraryStatus:
        from oumi_mcp_server.library import messages

        future = self._future
        if future is None or not future.done():
            return LibraryStatus(state="preparing", detail=f"Preparing: {self._phase}.")
        error = future.exception()
        if error is not None:
            text = error.message if isinstance(error, LibraryUnavailableError) else str(error)
            hint = error.next_step if isinstance(error, LibraryUnavailableError) else messages.FIX
            return LibraryStatus(state="unavailable", detail=text, next_step=hint)
        loaded = future.result()
        return messages.ready_status(loaded.source, loaded.index)

    async def status(self, wait_s: float = 1.0) -> LibraryStatus:
        """The library's state, waiting up to ``wait_s`` for it to be ready."""
        future = self.start()
        with contextlib.suppress(Exception):  # a failure is reported by status_now
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), wait_s)
        return self.status_now()

    # -- the tools' API ------------------------------------------------------------

    async def search(
        self,
        query: str | list[str] = "",
        *,
        task: str = "",
        model: str = "",
        keyword: str | list[str] = "",
        limit: int = 20,
    ) -> SearchResult:
        from oumi_mcp_server.library import messages
        from oumi_mcp_server.library.search import candidates, overview, rank
        from oumi_mcp_server.library.tokens import query_terms

        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidArgumentError(
                "limit",
                f"must be between 1 and {MAX_LIMIT}, got {limit}.",
                next_step=f"Call again with limit between 1 and {MAX_LIMIT} (default 20).",
            )
        terms = query_terms(" ".join(as_list(query)))
        keywords = [word.strip().lower() for word in as_list(keyword) if word.strip()]
        loaded = await self._loaded()
        index = loaded.index
        allowed = candidates(index, task=task, model=model)
        if keywords:
            texts = await self._texts(loaded)
            having = {i for i, text in enumerate(texts) if all(word in text for word in keywords)}
            allowed = having if allowed is None else allowed & having
        ranking = rank(index, terms, allowed) if terms else None
        hits = ranking.hits if ranking is not None else overview(index, allowed)
        shown = [ConfigSummary.of(index.entries[i]) for i in hits[:limit]]
        return SearchResult(
            terms=terms,
            total_matches=len(hits) if ranking is None or ranking.matched_all else 0,
            returned=len(shown),
            matched_all_terms=ranking is None or ranking.matched_all,
            results=shown,
            message=messages.search_message(
                ranking, hits, len(shown), task=task, model=model, keywords=keywords, index=index
            ),
            library=messages.library_line(loaded.source, index),
        )

    async def _texts(self, loaded: LoadedLibrary) -> list[str]:
        if loaded.texts is None:
            root, paths = loaded.index.root, [entry.path for entry in loaded.index.entries]

            def read_all() -> list[str]:
                return [
                    (root / path).read_text(encoding="utf-8", errors="replace").lower()
                    for path in paths
                ]

            loaded.texts = await run_blocking(read_all, timeout_s=30, what="Reading the configs")
        return loaded.texts

    async def get_config(self, path: str, *, include_content: bool = False) -> ConfigLookup:
        from oumi_mcp_server.library import messages
        from oumi_mcp_server.library.search import resolve_path

        if not path.strip():
            raise InvalidArgumentError("path", "is empty.", next_step=messages.PATH_EXAMPLE)
        loaded = await self._loaded()
        index = loaded.index
        match = resolve_path(index, path)
        if match.entry is None:
            return messages.lookup_miss(path, match, index)
        entry = index.entries[match.entry]
        content = None
        if include_content:
            file = index.root / entry.path
            content = await run_blocking(
                lambda: file.read_text(encoding="utf-8"), timeout_s=10, what="Reading the config"
            )
        return messages.lookup_hit(path, match, index, content)

    async def categories(self) -> CategoriesReport:
        from oumi_mcp_server.library import messages

        loaded = await self._loaded()
        return messages.categories_report(loaded.source, loaded.index)

    async def suggest_configs(
        self, task_type: str, model_family: str | None = None, n: int = 3
    ) -> list[ConfigSummary]:
        """Configs to start from for a task (same model family first); for pre-flight."""
        from oumi_mcp_server.library.search import suggest

        loaded = await self._loaded()
        hits, _ = suggest(loaded.index, task_type, model_family, n)
        return [ConfigSummary.of(loaded.index.entries[i]) for i in hits]
