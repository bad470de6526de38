"""Settings from the environment, with the time limits every engine call uses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "oumi-mcp-server"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Time limits, in seconds, for calls into engines that may hang.
CLOUD_CHECK_TIMEOUT_S = 60.0
CLOUD_CHECK_CACHE_S = 300.0


@dataclass(frozen=True)
class Settings:
    """What the server needs to know about its environment."""

    log_level: str
    state_dir: Path
    cache_dir: Path
    cloud_check_timeout_s: float = CLOUD_CHECK_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        level = env.get("OUMI_MCP_LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            level = "INFO"
        state_dir = env.get("OUMI_MCP_STATE_DIR") or platformdirs.user_state_dir(APP_NAME)
        cache_dir = env.get("OUMI_MCP_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME)
        timeout = _positive_float(env.get("OUMI_MCP_CLOUD_CHECK_TIMEOUT_S"), CLOUD_CHECK_TIMEOUT_S)
        return cls(
            log_level=level,
            state_dir=Path(state_dir),
            cache_dir=Path(cache_dir),
            cloud_check_timeout_s=timeout,
        )


def _positive_float(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default
