"""What a cloud launch would sync: the files of the working dir, as SkyPilot picks them.

SkyPilot uploads the working dir, leaving out what ``.skyignore`` lists, or
else what ``.gitignore`` lists; SkyPilot itself says which entries those are.
A dry run shows what goes up, and warns when it is large. Blocking: call
from a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from oumi_mcp_server.jobs.models import SyncSummary
from oumi_mcp_server.preflight.paths_check import is_excluded

MAX_FILES = 50_000
SAMPLE_FILES = 20
LARGEST_FILES = 5
LARGE_SYNC_BYTES = 1 << 30


def _walk(root: Path, excluded: Sequence[str]) -> tuple[list[str], bool]:
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        base = Path(directory).relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = sorted(d for d in dirs if not is_excluded(prefix + d, list(excluded)))
        for name in sorted(files):
            relative = prefix + name
            if not is_excluded(relative, list(excluded)):
                found.append(relative)
                if len(found) >= MAX_FILES:
                    return found, False
    return found, True


def _in_git_repository(root: Path) -> bool:
    return any((directory / ".git").exists() for directory in (root, *root.parents))


def summarize_sync(root: Path, excluded: Sequence[str]) -> SyncSummary:
    """The files of ``root`` that are uploaded, given SkyPilot's ``excluded`` entries."""
    names, complete = _walk(root, excluded)
    if (root / ".skyignore").is_file():
        rule = ".skyignore"
    elif (root / ".gitignore").is_file() and _in_git_repository(root):
        rule = ".gitignore"
    elif (root / ".gitignore").is_file():
        rule = "none (.gitignore counts only inside a git repository)"
    else:
        rule = "none (no .skyignore or .gitignore)"
    sizes: list[tuple[int, str]] = []
    for name in names:
        try:
            sizes.append(((root / name).stat().st_size, name))
        except OSError:
            continue
    total = sum(size for size, _ in sizes)
    largest = sorted(sizes, reverse=True)[:LARGEST_FILES]
    warnings = []
    if total >= LARGE_SYNC_BYTES:
        warnings.append(
            f"{total / (1 << 30):.1f} GiB would be uploaded with every launch. Keep checkpoints, "
            "datasets and outputs out of the project (or list them in .skyignore) and use "
            "storage mounts for data."
        )
    if not complete:
        warnings.append(f"More than {MAX_FILES} files: only the first {MAX_FILES} were counted.")
    return SyncSummary(
        working_dir=str(root),
        files=len(sizes),
        total_bytes=total,
        ignore_rule=rule,
        sample=sorted(name for _, name in sizes)[:SAMPLE_FILES],
        largest=[f"{name} ({size:,} bytes)" for size, name in largest],
        complete=complete,
        warnings=warnings,
    )
