"""What a worker runs its operations on: the real engines, or fakes a test names.

Built in the worker process only. The real set loads oumi, oumi.launcher and
SkyPilot lazily, on the first operation that needs them. A test hands a fake set
to a worker through ``OUMI_MCP_WORKER_ENGINES=module:function`` (a process
worker) or directly (an in-process one): the same Protocols as the real ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.launcher.engine import LauncherEngine
    from oumi_mcp_server.jobs.pricing import Pricer
    from oumi_mcp_server.validation.engine import ValidateDocument

ENGINES_ENV = "OUMI_MCP_WORKER_ENGINES"


def _no_live_jobs() -> int:
    return 0


def _nothing() -> None:
    return None


@dataclass
class EngineSet:
    launcher: LauncherEngine
    pricer: Pricer
    validate: ValidateDocument
    enabled_clouds: Callable[[], list[str]]
    excluded_files: Callable[[Path], list[str]]
    warm_up: Callable[[], None] = _nothing
    # Jobs that live in this process (oumi's local cloud): the worker stays while any run.
    live_jobs: Callable[[], int] = _no_live_jobs
    close: Callable[[], None] = _nothing

    def operation(self, name: str) -> Callable[..., Any]:
        part, _, method = name.partition(".")
        if part == "launcher":
            return getattr(self.launcher, method)  # type: ignore[no-any-return]
        if part == "pricer":
            return self.pricer.quote
        return getattr(self, name)  # type: ignore[no-any-return]


def real_engine_set() -> EngineSet:
    """oumi, oumi.launcher and SkyPilot (each imported on first use)."""
    from oumi_mcp_server.engines import imported, load
    from oumi_mcp_server.environment.clouds import skypilot_enabled_clouds
    from oumi_mcp_server.jobs.catalog import LOCAL_CLOUD
    from oumi_mcp_server.jobs.launcher.engine import OumiLauncherEngine
    from oumi_mcp_server.jobs.launcher.slurm_clusters import slurm_clusters
    from oumi_mcp_server.jobs.pricing import SkyPilotPricer
    from oumi_mcp_server.preflight.paths_check import skypilot_excluded_files
    from oumi_mcp_server.validation.engine import validate_document, warm_up_oumi

    launcher = OumiLauncherEngine()

    def warm_up() -> None:
        warm_up_oumi()
        load("oumi.launcher")

    def close_ssh_masters() -> None:
        slurm_clusters().close()

    def live_jobs() -> int:
        if not imported("oumi.launcher"):
            return 0
        return sum(1 for job in launcher.status(LOCAL_CLOUD) if not job.done)

    return EngineSet(
        launcher=launcher,
        pricer=SkyPilotPricer(),
        validate=validate_document,
        enabled_clouds=skypilot_enabled_clouds,
        excluded_files=skypilot_excluded_files,
        warm_up=warm_up,
        live_jobs=live_jobs,
        close=close_ssh_masters,
    )


def engine_set_from_spec(spec: str) -> EngineSet:
    """``module:function`` -> the EngineSet it returns; '' -> the real engines."""
    if not spec:
        return real_engine_set()
    module_name, _, function = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), function)
    engines = factory()
    if not isinstance(engines, EngineSet):
        raise TypeError(f"{spec} returned {type(engines).__name__}, not an EngineSet")
    return engines
