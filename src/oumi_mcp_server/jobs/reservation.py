"""Reserve a job before anything starts: its record, its run dir, its staged config."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.backend import LaunchPlan
from oumi_mcp_server.jobs.naming import generate_job_id
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import JobIdTakenError, Registry

MAX_ID_ATTEMPTS = 5
PlanT = TypeVar("PlanT", bound=LaunchPlan)


async def reserve(
    registry: Registry, args: CheckedArgs, plan: PlanT, state_dir: Path
) -> tuple[JobRecord, PlanT]:
    """Add the record (before anything starts), create its run dir, stage the config.

    A taken generated id is replaced by a fresh one; a taken chosen name is an
    error. Returns the record and the plan for the id that was reserved.
    """
    for attempt in range(MAX_ID_ATTEMPTS):
        job_id = args.job_id if attempt == 0 else generate_job_id(args.command)
        current = plan.with_job_id(job_id, state_dir)
        record = current.record()

        def add(r: JobRecord = record, p: PlanT = current) -> None:
            registry.add(r)
            try:
                p.run_dir.create()
            except FileExistsError:
                registry.delete([r.job_id])
                raise JobIdTakenError(r.job_id) from None
            p.run_dir.stage(p.config)

        try:
            await registry_ops.call(add)
        except JobIdTakenError:
            if not args.id_generated:
                raise
            continue
        return record, current
    raise JobIdTakenError(args.job_id)
