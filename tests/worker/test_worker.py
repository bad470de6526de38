"""The engine worker as a process: shared by one key, private, killable, restarted,
gone when idle; its errors and answers cross the socket without the engines' classes."""

from __future__ import annotations

import fractions
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError, OumiMcpError
from oumi_mcp_server.worker import wire
from oumi_mcp_server.worker.client import (
    LOG_ROTATE_BYTES,
    EngineCallError,
    WorkerClient,
    WorkerDiedError,
)
from oumi_mcp_server.worker.engines import ENGINES_ENV, EngineSet
from oumi_mcp_server.worker.host import WorkerHost, serve_in_thread
from oumi_mcp_server.worker.place import WorkerPlace
from tests.worker.fakes import HANG_FILE_ENV, REPO, SPEC, steady

CALL_S = 10.0
Serve = Callable[[EngineSet], WorkerClient]


def worker_env(hang_file: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    pythonpath = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update({ENGINES_ENV: SPEC, HANG_FILE_ENV: str(hang_file), "PYTHONPATH": pythonpath})
    env.update(extra)
    return env


def client_for(state_dir: Path, env: dict[str, str], idle_s: float = 30.0) -> WorkerClient:
    return WorkerClient(WorkerPlace.of(state_dir, env), idle_s=idle_s, environ=env)


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def hang_file(tmp_path: Path) -> Path:
    return tmp_path / "hang"


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[list[WorkerClient]]:
    """Clients a test makes; their workers are stopped at the end."""
    made: list[WorkerClient] = []
    yield made
    for client in made:
        pid = client.worker_pid()
        client.close()
        if pid is not None and psutil.pid_exists(pid):
            os.killpg(pid, signal.SIGKILL)


def test_servers_with_one_key_share_one_worker_and_another_environment_gets_its_own(
    tmp_path: Path, hang_file: Path, clients: list[WorkerClient]
) -> None:
    env = worker_env(hang_file)
    first, second = client_for(tmp_path, env), client_for(tmp_path, env)
    other = client_for(tmp_path, worker_env(hang_file, SKYPILOT_DEBUG="1"))
    clients += [first, second, other]
    assert first.call("launcher.clouds", deadline_s=CALL_S) == ["gcp"]
    assert second.call("launcher.clouds", deadline_s=CALL_S) == ["gcp"]
    assert first.worker_pid() == second.worker_pid() is not None
    assert first.describe()["clients"] == 2
    other.call("launcher.clouds", deadline_s=CALL_S)
    assert other.worker_pid() not in (None, first.worker_pid())
    assert other.place.key != first.place.key


def test_the_socket_and_the_folder_are_the_users_alone_and_a_big_log_is_rotated(
    tmp_path: Path, hang_file: Path, clients: list[WorkerClient]
) -> None:
    client = client_for(tmp_path, worker_env(hang_file))
    clients.append(client)
    client.place.make()
    client.place.log.write_bytes(b"x" * (LOG_ROTATE_BYTES + 1))
    client.call("launcher.clouds", deadline_s=CALL_S)
    assert stat.S_IMODE(client.place.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(client.place.root.stat().st_mode) == 0o700
    for written in (client.place.log, client.place.identity_file):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, written
    assert client.place.log.with_name("worker.log.1").stat().st_size > LOG_ROTATE_BYTES
    assert client.place.log.stat().st_size < 10_000


def test_a_call_that_hangs_errors_at_its_deadline_and_the_next_gets_a_new_worker(
    tmp_path: Path, hang_file: Path, clients: list[WorkerClient]
) -> None:
    client = client_for(tmp_path, worker_env(hang_file))
    clients.append(client)
    client.call("launcher.clouds", deadline_s=CALL_S)
    stuck = client.worker_pid()
    assert stuck is not None
    threads = threading.active_count()
    hang_file.write_text("status\n")
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError, match="did not answer within 1 s"):
        client.call("launcher.status", "gcp", None, "7", deadline_s=1.0)
    assert 1.0 <= time.monotonic() - started < 2.5
    assert gone(stuck), "the stuck worker was not killed"
    hang_file.unlink()
    started = time.monotonic()
    jobs = client.call("launcher.status", "gcp", None, "7", deadline_s=CALL_S)
    assert jobs[0].id == "7" and jobs[0].state == "running"
    assert time.monotonic() - started < 2.0 + 3.0  # 2 s, plus a worker's start on this machine
    assert client.worker_pid() not in (None, stuck)
    assert threading.active_count() <= threads
    last = client.describe()["last_restart"]
    assert last["pid"] == stuck and "did not answer within 1 s" in last["reason"]


def test_a_killed_worker_is_started_again_a_read_is_retried_and_a_write_is_not(
    tmp_path: Path, hang_file: Path, clients: list[WorkerClient]
) -> None:
    client = client_for(tmp_path, worker_env(hang_file))
    clients.append(client)
    client.call("launcher.clouds", deadline_s=CALL_S)
    first = client.worker_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert gone(first)
    assert client.call("launcher.clouds", deadline_s=CALL_S) == ["gcp"]  # no error at all
    second = client.worker_pid()
    assert second not in (None, first)

    hang_file.write_text("up\n")
    failure: list[BaseException] = []

    def launch() -> None:
        config = {"resources": {"cloud": "gcp"}}
        try:
            client.call("launcher.up", config, None, deadline_s=CALL_S)
        except BaseException as exc:
            failure.append(exc)

    caller = threading.Thread(target=launch)
    caller.start()
    time.sleep(0.5)  # the launch is in the worker
    assert second is not None
    os.kill(second, signal.SIGKILL)
    caller.join(CALL_S)
    hang_file.unlink()
    assert len(failure) == 1 and isinstance(failure[0], WorkerDiedError), failure
    assert "may have been submitted" in str(failure[0].next_step)  # type: ignore[attr-defined]
    assert "stopped during launcher.up" in str(failure[0])
    assert client.call("launcher.clouds", deadline_s=CALL_S) == ["gcp"]


def test_a_worker_leaves_once_no_server_has_used_it_for_its_idle_time(
    tmp_path: Path, hang_file: Path, clients: list[WorkerClient]
) -> None:
    client = client_for(tmp_path, worker_env(hang_file), idle_s=1.0)
    clients.append(client)
    client.call("launcher.clouds", deadline_s=CALL_S)
    pid = client.worker_pid()
    assert pid is not None
    time.sleep(2.0)
    assert psutil.pid_exists(pid), "it left while a server was connected"
    client.close()
    assert gone(pid, within_s=5.0)
    assert not client.place.socket.exists()


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[Callable[[EngineSet], WorkerClient]]:
    """A worker served by a thread of the test (stopped at the end)."""
    hosts: list[WorkerHost] = []

    def serve(engines: EngineSet) -> WorkerClient:
        place = WorkerPlace(root=tmp_path / "worker", key="test")
        place.make()
        hosts.append(serve_in_thread(engines, place.socket))
        return WorkerClient(place, idle_s=60.0, spawn=False)

    yield serve
    for host in hosts:
        host.stop()


class ForeignError(Exception):
    """Stands for an engine's own exception class (sky's, oumi's)."""


def raising(error: BaseException) -> EngineSet:
    def fail() -> list[str]:
        raise error

    engines = steady()
    engines.enabled_clouds = fail
    return engines


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LookupError("No cluster c1 on gcp."), LookupError),
        (ValueError("bad"), ValueError),
        (InvalidArgumentError("cloud", "unknown", next_step="Use gcp."), InvalidArgumentError),
    ],
)
def test_errors_of_the_standard_library_and_ours_cross_as_themselves(
    in_process: Serve, error: Exception, kind: type[Exception]
) -> None:
    client = in_process(raising(error))
    with pytest.raises(kind) as raised:
        client.call("enabled_clouds", deadline_s=CALL_S)
    assert str(error) in str(raised.value)
    if isinstance(error, OumiMcpError):
        assert raised.value.next_step == "Use gcp."  # type: ignore[attr-defined]


def test_an_engines_own_error_crosses_under_its_name_without_its_module(
    in_process: Serve,
) -> None:
    client = in_process(raising(ForeignError("quota exceeded")))
    with pytest.raises(EngineCallError, match="quota exceeded") as raised:
        client.call("enabled_clouds", deadline_s=CALL_S)
    assert type(raised.value).__name__ == "ForeignError"
    assert type(raised.value).engine_module == __name__


def test_an_answer_holding_a_foreign_class_is_refused_not_imported(in_process: Serve) -> None:
    engines = steady()
    engines.enabled_clouds = lambda: [fractions.Fraction(1, 3)]  # type: ignore[list-item,return-value]
    client = in_process(engines)
    with pytest.raises(wire.WireError, match=r"fractions\.Fraction may not cross"):
        client.call("enabled_clouds", deadline_s=CALL_S)
    assert client.call("launcher.clouds", deadline_s=CALL_S) == ["gcp"]


def test_an_unknown_operation_is_refused(in_process: Serve) -> None:
    client = in_process(steady())
    with pytest.raises(ValueError, match=r"unknown operation 'os\.system'"):
        client.call("os.system", "true", deadline_s=CALL_S)
