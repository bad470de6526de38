"""The registry's records of runs with restarts: their policies and attempts (SQL on
the run_policies and attempts tables; the one transaction that also changes a job's
record, ``Registry.start_attempt``, is in registry.py). Blocking, like the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oumi_mcp_server.jobs.policies.restarts import Attempt
from oumi_mcp_server.jobs.registry import Registry


def set_policy(registry: Registry, job_id: str, policy: str) -> None:
    with registry.connect() as connection:
        connection.execute(
            "INSERT OR REPLACE INTO run_policies (job_id, policy) VALUES (?, ?)",
            (job_id, policy),
        )


def policies(registry: Registry) -> dict[str, tuple[str, bool]]:
    """Every run policy by job id: (its JSON, stopped by a cancel)."""
    with registry.connect() as connection:
        rows = connection.execute(
            "SELECT job_id, policy, stopped FROM run_policies WHERE policy != ''"
        ).fetchall()
    return {str(job_id): (str(policy), bool(stopped)) for job_id, policy, stopped in rows}


def stop_restarts(registry: Registry, job_id: str) -> bool:
    """A cancel: no more restarts of this run. True if it had a policy."""
    with registry.connect() as connection:
        return (
            connection.execute(
                "UPDATE run_policies SET stopped = 1 WHERE job_id = ?", (job_id,)
            ).rowcount
            == 1
        )


def attempts(registry: Registry, job_id: str) -> list[Attempt]:
    with registry.connect() as connection:
        rows = connection.execute(
            f"SELECT {', '.join(_ATTEMPT_COLUMNS)} FROM attempts WHERE job_id = ? ORDER BY attempt",
            (job_id,),
        ).fetchall()
    return [_attempt(row) for row in rows]


def add_attempt(registry: Registry, job_id: str, attempt: Attempt) -> None:
    """The first attempt's row (later ones are added by ``start_attempt``)."""
    with registry.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO attempts (job_id, attempt, engine_job_id, started_at, "
            "resumed_from) VALUES (?, ?, ?, ?, ?)",
            (job_id, attempt.attempt, attempt.engine_job_id, attempt.started_at, ""),
        )


def claim_end(registry: Registry, job_id: str, ended: Attempt, owner: str) -> bool:
    """Record an attempt's end and the decision taken, if no server did yet (compare and
    set on an empty decision): True for the one server that wins."""
    with registry.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO attempts (job_id, attempt, engine_job_id, started_at) "
            "VALUES (?, ?, ?, ?)",
            (job_id, ended.attempt, ended.engine_job_id, ended.started_at),
        )
        return (
            connection.execute(
                "UPDATE attempts SET ended_at = ?, end_state = ?, cause = ?, decision = ?, "
                "restart_at = ?, claimed_by = ?, engine_job_id = ? WHERE job_id = ? "
                "AND attempt = ? AND decision = ''",
                (
                    ended.ended_at,
                    ended.end_state,
                    ended.cause,
                    ended.decision,
                    ended.restart_at,
                    owner,
                    ended.engine_job_id,
                    job_id,
                    ended.attempt,
                ),
            ).rowcount
            == 1
        )


def take_over_restart(
    registry: Registry, job_id: str, attempt: int, previous: str, owner: str
) -> bool:
    """Take a pending restart whose claimer died (compare and set on the claimer)."""
    with registry.connect() as connection:
        return (
            connection.execute(
                "UPDATE attempts SET claimed_by = ? WHERE job_id = ? AND attempt = ? "
                "AND claimed_by = ? AND relaunched = 0",
                (owner, job_id, attempt, previous),
            ).rowcount
            == 1
        )


@dataclass(frozen=True)
class GuardRow:
    """A job's guards as the registry keeps them."""

    guards: str  # JSON
    hourly_usd: float | None  # the price of an hour of the whole job (all nodes)
    own_cluster: bool  # the server launched the cluster for this job
    stopped_by: str
    stop_reason: str


def set_guards(
    registry: Registry, job_id: str, guards: str, hourly_usd: float | None, own_cluster: bool
) -> None:
    with registry.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO run_policies (job_id, policy) VALUES (?, '')", (job_id,)
        )
        connection.execute(
            "UPDATE run_policies SET guards = ?, hourly_usd = ?, own_cluster = ? WHERE job_id = ?",
            (guards, hourly_usd, int(own_cluster), job_id),
        )


def mark_own_cluster(registry: Registry, job_id: str) -> None:
    """The launch of this job created its cluster (no cluster_name was given)."""
    with registry.connect() as connection:
        connection.execute(
            "INSERT OR IGNORE INTO run_policies (job_id, policy) VALUES (?, '')", (job_id,)
        )
        connection.execute("UPDATE run_policies SET own_cluster = 1 WHERE job_id = ?", (job_id,))


def own_clusters(registry: Registry) -> set[str]:
    """The job ids whose launch created their cluster."""
    with registry.connect() as connection:
        rows = connection.execute(
            "SELECT job_id FROM run_policies WHERE own_cluster = 1"
        ).fetchall()
    return {str(job_id) for (job_id,) in rows}


def guarded(registry: Registry, job_ids: set[str] | None = None) -> dict[str, GuardRow]:
    """Every job with guards or a price (or those of ``job_ids``), by job id."""
    with registry.connect() as connection:
        rows = connection.execute(
            "SELECT job_id, guards, hourly_usd, own_cluster, stopped_by, stop_reason "
            "FROM run_policies WHERE guards != ''"
        ).fetchall()
    return {
        str(job_id): GuardRow(str(guards), hourly, bool(own), str(by), str(reason))
        for job_id, guards, hourly, own, by, reason in rows
        if job_ids is None or job_id in job_ids
    }


def record_trip(registry: Registry, job_id: str, stopped_by: str, reason: str) -> bool:
    """A guard tripped: record it (and stop restarts) unless a server already did (compare
    and set on an empty stopped_by): True for the one server that acts."""
    with registry.connect() as connection:
        return (
            connection.execute(
                "UPDATE run_policies SET stopped_by = ?, stop_reason = ?, stopped = 1 "
                "WHERE job_id = ? AND stopped_by = ''",
                (stopped_by, reason, job_id),
            ).rowcount
            == 1
        )


_ATTEMPT_COLUMNS = (
    "attempt",
    "engine_job_id",
    "started_at",
    "resumed_from",
    "ended_at",
    "end_state",
    "cause",
    "decision",
    "restart_at",
    "claimed_by",
    "relaunched",
)


def _attempt(row: tuple[object, ...]) -> Attempt:
    values: dict[str, Any] = dict(zip(_ATTEMPT_COLUMNS, row, strict=True))
    values["relaunched"] = bool(values["relaunched"])
    return Attempt(**values)
