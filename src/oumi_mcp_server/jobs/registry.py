"""The job registry: identity records in SQLite (WAL), shared by every server process.

One connection per operation (with a busy timeout), so several servers (one
per MCP client) can use the same file at once. Every write is one
transaction: a writer killed halfway loses its own uncommitted write and
nothing else. The schema has a version (``PRAGMA user_version``); migrations
are additive and applied in order. This is the only module with SQL on the jobs
table (the doctor's read-only look included). All methods block: call them through
``run_blocking``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.policies.restarts import Attempt
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry_damage import RegistryDamagedError, damage
from oumi_mcp_server.jobs.registry_schema import migrate
from oumi_mcp_server.private import make_private, open_private, private_dir
from oumi_mcp_server.settings import REGISTRY_TIMEOUT_S

T = TypeVar("T")

DB_NAME = "jobs.db"
BUSY_TIMEOUT_S = 10.0
FIND_MANY_CHUNK = 500  # ids per query (SQLite limits the variables of one statement)

_COLUMNS = (
    "job_id",
    "command",
    "config_path",
    "staged_config_path",
    "client_cwd",
    "run_dir",
    "submitted_at",
    "cloud",
    "cluster_name",
    "launcher_job_id",
    "pid",
    "process_start_time",
    "marker",
    "stdout_path",
    "stderr_path",
    "model_name",
    "output_dir",
    "argv",
    "env_names",
    "backend",
    "request_digest",
    "attempt",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM jobs"


class JobIdTakenError(InvalidArgumentError):
    """A job with this id already exists."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            "job_name",
            f"a job named '{job_id}' already exists.",
            next_step="Choose another job_name, or leave it empty for a generated id.",
        )
        self.job_id = job_id


