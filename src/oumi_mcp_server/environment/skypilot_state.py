"""What SkyPilot recorded on this machine, read without starting anything.

SkyPilot keeps the result of its last ``sky check`` in ``~/.sky/state.db`` (table
``config``: one ``enabled_clouds_<workspace>_compute`` row per workspace, a JSON
list of its cloud names). Reading that file is a read-only SQLite query of about a
millisecond; asking SkyPilot itself starts its local API server (10-20 s, and a
daemon of several GB that stays). A remote API server (``SKYPILOT_API_SERVER_ENDPOINT``,
or ``api_server.endpoint`` in ``~/.sky/config.yaml``) keeps its record there, not
here, and asking it starts nothing on this machine.

Blocking (file reads): call from worker threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SKY_DIR = Path("~/.sky")
STATE_DB = "state.db"
CONFIG_YAML = "config.yaml"
ENABLED_CLOUDS_KEYS = "enabled_clouds_%_compute"
ENDPOINT_ENV = "SKYPILOT_API_SERVER_ENDPOINT"
LOCAL_ENDPOINTS = frozenset(
    f"http://{host}:46580" for host in ("127.0.0.1", "localhost", "0.0.0.0")
)
CONFIG_MAX_BYTES = 1_000_000
# The clouds oumi.launcher drives through SkyPilot, each with SkyPilot's own name for it
# (lower case, as in the `sky check` record); a test checks both against the installed
# libraries. Asking one starts SkyPilot's local API server when it is not running.
SKYPILOT_CLOUDS = {
    "aws": "aws",
    "azure": "azure",
    "gcp": "gcp",
    "k8s": "kubernetes",
    "lambda": "lambda",
    "nebius": "nebius",
    "runpod": "runpod",
    "sky-slurm": "slurm",
}


@dataclass(frozen=True)
class SkyPilotRecord:
    """SkyPilot's last ``sky check`` on this machine, and where its API server would run."""

    source: Path
    # SkyPilot's cloud names, lower case ("gcp", "kubernetes"); None: no check recorded.
    enabled: tuple[str, ...] | None = None
    error: str = ""  # the record exists but could not be read
    remote_endpoint: str = ""  # a remote API server answers for SkyPilot (nothing starts here)

    @property
    def checked(self) -> bool:
        return self.enabled is not None

    def enabled_launcher_clouds(self) -> tuple[str, ...]:
        """The enabled clouds by oumi.launcher's names (``kubernetes`` is ``k8s``); clouds
        oumi.launcher does not drive (SkyPilot's ``ssh`` node pools) are left out."""
        enabled = set(self.enabled or ())
        return tuple(oumi for oumi, sky in SKYPILOT_CLOUDS.items() if sky in enabled)

    def describe(self) -> str:
        """Where the enabled clouds come from, in words (for messages)."""
        if self.error:
            return f"SkyPilot's record of its last `sky check` could not be read: {self.error}"
        if self.enabled is None:
            return f"SkyPilot has no record of a `sky check` in {self.source}"
        if not self.enabled:
            return "SkyPilot's last `sky check` enabled none"
        return f"enabled by SkyPilot's last `sky check`: {', '.join(self.enabled)}"


def read_skypilot_record(
    sky_dir: Path = SKY_DIR, environ: Mapping[str, str] | None = None
) -> SkyPilotRecord:
    """SkyPilot's last ``sky check`` from ``sky_dir/state.db`` (read-only), never raising."""
    env = os.environ if environ is None else environ
    folder = sky_dir.expanduser()
    path = folder / STATE_DB
    remote = _remote_endpoint(folder, env)
    if not path.is_file():
        return SkyPilotRecord(path, remote_endpoint=remote)
    try:
        enabled = _recorded_clouds(path)
    except (sqlite3.Error, ValueError, OSError) as exc:
        return SkyPilotRecord(path, error=str(exc), remote_endpoint=remote)
    return SkyPilotRecord(path, enabled=enabled, remote_endpoint=remote)


def _recorded_clouds(path: Path) -> tuple[str, ...] | None:
    """The union of every workspace's enabled clouds; None when no check was recorded."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    try:
        rows = connection.execute(
            "SELECT value FROM config WHERE key LIKE ?", (ENABLED_CLOUDS_KEYS,)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the file exists, no check has written to it
            return None
        raise
    finally:
        connection.close()
    if not rows:
        return None
    clouds: set[str] = set()
    for (value,) in rows:
        listed = json.loads(value)
        if not isinstance(listed, list):
            raise ValueError("unexpected enabled-clouds record")
        clouds.update(str(cloud).lower() for cloud in listed)
    return tuple(sorted(clouds))


def _remote_endpoint(folder: Path, env: Mapping[str, str]) -> str:
    """The API server SkyPilot would ask, when it is not this machine's ('' otherwise)."""
    endpoint = env.get(ENDPOINT_ENV, "").strip() or _configured_endpoint(folder / CONFIG_YAML)
    endpoint = endpoint.rstrip("/")
    return "" if not endpoint or endpoint in LOCAL_ENDPOINTS else endpoint


def _configured_endpoint(path: Path) -> str:
    import yaml

    try:
        if not path.is_file() or path.stat().st_size > CONFIG_MAX_BYTES:
            return ""
        config = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError):  # SkyPilot's to report; here: "local"
        return ""
    server = config.get("api_server") if isinstance(config, dict) else None
    endpoint = server.get("endpoint") if isinstance(server, dict) else None
    return str(endpoint) if isinstance(endpoint, str) else ""
