"""Engine sets for workers under test, given through the same Protocols as the real ones.

A process worker builds one from ``OUMI_MCP_WORKER_ENGINES=tests.worker.fakes:steady``.
``SteadyLauncher`` keeps no state, so a worker that replaces another answers for the
jobs of the one before; it hangs forever in the operations that the file named by
``OUMI_MCP_TEST_HANG_FILE`` lists (one per line), for as long as the file says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oumi_mcp_server.jobs.launcher.engine import LauncherJob
from oumi_mcp_server.jobs.pricing import Quote
from oumi_mcp_server.validation.documents import ConfigDocument
from oumi_mcp_server.validation.kinds import ConfigKind
from oumi_mcp_server.validation.problems import Problem
from oumi_mcp_server.worker.engines import EngineSet

HANG_FILE_ENV = "OUMI_MCP_TEST_HANG_FILE"
SPEC = "tests.worker.fakes:steady"
REPO = Path(__file__).parents[2]


def hangs(operation: str) -> bool:
    path = os.environ.get(HANG_FILE_ENV, "")
    try:
        return bool(path) and operation in Path(path).read_text().split()
    except OSError:
        return False


def _hang_if_asked(operation: str) -> None:
    while hangs(operation):
        time.sleep(0.1)  # "forever": until the test lifts it or the worker is killed


def fake_job(
    job_id: str, cloud: str, cluster: str, state: str = "running", name: str = ""
) -> LauncherJob:
    return LauncherJob(
        id=job_id,
        name=name,  # '' (not known) matches any record's job
        cloud=cloud,
        cluster=cluster,
        status=state.upper(),
        state=state,
        done=state in ("completed", "failed", "cancelled"),
    )


class SteadyLauncher:
    """Every job it is asked about is running on its cluster; nothing is remembered."""

    def clouds(self) -> list[str]:
        return ["gcp"]

    def clusters(self, cloud: str) -> list[str]:
        return []

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        _hang_if_asked("up")
        cloud = str(job_config["resources"]["cloud"])
        name = str(job_config.get("name", ""))
        return fake_job("1", cloud, cluster_name or "fake-cluster", name=name)

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]:
        _hang_if_asked("status")
        return [fake_job(job_id or "1", cloud, cluster or "fake-cluster")]

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob:
        _hang_if_asked("cancel")
        return fake_job(job_id, cloud, cluster, "cancelled")

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str:
        return "step 1 loss 2.0\n"[:max_bytes]

    def stop(self, cloud: str, cluster: str) -> None:
        return None

    def down(self, cloud: str, cluster: str) -> None:
        return None


class FixedPricer:
    def quote(
        self, cloud: str, accelerators: str, *, use_spot: bool, nodes: int, price: float | None
    ) -> Quote:
        return Quote(2.0, instance_type="fake-gpu", region="fake-1", nodes=nodes, source="test")


def accept_everything(
    kind: ConfigKind, document: ConfigDocument, client_cwd: Path
) -> tuple[list[Problem], list[Problem]]:
    _hang_if_asked("validate")
    return [], []


def steady() -> EngineSet:
    return EngineSet(
        launcher=SteadyLauncher(),
        pricer=FixedPricer(),
        validate=accept_everything,
        enabled_clouds=lambda: ["gcp"],
        excluded_files=lambda working_dir: [],
    )
