"""oumi's Slurm clusters, each reached on its own, and the ssh masters they leave open.

oumi 0.9's slurm cloud connects to every cluster of ``OUMI_SLURM_CONNECTIONS``
when it is first built, once per process: one unreachable entry makes the
whole cloud (and ``launcher.status()`` for every cloud) fail, and a cluster
that is not listed is unknown to a restarted server. So the engine builds
oumi's ``SlurmCluster`` objects itself, one per ``user@host``, on first use
and each under its own lock: the listed clusters, plus any cluster a job names
(a launch, a status, a cancel), so a restarted server reaches its jobs again.

oumi opens an ssh ControlMaster per cluster (``~/.ssh/control-%h-%p-%r``) that
outlives the process by 4 hours; ``close`` ends the ones this process opened.
Blocking (ssh): call from worker threads.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

from oumi_mcp_server.engines import load

logger = logging.getLogger(__name__)

CONNECTIONS_ENV = "OUMI_SLURM_CONNECTIONS"
CONTROL_PATH = "~/.ssh/control-%h-%p-%r"  # where oumi's slurm client keeps its masters
CLOSE_TIMEOUT_S = 5.0


def configured(env: Mapping[str, str] | None = None) -> list[str]:
    """The clusters of ``OUMI_SLURM_CONNECTIONS`` (comma-separated ``user@host``)."""
    raw = (os.environ if env is None else env).get(CONNECTIONS_ENV, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


class SlurmClusters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._named: list[str] = []  # clusters named by jobs, besides the configured ones
        self._opened: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}

    def names(self) -> list[str]:
        """Every cluster to list: the configured ones, then those jobs named."""
        with self._lock:
            named = list(self._named)
        return list(dict.fromkeys([*configured(), *named]))

    def remember(self, name: str) -> None:
        with self._lock:
            if name not in self._named:
                self._named.append(name)

    def get(self, name: str) -> Any:
        """oumi's ``SlurmCluster`` for ``user@host`` (building it opens the ssh master)."""
        self.remember(name)
        with self._lock:
            found = self._opened.get(name)
            lock = self._locks.setdefault(name, threading.Lock())
        if found is not None:
            return found
        with lock:  # one cluster that hangs never holds up another
            if name not in self._opened:
                clusters = load("oumi.launcher.clusters.slurm_cluster")
                clients = load("oumi.launcher.clients.slurm_client")
                info = clusters.SlurmCluster.parse_cluster_name(name)
                client = clients.SlurmClient(
                    user=info.user, slurm_host=info.hostname, cluster_name=info.name
                )
                self._opened[name] = clusters.SlurmCluster(name, client)
            return self._opened[name]

    def close(self) -> list[str]:
        """End the ssh masters this process opened; the clusters whose master was closed."""
        with self._lock:
            names = list(self._opened)
            self._opened.clear()
        closed = []
        for name in names:
            try:
                done = subprocess.run(
                    ["ssh", "-o", f"ControlPath={CONTROL_PATH}", "-O", "exit", name],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=CLOSE_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                logger.warning("Could not close the ssh master of %s: %s", name, exc)
                continue
            if done.returncode == 0:
                closed.append(name)
        return closed


_CLUSTERS = SlurmClusters()


def slurm_clusters() -> SlurmClusters:
    """The process's Slurm clusters (like oumi's own clouds, one set per process)."""
    return _CLUSTERS
