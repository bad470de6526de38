"""The server's side of the engine worker: reach it, start it, replace it.

Every call has a deadline. A call past it gets ``EngineTimeoutError`` and the
worker, stuck in that call, is replaced: its process group is killed and the next
call starts a new one. A worker that died under a call is started again; a read
is retried once on the new worker, a write is not (the error says what is unknown
and how to check). No thread of the server ever waits on oumi itself: it waits on
a socket, with a timeout.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import EngineTimeoutError, EngineUnavailableError, OumiMcpError
from oumi_mcp_server.private import open_private, private_dir, write_private_text
from oumi_mcp_server.worker import wire
from oumi_mcp_server.worker.operations import READS, WRITE_CHECKS
from oumi_mcp_server.worker.place import WorkerPlace

logger = logging.getLogger(__name__)

DIED = "killed, out of memory or crashed"
START_TIMEOUT_S = 60.0
START_POLL_S = 0.02
LOG_ROTATE_BYTES = 5 * 1024 * 1024
WORKER_MODULE = "oumi_mcp_server.worker"


class EngineCallError(RuntimeError):
    """An engine's own error, raised in the worker (its class is named after the original)."""

    engine_module = ""


class WorkerDiedError(EngineUnavailableError):
    """The worker ended while it held a call."""


_ENGINE_ERRORS: dict[tuple[str, str], type[EngineCallError]] = {}


def rebuild_error(module: str, name: str, message: str, next_step: str) -> Exception:
    """The worker's error, as an exception of this process that never imports the engine."""
    if module == "builtins":
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, Exception):
            with contextlib.suppress(Exception):
                return found(message)
    if module.startswith("oumi_mcp_server."):
        with contextlib.suppress(Exception):
            ours = getattr(importlib.import_module(module), name)
            if isinstance(ours, type) and issubclass(ours, OumiMcpError):
                error = ours.__new__(ours)
                OumiMcpError.__init__(error, message, next_step=next_step)
                return error
            if isinstance(ours, type) and issubclass(ours, Exception):
                return ours(message)
    key = (module, name)
    if key not in _ENGINE_ERRORS:
        _ENGINE_ERRORS[key] = type(name, (EngineCallError,), {"engine_module": module})
    return _ENGINE_ERRORS[key](message)


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return WORKER_MODULE in cmdline


