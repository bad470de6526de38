"""Settings from the environment, with the time limits every engine call uses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "oumi-mcp-server"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FALSE_WORDS = ("0", "false", "no", "off")

# Time limits, in seconds, for calls into engines that may hang.
CLOUD_CHECK_TIMEOUT_S = 60.0
CLOUD_CHECK_CACHE_S = 300.0
# Config library: a background sync gives up after LIBRARY_SYNC_TIMEOUT_S; a tool
# waits at most LIBRARY_WAIT_S for the library before answering "not ready yet";
# the GitHub fallback must fail fast when GitHub is unreachable.
LIBRARY_SYNC_TIMEOUT_S = 300.0
LIBRARY_SYNC_DELAY_S = 3.0  # after start-up, unless a library tool needs it sooner
LIBRARY_WAIT_S = 3.0
GITHUB_FETCH_TIMEOUT_S = 10.0
# Validation imports oumi on first use (torch, transformers): allow for a slow disk.
VALIDATION_TIMEOUT_S = 180.0
# Pre-flight: each check gets PREFLIGHT_CHECK_TIMEOUT_S (validation gets its own
# limit); the whole report is returned within PREFLIGHT_TOTAL_TIMEOUT_S.
PREFLIGHT_CHECK_TIMEOUT_S = 15.0
PREFLIGHT_TOTAL_TIMEOUT_S = 200.0
HF_TIMEOUT_S = 5.0
# Stopping or deleting a cloud cluster can take minutes (SkyPilot waits for the VM).
CLUSTER_TIMEOUT_S = 600.0
# Oumi is imported in the background this long after the client's handshake; then the
# clouds list_jobs asks are listed once (SkyPilot's first call may start its API server).
WARMUP_DELAY_S = 1.0
LISTINGS_WARMUP_TIMEOUT_S = 120.0
# The config library and the API index load in threads this long after serving starts,
# so that their CPU work does not slow the client's handshake and tools/list (a tool
# that needs either sooner starts it itself).
BACKGROUND_START_DELAY_S = 0.5
# Jobs: records (and run dirs) older than this are pruned, unless still running;
# runtimes are swept and old records pruned in the background; the registry
# (SQLite) and status reads get REGISTRY_TIMEOUT_S; cancel waits this long after
# SIGTERM before SIGKILL.
JOB_RETENTION_DAYS = 7.0
JOB_SWEEP_INTERVAL_S = 60.0
JOB_START_DELAY_S = 2.0  # after start-up (a launch or status call loads it sooner)
JOB_PRUNE_INTERVAL_S = 3600.0
JOB_SUPERVISE_POLL_S = 0.25
JOB_CANCEL_GRACE_S = 10.0
JOB_WATCH_INTERVAL_S = 1.0  # subscribed jobs are polled this often, only while watched
# Runs with restarts: how often the restart loop looks, and the backoff before restart 1, 2,
# 3 and later. With these, a restart is submitted within 25 s of the engine reporting the end.
RESTART_POLL_S = 5.0
RESTART_BACKOFF_S = (5.0, 10.0, 20.0)
REGISTRY_TIMEOUT_S = 15.0
# Reading and parsing the config a job request names (its own limit and message:
# a slow disk is not a busy registry).
CONFIG_READ_TIMEOUT_S = 15.0
# oumi.launcher: each cloud gets CLOUD_STATUS_TIMEOUT_S to list its jobs (a slow
# cloud becomes a warning in list_jobs); listings are reused for LIST_CACHE_S;
# cancel gets LAUNCHER_CANCEL_TIMEOUT_S before the tool answers with a time-out.
CLOUD_STATUS_TIMEOUT_S = 10.0
LIST_CACHE_S = 5.0
LAUNCHER_CANCEL_TIMEOUT_S = 60.0
# The engine worker exits after this long with no server connected and nothing running.
WORKER_IDLE_S = 600.0
# Variables that silently override tool parameters; removed at server start.
OVERRIDING_ENV_VARS = ("OUMI_USE_SPOT_VM", "OUMI_FORCE_EDITABLE_INSTALL")


@dataclass(frozen=True)
class LauncherLimits:
    """Time (and size) limits of the calls into oumi.launcher."""

    up_s: float = 3600.0  # provisioning a cloud VM can take many minutes
    status_s: float = 20.0  # one job's status
    list_s: float = 10.0  # one cloud's listing
    list_cache_s: float = 5.0
    load_s: float = 30.0  # importing oumi.launcher the first time
    cancel_s: float = 60.0
    cancel_settle_s: float = 10.0  # how long to wait for the launcher to say "cancelled"
    logs_s: float = 10.0
    logs_bytes: int = 16 * 1024 * 1024
    survivor_grace_s: float = 5.0


@dataclass(frozen=True)
class Settings:
    """What the server needs to know about its environment."""

    log_level: str
    state_dir: Path
    cache_dir: Path
    cloud_check_timeout_s: float = CLOUD_CHECK_TIMEOUT_S
    configs_dir: Path | None = None  # OUMI_MCP_CONFIGS_DIR: the config library override
    library_sync_timeout_s: float = LIBRARY_SYNC_TIMEOUT_S
    library_sync_delay_s: float = LIBRARY_SYNC_DELAY_S
    library_wait_s: float = LIBRARY_WAIT_S
    github_timeout_s: float = GITHUB_FETCH_TIMEOUT_S
    validation_timeout_s: float = VALIDATION_TIMEOUT_S
    preflight_check_timeout_s: float = PREFLIGHT_CHECK_TIMEOUT_S
    preflight_total_timeout_s: float = PREFLIGHT_TOTAL_TIMEOUT_S
    hf_timeout_s: float = HF_TIMEOUT_S
    cluster_timeout_s: float = CLUSTER_TIMEOUT_S
    warmup: bool = True  # OUMI_MCP_WARMUP=0 disables loading oumi after the handshake
    # OUMI_MCP_DOCS_AUTOBUILD=0: build the API index on the first get_docs, not at start
    docs_autobuild: bool = True
    job_retention_days: float = JOB_RETENTION_DAYS  # OUMI_MCP_JOB_RETENTION_DAYS
    # OUMI_MCP_WATCH_INTERVAL_S: how often subscribed jobs are polled (only while watched)
    watch_interval_s: float = JOB_WATCH_INTERVAL_S
    restart_poll_s: float = RESTART_POLL_S
    # OUMI_MCP_GUARD_POLL_S: how often running guarded jobs are checked (the watcher's pace)
    guard_poll_s: float = JOB_WATCH_INTERVAL_S
    restart_backoff_s: tuple[float, ...] = RESTART_BACKOFF_S
    job_cancel_grace_s: float = JOB_CANCEL_GRACE_S  # OUMI_MCP_JOB_CANCEL_GRACE_S
    oumi_executable: Path | None = None  # OUMI_MCP_OUMI_EXECUTABLE; default: next to python
    # OUMI_MCP_SLURM_SETUP: the command that activates oumi on Slurm clusters (job setup)
    slurm_setup: str = ""
    cloud_status_timeout_s: float = CLOUD_STATUS_TIMEOUT_S  # OUMI_MCP_CLOUD_STATUS_TIMEOUT_S
    list_cache_s: float = LIST_CACHE_S  # OUMI_MCP_LIST_CACHE_S
    launcher_cancel_timeout_s: float = LAUNCHER_CANCEL_TIMEOUT_S  # OUMI_MCP_CANCEL_TIMEOUT_S
    # OUMI_MCP_CLOUDS: the clouds list_jobs asks (comma-separated, or "none"); None
    # (unset): those that answer without starting anything (jobs/launcher/asked_clouds.py).
    listed_clouds: tuple[str, ...] | None = None
    # Where SkyPilot keeps its state (its last `sky check`, read to know the enabled
    # clouds; never written). The default follows HOME.
    skypilot_dir: Path = Path("~/.sky")
    # OUMI_MCP_ALLOWED_ROOTS (paths separated by ':'): folders besides the project and
    # the config library whose configs the server may read.
    allowed_roots: tuple[Path, ...] = ()
    # OUMI_MCP_READ_ONLY=1 (or serve --read-only): no tool that starts, cancels or deletes.
    read_only: bool = False
    # OUMI_MCP_ENGINE_WORKER=0 runs oumi, oumi.launcher and SkyPilot in the server process
    # itself (the default of a server started from the environment is the engine worker;
    # a Settings built in code, as in-memory tests do, runs them in-process).
    engine_worker: bool = False
    worker_idle_s: float = WORKER_IDLE_S  # OUMI_MCP_WORKER_IDLE_S: the worker's exit

    def launcher_limits(self) -> LauncherLimits:
        return LauncherLimits(
            status_s=max(self.cloud_status_timeout_s, 1.0) * 2,
            list_s=self.cloud_status_timeout_s,
            list_cache_s=self.list_cache_s,
            cancel_s=self.launcher_cancel_timeout_s,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        level = env.get("OUMI_MCP_LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            level = "INFO"
        state_dir = env.get("OUMI_MCP_STATE_DIR") or platformdirs.user_state_dir(APP_NAME)
        cache_dir = env.get("OUMI_MCP_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME)
        timeout = _positive_float(env.get("OUMI_MCP_CLOUD_CHECK_TIMEOUT_S"), CLOUD_CHECK_TIMEOUT_S)
        configs_dir = env.get("OUMI_MCP_CONFIGS_DIR")
        oumi = env.get("OUMI_MCP_OUMI_EXECUTABLE")
        return cls(
            log_level=level,
            state_dir=Path(state_dir),
            cache_dir=Path(cache_dir),
            cloud_check_timeout_s=timeout,
            configs_dir=Path(configs_dir).expanduser() if configs_dir else None,
            library_sync_timeout_s=_positive_float(
                env.get("OUMI_MCP_LIBRARY_SYNC_TIMEOUT_S"), LIBRARY_SYNC_TIMEOUT_S
            ),
            library_wait_s=_positive_float(env.get("OUMI_MCP_LIBRARY_WAIT_S"), LIBRARY_WAIT_S),
            preflight_check_timeout_s=_positive_float(
                env.get("OUMI_MCP_PREFLIGHT_CHECK_TIMEOUT_S"), PREFLIGHT_CHECK_TIMEOUT_S
            ),
            warmup=env.get("OUMI_MCP_WARMUP", "1").strip().lower() not in FALSE_WORDS,
            docs_autobuild=env.get("OUMI_MCP_DOCS_AUTOBUILD", "1").strip().lower()
            not in FALSE_WORDS,
            job_retention_days=_positive_float(
                env.get("OUMI_MCP_JOB_RETENTION_DAYS"), JOB_RETENTION_DAYS
            ),
            watch_interval_s=_positive_float(
                env.get("OUMI_MCP_WATCH_INTERVAL_S"), JOB_WATCH_INTERVAL_S
            ),
            restart_poll_s=_positive_float(env.get("OUMI_MCP_RESTART_POLL_S"), RESTART_POLL_S),
            guard_poll_s=_positive_float(env.get("OUMI_MCP_GUARD_POLL_S"), JOB_WATCH_INTERVAL_S),
            restart_backoff_s=_backoff(env.get("OUMI_MCP_RESTART_BACKOFF_S")),
            job_cancel_grace_s=_positive_float(
                env.get("OUMI_MCP_JOB_CANCEL_GRACE_S"), JOB_CANCEL_GRACE_S
            ),
            oumi_executable=Path(oumi).expanduser() if oumi else None,
            cloud_status_timeout_s=_positive_float(
                env.get("OUMI_MCP_CLOUD_STATUS_TIMEOUT_S"), CLOUD_STATUS_TIMEOUT_S
            ),
            list_cache_s=_non_negative_float(env.get("OUMI_MCP_LIST_CACHE_S"), LIST_CACHE_S),
            launcher_cancel_timeout_s=_positive_float(
                env.get("OUMI_MCP_CANCEL_TIMEOUT_S"), LAUNCHER_CANCEL_TIMEOUT_S
            ),
            listed_clouds=_cloud_list(env.get("OUMI_MCP_CLOUDS", "")),
            allowed_roots=_path_list(env.get("OUMI_MCP_ALLOWED_ROOTS", "")),
            read_only=_flag(env.get("OUMI_MCP_READ_ONLY", "")),
            slurm_setup=env.get("OUMI_MCP_SLURM_SETUP", "").strip(),
            engine_worker=env.get("OUMI_MCP_ENGINE_WORKER", "1").strip().lower() not in FALSE_WORDS,
            worker_idle_s=_positive_float(env.get("OUMI_MCP_WORKER_IDLE_S"), WORKER_IDLE_S),
        )


def strip_overriding_env(environ: dict[str, str] | None = None) -> list[str]:
    """Remove variables that would silently override tool parameters; return their names."""
    env: dict[str, str] = os.environ if environ is None else environ  # type: ignore[assignment]
    removed = [name for name in OVERRIDING_ENV_VARS if name in env]
    for name in removed:
        del env[name]
    return removed


def _backoff(raw: str | None) -> tuple[float, ...]:
    """'5,10,20' -> (5.0, 10.0, 20.0): seconds before restart 1, 2, 3 and later."""
    try:
        values = tuple(float(part) for part in (raw or "").split(",") if part.strip())
    except ValueError:
        return RESTART_BACKOFF_S
    return values if values and all(value >= 0 for value in values) else RESTART_BACKOFF_S


def _positive_float(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def _non_negative_float(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default


def _cloud_list(raw: str) -> tuple[str, ...] | None:
    names = tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    if not names:
        return None
    return () if names == ("none",) else names


def _path_list(raw: str) -> tuple[Path, ...]:
    return tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())


def _flag(raw: str) -> bool:
    return bool(raw.strip()) and raw.strip().lower() not in FALSE_WORDS
