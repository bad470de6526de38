"""The SQLite registry: identity records, schema migrations, concurrent and crashing writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import NotFoundError
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import DB_NAME, FIND_MANY_CHUNK, JobIdTakenError, Registry
from oumi_mcp_server.jobs.registry_damage import RegistryDamagedError
from oumi_mcp_server.jobs.registry_schema import MIGRATIONS, SCHEMA_VERSION


def record(job_id: str, submitted_at: float | None = None, **extra: object) -> JobRecord:
    values: dict[str, object] = {
        "job_id": job_id,
        "command": "train",
        "config_path": "/p/train.yaml",
        "staged_config_path": f"/s/jobs/{job_id}/config.yaml",
        "client_cwd": "/p",
        "run_dir": f"/s/jobs/{job_id}",
        "submitted_at": time.time() if submitted_at is None else submitted_at,
        "argv": ("oumi", "train", "-c", "x"),
        "env_names": ("PYTHONUNBUFFERED",),
    }
    values.update(extra)
    return JobRecord(**values)  # type: ignore[arg-type]


def test_records_round_trip_identity_only(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    first = record("a", 1.0)
    registry.add(first)
    registry.add(record("b", 2.0))
    assert registry.get("a") == first
    assert [r.job_id for r in registry.all()] == ["b", "a"]
    registry.set_process("a", 1234, 99.5)
    updated = registry.get("a")
    assert (updated.pid, updated.process_start_time) == (1234, 99.5)
    assert "status" not in vars(updated) and "state" not in vars(updated), "identity only"
    with pytest.raises(JobIdTakenError, match="already exists"):
        registry.add(record("a"))
    with pytest.raises(NotFoundError, match="No job with id 'missing'") as missing:
        registry.get("missing")
    assert "list_jobs" in missing.value.next_step


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert registry.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    connection = sqlite3.connect(tmp_path / DB_NAME)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_an_old_schema_is_migrated_additively(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    for statement in MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    connection.execute(
        "INSERT INTO jobs (job_id, command, config_path, staged_config_path, client_cwd, "
        "run_dir, submitted_at) VALUES ('old', 'train', '/c', '/s', '/p', '/r', 5.0)"
    )
    connection.close()
    registry = Registry(tmp_path)
    assert registry.schema_version() == SCHEMA_VERSION
    old = registry.get("old")
    assert old.argv == () and old.env_names == () and old.cloud == "local"


def test_age_queries_and_delete(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    for index in range(5):
        registry.add(record(f"j{index}", float(index)))
    assert [r.job_id for r in registry.older_than(2.5)] == ["j0", "j1", "j2"]
    assert registry.delete(["j0", "j1", "nope"]) == 2
    assert registry.count() == 3


def test_find_many_reads_the_ids_that_exist_past_one_querys_limit(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    count = FIND_MANY_CHUNK * 2 + 7  # three queries
    for index in range(count):
        registry.add(record(f"j{index}", float(index)))
    asked = [f"j{index}" for index in range(0, count, 2)] + ["nope"]
    found = registry.find_many(asked)
    assert [r.job_id for r in found] == sorted(asked[:-1], key=lambda i: -int(i[1:]))
    assert registry.find_many([]) == []


def test_threads_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path)

    def write(worker: int) -> None:
        for index in range(25):
            registry.add(record(f"w{worker}_{index}"))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.count() == 200


HOLD_WRITE = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute(
    "INSERT INTO jobs (job_id, command, config_path, staged_config_path, client_cwd, run_dir, "
    "submitted_at) VALUES ('uncommitted', 'train', '/c', '/s', '/p', '/r', 1.0)"
)
print("holding", flush=True)
time.sleep(600)
"""

COMMIT_IN_LOOP = """
import sys, time
sys.path[:0] = [sys.argv[2]]
from pathlib import Path
from oumi_mcp_server.jobs.registry import Registry
from tests.jobs.test_registry import record
registry = Registry(Path(sys.argv[1]))
index = 0
while True:
    registry.add(record(f"loop{index}"))
    print(f"loop{index}", flush=True)
    index += 1
"""


def test_a_writer_killed_mid_transaction_loses_nothing_committed(tmp_path: Path) -> None:
    registry = Registry(tmp_path, busy_timeout_s=20)
    for index in range(10):
        registry.add(record(f"committed{index}"))
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE, str(tmp_path / DB_NAME)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "holding"
    # The writer holds the write lock: readers still see every committed record.
    assert registry.count() == 10
    writer.kill()
    writer.wait()
    writer.stdout.close()
    assert {r.job_id for r in registry.all()} == {f"committed{i}" for i in range(10)}
    registry.add(record("after"))  # the lock died with the writer
    assert registry.find("uncommitted") is None and registry.count() == 11


def test_a_writer_killed_between_commits_keeps_every_commit(tmp_path: Path) -> None:
    Registry(tmp_path).count()  # create the schema first
    root = str(Path(__file__).resolve().parents[2])
    writer = subprocess.Popen(
        [sys.executable, "-c", COMMIT_IN_LOOP, str(tmp_path), root],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acknowledged = [writer.stdout.readline().strip() for _ in range(30)]
    writer.kill()
    writer.wait()
    acknowledged += [line.strip() for line in writer.stdout if line.strip()]
    writer.stdout.close()
    stored = {r.job_id for r in Registry(tmp_path).all()}
    assert set(acknowledged) <= stored
    assert stored - set(acknowledged) <= {f"loop{len(acknowledged)}"}  # at most the one in flight


def _damage(state_dir: Path, how: str) -> Path:
    path = state_dir / DB_NAME
    state_dir.mkdir(parents=True, exist_ok=True)
    if how == "not a database":
        path.write_bytes(b"these bytes are no SQLite database, whatever the name says\n" * 50)
    elif how == "truncated":
        registry = Registry(state_dir)
        for number in range(200):
            registry.add(record(f"job-{number}", config_path="/p/" + "c" * 200))
        for companion in ("-wal", "-shm"):
            path.with_name(path.name + companion).unlink(missing_ok=True)
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\0" * 50 + data[150 : len(data) // 3])
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize("how", ["not a database", "truncated", "a folder"])
def test_a_damaged_registry_is_named_with_what_to_do_and_moving_it_aside_recovers(
    tmp_path: Path, how: str
) -> None:
    state_dir = tmp_path / "state"
    path = _damage(state_dir, how)
    registry = Registry(state_dir)
    with pytest.raises(RegistryDamagedError) as raised:
        registry.all()
    message = raised.value.describe()
    assert str(path) in message and "damaged" in message, message
    assert f"mv {path} {path}.damaged" in message, message
    with pytest.raises(RegistryDamagedError):
        registry.add(record("new-job"))

    path.rename(path.with_name(DB_NAME + ".damaged"))
    for companion in ("-wal", "-shm"):
        path.with_name(path.name + companion).unlink(missing_ok=True)
    registry.add(record("new-job"))
    assert [found.job_id for found in registry.all()] == ["new-job"]
