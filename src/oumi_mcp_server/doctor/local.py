"""Checks of this installation that need nothing but files and package metadata.

Each check is blocking, quick and read-only: nothing is downloaded, built or
created (no registry, no index, no cache folder).
"""

from __future__ import annotations

import os
import platform
import sqlite3
from collections import Counter
from importlib import util
from pathlib import Path

from oumi_mcp_server import __version__
from oumi_mcp_server.apidocs import cache as docs_cache
from oumi_mcp_server.doctor.models import Section
from oumi_mcp_server.environment.report import SUPPORTED_OUMI_SERIES, environment_warnings
from oumi_mcp_server.environment.versions import engine_versions
from oumi_mcp_server.errors import LibraryUnavailableError
from oumi_mcp_server.jobs import registry
from oumi_mcp_server.jobs.os_processes import is_our_process
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, PENDING_BACKEND, PROCESS_BACKEND
from oumi_mcp_server.jobs.registry_schema import SCHEMA_VERSION
from oumi_mcp_server.library import index as library_index
from oumi_mcp_server.library import sources
from oumi_mcp_server.settings import Settings

INSTALL_OUMI = f"pip install 'oumi=={SUPPORTED_OUMI_SERIES}.*' in the server's environment."
HF_TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def check_versions() -> Section:
    versions = engine_versions()
    oumi = versions.get("oumi")
    python = platform.python_version()
    data = {"oumi": oumi, "oumi_mcp_server": __version__, "python": python}
    if oumi is None or util.find_spec("oumi") is None:
        return Section(
            "versions",
            "fail",
            f"oumi is not installed (oumi-mcp-server {__version__}, Python {python}).",
            fix=INSTALL_OUMI,
            data=data,
        )
    detail = f"oumi {oumi}, oumi-mcp-server {__version__}, Python {python}."
    warnings = environment_warnings({"oumi": oumi})
    if warnings:
        return Section("versions", "warn", detail, fix=" ".join(warnings), data=data)
    return Section("versions", "ok", detail, data=data)


def check_library(settings: Settings, oumi_version: str | None) -> Section:
    """Where the config library would come from now, without fetching or indexing it."""
    name = "config library"
    found: sources.LibrarySource | None
    try:
        if settings.configs_dir is not None:
            found = sources.from_override(settings.configs_dir)
        elif oumi_version is not None:
            found = sources.from_cache(settings.cache_dir, oumi_version) or sources.from_checkout(
                sources.find_local_checkout, oumi_version
            )
        else:
            found = sources.from_checkout(sources.find_local_checkout, None)
    except LibraryUnavailableError as exc:
        return Section(name, "fail", exc.message, fix=exc.next_step or "")
    if found is None:
        where = sources.cached_library_dir(settings.cache_dir, oumi_version or "<version>")
        return Section(
            name,
            "warn",
            f"No config library for oumi {oumi_version} yet (none complete at {where}); the server "
            "downloads it on first use, which needs network.",
            fix="Run `oumi-mcp-server sync-configs` once while online, or set "
            f"{sources.OVERRIDE_ENV} to an Oumi configs/ folder.",
            data={"cache": str(where)},
        )
    count = len(library_index.scan(found.root))
    indexed = library_index.index_file(settings.cache_dir / "index", found.root).is_file()
    data = {
        "source": found.source,
        "version": found.version,
        "count": count,
        "path": str(found.root),
        "indexed": indexed,
    }
    index_note = "index cached" if indexed else "indexed on first use"
    version = f" for oumi {found.version}" if found.version else ""
    detail = f"{count} configs{version} from {found.detail}; {index_note}."
    if count == 0:
        return Section(name, "warn", detail, fix="Run `oumi-mcp-server sync-configs`.", data=data)
    return Section(name, "ok", detail, data=data)


