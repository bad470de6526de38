"""Job resources: jobs://running, jobs://completed, jobs://{job_id} and jobs://{job_id}/logs
(bounded). Each can be subscribed to (server/subscriptions.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.mcpserver import MCPServer, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import BaseModel

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError, OumiMcpError
from oumi_mcp_server.jobs.catalog import MAX_LOG_LINES
from oumi_mcp_server.services import Services

RESOURCE_LOG_LINES = 200
# The job id is checked by the service (check_job_id: letters, digits, . _ -, no '..'),
# which is stricter than the SDK's generic traversal check and says what is wrong.
JOB_ID_CHECKED_BY_SERVICE = ResourceSecurity(exempt_params=frozenset({"job_id"}))


def register(server: MCPServer, services: Services) -> None:
    @server.resource(
        "jobs://running",
        name="jobs-running",
        title="Active jobs",
        description="Jobs not finished yet (queued, launching, running), live state, newest first.",
        mime_type="application/json",
    )
    async def running_jobs() -> str:
        return await _answer(lambda: _list(services, "active"))

    @server.resource(
        "jobs://completed",
        name="jobs-completed",
        title="Finished jobs",
        description="Finished jobs (completed, failed or cancelled), live state, newest first.",
        mime_type="application/json",
    )
    async def completed_jobs() -> str:
        return await _answer(lambda: _list(services, "finished"))

    @server.resource(
        "jobs://{job_id}",
        name="job",
        title="Job status",
        description="One job's live status (as get_job_status answers); subscribe to hear "
        "when its state changes.",
        mime_type="application/json",
        security=JOB_ID_CHECKED_BY_SERVICE,
    )
    async def job_status(job_id: str) -> str:
        return await _answer(lambda: _status(services, job_id))

    @server.resource(
        "jobs://{job_id}/logs",
        name="job-logs",
        title="Job logs",
        description=f"The last {RESOURCE_LOG_LINES} lines of a job's stdout and stderr "
        f"(capped; get_job_logs pages further, up to {MAX_LOG_LINES} lines a call).",
        mime_type="application/json",
        security=JOB_ID_CHECKED_BY_SERVICE,
    )
    async def job_logs(job_id: str) -> str:
        return await _answer(lambda: _logs(services, job_id))


async def _list(services: Services, status: str) -> BaseModel:
    return await (await services.job_service()).list_jobs(status, limit=1000)


async def _status(services: Services, job_id: str) -> BaseModel:
    return await (await services.job_service()).status(job_id)


async def _logs(services: Services, job_id: str) -> BaseModel:
    jobs = await services.job_service()
    return await jobs.logs(job_id, lines=RESOURCE_LOG_LINES, stream="both")


async def _answer(call: Callable[[], Awaitable[BaseModel]]) -> str:
    try:
        result = await call()
    except NotFoundError as exc:
        raise ResourceNotFoundError(exc.describe()) from exc
    except InvalidArgumentError as exc:  # a malformed id in the URI: the caller's to fix
        raise MCPError(INVALID_PARAMS, exc.describe()) from exc
    except OumiMcpError as exc:
        raise ResourceError(exc.describe()) from exc
    return result.model_dump_json(indent=2)
