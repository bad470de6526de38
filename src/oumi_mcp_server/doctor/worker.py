"""The engine workers of this state dir: running or not, pid, RSS, clients, uptime, and
the last restart with its reason. Never starts one."""

from __future__ import annotations

import os
import time
from typing import Any

from oumi_mcp_server.doctor.models import Section
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.worker.client import WorkerClient
from oumi_mcp_server.worker.place import WorkerPlace


def _line(found: dict[str, Any]) -> str:
    if not found.get("running"):
        return "not running (a server starts it on its first engine call)"
    return (
        f"pid {found['pid']}, {found['rss_mb']:.0f} MB, {found['clients']} client(s), "
        f"up {found['uptime_s']:.0f} s"
    )


def _restart(found: dict[str, Any]) -> str:
    last = found.get("last_restart")
    if not isinstance(last, dict):
        return ""
    ago = time.time() - float(last.get("at", 0))
    return f"; last restart {ago / 60:.0f} min ago: {last.get('reason', '?')}"


def check_worker(settings: Settings) -> Section:
    mine = WorkerPlace.of(settings.state_dir, os.environ)
    folder = settings.state_dir.expanduser() / "worker"
    keys = sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []
    others = [key for key in keys if key != mine.key]
    found = WorkerClient(mine, idle_s=0.0, spawn=False).describe(timeout_s=3.0)
    data: dict[str, Any] = {"key": mine.key, **found, "other_keys": others}
    detail = f"this environment's worker: {_line(found)}{_restart(found)}"
    if others:
        detail += f"; {len(others)} other engine environment(s) in this state dir"
    if "error" in found:
        return Section(
            "engine worker",
            "warn",
            f"{detail}; {found['error']}",
            fix=f"It is replaced on the next call that times out; its log is {found['log']}.",
            data=data,
        )
    return Section("engine worker", "ok", detail, data=data)
