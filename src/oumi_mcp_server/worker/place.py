"""Where a worker lives and what makes two servers share one.

One worker per user, state dir and engine environment: the key hashes the uid,
the Python, the state dir, every environment variable that changes what oumi,
oumi.launcher or SkyPilot see, and the size and time of their config files. A
server whose engine environment differs gets a worker of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.private import private_dir

ENGINE_ENV_PREFIXES = (
    "OUMI_",
    "SKY",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCP_",
    "CLOUDSDK_",
    "KUBE",
    "LAMBDA_",
    "RUNPOD_",
    "HF_",
    "CUDA",
    "NVIDIA",
    "PYTHON",
    "XDG_",
)
ENGINE_ENV_NAMES = frozenset({"HOME", "PATH", "USER", "VIRTUAL_ENV", "SSH_AUTH_SOCK"})
ENGINE_FILES = (
    "~/.sky/config.yaml",
    "~/.kube/config",
    "~/.aws/config",
    "~/.aws/credentials",
    "~/.lambda_cloud/lambda_keys",
    "~/.ssh/config",
)
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes


def engine_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that change what the engines see."""
    return {
        name: value
        for name, value in sorted(environ.items())
        if name in ENGINE_ENV_NAMES or name.startswith(ENGINE_ENV_PREFIXES)
    }


def _file_stamp(raw: str, environ: Mapping[str, str]) -> list[object]:
    home = environ.get("HOME", "~")
    path = Path(raw.replace("~", home, 1))
    try:
        stat = path.stat()
    except OSError:
        return [raw, None]
    return [raw, stat.st_mtime_ns, stat.st_size]


def worker_key(state_dir: Path, environ: Mapping[str, str]) -> str:
    extra_files = [environ[name] for name in ("SKYPILOT_CONFIG", "KUBECONFIG") if name in environ]
    described = {
        "uid": os.getuid(),
        "python": sys.executable,
        "state_dir": str(state_dir.expanduser().resolve()),
        "env": engine_environment(environ),
        "files": [_file_stamp(raw, environ) for raw in (*ENGINE_FILES, *extra_files)],
    }
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkerPlace:
    """The files of one worker: its private folder and its socket."""

    root: Path
    key: str

    @classmethod
    def of(cls, state_dir: Path, environ: Mapping[str, str] | None = None) -> WorkerPlace:
        env = os.environ if environ is None else environ
        key = worker_key(state_dir, env)
        return cls(root=state_dir.expanduser() / "worker" / key, key=key)

    @property
    def socket(self) -> Path:
        """In the worker's folder; in a private folder of the temp dir when that path is
        too long for a unix socket."""
        near = self.root / "socket"
        if len(str(near)) <= MAX_SOCKET_PATH:
            return near
        return Path(tempfile.gettempdir()) / f"oumi-mcp-{os.getuid()}" / f"{self.key}.sock"

    @property
    def identity_file(self) -> Path:
        return self.root / "worker.json"

    @property
    def log(self) -> Path:
        return self.root / "worker.log"

    @property
    def last_restart_file(self) -> Path:
        return self.root / "last_restart.json"

    @property
    def spawn_lock(self) -> Path:
        return self.root / "spawn.lock"

    def make(self) -> None:
        """Create the worker's folders, private to this user."""
        for folder in {self.root, self.socket.parent}:
            if private_dir(folder).stat().st_uid != os.getuid():  # the temp dir's, say
                raise PermissionError(f"{folder} belongs to another user")
