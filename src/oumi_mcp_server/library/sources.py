"""Where the config library comes from, in the order the server tries them.

1. ``OUMI_MCP_CONFIGS_DIR`` (``Settings.configs_dir``): an explicit override;
2. the user cache, one folder per oumi version (``<cache>/configs/oumi-<version>``),
   complete only when it holds the marker file a sync writes last;
3. filled by ``sync`` from the installed version's sdist on PyPI, or
4. from the GitHub tag archive of that version;
5. a local Oumi checkout (an editable install whose repo root has ``configs/``).

Nothing here imports oumi: the checkout is found through package metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from oumi_mcp_server.errors import LibraryUnavailableError

MARKER = ".oumi-mcp-library.json"
OVERRIDE_ENV = "OUMI_MCP_CONFIGS_DIR"

CheckoutFinder = Callable[[], Path | None]


@dataclass(frozen=True)
class LibrarySource:
    """A usable library folder and where it came from."""

    root: Path
    source: str  # override | cache | local-checkout
    version: str | None
    detail: str


def library_cache_root(cache_dir: Path) -> Path:
    return cache_dir / "configs"


def cached_library_dir(cache_dir: Path, version: str) -> Path:
    return library_cache_root(cache_dir) / f"oumi-{version}"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker a completed sync wrote, or None (missing, partial or foreign folder)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _has_yaml(folder: Path) -> bool:
    for _, _, files in os.walk(folder):
        if any(name.endswith((".yaml", ".yml")) for name in files):
            return True
    return False


def from_override(configs_dir: Path) -> LibrarySource:
    """The folder named by the override; a wrong override is an error, not a fallback."""
    path = configs_dir.expanduser()
    if (path / "configs").is_dir() and not (path / "recipes").is_dir():
        path = path / "configs"
    fix = (
        f"Point {OVERRIDE_ENV} at an Oumi configs/ folder (the one holding recipes/, "
        "examples/, ...), or unset it to use the library matched to the installed oumi."
    )
    if not path.is_dir():
        raise LibraryUnavailableError(
            f"{OVERRIDE_ENV} is set to {configs_dir}, which is not a directory.", next_step=fix
        )
    if not _has_yaml(path):
        raise LibraryUnavailableError(
            f"{OVERRIDE_ENV} is set to {configs_dir}, which holds no YAML configs.", next_step=fix
        )
    version = (read_marker(path) or {}).get("oumi_version")
    detail = f"{OVERRIDE_ENV}={configs_dir}"
    if not version:
        detail += " (its oumi version is not recorded: make sure it matches the installed oumi)"
    return LibrarySource(
        root=path, source="override", version=str(version) if version else None, detail=detail
    )


def from_cache(cache_dir: Path, version: str) -> LibrarySource | None:
    folder = cached_library_dir(cache_dir, version)
    marker = read_marker(folder)
    if marker is None:
        return None
    origin = marker.get("origin", "unknown origin")
    synced = marker.get("synced_at", "an unknown time")
    return LibrarySource(
        root=folder,
        source="cache",
        version=version,
        detail=f"user cache, synced from {origin} at {synced}",
    )


def _editable_root() -> Path | None:
    try:
        raw = metadata.distribution("oumi").read_text("direct_url.json")
    except (metadata.PackageNotFoundError, OSError):
        return None
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    url = str(info.get("url", ""))
    if not (info.get("dir_info") or {}).get("editable") or not url.startswith("file://"):
        return None
    return Path(unquote(urlparse(url).path))


def find_local_checkout() -> Path | None:
    """``configs/`` of an editable oumi install (found without importing oumi)."""
    roots: list[Path] = []
    editable = _editable_root()
    if editable is not None:
        roots.append(editable)
    try:
        spec = util.find_spec("oumi")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        roots.extend(Path(spec.origin).resolve().parents[1:4])
    for root in roots:
        configs = root / "configs"
        if (configs / "recipes").is_dir():
            return configs
    return None


def from_checkout(finder: CheckoutFinder, version: str | None) -> LibrarySource | None:
    configs = finder()
    if configs is None or not _has_yaml(configs):
        return None
    return LibrarySource(
        root=configs,
        source="local-checkout",
        version=version,
        detail=f"local Oumi checkout at {configs.parent}",
    )
