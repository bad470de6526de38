"""Import heavy engines (oumi, SkyPilot, huggingface_hub) lazily and one at a time.

Two threads importing overlapping parts of SkyPilot at once can see a
half-initialised module ("partially initialized module 'sky.serve'"), so every
lazy engine import goes through one lock. Call only from worker threads.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_IMPORT_LOCK = threading.RLock()


def load(module: str) -> ModuleType:
    with _IMPORT_LOCK:
        return importlib.import_module(module)


def imported(module: str) -> bool:
    """Whether ``module`` is fully imported in this process (one that another thread is
    still importing is not). Never imports anything, never waits."""
    found = sys.modules.get(module)
    spec = getattr(found, "__spec__", None)
    return found is not None and not getattr(spec, "_initializing", False)
