"""Helpers for job tests: a fake `oumi` executable, settings, waiting for states."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from dataclasses import replace
from pathlib import Path

from mcp import Client

from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings

# Mimics `oumi <command> -c <file> [overrides]`: prints, optionally starts a child
# in its process group, ignores SIGTERM, sleeps, writes to stderr, exits with a code.
FAKE_OUMI = """#!/bin/sh
echo "fake oumi $*"
echo "loading config $3" >&2
if [ -n "$FAKE_OUMI_CHILD" ]; then sleep 300 & echo "child $!"; fi
if [ -n "$FAKE_OUMI_IGNORE_TERM" ]; then trap '' TERM; fi
if [ -n "$FAKE_OUMI_LINES" ]; then
  i=0; while [ $i -lt "$FAKE_OUMI_LINES" ]; do echo "line $i"; i=$((i+1)); done
fi
if [ -n "$FAKE_OUMI_SLEEP" ]; then sleep "$FAKE_OUMI_SLEEP"; fi
if [ -n "$FAKE_OUMI_STDERR" ]; then echo "$FAKE_OUMI_STDERR" >&2; fi
exit "${FAKE_OUMI_EXIT:-0}"
"""


def fake_oumi(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "oumi"
    script.write_text(FAKE_OUMI)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def with_fake_oumi(settings: Settings, tmp_path: Path, **changes: object) -> Settings:
    return replace(
        settings,
        oumi_executable=fake_oumi(tmp_path / "bin"),
        job_cancel_grace_s=2.0,
        **changes,  # type: ignore[arg-type]
    )


async def job_service_for(settings: Settings) -> JobService:
    return await Services.create(settings).job_service()


async def wait_for_state(
    job_service: JobService, job_id: str, states: set[str], timeout_s: float = 60.0
) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        state = (await job_service.status(job_id)).state
        if state in states or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.1)


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def launch_fake_job(client: Client, project: Path, **envs: str) -> str:
    """Launch the project's configs/train.yaml for real on the fake `oumi` (FAKE_OUMI_*
    variables say what it does) through the client; the job id."""
    result = await client.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "dry_run": False,
            "envs": envs,
        },
    )
    assert not result.is_error, result.content
    return str((result.structured_content or {})["job_id"])
