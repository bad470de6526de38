"""LibraryService: sources in order, background preparation, clear answers when not ready."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.errors import LibraryNotReadyError, LibraryUnavailableError
from oumi_mcp_server.library.fetch import ChildProcesses, PypiSdist
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.library.sources import cached_library_dir, from_override
from oumi_mcp_server.library.sync import sync_library
from tests.conftest import LIBRARY_DIR
from tests.library_support import (
    LocalArchive,
    Offline,
    copy_sample,
    library_files,
    library_settings,
    make_archive,
    service_for,
)

pytestmark = pytest.mark.anyio


async def test_override_is_used_first_and_reported(tmp_path: Path) -> None:
    service = service_for(LIBRARY_DIR, tmp_path)
    status = await service.status(wait_s=10)
    assert status.state == "ready" and status.source == "override"
    assert status.count == 525 and status.path == str(LIBRARY_DIR)
    assert "OUMI_MCP_CONFIGS_DIR" in status.detail


async def test_a_wrong_override_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    service = service_for(tmp_path / "nope", tmp_path)
    with pytest.raises(LibraryUnavailableError, match="not a directory") as error:
        await service.search("llama")
    assert "OUMI_MCP_CONFIGS_DIR" in error.value.next_step


def test_override_may_name_a_checkout_root(tmp_path: Path) -> None:
    copy_sample(tmp_path / "oumi" / "configs")
    assert from_override(tmp_path / "oumi").root == tmp_path / "oumi" / "configs"


async def test_the_cache_is_filled_by_sync_and_used_by_version(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", library_files(6, "synced"))
    provider = LocalArchive(archive)
    service = LibraryService(library_settings(tmp_path), oumi_version="9.9", providers=[provider])
    status = await service.status(wait_s=10)
    assert status.state == "ready" and status.source == "cache" and status.version == "9.9"
    assert status.count == 6 and "local a.tar.gz" in status.detail
    # A second server finds the cache and does not fetch again.
    second = LibraryService(library_settings(tmp_path), oumi_version="9.9", providers=[provider])
    assert (await second.status(wait_s=10)).source == "cache"
    assert provider.fetches == 1


async def test_no_source_says_exactly_that_and_how_to_fix_it(tmp_path: Path) -> None:
    service = LibraryService(
        library_settings(tmp_path),
        oumi_version="9.9",
        providers=[Offline("PyPI sdist"), Offline("GitHub tag archive")],
        checkout_finder=lambda: None,
    )
    for call in (
        service.search("llama"),
        service.get_config("recipes/x.yaml"),
        service.categories(),
        service.suggest_configs("sft"),
    ):
        with pytest.raises(LibraryUnavailableError) as error:
            await call
        text = error.value.describe()
        assert "No config library source works" in text
        assert "PyPI sdist: network is unreachable" in text
        assert "OUMI_MCP_CONFIGS_DIR" in text and "oumi-mcp-server sync-configs" in text
    status = service.status_now()
    assert status.state == "unavailable" and "sync-configs" in (status.next_step or "")


async def test_a_local_checkout_is_the_last_fallback(tmp_path: Path) -> None:
    checkout = copy_sample(tmp_path / "checkout" / "configs")
    service = LibraryService(
        library_settings(tmp_path),
        oumi_version="9.9",
        providers=[Offline()],
        checkout_finder=lambda: checkout,
    )
    status = await service.status(wait_s=10)
    assert status.state == "ready" and status.source == "local-checkout"
    assert status.count == len(list(checkout.rglob("*.yaml")))


async def test_a_slow_sync_gets_a_clear_not_ready_answer_then_works(tmp_path: Path) -> None:
    gate = threading.Event()
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "late"))
    service = LibraryService(
        library_settings(tmp_path, library_wait_s=0.3),
        oumi_version="9.9",
        providers=[LocalArchive(archive, gate=gate)],
    )
    started = time.monotonic()
    with pytest.raises(LibraryNotReadyError) as error:
        await service.search("fam1")
    assert time.monotonic() - started < 2
    assert "not ready yet: downloading the oumi 9.9 configs" in error.value.message
    assert "call the tool again" in error.value.next_step
    assert (await service.status(wait_s=0)).state == "preparing"
    gate.set()
    assert (await service.status(wait_s=10)).state == "ready"
    result = await service.search("fam1", limit=5)
    assert result.results and result.matched_all_terms


async def test_a_failed_library_recovers_once_the_cache_is_filled(tmp_path: Path) -> None:
    service = LibraryService(
        library_settings(tmp_path),
        oumi_version="9.9",
        providers=[Offline()],
        checkout_finder=lambda: None,
    )
    with pytest.raises(LibraryUnavailableError):
        await service.search("fam1")
    # The person runs `oumi-mcp-server sync-configs` while online.
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "ok"))
    sync_library(tmp_path / "cache", "9.9", providers=[LocalArchive(archive)], timeout_s=30)
    result = await service.search("fam1")
    assert result.results and "from cache" in result.library


async def test_suggest_configs_prefers_the_family_then_any(tmp_path: Path) -> None:
    service = service_for(LIBRARY_DIR, tmp_path)
    dpo = await service.suggest_configs("dpo", "phi3")
    assert [s.path for s in dpo][:1] == ["recipes/phi3/dpo/train.yaml"]
    assert all(s.task == "dpo" and s.config_class != "job" for s in dpo)
    sft = await service.suggest_configs("sft", "Llama 3.1", n=5)
    assert len(sft) == 5 and all(s.model_family == "llama3_1" for s in sft)
    any_grpo = await service.suggest_configs("grpo", "no-such-family", n=2)
    assert len(any_grpo) == 2 and all(s.task == "grpo" for s in any_grpo)


def _pypi_reachable() -> str | None:
    try:
        urllib.request.urlopen("https://pypi.org/simple/oumi/", timeout=10).close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.slow
def test_real_sdist_sync_into_a_temporary_cache(tmp_path: Path) -> None:
    version = installed_version("oumi")
    assert version is not None
    problem = _pypi_reachable()
    if problem is not None:
        pytest.skip(
            f"PyPI is not reachable from here, so the real sdist sync cannot run: {problem}"
        )
    result = sync_library(tmp_path / "cache", version, providers=[PypiSdist()], timeout_s=300)
    folder = cached_library_dir(tmp_path / "cache", version)
    assert result.fresh and result.folder == folder and result.count >= 500
    assert result.origin == f"PyPI sdist oumi-{version}.tar.gz"
    assert (folder / "recipes" / "llama3_1" / "sft" / "8b_lora" / "train.yaml").is_file()
    assert not (folder / "src").exists()
    assert not list((tmp_path / "cache" / "configs").glob(".staging-*"))


async def test_at_start_up_a_download_waits_unless_a_tool_needs_it(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "x"))
    provider = LocalArchive(archive)
    service = LibraryService(
        library_settings(tmp_path, library_sync_delay_s=60.0),
        oumi_version="9.9",
        providers=[provider],
    )
    service.start(eager=False)  # what the server's lifespan does
    time.sleep(0.3)
    assert provider.fetches == 0
    assert "about to download the oumi 9.9 configs" in service.status_now().detail
    result = await service.search("fam1")  # a tool call starts the download at once
    assert provider.fetches == 1 and result.results


async def test_the_deferred_download_starts_after_the_delay(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", library_files(3, "x"))
    provider = LocalArchive(archive)
    service = LibraryService(
        library_settings(tmp_path, library_sync_delay_s=0.2),
        oumi_version="9.9",
        providers=[provider],
    )
    future = service.start(eager=False)
    future.result(timeout=10)
    assert provider.fetches == 1 and service.status_now().source == "cache"


def test_closing_kills_a_running_pip_and_its_children(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    fake_pip = tmp_path / "fake-python"
    fake_pip.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {grandchild}\nwait\n")
    fake_pip.chmod(0o755)
    children = ChildProcesses()
    errors: list[Exception] = []

    def fetch() -> None:
        try:
            PypiSdist(str(fake_pip), children=children).fetch("9.9", tmp_path, 60.0)
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    deadline = time.monotonic() + 10
    while not grandchild.exists() or not grandchild.read_text().strip():
        assert time.monotonic() < deadline, "the fake pip never started"
        time.sleep(0.01)
    started = time.monotonic()
    children.kill_all()
    worker.join(timeout=10)
    assert time.monotonic() - started < 5 and not worker.is_alive()
    assert errors and "pip download failed" in str(errors[0])
    pid = int(grandchild.read_text())
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.02)
    assert not _alive(pid), "pip's own children are killed with it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


async def test_an_unwritable_cache_is_reported_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    service = LibraryService(
        library_settings(tmp_path),
        oumi_version="9.9",
        providers=[Offline()],
        checkout_finder=lambda: None,
    )
    with pytest.raises(LibraryUnavailableError, match="could not write the cache"):
        await service.search("llama")
