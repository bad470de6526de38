"""Where the library archive comes from: PyPI's sdist (pip download) or GitHub's tag archive.

Providers download an archive holding ``<top>/configs/`` into a folder they are
given, within a time limit. ``pip`` runs as a child in its own process group,
with its output captured (stdout belongs to the protocol), and is killed with
its children on timeout or when the server shuts down. The GitHub fetcher is
injectable so tests never need the network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from oumi_mcp_server.errors import LibrarySyncError

GITHUB_ARCHIVE = "https://github.com/oumi-ai/oumi/archive/refs/tags/{tag}.tar.gz"

# (url, destination file, time limit in seconds) -> None; raises on failure.
Fetcher = Callable[[str, Path, float], None]


class ArchiveProvider(Protocol):
    name: str

    def fetch(self, version: str, dest_dir: Path, timeout_s: float) -> tuple[Path, str]:
        """Download an archive holding ``<top>/configs/``; return it and its origin."""
        ...


class ChildProcesses:
    """The download processes in flight, so a server shutting down can end them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()

    def add(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._running.add(process)

    def discard(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self._running.discard(process)

    def kill_all(self) -> None:
        with self._lock:
            running = list(self._running)
        for process in running:
            _kill_group(process)


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            process.kill()


class PypiSdist:
    """``python -m pip download --no-deps --no-binary :all: oumi==<version>``."""

    name = "PyPI sdist"

    def __init__(
        self, python: str = sys.executable, *, children: ChildProcesses | None = None
    ) -> None:
        self._python = python
        self._children = children or ChildProcesses()

    def fetch(self, version: str, dest_dir: Path, timeout_s: float) -> tuple[Path, str]:
        command = [
            self._python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            f"oumi=={version}", "-d", str(dest_dir),
            "--disable-pip-version-check", "--no-input", "--quiet", "--timeout", "15",
            "--retries", "1",
        ]  # fmt: skip
        returncode, stderr = _run_bounded(command, timeout_s, self._children)
        if returncode != 0:
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            raise LibrarySyncError(
                f"pip download failed (exit {returncode}): {lines[-1] if lines else 'no output'}"
            )
        archives = sorted(dest_dir.glob("oumi-*.tar.gz")) + sorted(dest_dir.glob("oumi-*.zip"))
        if not archives:
            raise LibrarySyncError("pip download produced no oumi source archive.")
        return archives[0], f"PyPI sdist {archives[0].name}"


def _run_bounded(command: list[str], timeout_s: float, children: ChildProcesses) -> tuple[int, str]:
    """Run a child in its own process group, capture its output, kill it all on timeout."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise LibrarySyncError(f"could not run {command[0]}: {exc}") from exc
    children.add(process)
    try:
        _, stderr = process.communicate(timeout=max(timeout_s, 0.1))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise LibrarySyncError(f"pip download did not finish within {timeout_s:.0f} s.") from None
    finally:
        children.discard(process)
    return process.returncode, stderr


def urllib_fetch(url: str, dest: Path, timeout_s: float) -> None:
    """Download ``url`` to ``dest``; the whole transfer must end within ``timeout_s``."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    with urllib.request.urlopen(url, timeout=timeout_s) as response, dest.open("wb") as out:
        while chunk := response.read(1 << 16):
            out.write(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"download took longer than {timeout_s:g} s")


class GithubArchive:
    """The GitHub tag archive of the version (``v0.9`` / ``v0.9.0``)."""

    name = "GitHub tag archive"

    def __init__(self, fetcher: Fetcher = urllib_fetch, *, timeout_s: float = 10.0) -> None:
        self._fetcher = fetcher
        self._timeout_s = timeout_s

    def fetch(self, version: str, dest_dir: Path, timeout_s: float) -> tuple[Path, str]:
        tags = [f"v{version}"] + ([f"v{version}.0"] if version.count(".") == 1 else [])
        errors = []
        for tag in tags:
            url = GITHUB_ARCHIVE.format(tag=tag)
            dest = dest_dir / f"oumi-{tag}.tar.gz"
            try:
                self._fetcher(url, dest, min(timeout_s, self._timeout_s))
            except Exception as exc:  # any network failure: report it, try the next tag
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            return dest, url
        raise LibrarySyncError("; ".join(errors))


def default_providers(
    *,
    github_fetcher: Fetcher = urllib_fetch,
    github_timeout_s: float = 10.0,
    children: ChildProcesses | None = None,
) -> list[ArchiveProvider]:
    return [
        PypiSdist(children=children),
        GithubArchive(github_fetcher, timeout_s=github_timeout_s),
    ]
