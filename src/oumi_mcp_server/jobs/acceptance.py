"""A launch exists from the moment it is accepted: its id is reserved before the checks.

``run_oumi_job(dry_run=false)`` first reserves the job: a record with the
``pending`` backend, its run dir, and ``accepted.json`` naming the server
process that owns the launch. Then the config is read, planned and checked,
and only then is the record handed over to its engine, which starts the job.
So status, list_jobs and cancel_job know the job at every moment. While it is
pending it reads:

- ``validating`` while the owner lives;
- ``cancelled`` once a cancel was requested (nothing will start);
- ``failed`` when the owner died before the hand-over (nothing started; the
  same request with the same job_name takes it over and launches it).

The hand-over and a cancel are ordered through the registry and the run dir:
the launch hands over, then looks for a cancel request; cancel_job writes its
request, then looks whether the record was handed over (and if so asks the
engine). One of the two always sees the other, so a cancel is never lost.

``job_name`` is an idempotency key: a record keeps a digest of each argument
of its request (never a value: envs may hold secrets). The same name with the
same request returns the existing job; with a different request it is refused,
naming the arguments that differ. Blocking functions: call them through
``registry.call``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.catalog import LOCAL_CLOUD
from oumi_mcp_server.jobs.naming import generate_job_id
from oumi_mcp_server.jobs.os_processes import is_our_process, process_start_time
from oumi_mcp_server.jobs.records import PENDING_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import JobIdTakenError, Registry
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.validation.documents import ConfigDocument

ACCEPTED_FILE = "accepted.json"
MAX_ID_ATTEMPTS = 5
OWNER_GRACE_S = 30.0  # a pending record without its owner file is being accepted this long
RUN_DIR_WAIT_S = 2.0  # a cancel waits this long for an accepted launch's run dir
NEVER_STARTED = (
    "never started: the server that accepted the launch stopped before it could start the "
    "job (nothing ran). Repeat the same run_oumi_job request with the same job_name to "
    "launch it."
)


class RequestMismatchError(InvalidArgumentError):
    """The job name is taken by a job launched with a different request."""

    def __init__(self, job_id: str, differing: list[str]) -> None:
        super().__init__(
            "job_name",
            f"a job named '{job_id}' already exists, launched with a different request "
            f"({', '.join(differing)} differ).",
            next_step="Repeat the earlier request exactly to get that job back, or choose "
            "another job_name (or leave it empty for a generated id).",
        )


@dataclass(frozen=True)
class Request:
    """One run_oumi_job request, as its job's identity remembers it."""

    args: CheckedArgs
    config_path: str
    client_cwd: str

    def digest(self) -> str:
        """A digest of each argument that defines the job (values never kept)."""
        fields = {
            "command": self.args.command,
            "config_path": self.config_path,
            "client_cwd": self.client_cwd,
            "cloud": self.args.cloud,
            "cluster_name": self.args.cluster_name,
            "envs": sorted(self.args.envs.items()),
            "overrides": [repr(override) for override in self.args.overrides],
            "resources": repr(self.args.resources),
        }
        return json.dumps({name: _digest(value) for name, value in fields.items()}, sort_keys=True)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def differing(stored: str, new: str) -> list[str]:
    """The arguments whose digests differ between two requests."""
    try:
        old, current = json.loads(stored), json.loads(new)
    except ValueError:
        return ["the request"]
    return sorted(name for name in set(old) | set(current) if old.get(name) != current.get(name))


@dataclass(frozen=True)
class Accepted:
    """A new pending record: the request's arguments carry the id that was reserved."""

    args: CheckedArgs
    record: JobRecord


@dataclass(frozen=True)
class Existing:
    """The same name and request were accepted before: that job is the answer."""

    record: JobRecord


def owner() -> dict[str, object]:
    """This server process, as the owner of the launches it accepts."""
    return {"server_pid": os.getpid(), "server_started": process_start_time(os.getpid())}


def owner_key() -> str:
    """This server process, as the claimer of a restart (pid and its start time)."""
    info = owner()
    return f"{info['server_pid']}:{info['server_started']}"


def claimer_alive(claimed_by: str) -> bool:
    """Whether the server that claimed a restart still runs (its pid with that start)."""
    pid, _, started = claimed_by.partition(":")
    if not pid.isdigit():
        return False
    return str(process_start_time(int(pid))) == started


def named_job(registry: Registry, request: Request) -> JobRecord | None:
    """Blocking: the job a chosen name already names, if it was launched with the same
    request; a different request is an error naming what differs."""
    if request.args.id_generated:
        return None
    taken = registry.find(request.args.job_id)
    if taken is None:
        return None
    _same_request(taken, request.digest())
    return taken


def _same_request(taken: JobRecord, digest: str) -> None:
    if not taken.request_digest:
        raise JobIdTakenError(taken.job_id)  # launched before names were idempotency keys
    if taken.request_digest != digest:
        raise RequestMismatchError(taken.job_id, differing(taken.request_digest, digest))


