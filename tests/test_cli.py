"""The command line: version, stdio by default (streamable HTTP: tests/e2e/test_http.py)."""

from __future__ import annotations

import subprocess
import sys

from oumi_mcp_server import __version__


def test_version_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"oumi-mcp-server {__version__}"


def test_unknown_transport_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server", "serve", "--transport", "carrier-pigeon"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "invalid choice" in out.stderr
