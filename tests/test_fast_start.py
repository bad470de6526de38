"""Start-up must not import oumi, torch, transformers, SkyPilot or huggingface_hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import stdio_parameters

HEAVY = ["oumi", "torch", "transformers", "sky", "huggingface_hub"]


def test_building_the_server_imports_no_heavy_module(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from oumi_mcp_server.server.app import build_server\n"
        "from oumi_mcp_server.settings import Settings\n"
        "build_server(Settings.from_env())\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {"OUMI_MCP_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == []


@pytest.mark.anyio
async def test_served_process_has_no_heavy_module_after_listing(tmp_path: Path) -> None:
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        await client.list_tools()
        await client.call_tool("get_started", {})
        info = await client.read_resource("server://info")
    loaded = json.loads(info.contents[0].text)["heavy_modules_loaded"]  # type: ignore[union-attr]
    assert loaded == []
