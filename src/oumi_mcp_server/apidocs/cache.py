"""Where an index lives on disk (one file per oumi version and index format), and
reading it back: a file that is corrupt, incomplete or for another version is
reported as such, never served."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from oumi_mcp_server.apidocs.model import FORMAT, ApiIndex


class CacheUnusable(Exception):
    """The cached index cannot be served; the message says why."""


def installed_oumi_version() -> str | None:
    try:
        return metadata.version("oumi")
    except metadata.PackageNotFoundError:
        return None


def index_dir(cache_dir: Path) -> Path:
    return cache_dir / "apidocs"


def index_file(cache_dir: Path, oumi_version: str) -> Path:
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return index_dir(cache_dir) / f"oumi-{oumi_version}-{python}-format{FORMAT}.json"


def load(path: Path, oumi_version: str) -> ApiIndex:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise CacheUnusable("no index built yet") from exc
    except (OSError, ValueError) as exc:
        raise CacheUnusable(f"the cached index is unreadable ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheUnusable("the cached index has another format")
    if data.get("oumi_version") != oumi_version:
        raise CacheUnusable(f"the cached index is for oumi {data.get('oumi_version')}")
    if data.get("complete") is not True:
        raise CacheUnusable("the cached index is incomplete")
    try:
        return ApiIndex.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CacheUnusable(f"the cached index is malformed ({type(exc).__name__})") from exc


def save(index: ApiIndex, path: Path) -> None:
    """Write the whole index, atomically: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(index.to_json(), out, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
