"""The registry's schema: its migrations, applied in order (``PRAGMA user_version``)."""

from __future__ import annotations

import sqlite3

# Migration N brings the schema from version N to N + 1. Only ever append.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE IF NOT EXISTS jobs (
            job_id TEXT PRIMARY KEY,
            command TEXT NOT NULL,
            config_path TEXT NOT NULL,
            staged_config_path TEXT NOT NULL,
            client_cwd TEXT NOT NULL,
            run_dir TEXT NOT NULL,
            submitted_at REAL NOT NULL,
            cloud TEXT NOT NULL DEFAULT 'local',
            cluster_name TEXT NOT NULL DEFAULT '',
            launcher_job_id TEXT NOT NULL DEFAULT '',
            pid INTEGER,
            process_start_time REAL,
            marker TEXT NOT NULL DEFAULT '',
            stdout_path TEXT NOT NULL DEFAULT '',
            stderr_path TEXT NOT NULL DEFAULT '',
            model_name TEXT NOT NULL DEFAULT '',
            output_dir TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX IF NOT EXISTS jobs_submitted_at ON jobs (submitted_at)",
    ),
    (
        "ALTER TABLE jobs ADD COLUMN argv TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE jobs ADD COLUMN env_names TEXT NOT NULL DEFAULT '[]'",
    ),
    ("ALTER TABLE jobs ADD COLUMN backend TEXT NOT NULL DEFAULT 'process'",),
    ("ALTER TABLE jobs ADD COLUMN request_digest TEXT NOT NULL DEFAULT ''",),
    (
        # Run until done: the attempt a record's identity belongs to, the restart policy
        # of a run, and its attempts (jobs/policies/restarts.py).
        "ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        """
        CREATE TABLE IF NOT EXISTS run_policies (
            job_id TEXT PRIMARY KEY,
            policy TEXT NOT NULL,
            stopped INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS attempts (
            job_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            engine_job_id TEXT NOT NULL DEFAULT '',
            started_at REAL,
            resumed_from TEXT NOT NULL DEFAULT '',
            ended_at REAL,
            end_state TEXT NOT NULL DEFAULT '',
            cause TEXT NOT NULL DEFAULT '',
            decision TEXT NOT NULL DEFAULT '',
            restart_at REAL,
            claimed_by TEXT NOT NULL DEFAULT '',
            relaunched INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (job_id, attempt)
        )
        """,
    ),
    (
        # Guards (jobs/policies/guards.py): a run's guards, its price, whether its cluster
        # is one the server launched for it, and what stopped it.
        "ALTER TABLE run_policies ADD COLUMN guards TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE run_policies ADD COLUMN hourly_usd REAL",
        "ALTER TABLE run_policies ADD COLUMN own_cluster INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE run_policies ADD COLUMN stopped_by TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE run_policies ADD COLUMN stop_reason TEXT NOT NULL DEFAULT ''",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the schema up to ``SCHEMA_VERSION``; safe when several processes race."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                connection.execute(statement)
        if version < SCHEMA_VERSION:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return version
