"""Syncing the library into the cache: atomic, locked, bounded, and honest when offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import LibrarySyncError
from oumi_mcp_server.library.fetch import GithubArchive, urllib_fetch
from oumi_mcp_server.library.sources import MARKER, cached_library_dir, read_marker
from oumi_mcp_server.library.sync import extract_configs, recover, sync_library
from tests.library_support import LocalArchive, Offline, library_files, make_archive

REPO = Path(__file__).resolve().parents[1]
VERSION = "9.9"


def _library_state(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text()
        for path in sorted(folder.rglob("*.yaml"))
    }


def _leftovers(cache_dir: Path) -> list[str]:
    root = cache_dir / "configs"
    return sorted(
        p.name for p in root.iterdir() if p.name.startswith((".staging", ".old", ".down"))
    )


def _spawn_sync(job: dict[str, object]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.library_support import sync_main; sync_main()",
            json.dumps(job),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sync_extracts_only_configs_and_writes_the_marker_last(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "oumi-9.9.tar.gz", library_files(5, "v1"))
    result = sync_library(
        tmp_path / "cache", VERSION, providers=[LocalArchive(archive)], timeout_s=30
    )
    folder = cached_library_dir(tmp_path / "cache", VERSION)
    assert result.fresh and result.count == 5 and result.folder == folder
    assert len(_library_state(folder)) == 5
    assert not (folder / "README.md").exists()
    assert not list(folder.rglob("x.yaml")), "files outside the top-level configs/ leak in"
    marker = read_marker(folder)
    assert marker is not None and marker["oumi_version"] == VERSION and marker["count"] == 5
    assert _leftovers(tmp_path / "cache") == []


def test_a_complete_library_is_not_fetched_again_unless_forced(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "v1"))
    provider = LocalArchive(archive)
    sync_library(tmp_path / "cache", VERSION, providers=[provider], timeout_s=30)
    again = sync_library(tmp_path / "cache", VERSION, providers=[provider], timeout_s=30)
    assert not again.fresh and provider.fetches == 1
    sync_library(tmp_path / "cache", VERSION, providers=[provider], timeout_s=30, force=True)
    assert provider.fetches == 2


def test_archive_members_cannot_escape_the_library(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "evil.tar.gz",
        {"recipes/ok.yaml": "a: 1\n", "../../escape.yaml": "b: 2\n", "x/../../up.yaml": "c: 3\n"},
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    assert extract_configs(archive, staging) == 1
    assert [p.name for p in tmp_path.rglob("*.yaml")] == ["ok.yaml"]


@pytest.mark.parametrize("phase", ["download", "extract"])
def test_killing_a_sync_midway_leaves_the_old_library_intact(tmp_path: Path, phase: str) -> None:
    cache = tmp_path / "cache"
    old_archive = make_archive(tmp_path / "old.tar.gz", library_files(4, "old"))
    sync_library(cache, VERSION, providers=[LocalArchive(old_archive)], timeout_s=30)
    folder = cached_library_dir(cache, VERSION)
    before = _library_state(folder)
    new_archive = make_archive(tmp_path / "new.tar.gz", library_files(20000, "new"))
    job = {"archive": str(new_archive), "cache_dir": str(cache), "version": VERSION}
    process = _spawn_sync({**job, "force": True, "block": phase == "download"})
    root = cache / "configs"
    deadline = time.monotonic() + 60
    killed_during = None
    while time.monotonic() < deadline and process.poll() is None:
        staging = [p for p in root.glob(".staging-*") if p.is_dir()]
        if staging and (phase == "download" or any(staging[0].rglob("*.yaml"))):
            killed_during = [p.name for p in root.iterdir()]
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait(timeout=30)
    assert killed_during is not None, f"the sync finished before it could be killed: {phase}"
    assert process.returncode == -signal.SIGKILL
    # The old library is exactly as it was, marker and all.
    assert _library_state(folder) == before
    assert read_marker(folder) is not None and read_marker(folder)["count"] == 4  # type: ignore[index]
    # The next sync (another process would do the same) cleans up and keeps the old one.
    again = sync_library(cache, VERSION, providers=[LocalArchive(new_archive)], timeout_s=60)
    assert not again.fresh
    assert _leftovers(cache) == []
    assert _library_state(folder) == before


def test_an_interrupted_swap_is_rolled_back(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "old"))
    sync_library(cache, VERSION, providers=[LocalArchive(archive)], timeout_s=30)
    folder = cached_library_dir(cache, VERSION)
    before = _library_state(folder)
    # A crash between the two renames of a refresh: the old library moved aside, no new one.
    folder.rename(folder.parent / f".old-{folder.name}-abc123")
    recover(cache / "configs", VERSION)
    assert _library_state(folder) == before and (folder / MARKER).exists()
    assert _leftovers(cache) == []


def test_two_processes_syncing_at_once_fetch_once_and_agree(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    archive = make_archive(tmp_path / "a.tar.gz", library_files(50, "v1"))
    log = tmp_path / "fetches.log"
    job = {
        "archive": str(archive),
        "cache_dir": str(cache),
        "version": VERSION,
        "delay_s": 1.0,
        "log": str(log),
    }
    processes = [_spawn_sync(job) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    results = sorted(json.loads(out)["fresh"] for out, _ in outputs)
    assert results == [False, True], "one process fetched, the other found it done"
    assert log.read_text().count("fetch") == 1
    folder = cached_library_dir(cache, VERSION)
    assert len(_library_state(folder)) == 50 and read_marker(folder) is not None
    assert _leftovers(cache) == []


def test_when_every_provider_fails_the_error_names_each(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(LibrarySyncError) as error:
        sync_library(
            tmp_path / "cache",
            VERSION,
            providers=[Offline("PyPI sdist"), Offline("GitHub tag archive")],
            timeout_s=30,
        )
    assert time.monotonic() - started < 5
    assert "PyPI sdist: network is unreachable" in error.value.message
    assert "GitHub tag archive: network is unreachable" in error.value.message
    assert read_marker(cached_library_dir(tmp_path / "cache", VERSION)) is None
    assert _leftovers(tmp_path / "cache") == []


def test_github_fallback_uses_the_injected_fetcher(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "tag.tar.gz", library_files(2, "gh"))
    calls: list[tuple[str, float]] = []

    def fetcher(url: str, dest: Path, timeout_s: float) -> None:
        calls.append((url, timeout_s))
        if url.endswith("/v9.9.tar.gz"):
            raise OSError("404 Not Found")
        dest.write_bytes(archive.read_bytes())

    github = GithubArchive(fetcher, timeout_s=4.0)
    result = sync_library(tmp_path / "cache", VERSION, providers=[Offline(), github], timeout_s=30)
    assert result.count == 2 and result.origin.endswith("/v9.9.0.tar.gz")
    assert [url.rsplit("/", 1)[1] for url, _ in calls] == ["v9.9.tar.gz", "v9.9.0.tar.gz"]
    assert all(timeout == 4.0 for _, timeout in calls), "the short GitHub timeout is used"


def test_the_real_github_fetch_fails_fast_when_github_is_unreachable(tmp_path: Path) -> None:
    github = GithubArchive(urllib_fetch, timeout_s=2.0)
    started = time.monotonic()
    try:
        archive, _ = github.fetch("0.9", tmp_path, 30.0)
    except LibrarySyncError as exc:
        assert "github.com" in exc.message
        assert time.monotonic() - started < 2 * 2.0 + 1.5
        return
    assert archive.stat().st_size > 0  # GitHub was reachable after all: a real archive
