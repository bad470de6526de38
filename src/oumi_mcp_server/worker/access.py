"""How one server reaches oumi, oumi.launcher and SkyPilot: through the engine worker
(a server started from the environment), in this process (in-memory tests, or
OUMI_MCP_ENGINE_WORKER=0), or through a worker served in this process (tests that
want the real socket and wire without a process).

Every variant gives the same Protocols to the services: a LauncherEngine factory,
a Pricer, the validator, the cloud check, SkyPilot's upload rule and the warm-up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oumi_mcp_server.settings import Settings
from oumi_mcp_server.worker.client import WorkerClient
from oumi_mcp_server.worker.place import WorkerPlace
from oumi_mcp_server.worker.remote import RemoteEngines, RemoteLauncher, RemotePricer

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.launcher.engine import LauncherEngine
    from oumi_mcp_server.jobs.pricing import Pricer
    from oumi_mcp_server.validation.engine import ValidateDocument
    from oumi_mcp_server.worker.engines import EngineSet
    from oumi_mcp_server.worker.host import WorkerHost


@dataclass
class EngineAccess:
    launcher: Callable[[], LauncherEngine]
    pricer: Pricer | None  # None: SkyPilot's catalogs in this process
    validate: ValidateDocument
    enabled_clouds: Callable[[], list[str]] | None  # None: `sky check` in this process
    excluded_files: Callable[[Path], list[str]]
    warm_up: Callable[[], None]
    worker: WorkerClient | None = None
    host: WorkerHost | None = None  # a worker served in this process

    def describe_worker(self) -> dict[str, Any]:
        if self.worker is None:
            return {"running": False, "mode": "in-process (OUMI_MCP_ENGINE_WORKER=0)"}
        return {"mode": "worker process", **self.worker.describe()}

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        if self.host is not None:
            self.host.stop()


def in_process(launcher: LauncherEngine | None = None) -> EngineAccess:
    """The engines in this process (oumi is imported here on first use)."""
    from oumi_mcp_server.preflight.paths_check import skypilot_excluded_files
    from oumi_mcp_server.validation.engine import validate_document

    def engine() -> LauncherEngine:
        if launcher is not None:
            return launcher
        from oumi_mcp_server.jobs.launcher.engine import OumiLauncherEngine

        return OumiLauncherEngine()

    def warm_up() -> None:
        from oumi_mcp_server.engines import load
        from oumi_mcp_server.validation.engine import warm_up_oumi

        warm_up_oumi()
        load("oumi.launcher")

    return EngineAccess(
        launcher=engine,
        pricer=None,
        validate=validate_document,
        enabled_clouds=None,
        excluded_files=skypilot_excluded_files,
        warm_up=warm_up,
    )


def through(client: WorkerClient, settings: Settings) -> EngineAccess:
    remote = RemoteEngines(
        client, limits=settings.launcher_limits(), validate_s=settings.validation_timeout_s
    )
    launcher = RemoteLauncher(remote)
    timeout_s = settings.cloud_check_timeout_s
    return EngineAccess(
        launcher=lambda: launcher,
        pricer=RemotePricer(remote),
        validate=remote.validate,
        enabled_clouds=lambda: remote.enabled_clouds(timeout_s),
        excluded_files=remote.excluded_files,
        warm_up=remote.warm_up,
        worker=client,
    )


def worker_process(settings: Settings) -> EngineAccess:
    """The shared worker of this user, state dir and engine environment."""
    environ = dict(os.environ)
    client = WorkerClient(
        WorkerPlace.of(settings.state_dir, environ),
        idle_s=settings.worker_idle_s,
        environ=environ,
    )
    return through(client, settings)


def worker_in_this_process(settings: Settings, engines: EngineSet) -> EngineAccess:
    """A worker served by a thread of this process, on ``engines`` (tests)."""
    from oumi_mcp_server.worker.host import serve_in_thread

    place = WorkerPlace.of(settings.state_dir)
    place.make()
    socket_dir = Path(tempfile.mkdtemp(prefix="oumi-mcp-worker-"))
    socket_path = socket_dir / "socket"
    host = serve_in_thread(engines, socket_path)
    client = WorkerClient(replace(place, socket_path=socket_path), idle_s=float("inf"), spawn=False)
    access = through(client, settings)
    access.host = host
    with contextlib.suppress(OSError):
        os.chmod(socket_dir, 0o700)
    return access
