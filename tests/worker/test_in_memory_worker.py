"""An in-memory server whose engines sit behind a worker served in the test's own
process: the real socket and wire, fakes given through the engines' Protocols."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings
from tests.e2e.test_jobs_e2e import call
from tests.e2e.test_launcher_e2e import launch_job_config, local_job_config
from tests.project import make_project
from tests.worker.fakes import steady

pytestmark = pytest.mark.anyio


async def test_launch_status_and_cancel_go_through_a_worker_in_this_process(
    settings: Settings, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    job = local_job_config(project, "echo never-run: the engines are fakes")
    services = Services.create(settings, worker_engines=steady())
    assert services.engines.worker is not None
    async with Client(build_server(services=services)) as client:
        checked = await call(
            client, "validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}
        )
        assert checked["valid"] and checked["errors"] == []
        job_id = await launch_job_config(client, project, job)
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] in ("launching", "running"), status
        cancelled = await call(client, "cancel_job", {"job_id": job_id})
        assert cancelled["state"] == "cancelled", cancelled
        worker = services.engines.describe_worker()
    assert worker["running"] and worker["calls"] >= 3, worker  # validate, up, cancel at least