def accept(
    registry: Registry, request: Request, state_dir: Path, owner_info: dict[str, object]
) -> Accepted | Existing:
    """Blocking: reserve the id (a pending record, its run dir, its owner), or find the job
    a repeated request names. A generated id that is taken is replaced by a fresh one."""
    digest = request.digest()
    args = request.args
    for attempt in range(MAX_ID_ATTEMPTS * 2):
        job_id = args.job_id if attempt == 0 or not args.id_generated else None
        job_id = job_id or generate_job_id(args.command)
        record = JobRecord(
            job_id=job_id,
            command=args.command,
            config_path=request.config_path,
            staged_config_path="",
            client_cwd=request.client_cwd,
            run_dir=str(RunDir.for_job(state_dir, job_id).path),
            submitted_at=time.time(),
            cloud=args.cloud or LOCAL_CLOUD,
            cluster_name=args.cluster_name,
            backend=PENDING_BACKEND,
            request_digest=digest,
        )
        try:
            registry.add(record)
        except JobIdTakenError:
            if args.id_generated:
                continue
            existing = registry.find(job_id)
            if existing is None:
                continue  # withdrawn meanwhile: try the name again
            _same_request(existing, digest)
            if existing.is_pending and abandoned(existing):
                if registry.delete_pending(job_id, existing.submitted_at):
                    RunDir.of(existing).remove(state_dir)
                continue  # take it over (or see who did)
            return Existing(existing)
        run = RunDir.of(record)
        try:
            run.create()
        except FileExistsError:  # a run dir without a record: never reuse it
            registry.delete([job_id])
            if args.id_generated:
                continue
            raise JobIdTakenError(job_id) from None
        run.write(ACCEPTED_FILE, owner_info)
        return Accepted(replace(args, job_id=job_id), record)
    raise JobIdTakenError(args.job_id)


def abandoned(record: JobRecord) -> bool:
    """Blocking: a pending launch whose owner died, with no cancel requested."""
    run = RunDir.of(record)
    return run.read_cancel() is None and not _owner_alive(run, record)


def _owner_alive(run: RunDir, record: JobRecord) -> bool:
    info = run.read(ACCEPTED_FILE)
    if info is None:  # its record is saved, its owner not yet (a moment later)
        return time.time() - record.submitted_at < OWNER_GRACE_S
    pid, started = info.get("server_pid"), info.get("server_started")
    if not isinstance(pid, int):
        return False
    return is_our_process(pid, started if isinstance(started, float) else None, "")


def observe_pending(record: JobRecord) -> Observation:
    """Blocking: the state of a launch that no engine has yet."""
    run = RunDir.of(record)
    cancel = run.read_cancel()
    if cancel is not None:
        return Observation(
            JobState.CANCELLED,
            "cancelled before start: cancel_job arrived while the launch was being checked; "
            "nothing was started",
            ended_at=cancel.get("requested_at") if isinstance(cancel, dict) else None,
        )
    if _owner_alive(run, record):
        return Observation(
            JobState.VALIDATING,
            "accepted: the config is being validated and pre-flighted; nothing runs yet",
        )
    return Observation(JobState.FAILED, NEVER_STARTED)


CancelRequest = Literal["first", "again", "no_run_dir"]


def request_cancel_pending(record: JobRecord) -> CancelRequest:
    """Blocking: ask a pending launch not to start (it looks after handing over): "first"
    when no cancel was asked for before, "again" when one was, "no_run_dir" when the
    launch has no run dir to hold the request (it was withdrawn).

    The acceptance saves the record a moment before it creates the run dir, so a cancel
    that finds the record waits briefly for the dir; a withdrawn launch removes both."""
    run = RunDir.of(record)
    deadline = time.monotonic() + RUN_DIR_WAIT_S
    while not run.path.is_dir():
        if time.monotonic() > deadline:
            return "no_run_dir"
        time.sleep(0.01)
    first = run.read_cancel() is None
    try:
        run.request_cancel(force=False)
    except FileNotFoundError:  # withdrawn (its run dir removed) while we wrote
        return "no_run_dir"
    return "first" if first else "again"


def withdraw(registry: Registry, record: JobRecord, state_dir: Path) -> bool:
    """Blocking: a launch that will not happen (blocked by its checks, or failed before the
    hand-over) leaves no job, unless a cancel came first (then it stays: cancelled)."""
    run = RunDir.of(record)
    if run.read_cancel() is not None:
        return False
    if registry.delete_pending(record.job_id, record.submitted_at):
        run.remove(state_dir)
        return True
    return False


def hand_over(
    registry: Registry, pending: JobRecord, full: JobRecord, config: ConfigDocument
) -> JobRecord | None:
    """Blocking: stage the config (the text that was read and checked, never the file
    read again) and give the record to its engine; the engine's record, or None when the
    launch must not start (a cancel was requested, or the record is no longer this
    launch's)."""
    run = RunDir.of(pending)
    run.stage(config.path, config.text)
    record = replace(full, submitted_at=pending.submitted_at, request_digest=pending.request_digest)
    if not registry.hand_over(record):
        return None
    return record if run.read_cancel() is None else None
