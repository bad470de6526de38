"""A new user's first contact: a fresh HOME (no ~/.sky), the default settings, the real server.

Nothing here may start SkyPilot's API server: not list_jobs, not get_started, not a
dry run for a SkyPilot cloud, not the warm-up after the handshake. A SkyPilot API
server started on behalf of this server would carry the test's HOME in its
environment; the test looks for one, and stops it if the rule was broken.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import Client

from tests.conftest import SKY, stdio_parameters
from tests.e2e.test_jobs_e2e import call
from tests.project import make_project

pytestmark = pytest.mark.anyio

SKYPILOT_SERVER = "sky.server.server"
WARMUP_S = 180.0


def skypilot_servers_of(home: Path) -> list[int]:
    """SkyPilot API server processes started with ``home`` as their HOME."""
    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if SKYPILOT_SERVER not in " ".join(process.info["cmdline"] or []):
            continue
        try:
            if process.environ().get("HOME") == str(home):
                pids.append(process.info["pid"])
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return pids


async def server_info(client: Client) -> dict[str, Any]:
    contents = (await client.read_resource("server://info")).contents[0]
    return dict(json.loads(contents.text))  # type: ignore[union-attr]


async def warmed_up(client: Client) -> dict[str, Any]:
    """server://info once both warm-ups (oumi's imports, the listings) have ended."""
    deadline = time.monotonic() + WARMUP_S
    while True:
        info = await server_info(client)
        ended = info["oumi_warmup"]["state"] in ("done", "failed")
        if ended and info["listings_warmup"]["state"] in ("done", "failed"):
            return info
        assert time.monotonic() < deadline, info
        await anyio.sleep(0.5)


async def test_a_fresh_home_lists_at_once_and_starts_no_skypilot_api_server(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    project = make_project(tmp_path / "project")
    # The defaults of a new user: every cloud may be asked, warm-up on, `sky check` never run.
    parameters = stdio_parameters(tmp_path, HOME=str(home), OUMI_MCP_CLOUDS="", OUMI_MCP_WARMUP="1")
    parameters.env = {
        key: value
        for key, value in (parameters.env or {}).items()
        if not key.startswith("SKYPILOT_") and key != "OUMI_SLURM_CONNECTIONS"
    }
    try:
        async with Client(parameters, mode="legacy") as client:
            started = time.monotonic()
            listed = await call(client, "list_jobs", {})
            first_s = time.monotonic() - started
            assert listed["warnings"] == [], listed
            assert listed["clouds_listed"] == ["local"]
            assert len(listed["notes"]) == 1 and "run `sky check`" in listed["notes"][0]
            assert first_s < 5.0, first_s  # bench/first_contact.py measures it precisely

            started = await call(client, "get_started", {})
            engines = {use["engine"]: use for use in started["engines"]}
            assert engines["this machine"]["in_use"]
            assert not engines["SkyPilot clouds"]["in_use"]
            assert "sky check" in engines["SkyPilot clouds"]["next_step"]
            assert not engines["Slurm"]["in_use"] and engines["Slurm"]["next_step"]

            dry = await call(
                client,
                "run_oumi_job",
                {
                    "config_path": "configs/train.yaml",
                    "command": "train",
                    "client_cwd": str(project),
                    "cloud": "gcp",
                },
            )
            assert not dry["launched"] and dry["job_config"]["resources"]["cloud"] == "gcp"
            assert not dry["checks"]["blocking"], dry["checks"]
            cloud = [w for w in dry["checks"]["warnings"] if w["check"] == "cloud"]
            assert any("no record of a `sky check`" in w["message"] for w in cloud), cloud

            info = await warmed_up(client)
            assert info["listings_warmup"]["state"] == "done", info
            assert info["listings_warmup"]["listed"] == []  # only the local cloud: not warmed
            again = await call(client, "list_jobs", {})
            assert again["warnings"] == [] and again["clouds_listed"] == ["local"]
        assert skypilot_servers_of(home) == []
        assert not (home / ".sky" / "api_server").exists()
    finally:
        if skypilot_servers_of(home):  # the rule was broken: stop what this test caused
            env = {**os.environ, "HOME": str(home)}
            subprocess.run([SKY, "api", "stop"], env=env, capture_output=True, timeout=120)
