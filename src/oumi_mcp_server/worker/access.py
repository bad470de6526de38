"""How one server reaches oumi, oumi.launcher and SkyPilot: through the engine worker
(a server started from the environment), in this process (in-memory tests, or
OUMI_MCP_ENGINE_WORKER=0), or through a worker served in this process (tests that
want the real socket and wire without a process).

Every variant gives the same Protocols to the services: a LauncherEngine factory,
a Pricer, the validator, the cloud check, SkyPilot's upload rule and the warm-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
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
    pricer: Pricer
    validate: ValidateDocument
    enabled_clouds: Callable[[], list[str]]
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
    """The engines in this process (oumi is imported here on first use); ``launcher``
    replaces oumi.launcher (a test's fake)."""
    from oumi_mcp_server.worker.engines import real_engine_set

    engines = real_engine_set()
    chosen = launcher or engines.launcher
    return EngineAccess(
        launcher=lambda: chosen,
        pricer=engines.pricer,
        validate=engines.validate,
        enabled_clouds=engines.enabled_clouds,
        excluded_files=engines.excluded_files,
        warm_up=engines.warm_up,
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
    """A worker served by a thread of this process, on ``engines`` (tests), at the socket
    a process worker of this state dir would have."""
    from oumi_mcp_server.worker.host import serve_in_thread

    place = WorkerPlace.of(settings.state_dir)
    place.make()
    host = serve_in_thread(engines, place.socket)
    access = through(WorkerClient(place, idle_s=float("inf"), spawn=False), settings)
    access.host = host
    return access
