"""The worker process: serves the engine operations to MCP servers over its unix socket.

One thread per connection. A server keeps one connection open while it lives (its
presence: the worker's client count) and opens one per call. The worker exits once
it has had no client, no call and no job of its own (oumi's local cloud runs jobs
inside the process that launched them) for ``idle_s``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from oumi_mcp_server.masking import MaskSecretsInLogs
from oumi_mcp_server.private import write_private_text
from oumi_mcp_server.worker import wire
from oumi_mcp_server.worker.engines import ENGINES_ENV, EngineSet, engine_set_from_spec
from oumi_mcp_server.worker.operations import OPERATIONS

logger = logging.getLogger(__name__)

HELLO = "hello"
STATS = "stats"
IDLE_POLL_S = 0.5
LIVE_JOBS_POLL_S = 10.0


def resident_mb() -> float:
    """This process's resident memory (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def describe_error(exc: BaseException) -> tuple[str, str, str, str]:
    """(module, class name, message, next step): what crosses the socket for an error."""
    kind = type(exc)
    return (kind.__module__, kind.__qualname__, str(exc), str(getattr(exc, "next_step", "")))


class WorkerHost:
    def __init__(self, engines: EngineSet, socket_path: Path, *, idle_s: float) -> None:
        self._engines = engines
        self._socket_path = socket_path
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._clients = 0
        self._in_flight = 0
        self._calls = 0
        self._last_activity = time.monotonic()
        self._started_at = time.time()
        self._live_jobs = 0
        self._live_jobs_read = 0.0
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None

    # -- lifecycle -----------------------------------------------------------------

    def bind(self) -> None:
        """Listen on the socket, readable and writable by this user only."""
        path = self._socket_path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a dead worker's; the spawner holds the lock, no live one uses it
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(path))
        finally:
            os.umask(old_umask)
        path.chmod(0o600)
        listener.listen(64)
        listener.settimeout(IDLE_POLL_S)
        self._listener = listener

    def serve_forever(self) -> None:
        assert self._listener is not None, "bind() first"
        try:
            while not self._stopped.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    if self._idle_due():
                        logger.info("No client for %.0f s: the worker exits.", self._idle_s)
                        break
                    continue
                except OSError:
                    break  # the listener was closed by stop()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        finally:
            self.stop()

    def stop(self) -> None:
        if self._stopped.is_set() and self._listener is None:
            return
        self._stopped.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
        with contextlib.suppress(Exception):
            self._engines.close()

    def _idle_due(self) -> bool:
        with self._lock:
            quiet = self._clients == 0 and self._in_flight == 0
            idle_for = time.monotonic() - self._last_activity
        return quiet and idle_for >= self._idle_s and self._live_job_count() == 0

    def _live_job_count(self) -> int:
        now = time.monotonic()
        if now - self._live_jobs_read >= LIVE_JOBS_POLL_S:
            self._live_jobs_read = now
            try:
                self._live_jobs = self._engines.live_jobs()
            except Exception as exc:  # a launcher that cannot say: assume none
                logger.warning("Could not count the worker's own jobs: %s", exc)
                self._live_jobs = 0
        return self._live_jobs

    # -- connections ---------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if wire.peer_uid(conn) != os.getuid():
                return
            try:
                while True:
                    request = wire.receive(conn)
                    op, args, kwargs = request
                    if op == HELLO:
                        self._keep_presence(conn)
                        return
                    wire.send(conn, self._answer(op, args, kwargs))
            except (EOFError, ConnectionError, wire.WireError):
                return

    def _keep_presence(self, conn: socket.socket) -> None:
        with self._lock:
            self._clients += 1
        try:
            wire.send(conn, ("ok", os.getpid()))
            while conn.recv(1024):
                pass
        except OSError:
            pass
        finally:
            with self._lock:
                self._clients -= 1
                self._last_activity = time.monotonic()

    def _answer(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
        with self._lock:
            self._in_flight += 1
            self._calls += 1
        try:
            if op == STATS:
                return ("ok", self.stats())
            if op not in OPERATIONS:
                return ("error", ("builtins", "ValueError", f"unknown operation {op!r}", ""))
            return ("ok", self._engines.operation(op)(*args, **kwargs))
        except BaseException as exc:  # every failure goes back to the caller
            return ("error", describe_error(exc))
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_activity = time.monotonic()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            clients, in_flight, calls = self._clients, self._in_flight, self._calls
        return {
            "pid": os.getpid(),
            "rss_mb": resident_mb(),
            "clients": clients,
            "calls": calls,
            "in_flight": in_flight - 1,  # not counting this one
            "started_at": self._started_at,
            "uptime_s": round(time.time() - self._started_at, 1),
            "idle_exit_s": self._idle_s,
        }


def serve_in_thread(engines: EngineSet, socket_path: Path) -> WorkerHost:
    """A worker inside this process (tests): the real socket and wire, no process."""
    host = WorkerHost(engines, socket_path, idle_s=float("inf"))
    host.bind()
    threading.Thread(target=host.serve_forever, name="engine-worker", daemon=True).start()
    return host


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m oumi_mcp_server.worker")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--identity", required=True, type=Path)
    parser.add_argument("--idle-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)  # the worker's log file
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecretsInLogs())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    engines = engine_set_from_spec(os.environ.get(ENGINES_ENV, ""))
    host = WorkerHost(engines, args.socket, idle_s=args.idle_s)
    host.bind()
    identity = {"pid": os.getpid(), "started_at": time.time(), "socket": str(args.socket)}
    write_private_text(args.identity, json.dumps(identity))
    signal.signal(signal.SIGTERM, lambda *_: host.stop())
    logger.info("Engine worker %d serving on %s", os.getpid(), args.socket)
    try:
        host.serve_forever()
    finally:
        with contextlib.suppress(FileNotFoundError):
            if json.loads(args.identity.read_text()).get("pid") == os.getpid():
                args.identity.unlink()
        logger.info("Engine worker %d stopped.", os.getpid())
        logging.shutdown()
        # Skip the interpreter's shutdown: oumi and SkyPilot leave threads and exit hooks
        # that can hold a process that has nothing left to do.
        os._exit(0)
