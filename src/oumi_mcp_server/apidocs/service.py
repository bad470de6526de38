"""DocsService: the installed Oumi's API index, ready in milliseconds once built.

Concurrency contract: one worker thread at a time loads or builds the index
(``_prepare``); queries read ``self._ready`` (replaced whole, never mutated) and
never wait for that thread. The build itself runs in a child process, so the
server never imports oumi for docs; servers sharing a cache build it once,
serialised by a lock file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.apidocs.answers import (
    DocHit,
    DocsAnswer,
    FieldBrief,
    IndexState,
    ModulesAnswer,
    ModuleSummary,
    QueryAnswer,
)
from oumi_mcp_server.apidocs.cache import (
    CacheUnusable,
    index_dir,
    index_file,
    installed_oumi_version,
    load,
)
from oumi_mcp_server.apidocs.model import ApiEntry, ApiIndex
from oumi_mcp_server.apidocs.search import SearchIndex

logger = logging.getLogger(__name__)

BUILD_TIMEOUT_S = 600.0
FIRST_BUILD_GUESS_S = 30.0
LOG_TAIL_LINES = 8


@dataclass(frozen=True)
class _Ready:
    index: ApiIndex
    search: SearchIndex


class DocsService:
    def __init__(
        self,
        cache_dir: Path,
        *,
        autobuild: bool = True,
        build_timeout_s: float = BUILD_TIMEOUT_S,
        python: str = sys.executable,
        oumi_version: Callable[[], str | None] = installed_oumi_version,
    ) -> None:
        self._dir = index_dir(cache_dir)
        self._cache_dir = cache_dir
        self._autobuild = autobuild
        self._build_timeout_s = build_timeout_s
        self._python = python
        self._oumi_version = oumi_version
        self._lock = threading.Lock()
        self._state = "idle"
        self._ready: _Ready | None = None
        self._version: str | None = None
        self._error = ""
        self._done = 0
        self._total = 0
        self._build_started = 0.0
        self._child: subprocess.Popen[str] | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """On connect: load the cached index; build it in the background if missing
        (unless auto-build is off, then the first docs call builds it)."""
        self._begin(build=self._autobuild, rebuild=False)

    def close(self) -> None:
        """Stop a build in flight: nothing of it outlives the server."""
        self._closed = True
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()

    def _begin(self, *, build: bool, rebuild: bool) -> bool:
        with self._lock:
            if self._closed or self._state in ("loading", "building"):
                return False
            if self._state == "ready" and not rebuild:
                return False
            self._state = "loading"
            self._error = ""
        threading.Thread(
            target=self._prepare, args=(build, rebuild), name="apidocs", daemon=True
        ).start()
        return True

    def _prepare(self, build: bool, rebuild: bool) -> None:
        try:
            self._prepare_or_fail(build, rebuild)
        except Exception as exc:  # reported through the state, never raised into a thread
            logger.warning("The API index could not be prepared: %s", exc)
            self._fail(f"{type(exc).__name__}: {exc}")

    def _prepare_or_fail(self, build: bool, rebuild: bool) -> None:
        version = self._oumi_version()
        self._version = version
        if version is None:
            self._fail("oumi is not installed in the Python this server runs with.")
            return
        path = index_file(self._cache_dir, version)
        if not rebuild and self._use_cached(path, version):
            return
        if not build:
            self._state = "idle"
            return
        with self._build_lock():
            # Another server may have built it while this one waited for the lock.
            if not rebuild and self._use_cached(path, version):
                return
            self._build(path, version)

    def _use_cached(self, path: Path, version: str) -> bool:
        try:
            index = load(path, version)
        except CacheUnusable as why:
            logger.info("API index: %s (%s)", why, path)
            return False
        self._ready = _Ready(index, SearchIndex(index))
        self._state = "ready"
        return True

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        self._dir.mkdir(parents=True, exist_ok=True)
        with (self._dir / ".build.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process builds
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(self, path: Path, version: str) -> None:
        self._state = "building"
        self._done, self._total = 0, 0
        self._build_started = time.monotonic()
        log_path = self._dir / "build.log"
        with log_path.open("w", encoding="utf-8") as log:
            child = subprocess.Popen(
                [self._python, "-m", "oumi_mcp_server.apidocs.build", "--out", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self._dir,
                text=True,
                start_new_session=True,
            )
            self._child = child
            if self._closed:  # close() ran while the child was being spawned
                child.kill()
            timer = threading.Timer(self._build_timeout_s, child.kill)
            timer.start()
            try:
                self._follow(child)
                code = child.wait()
            finally:
                timer.cancel()
                self._child = None
        if self._closed:
            self._state = "idle"
            return
        if code != 0:
            timed_out = time.monotonic() - self._build_started >= self._build_timeout_s
            cause = (
                f"it did not finish within {self._build_timeout_s:.0f} s"
                if timed_out
                else f"the build process exited with code {code}"
            )
            self._fail(f"Building the API index failed: {cause}. {_tail(log_path)}".strip())
            return
        (self._dir / "last_build_s").write_text(f"{time.monotonic() - self._build_started:.1f}")
        if not self._use_cached(path, version):
            self._fail("The build finished but its index could not be read back.")

    def _follow(self, child: subprocess.Popen[str]) -> None:
        assert child.stdout is not None
        for line in child.stdout:
            try:
                progress = json.loads(line)
            except ValueError:
                continue
            if isinstance(progress, dict) and "done" in progress:
                self._done, self._total = int(progress["done"]), int(progress["total"])

    def _fail(self, error: str) -> None:
        self._error = error
        self._state = "failed"

    # -- answers -------------------------------------------------------------------

    def state(self) -> IndexState:
        ready = self._ready
        state = self._state
        return IndexState(
            state=state,
            oumi_version=self._version,
            entries=len(ready.index.entries) if ready else 0,
            modules_done=self._done,
            modules_total=self._total,
            ready_in_s=self._eta() if state in ("building", "loading") else None,
            build_seconds=ready.index.build_seconds if ready else None,
            error=self._error if state == "failed" else "",
            next_step=(
                "Call get_docs again with rebuild=true to retry; the build log says more."
                if state == "failed"
                else ""
            ),
            build_log=str(self._dir / "build.log") if state == "failed" else "",
        )

    def _eta(self) -> float:
        """Seconds left: the last build's time, until half the modules are done (the first
        import, of oumi itself, takes most of the time); then the rate so far."""
        elapsed = time.monotonic() - self._build_started if self._build_started else 0.0
        if self._state == "building" and self._total and self._done * 2 >= self._total:
            return round(elapsed / self._done * (self._total - self._done) + 1.0, 1)
        try:
            guess = float((self._dir / "last_build_s").read_text())
        except (OSError, ValueError):
            guess = FIRST_BUILD_GUESS_S
        return round(max(guess - elapsed, 1.0), 1)

    def _not_ready(self, *, rebuild: bool) -> tuple[str, str]:
        """(status, message) while there is no index to answer from; starts a build."""
        if self._state == "idle" or (rebuild and self._state in ("failed", "ready")):
            self._begin(build=True, rebuild=rebuild)
        if self._state == "failed":
            return "failed", f"{self._error} Call get_docs again with rebuild=true to retry."
        state = self.state()
        progress = (
            f" ({state.modules_done} of {state.modules_total} modules)"
            if state.modules_total
            else ""
        )
        return "building", (
            f"The API index of oumi {self._version or ''} is being built{progress}; "
            f"ready in about {state.ready_in_s or self._eta():.0f} s. Call again then."
        ).replace("oumi  is", "oumi is")

    def get_docs(
        self,
        queries: list[str],
        *,
        module: str = "",
        kind: str = "",
        limit: int = 10,
        rebuild: bool = False,
    ) -> DocsAnswer:
        ready = self._ready
        if ready is None or rebuild:
            status, message = self._not_ready(rebuild=rebuild)
            return DocsAnswer(status=status, message=message, index=self.state())
        if module and not _module_known(ready.index, module):
            close = _close_modules(ready.index, module)
            hint = f" Did you mean: {', '.join(close)}?" if close else " list_modules names them."
            return DocsAnswer(
                status="ready",
                message=f"No indexed module is or is under '{module}'.{hint}",
                oumi_version=ready.index.oumi_version,
            )
        results = [
            _answer(ready, query, module=module, kind=kind, limit=limit) for query in queries
        ]
        found = sum(len(result.hits) for result in results)
        return DocsAnswer(
            status="ready",
            message=f"{found} entries for {len(queries)} {_plural(len(queries))}.",
            oumi_version=ready.index.oumi_version,
            results=results,
        )

    def list_modules(self) -> ModulesAnswer:
        ready = self._ready
        if ready is None:
            status, message = self._not_ready(rebuild=False)
            return ModulesAnswer(status=status, message=message, index=self.state())
        modules = [
            ModuleSummary(name=m.name, summary=m.summary, entries=m.entries)
            for m in sorted(ready.index.modules, key=lambda m: m.name)
        ]
        return ModulesAnswer(
            status="ready",
            message=(
                f"{len(modules)} modules of oumi {ready.index.oumi_version}, "
                f"{len(ready.index.entries)} entries."
            ),
            oumi_version=ready.index.oumi_version,
            modules=modules,
            skipped=ready.index.skipped,
            index=self.state(),
        )


def _answer(ready: _Ready, query: str, *, module: str, kind: str, limit: int) -> QueryAnswer:
    found = ready.search.find(query, kind=kind, module=module, limit=limit)
    return QueryAnswer(
        query=query,
        match=found.match,
        hits=[
            _hit(ready, entry, detailed=found.match == "exact" or _names(entry, query))
            for entry in found.entries
        ],
        did_you_mean=found.did_you_mean,
    )


def _names(entry: ApiEntry, query: str) -> bool:
    """Whether the query is this entry's own name ('learning_rate', 'TrainingParams.lr')."""
    query = query.strip().lower()
    member = f"{entry.parent.rsplit('.', 1)[-1]}.{entry.short_name}".lower()
    return query in (entry.short_name.lower(), member)


def _hit(ready: _Ready, entry: ApiEntry, *, detailed: bool) -> DocHit:
    hit = DocHit(
        name=entry.name,
        kind=entry.kind,
        module=entry.module,
        signature=entry.signature,
        type=entry.type,
        default=entry.default,
        summary=entry.summary,
    )
    if detailed:
        hit.doc = entry.doc
        hit.args = entry.args
        hit.returns = entry.returns
        if entry.kind == "dataclass":
            hit.fields = [
                FieldBrief(name=f.short_name, type=f.type, default=f.default, summary=f.summary)
                for f in ready.search.fields_of(entry.name)
            ]
    return hit


def _module_known(index: ApiIndex, module: str) -> bool:
    return any(m.name == module or m.name.startswith(f"{module}.") for m in index.modules)


def _close_modules(index: ApiIndex, module: str) -> list[str]:
    import difflib

    names = [m.name for m in index.modules]
    tail = [name for name in names if name.endswith(f".{module}")]
    return tail[:5] or difflib.get_close_matches(module, names, n=5, cutoff=0.6)


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "Last lines of its log: " + " | ".join(lines[-LOG_TAIL_LINES:]) if lines else ""


def _plural(count: int) -> str:
    return "query" if count == 1 else "queries"