def check_docs_index(settings: Settings, oumi_version: str | None) -> Section:
    """Whether the API docs index for this oumi is cached and loads (it is never built here)."""
    name = "docs index"
    if oumi_version is None:
        return Section(name, "warn", "No oumi installed: there is no API to index.", INSTALL_OUMI)
    path = docs_cache.index_file(settings.cache_dir, oumi_version)
    data: dict[str, object] = {"path": str(path), "built": False}
    autobuild = "at server start" if settings.docs_autobuild else "on the first get_docs call"
    if not path.exists():
        return Section(
            name,
            "ok",
            f"Not built yet for oumi {oumi_version}: the server builds it in the background "
            f"{autobuild} (10-20 s, in a child process), at {path}.",
            data=data,
        )
    try:
        index = docs_cache.load(path, oumi_version)
    except docs_cache.CacheUnusable as exc:
        return Section(
            name,
            "warn",
            f"The API docs index at {path} cannot be used: {exc}.",
            fix=f"Nothing to do: the server rebuilds it in the background {autobuild}; "
            "until then get_docs answers that it is being built.",
            data=data,
        )
    data.update(built=True, entries=len(index.entries), modules=len(index.modules))
    return Section(
        name,
        "ok",
        f"{len(index.entries)} API entries from {len(index.modules)} modules of oumi "
        f"{oumi_version}, cached at {path}.",
        data=data,
    )


def check_registry(settings: Settings) -> Section:
    """Job counts from the registry, opened read-only (a missing registry is not created)."""
    name = "job registry"
    path = settings.state_dir / registry.DB_NAME
    data: dict[str, object] = {"path": str(path)}
    if not path.exists():
        writable = _nearest_existing(settings.state_dir)
        if not os.access(writable, os.W_OK):
            return Section(
                name,
                "fail",
                f"No registry yet at {path}, and {writable} is not writable, so none can be made.",
                fix="Make the folder writable or set OUMI_MCP_STATE_DIR to a writable folder.",
                data=data,
            )
        return Section(name, "ok", f"No jobs yet (the registry will be {path}).", data=data)
    try:
        rows, schema = registry.read_only_identities(path)
    except sqlite3.Error as exc:
        return Section(
            name,
            "fail",
            f"The registry {path} cannot be read: {exc}.",
            fix="Check the file's permissions; if it is damaged, move it aside "
            "(its jobs are then forgotten, not stopped).",
            data=data,
        )
    counts = _job_counts(rows)
    data.update(schema_version=schema, jobs=len(rows), counts=counts)
    parts = [f"{count} {what}" for what, count in counts.items()]
    detail = f"{len(rows)} jobs in {path}" + (f": {', '.join(parts)}." if parts else ".")
    if schema > SCHEMA_VERSION:
        return Section(
            name,
            "warn",
            detail + f" Its schema (v{schema}) is newer than this server's (v{SCHEMA_VERSION}).",
            fix="Upgrade oumi-mcp-server to the version that wrote it.",
            data=data,
        )
    return Section(name, "ok", detail, data=data)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _job_counts(rows: list[registry.IdentityRow]) -> dict[str, int]:
    """Counts by what can be told without asking a cloud: our own process jobs are alive or
    ended (pid, start time and marker); launcher jobs are counted per cloud (their state is
    the cloud's: list_jobs asks it)."""
    counts: Counter[str] = Counter()
    for backend, cloud, pid, start_time, marker in rows:
        if backend == PROCESS_BACKEND:
            alive = is_our_process(pid, start_time, marker)
            counts["process job running" if alive else "process job ended"] += 1
        elif backend == LAUNCHER_BACKEND:
            counts[f"on {cloud} (state: ask list_jobs)"] += 1
        elif backend == PENDING_BACKEND:
            counts["being checked before launch"] += 1
        else:
            counts[f"{backend} backend"] += 1
    return dict(sorted(counts.items()))


def hf_token_file(environ: dict[str, str] | None = None) -> Path:
    """Where huggingface_hub looks for a saved token (same rules, without importing it)."""
    env = os.environ if environ is None else environ
    if env.get("HF_TOKEN_PATH"):
        return Path(env["HF_TOKEN_PATH"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "token"
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "huggingface" / "token"


def check_hf_token() -> Section:
    """Whether a Hugging Face token is set, and where; never its value."""
    name = "hugging face token"
    for variable in HF_TOKEN_ENVS:
        if os.environ.get(variable, "").strip():
            where = f"the {variable} environment variable"
            return Section(
                name, "ok", f"Present ({where}).", data={"present": True, "where": where}
            )
    path = hf_token_file()
    try:
        present = bool(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        present = False
    if present:
        return Section(name, "ok", f"Present ({path}).", data={"present": True, "where": str(path)})
    return Section(
        name,
        "warn",
        f"Absent (neither {' nor '.join(HF_TOKEN_ENVS)} is set, and there is no {path}); "
        "public models and datasets still work.",
        fix="For gated models (Llama, Gemma, ...): `hf auth login`, or set HF_TOKEN in the "
        "MCP client's server configuration.",
        data={"present": False, "where": None},
    )