class WorkerClient:
    """One server's handle on the shared worker of its key."""

    def __init__(
        self,
        place: WorkerPlace,
        *,
        idle_s: float,
        start_timeout_s: float = START_TIMEOUT_S,
        spawn: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``spawn``: start the worker as a process when none answers (False: a worker
        served in this process by a test); ``environ``: the worker's environment (the one
        its key was made of; this process's by default)."""
        self.place = place
        self._environ = dict(os.environ if environ is None else environ)
        self._idle_s = idle_s
        self._start_timeout_s = start_timeout_s
        self._spawn = spawn
        self._lock = threading.Lock()
        self._presence: socket.socket | None = None
        self._presence_lock = threading.Lock()
        self._worker_pid: int | None = None
        self._closed = False

    def worker_pid(self) -> int | None:
        """The pid of the worker this server last reached."""
        return self._worker_pid

    # -- calls ---------------------------------------------------------------------

    def call(self, op: str, *args: Any, deadline_s: float, **kwargs: Any) -> Any:
        try:
            return self._call_once(op, args, kwargs, deadline_s)
        except WorkerDiedError as died:
            if op not in READS:
                check = WRITE_CHECKS.get(op, "check the job's state")
                raise WorkerDiedError(
                    f"The engine worker stopped during {op}: {died.message}",
                    next_step=f"It is started again on the next call; {check}.",
                ) from None
        logger.warning("The engine worker stopped during %s; asking a new one once.", op)
        return self._call_once(op, args, kwargs, deadline_s)

    def _call_once(
        self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], deadline_s: float
    ) -> Any:
        sock = self._connect()
        try:
            sock.settimeout(deadline_s)
            wire.send(sock, (op, args, kwargs))
            status, value = wire.receive(sock)
        except TimeoutError:
            reason = f"{op} did not answer within {deadline_s:g} s"
            self.replace(reason)
            raise EngineTimeoutError(
                f"The engine did not answer within {deadline_s:g} s ({op}); the engine "
                "worker stuck in it was stopped and a new one starts on the next call.",
                next_step="Try again; if it keeps timing out, doctor shows the worker and "
                f"its log ({self.place.log}).",
            ) from None
        except (EOFError, ConnectionError):
            self._record_restart(f"it stopped during {op} ({DIED})", self._identity_pid())
            raise WorkerDiedError(f"the worker process ended ({DIED})") from None
        finally:
            sock.close()
        if status == "error":
            raise rebuild_error(*value)
        return value

    # -- reaching and starting the worker ------------------------------------------

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.place.socket))
        except OSError:
            sock.close()
            raise
        return sock

    def _connect(self) -> socket.socket:
        if self._closed:
            raise EngineUnavailableError("The server is shutting down.")
        try:
            sock = self._open()
        except (FileNotFoundError, ConnectionRefusedError):
            sock = self._start()
        self._keep_presence()
        return sock

    def _start(self) -> socket.socket:
        """Start the worker unless another thread or server did meanwhile."""
        with self._lock:
            self.place.make()
            with self.place.spawn_lock.open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                    return self._open()
                if not self._spawn:
                    raise EngineUnavailableError(
                        f"No engine worker answers on {self.place.socket}."
                    )
                return self._spawn_worker()

    def _spawn_worker(self) -> socket.socket:
        place = self.place
        gone = self._identity_pid()
        if gone is not None:  # a worker that exits on its own removes its identity first
            self._record_restart(f"it had ended unexpectedly ({DIED})", gone)
        with contextlib.suppress(FileNotFoundError):
            place.socket.unlink()
        command = [
            sys.executable,
            "-m",
            WORKER_MODULE,
            "--socket",
            str(place.socket),
            "--identity",
            str(place.identity_file),
            "--idle-s",
            str(self._idle_s),
        ]
        _rotate(place.log)
        with os.fdopen(open_private(place.log, os.O_WRONLY | os.O_APPEND), "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=place.root,
                start_new_session=True,  # its own process group: killed as a whole
                close_fds=True,
                env=self._environ,
            )
        # Reap it when it ends (it outlives this server otherwise, adopted by init).
        threading.Thread(target=process.wait, name="engine-worker-reaper", daemon=True).start()
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                return self._open()
            if process.poll() is not None:
                raise EngineUnavailableError(
                    f"The engine worker exited as it started (code {process.returncode}): "
                    f"{_tail(place.log)}",
                    next_step=f"Its log is {place.log}.",
                )
            time.sleep(START_POLL_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise EngineUnavailableError(
            f"The engine worker did not start within {self._start_timeout_s:g} s.",
            next_step=f"Its log is {place.log}.",
        )

    def _keep_presence(self) -> None:
        """One open connection while this server lives: the worker counts its clients."""
        with self._presence_lock:
            self._keep_presence_locked()

    def _keep_presence_locked(self) -> None:
        presence = self._presence
        if presence is not None:
            try:
                if presence.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b"":
                    return
            except BlockingIOError:
                return  # open, nothing to read: the worker is there
            except OSError:
                pass
            presence.close()
            self._presence = None
        try:
            sock = self._open()
            sock.settimeout(5.0)
            wire.send(sock, ("hello", (), {}))
            _, pid = wire.receive(sock)
        except (OSError, EOFError, wire.WireError):
            return
        sock.settimeout(None)
        self._presence = sock
        self._worker_pid = pid if isinstance(pid, int) else None

    # -- replacing it --------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        try:
            found = json.loads(self.place.identity_file.read_text())
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def _identity_pid(self) -> int | None:
        pid = self._identity().get("pid")
        return pid if isinstance(pid, int) else None

    def replace(self, reason: str) -> None:
        """Stop a worker that is stuck: kill its process group (the next call starts one)."""
        pid = self._identity_pid()
        if pid is not None and _is_worker(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        self._record_restart(reason, pid)
        with contextlib.suppress(FileNotFoundError):
            self.place.socket.unlink()
        self._drop_presence()

    def _record_restart(self, reason: str, pid: int | None) -> None:
        """Say why the worker ``pid`` is replaced (the log, the call's client, doctor), and
        forget its identity so that the next start does not report it again."""
        logger.warning("The engine worker (pid %s) is replaced: %s.", pid, reason)
        note = {"at": time.time(), "reason": reason, "pid": pid, "by_server": os.getpid()}
        with contextlib.suppress(OSError):
            private_dir(self.place.root)
            write_private_text(self.place.last_restart_file, json.dumps(note))
        if pid is not None and self._identity_pid() == pid:  # not a newer worker's
            with contextlib.suppress(FileNotFoundError):
                self.place.identity_file.unlink()

    def _drop_presence(self) -> None:
        presence, self._presence = self._presence, None
        if presence is not None:
            presence.close()

    # -- what doctor shows ---------------------------------------------------------

    def describe(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """The worker as it is now (never starts one): running, pid, RSS, clients, uptime,
        the last restart and why."""
        found: dict[str, Any] = {"running": False, "socket": str(self.place.socket)}
        try:
            sock = self._open()
        except OSError:
            sock = None
        if sock is not None:
            try:
                sock.settimeout(timeout_s)
                wire.send(sock, ("stats", (), {}))
                status, value = wire.receive(sock)
                if status == "ok":
                    found.update(running=True, **value)
            except (OSError, EOFError, wire.WireError) as exc:
                found["error"] = f"it did not answer: {exc}"
            finally:
                sock.close()
        with contextlib.suppress(OSError, ValueError):
            found["last_restart"] = json.loads(self.place.last_restart_file.read_text())
        found["log"] = str(self.place.log)
        return found

    def close(self) -> None:
        """This server is done: its presence ends (the worker may then idle out)."""
        self._closed = True
        self._drop_presence()


def _rotate(log: Path) -> None:
    """Keep one earlier log once a log is over LOG_ROTATE_BYTES (a worker appends to it)."""
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_ROTATE_BYTES:
            log.replace(log.with_name(log.name + ".1"))


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])
