"""Shared helpers for the benchmarks: timing, medians, competitor venv."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from mcp import Client
from mcp.client.stdio import StdioServerParameters

BENCH_DIR = Path(__file__).resolve().parent
COMPETITOR_VENV = BENCH_DIR / ".venv-oumi-mcp"
COMPETITOR_SCRIPT = COMPETITOR_VENV / "bin" / "oumi-mcp"
# The test copy of Oumi's config library, so no server spends CPU fetching one meanwhile.
CONFIGS_DIR = BENCH_DIR.parents[1] / "shared" / "oumi-configs" / "0.9"


def base_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """A server's environment: offline, quiet, its own state dir, the local config library."""
    library = {"OUMI_MCP_CONFIGS_DIR": str(CONFIGS_DIR)} if CONFIGS_DIR.is_dir() else {}
    return dict(
        os.environ,
        **library,
        HF_HUB_OFFLINE="1",
        DO_NOT_TRACK="1",
        OUMI_MCP_LOG_LEVEL="WARNING",
        OUMI_MCP_STATE_DIR=str(state_dir),
        OUMI_MCP_CACHE_DIR=str(state_dir / "cache"),
        **extra,
    )


@dataclass
class Summary:
    label: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def line(self, unit: str = "s", scale: float = 1.0) -> str:
        values = sorted(self.samples)
        return (
            f"{self.label}: median {self.median * scale:.3f} {unit} "
            f"(min {values[0] * scale:.3f}, max {values[-1] * scale:.3f}, n={len(values)})"
        )


def ensure_competitor(install: bool) -> Path | None:
    """Oumi 0.9's own MCP server, in a venv of its own (its mcp pin differs from ours)."""
    if COMPETITOR_SCRIPT.exists():
        return COMPETITOR_SCRIPT
    if not install:
        return None
    print("Installing oumi[mcp]==0.9 into bench/.venv-oumi-mcp (several minutes)...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(COMPETITOR_VENV)], check=True)
        pip = [str(COMPETITOR_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "oumi[mcp]==0.9"], check=True)
    except subprocess.CalledProcessError as exc:
        print(f"Could not install the competitor ({exc}); skipping the comparison.")
        return None
    return COMPETITOR_SCRIPT if COMPETITOR_SCRIPT.exists() else None


def child_rss_bytes() -> int:
    """Resident memory of this process's children (the spawned server)."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class BenchFailure(SystemExit):
    """A benchmark saw a wrong answer: its numbers would mean nothing."""

    def __init__(self, message: str) -> None:
        super().__init__(f"FAILED: {message}")


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool; its structured answer (or its JSON text), or BenchFailure on an error."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    if result.is_error:
        raise BenchFailure(f"{tool} answered with an error: {text[:500]}")
    if result.structured_content:
        return dict(result.structured_content)
    try:
        loaded = json.loads(text)
    except (ValueError, TypeError):
        return {"text": text}
    return dict(loaded) if isinstance(loaded, dict) else {"value": loaded}


async def launch_train(client: Client, project: Path, **extra: object) -> str:
    """run_oumi_job(dry_run=false) of the project's configs/train.yaml; the job id."""
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
        **extra,
    }
    return str((await call(client, "run_oumi_job", arguments))["job_id"])


async def runs_in_fresh_folders(
    one_run: Callable[[Path], Awaitable[float]], label: str, default_runs: int = 5
) -> None:
    """``--runs`` times ``one_run`` in a fresh folder each; print the median."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=default_runs)
    args = parser.parse_args()
    samples = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            samples.append(await one_run(Path(folder)))
    print(Summary(label, samples).line())


def fake_oumi_server(root: Path) -> tuple[StdioServerParameters, Path]:
    """The real server over stdio (default settings) whose `oumi` is the tests' fake script
    (FAKE_OUMI_* variables say what it does), and a project with configs/train.yaml."""
    if str(BENCH_DIR.parent) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR.parent))
    from tests.jobs_support import fake_oumi
    from tests.project import make_project

    project = make_project(root / "project")
    env = base_env(root / "state", OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(root / "bin")))
    server = StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)
    return server, project
