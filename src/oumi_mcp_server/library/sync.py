"""Fill the user cache with the installed oumi version's ``configs/`` tree.

Providers (see ``fetch``) download an archive: the sdist from PyPI, or the
GitHub tag archive. Only ``configs/`` is extracted, into a staging folder next
to the cache; the marker file is written last and the folder is renamed into
place, so a crash at any moment leaves either the old library or the new one,
never half of one. A file lock
serialises concurrent servers; whoever waited finds the work done.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from oumi_mcp_server.errors import LibrarySyncError
from oumi_mcp_server.library.fetch import ArchiveProvider
from oumi_mcp_server.library.sources import (
    MARKER,
    cached_library_dir,
    library_cache_root,
    read_marker,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    folder: Path
    version: str
    origin: str
    count: int
    fresh: bool  # False: a complete library was already there

    def describe(self) -> str:
        if not self.fresh:
            return f"The oumi {self.version} config library is already in {self.folder}."
        return (
            f"Synced {self.count} configs for oumi {self.version} from {self.origin} "
            f"into {self.folder}."
        )


def _configs_relative(name: str) -> str | None:
    """``oumi-0.9/configs/recipes/x.yaml`` -> ``recipes/x.yaml``; None outside configs/."""
    parts = PurePosixPath(name).parts
    if len(parts) < 3 or parts[1] != "configs" or name.startswith("/"):
        return None
    rest = parts[2:]
    if any(part in ("..", ".", "") for part in rest):
        return None
    return "/".join(rest)


def _write_member(staging: Path, rel: str, source: IO[bytes]) -> None:
    target = staging / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        shutil.copyfileobj(source, out)


def extract_configs(archive: Path, staging: Path) -> int:
    """Extract only ``configs/`` (regular files, no escapes); return the YAML count."""
    import tarfile
    import zipfile

    count = 0
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            for member in tar:
                rel = _configs_relative(member.name)
                source = tar.extractfile(member) if rel and member.isfile() else None
                if rel is None or source is None:
                    continue
                with source:
                    _write_member(staging, rel, source)
                count += rel.endswith((".yaml", ".yml"))
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                rel = _configs_relative(info.filename)
                if rel is None or info.is_dir():
                    continue
                with bundle.open(info) as source:
                    _write_member(staging, rel, source)
                count += rel.endswith((".yaml", ".yml"))
    else:
        raise LibrarySyncError(f"{archive.name} is not a tar or zip archive.")
    if count == 0:
        raise LibrarySyncError(f"{archive.name} has no configs/ folder with YAML files.")
    return count


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def recover(cache_root: Path, version: str) -> None:
    """Undo what a killed sync left behind (call with the lock held)."""
    target = cache_root / f"oumi-{version}"
    if read_marker(target) is None:
        if target.exists():
            _remove(target)
        for old in sorted(cache_root.glob(f".old-oumi-{version}-*")):
            if read_marker(old) is not None:
                os.rename(old, target)
                logger.warning("Restored the previous config library from %s", old.name)
                break
    for pattern in (".staging-*", ".download-*", ".old-*"):
        for leftover in cache_root.glob(pattern):
            _remove(leftover)


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; an existing library moves aside first."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".old-{target.name}-", dir=target.parent))
        old.rmdir()
        os.rename(target, old)
        os.rename(staging, target)
        _remove(old)
    else:
        os.rename(staging, target)


def sync_library(
    cache_dir: Path,
    version: str,
    *,
    providers: Sequence[ArchiveProvider],
    timeout_s: float,
    force: bool = False,
) -> SyncResult:
    """Fetch the library for ``version`` into the cache (blocking; bounded by ``timeout_s``)."""
    from filelock import FileLock, Timeout

    deadline = time.monotonic() + timeout_s
    cache_root = library_cache_root(cache_dir)
    cache_root.mkdir(parents=True, exist_ok=True)
    target = cached_library_dir(cache_dir, version)
    lock = FileLock(str(cache_root / ".sync.lock"))
    try:
        lock.acquire(timeout=max(timeout_s, 0.1))
    except Timeout:
        raise LibrarySyncError(
            f"Another process held the config library lock for more than {timeout_s:g} s."
        ) from None
    try:
        recover(cache_root, version)
        marker = read_marker(target)
        if marker is not None and not force:
            return SyncResult(target, version, str(marker.get("origin")), marker["count"], False)
        errors: list[str] = []
        for provider in providers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                errors.append(f"{provider.name}: skipped, the {timeout_s:g} s time limit is up")
                continue
            try:
                return _sync_from(provider, cache_root, target, version, remaining)
            except LibrarySyncError as exc:
                logger.warning("Config library sync from %s failed: %s", provider.name, exc)
                errors.append(f"{provider.name}: {exc.message}")
        raise LibrarySyncError(
            f"Could not fetch the config library for oumi {version}. " + " | ".join(errors)
        )
    finally:
        lock.release()


def _sync_from(
    provider: ArchiveProvider, cache_root: Path, target: Path, version: str, timeout_s: float
) -> SyncResult:
    download = Path(tempfile.mkdtemp(prefix=".download-", dir=cache_root))
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=cache_root))
    try:
        archive, origin = provider.fetch(version, download, timeout_s)
        count = extract_configs(archive, staging)
        marker = {
            "oumi_version": version,
            "source": provider.name,
            "origin": origin,
            "synced_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "count": count,
        }
        (staging / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        _swap(staging, target)
        return SyncResult(target, version, origin, count, True)
    finally:
        _remove(download)
        _remove(staging)