class Registry:
    def __init__(self, state_dir: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = state_dir / DB_NAME
        self._busy_timeout_s = busy_timeout_s
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self._ensure_schema()
            connection = self._open()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._damaged(exc) from exc
        try:
            yield connection
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        finally:
            connection.close()

    def connect(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection for one operation (registry_runs.py's SQL goes through it)."""
        return self._connect()

    def _damaged(self, exc: sqlite3.DatabaseError | OSError) -> Exception:
        """The error to raise for a failure of the registry file itself: a damaged file
        is named with what to do; anything else (a busy lock) is raised as it is."""
        reason = damage(exc, self.path)
        if reason is None:
            return exc
        self._ready = False  # once the file is moved aside, the next call starts afresh
        return RegistryDamagedError(self.path, reason)

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        connection.execute("PRAGMA synchronous = FULL")
        return connection

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            private_dir(self.path.parent)
            os.close(open_private(self.path, os.O_RDWR))  # SQLite's WAL files inherit 0600
            connection = self._open()
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                migrate(connection)
            finally:
                connection.close()
            for companion in ("-wal", "-shm"):
                make_private(self.path.with_name(self.path.name + companion))
            self._ready = True

    def schema_version(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])

    def add(self, record: JobRecord) -> None:
        """Insert a new record; a taken job id raises ``JobIdTakenError``."""
        with self._connect() as connection:
            try:
                connection.execute(
                    f"INSERT INTO jobs ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                    _row(record),
                )
            except sqlite3.IntegrityError as exc:
                raise JobIdTakenError(record.job_id) from exc

    def hand_over(self, record: JobRecord) -> bool:
        """Replace a pending record by its engine's full record (same id); False if it is no
        longer pending (withdrawn, or taken over by a retry)."""
        names = [name for name in _COLUMNS if name != "job_id"]
        values = dict(zip(_COLUMNS, _row(record), strict=True))
        with self._connect() as connection:
            changed = connection.execute(
                f"UPDATE jobs SET {', '.join(f'{name} = ?' for name in names)} "
                "WHERE job_id = ? AND backend = 'pending' AND submitted_at = ?",
                (*(values[name] for name in names), record.job_id, record.submitted_at),
            ).rowcount
        return changed == 1

    def delete_pending(self, job_id: str, submitted_at: float) -> bool:
        """Delete a pending record, only if it is still this acceptance (compare and delete)."""
        with self._connect() as connection:
            deleted = connection.execute(
                "DELETE FROM jobs WHERE job_id = ? AND backend = 'pending' AND submitted_at = ?",
                (job_id, submitted_at),
            ).rowcount
        return deleted == 1

    def set_process(self, job_id: str, pid: int, start_time: float) -> None:
        with self._connect() as connection:
            connection.execute(
                "UPDATE jobs SET pid = ?, process_start_time = ? WHERE job_id = ?",
                (pid, start_time, job_id),
            )

    def set_launcher_identity(self, job_id: str, cluster_name: str, launcher_job_id: str) -> None:
        with self._connect() as connection:
            connection.execute(
                "UPDATE jobs SET cluster_name = ?, launcher_job_id = ? WHERE job_id = ?",
                (cluster_name, launcher_job_id, job_id),
            )

    def find_launched(
        self, cloud: str, cluster_name: str, launcher_job_id: str
    ) -> JobRecord | None:
        """Our record of a launcher job, if we launched it."""
        with self._connect() as connection:
            row = connection.execute(
                f"{_SELECT} WHERE backend = 'launcher' AND cloud = ? AND cluster_name = ? "
                "AND launcher_job_id = ? ORDER BY submitted_at DESC",
                (cloud, cluster_name, launcher_job_id),
            ).fetchone()
        return _record(row) if row else None

    def get(self, job_id: str) -> JobRecord:
        found = self.find(job_id)
        if found is None:
            raise NotFoundError(
                f"No job with id '{job_id}'.",
                next_step="Call list_jobs to see the job ids this server knows.",
            )
        return found

    def find(self, job_id: str) -> JobRecord | None:
        with self._connect() as connection:
            row = connection.execute(f"{_SELECT} WHERE job_id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def find_many(self, job_ids: Collection[str]) -> list[JobRecord]:
        """The records of those ids that exist (a query per 500 ids), newest first."""
        ids = list(job_ids)
        rows = []
        with self._connect() as connection:
            for start in range(0, len(ids), FIND_MANY_CHUNK):
                chunk = ids[start : start + FIND_MANY_CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = f"{_SELECT} WHERE job_id IN ({marks})"
                rows += connection.execute(query, chunk).fetchall()
        records = [_record(row) for row in rows]
        return sorted(records, key=lambda record: record.submitted_at, reverse=True)

    def all(self, *, backend: str | None = None) -> list[JobRecord]:
        """Every record (of one backend, if given), newest first."""
        query, params = f"{_SELECT} ORDER BY submitted_at DESC", tuple[str, ...]()
        if backend is not None:
            query, params = f"{_SELECT} WHERE backend = ? ORDER BY submitted_at DESC", (backend,)
        with self._connect() as connection:
            rows = connection.execute(query, params).fetchall()
        return [_record(row) for row in rows]

    def older_than(self, cutoff: float) -> list[JobRecord]:
        with self._connect() as connection:
            rows = connection.execute(
                f"{_SELECT} WHERE submitted_at < ? ORDER BY submitted_at", (cutoff,)
            ).fetchall()
        return [_record(row) for row in rows]

    def delete(self, job_ids: list[str]) -> int:
        if not job_ids:
            return 0
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                deleted = sum(
                    connection.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount
                    for job_id in job_ids
                )
                for job_id in job_ids:
                    connection.execute("DELETE FROM run_policies WHERE job_id = ?", (job_id,))
                    connection.execute("DELETE FROM attempts WHERE job_id = ?", (job_id,))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return deleted

    # -- runs with restarts: the rest of their SQL is in registry_runs.py ----------------

    def start_attempt(self, record: JobRecord, started: Attempt) -> bool:
        """One transaction: the record becomes the new attempt's identity, its row is added
        and the previous one is marked relaunched; False (nothing changed) unless the
        record still holds the previous attempt."""
        names = [name for name in _COLUMNS if name != "job_id"]
        values = dict(zip(_COLUMNS, _row(record), strict=True))
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                changed = connection.execute(
                    f"UPDATE jobs SET {', '.join(f'{name} = ?' for name in names)} "
                    "WHERE job_id = ? AND attempt = ?",
                    (*(values[name] for name in names), record.job_id, record.attempt - 1),
                ).rowcount
                if changed == 1:
                    connection.execute(
                        "UPDATE attempts SET relaunched = 1 WHERE job_id = ? AND attempt = ?",
                        (record.job_id, record.attempt - 1),
                    )
                    connection.execute(
                        "INSERT OR REPLACE INTO attempts (job_id, attempt, engine_job_id, "
                        "started_at, resumed_from) VALUES (?, ?, ?, ?, ?)",
                        (
                            record.job_id,
                            started.attempt,
                            started.engine_job_id,
                            started.started_at,
                            started.resumed_from,
                        ),
                    )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return changed == 1

    def count(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


IdentityRow = tuple[str, str, int | None, float | None, str]  # backend, cloud, pid, start, marker


def read_only_identities(path: Path) -> tuple[list[IdentityRow], int]:
    """Blocking: (backend, cloud, pid, process start time, marker) of every record and the
    schema version, from a registry opened read-only: never created, migrated or written
    (what the doctor reads; a registry an older or newer server wrote reads as it is)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        schema = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if schema == 0:
            return [], schema
        rows = connection.execute(
            "SELECT backend, cloud, pid, process_start_time, marker FROM jobs"
        ).fetchall()
    finally:
        connection.close()
    return rows, schema


def _row(record: JobRecord) -> tuple[object, ...]:
    values: dict[str, object] = {
        name: getattr(record, name) for name in _COLUMNS if name not in ("argv", "env_names")
    }
    values["argv"] = json.dumps(list(record.argv))
    values["env_names"] = json.dumps(list(record.env_names))
    return tuple(values[name] for name in _COLUMNS)


def _record(row: tuple[object, ...]) -> JobRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["argv"] = tuple(json.loads(str(values["argv"])))
    values["env_names"] = tuple(json.loads(str(values["env_names"])))
    return JobRecord(**values)  # type: ignore[arg-type]


async def call(fn: Callable[[], T]) -> T:
    """Run a registry operation (or any short file work) off the event loop."""
    return await run_blocking(
        fn,
        timeout_s=REGISTRY_TIMEOUT_S,
        what="The job registry",
        next_step="Another server process may hold the registry; try again.",
    )
