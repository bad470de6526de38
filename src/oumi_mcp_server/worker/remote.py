"""The engines as the server sees them when they run in the worker: the same Protocols
(LauncherEngine, Pricer, the validator, the cloud check, SkyPilot's upload rule), each
method one call over the worker's socket with its deadline.

The first call of a kind on a worker may import oumi or SkyPilot: it gets the
import's allowance on top of its own deadline, so a slow first import is not
mistaken for a stuck worker.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oumi_mcp_server.settings import LauncherLimits
from oumi_mcp_server.worker.client import WorkerClient

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.launcher.engine import LauncherJob
    from oumi_mcp_server.jobs.pricing import Quote
    from oumi_mcp_server.validation.documents import ConfigDocument
    from oumi_mcp_server.validation.kinds import ConfigKind
    from oumi_mcp_server.validation.problems import Problem

WARM_UP_DEADLINE_S = 300.0
LOGS_MARGIN_S = 5.0


class RemoteEngines:
    """Calls into the worker with per-operation deadlines (``limits``, ``validate_s``) and
    an import allowance (``limits.load_s``) for the first call of each kind on a new worker."""

    def __init__(self, client: WorkerClient, *, limits: LauncherLimits, validate_s: float) -> None:
        self.client = client
        self.limits = limits
        self._load_s = limits.load_s
        self._validate_s = validate_s
        self._warm: set[str] = set()
        self._warm_pid: int | None = None
        self._lock = threading.Lock()

    def call(self, op: str, *args: Any, deadline_s: float, **kwargs: Any) -> Any:
        family = op.partition(".")[0]
        with self._lock:
            cold = family not in self._warm
        answer = self.client.call(
            op, *args, deadline_s=deadline_s + (self._load_s if cold else 0.0), **kwargs
        )
        self._mark_warm("*" if op == "warm_up" else family)
        return answer

    def _mark_warm(self, family: str) -> None:
        pid = self.client.worker_pid()
        with self._lock:
            if pid != self._warm_pid:  # a new worker imports everything again
                self._warm.clear()
                self._warm_pid = pid
            if family == "*":
                self._warm.update({"launcher", "pricer", "validate", "excluded_files"})
            else:
                self._warm.add(family)

    # -- the operations ------------------------------------------------------------

    def warm_up(self) -> None:
        self.call("warm_up", deadline_s=WARM_UP_DEADLINE_S)

    def validate(
        self, kind: ConfigKind, document: ConfigDocument, client_cwd: Path
    ) -> tuple[list[Problem], list[Problem]]:
        answer: tuple[list[Problem], list[Problem]] = self.call(
            "validate", kind, document, client_cwd, deadline_s=self._validate_s
        )
        return answer

    def enabled_clouds(self, deadline_s: float) -> list[str]:
        answer: list[str] = self.call("enabled_clouds", deadline_s=deadline_s)
        return answer

    def excluded_files(self, working_dir: Path) -> list[str]:
        answer: list[str] = self.call("excluded_files", working_dir, deadline_s=30.0)
        return answer


class RemoteLauncher:
    """oumi.launcher in the worker, as a LauncherEngine."""

    def __init__(self, engines: RemoteEngines) -> None:
        self._engines = engines
        self._limits = engines.limits

    def clouds(self) -> list[str]:
        answer: list[str] = self._engines.call(
            "launcher.clouds", deadline_s=self._limits.load_s + self._limits.list_s
        )
        return answer

    def clusters(self, cloud: str) -> list[str]:
        answer: list[str] = self._engines.call(
            "launcher.clusters", cloud, deadline_s=self._limits.list_s
        )
        return answer

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        answer: LauncherJob = self._engines.call(
            "launcher.up", dict(job_config), cluster_name, deadline_s=self._limits.up_s
        )
        return answer

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]:
        answer: list[LauncherJob] = self._engines.call(
            "launcher.status", cloud, cluster, job_id, deadline_s=self._limits.status_s
        )
        return answer

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob:
        answer: LauncherJob = self._engines.call(
            "launcher.cancel", cloud, cluster, job_id, deadline_s=self._limits.cancel_s
        )
        return answer

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str:
        answer: str = self._engines.call(
            "launcher.read_logs",
            cloud,
            cluster,
            job_id,
            max_bytes=max_bytes,
            timeout_s=timeout_s,
            deadline_s=timeout_s + LOGS_MARGIN_S,
        )
        return answer

    def stop(self, cloud: str, cluster: str) -> None:
        self._engines.call("launcher.stop", cloud, cluster, deadline_s=self._limits.cancel_s + 60)

    def down(self, cloud: str, cluster: str) -> None:
        self._engines.call("launcher.down", cloud, cluster, deadline_s=self._limits.cancel_s + 60)


class RemotePricer:
    """SkyPilot's catalogs in the worker, as a Pricer."""

    def __init__(self, engines: RemoteEngines) -> None:
        self._engines = engines

    def quote(
        self, cloud: str, accelerators: str, *, use_spot: bool, nodes: int, price: float | None
    ) -> Quote:
        answer: Quote = self._engines.call(
            "pricer.quote",
            cloud,
            accelerators,
            use_spot=use_spot,
            nodes=nodes,
            price=price,
            deadline_s=30.0,
        )
        return answer
