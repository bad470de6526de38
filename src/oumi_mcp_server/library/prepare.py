"""Find the library in source order, fetching it into the cache when it is missing.

Blocking (file checks, maybe a download): runs in the service's worker thread.
A download waits for ``download_allowed``: the first library tool call sets it
at once, otherwise a short delay after start-up does, so a server that is only
probed (tools/list, a start-up benchmark) never starts pip.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from oumi_mcp_server.errors import LibrarySyncError, LibraryUnavailableError
from oumi_mcp_server.library import messages
from oumi_mcp_server.library.fetch import ArchiveProvider
from oumi_mcp_server.library.sources import (
    CheckoutFinder,
    LibrarySource,
    from_cache,
    from_checkout,
    from_override,
)
from oumi_mcp_server.library.sync import sync_library
from oumi_mcp_server.settings import Settings

logger = logging.getLogger(__name__)


def resolve_source(
    settings: Settings,
    version: str | None,
    *,
    providers: Callable[[], Sequence[ArchiveProvider]],
    checkout_finder: CheckoutFinder,
    download_allowed: threading.Event,
    on_phase: Callable[[str], None],
) -> LibrarySource:
    """Override, cache, sync (PyPI, GitHub), local checkout; else a clear error."""
    if settings.configs_dir is not None:
        return from_override(settings.configs_dir)
    if version is None:
        checkout = from_checkout(checkout_finder, None)
        if checkout is not None:
            return checkout
        raise LibraryUnavailableError(messages.NO_OUMI, next_step=messages.FIX)
    cached = from_cache(settings.cache_dir, version)
    if cached is not None:
        return cached
    if not download_allowed.is_set():
        on_phase(f"about to download the oumi {version} configs")
        download_allowed.wait()
    on_phase(f"downloading the oumi {version} configs (PyPI sdist, then GitHub)")
    try:
        sync_library(
            settings.cache_dir,
            version,
            providers=providers(),
            timeout_s=settings.library_sync_timeout_s,
        )
    except LibrarySyncError as exc:
        sync_error = exc.message
    except OSError as exc:  # e.g. a read-only or full cache folder
        sync_error = f"could not write the cache at {settings.cache_dir}: {exc}"
    else:
        cached = from_cache(settings.cache_dir, version)
        if cached is not None:
            return cached
        sync_error = "the sync finished but left no complete library"
    checkout = from_checkout(checkout_finder, version)
    if checkout is not None:
        logger.warning("Using a local Oumi checkout's configs: %s", sync_error)
        return checkout
    raise LibraryUnavailableError(messages.no_source(version, sync_error), next_step=messages.FIX)
