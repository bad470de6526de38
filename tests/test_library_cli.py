"""`oumi-mcp-server sync-configs`: the command that fills the cache (fast paths only here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.library.sync import sync_library
from tests.conftest import server_env
from tests.library_support import LocalArchive, library_files, make_archive


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server", *args],
        capture_output=True,
        text=True,
        env=server_env(tmp_path),
        timeout=120,
    )


def test_sync_configs_is_a_documented_subcommand(tmp_path: Path) -> None:
    out = _cli(tmp_path, "--help")
    assert out.returncode == 0 and "sync-configs" in out.stdout
    help_text = _cli(tmp_path, "sync-configs", "--help").stdout
    assert "--if-missing" in help_text


def test_sync_configs_if_missing_keeps_a_complete_cache(tmp_path: Path) -> None:
    version = installed_version("oumi")
    assert version is not None
    archive = make_archive(tmp_path / "a.tar.gz", library_files(4, "cached"))
    sync_library(tmp_path / "cache", version, providers=[LocalArchive(archive)], timeout_s=30)
    out = _cli(tmp_path, "sync-configs", "--if-missing")
    assert out.returncode == 0, out.stderr
    assert f"The oumi {version} config library is already in" in out.stdout
    assert "OUMI_MCP_CONFIGS_DIR=" in out.stdout, "the override in effect is pointed out"
