"""oumi.launcher behind a small Protocol, so tests can inject slow or failing engines.

Every method blocks (SkyPilot calls take seconds); callers run them in worker
threads under time limits. Nothing here imports oumi until a method runs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from oumi_mcp_server.engines import imported, load
from oumi_mcp_server.jobs.catalog import SLURM_CLOUD
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.slurm_clusters import slurm_clusters
from oumi_mcp_server.jobs.launcher.slurm_state import slurm_detail
from oumi_mcp_server.jobs.status import JobState, from_engine_state, is_terminal

LAUNCHER_MODULE = "oumi.launcher"


@dataclass(frozen=True)
class LauncherJob:
    """A job as the launcher reports it, with our canonical state."""

    id: str
    name: str
    cloud: str
    cluster: str
    status: str  # the launcher's own words
    state: str  # canonical: queued, launching, running, completed, failed, cancelled
    done: bool
    metadata: str = ""
    cost_per_hour: float | None = None  # the cluster's, all nodes (SkyPilot's price)
    exit_code: int | None = None  # where the engine reports one (Slurm)
    started_at: float | None = None  # epoch seconds, where the engine reports them
    ended_at: float | None = None


class LauncherEngine(Protocol):
    def clouds(self) -> list[str]: ...

    def clusters(self, cloud: str) -> list[str]:
        """The clusters of a cloud that are listed one by one (each reached on its own:
        Slurm's), or [] when the cloud is listed as a whole."""

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob: ...

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]: ...

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob: ...

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str: ...

    def stop(self, cloud: str, cluster: str) -> None: ...

    def down(self, cloud: str, cluster: str) -> None: ...


def canonical_state(state: str | None, status_text: str | None, done: bool) -> str:
    """Our state for a launcher job: its ``state`` first, then its status text, then ``done``.

    A scheduler's own word for an ended job wins over the launcher's reading of it:
    Slurm's sacct says ``CANCELLED by 0``, which oumi 0.9 turns into state PENDING.
    """
    words = (status_text or "").split()
    said = from_engine_state(words[0]) if words else None
    if said is not None and is_terminal(said):
        return said.value
    for raw in (state, status_text):
        if raw:
            found = from_engine_state(raw)
            if found is not None:
                return found.value
    return (JobState.COMPLETED if done else JobState.RUNNING).value


def to_launcher_job(cloud: str, status: Any) -> LauncherJob:
    state = getattr(getattr(status, "state", None), "value", None)
    metadata = str(status.metadata or "")
    exit_code = None
    if kind_of(cloud).sbatch_script:  # scontrol's whole dump: keep Slurm's reason and exit code
        detail = slurm_detail(metadata)
        metadata, exit_code = detail.summary, detail.exit_code
    return LauncherJob(
        id=str(status.id),
        name=str(status.name),
        cloud=cloud,
        cluster=str(status.cluster),
        status=str(status.status),
        state=canonical_state(state, str(status.status), bool(status.done)),
        done=bool(status.done),
        metadata=metadata,
        cost_per_hour=_number(getattr(status, "cost_per_hour", None)),
        exit_code=exit_code,
        started_at=_number(getattr(status, "start_at", None)) or None,  # 0: not given
        ended_at=_number(getattr(status, "end_at", None)) or None,
    )


def _number(value: object) -> float | None:
    """A price or a time the engine gave (a number, not negative), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _job_config(job_config: Mapping[str, Any]) -> Any:
    import yaml

    configs = load("oumi.core.configs")
    return configs.JobConfig.from_str(yaml.safe_dump(dict(job_config)))


class OumiLauncherEngine:
    """The real engine: oumi.launcher (SkyPilot, Slurm, Polaris, local, ...).

    Clouds are asked one at a time per thread: ``status`` walks one cloud's
    clusters itself (what ``launcher.status(cloud=...)`` does), because the
    launcher's own walk iterates a shared dict that another thread may grow.
    """

    _clouds_lock = threading.Lock()

    def _launcher(self) -> Any:
        return load(LAUNCHER_MODULE)

    def _cloud(self, cloud: str) -> Any:
        with self._clouds_lock:  # the launcher creates cloud objects on first use
            return self._launcher().get_cloud(cloud)

    def clouds(self) -> list[str]:
        names = sorted(self._launcher().which_clouds())
        for name in names:
            if not kind_of(name).clusters_from_connections:  # built per cluster, on first use
                self._cloud(name)
        return names

    def clusters(self, cloud: str) -> list[str]:
        return slurm_clusters().names() if kind_of(cloud).clusters_from_connections else []

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        config = _job_config(job_config)
        cloud = config.resources.cloud
        if kind_of(cloud).clusters_from_connections and cluster_name:
            from oumi_mcp_server.slurm.remote_dirs import ensure_log_dir

            target = slurm_clusters().get(cluster_name)
            ensure_log_dir(cluster_name)  # neither oumi nor Slurm creates it; jobs fail without
            return to_launcher_job(cloud, target.run_job(config))
        self._cloud(cloud)
        _, status = self._launcher().up(config, cluster_name)
        return to_launcher_job(cloud, status)

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]:
        kind = kind_of(cloud)
        if kind.clusters_from_connections:
            return self._slurm_status(cluster, job_id)
        if kind.jobs_live_in_server and not imported(LAUNCHER_MODULE):
            return []  # oumi's local cloud lives in this process: no job before it loads
        jobs = []
        for target in self._cloud(cloud).list_clusters():
            if cluster and target.name() != cluster:
                continue
            for job in target.get_jobs():
                if job_id is None or str(job.id) == job_id:
                    jobs.append(to_launcher_job(cloud, job))
        return jobs

    def _slurm_status(self, cluster: str | None, job_id: str | None) -> list[LauncherJob]:
        """Each cluster on its own. A job id is looked up in squeue/scontrol first (no
        accounting lag right after sbatch), then in sacct (after squeue forgot it)."""
        jobs = []
        for name in [cluster] if cluster else slurm_clusters().names():
            target = slurm_clusters().get(name)
            found = target.get_job(job_id) if job_id else None
            if found is not None:
                jobs.append(to_launcher_job(SLURM_CLOUD, found))
                continue
            for job in target.get_jobs():
                if job_id is None or str(job.id) == job_id:
                    jobs.append(to_launcher_job(SLURM_CLOUD, job))
        return jobs

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob:
        if kind_of(cloud).clusters_from_connections:
            return to_launcher_job(cloud, slurm_clusters().get(cluster).cancel_job(job_id))
        return to_launcher_job(cloud, self._launcher().cancel(job_id, cloud, cluster))

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str:
        target = self._cloud(cloud).get_cluster(cluster)
        if target is None:
            raise LookupError(f"No cluster {cluster} on {cloud}.")
        stream = target.get_logs_stream(cluster, job_id)
        return read_stream_within(stream, max_bytes=max_bytes, timeout_s=timeout_s)

    def stop(self, cloud: str, cluster: str) -> None:
        self._launcher().stop(cloud, cluster)

    def down(self, cloud: str, cluster: str) -> None:
        self._launcher().down(cloud, cluster)


def read_stream_within(stream: Any, *, max_bytes: int, timeout_s: float) -> str:
    """Read a (possibly endless) log stream for at most ``timeout_s`` or ``max_bytes``.

    A helper thread reads; it alone closes the stream, once it stops reading
    (closing a stream from another thread while it blocks in readline crashes
    some stream implementations). The caller gets what was read by the deadline.
    """
    lines: list[str] = []
    size = 0
    lock = threading.Lock()
    stop = threading.Event()
    finished = threading.Event()

    def reader() -> None:
        nonlocal size
        try:
            while not stop.is_set():
                line = stream.readline()
                if not line:
                    break
                text = line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)
                with lock:
                    lines.append(text)
                    size += len(text)
                    if size >= max_bytes:
                        break
        finally:
            with contextlib.suppress(Exception):  # the stream is done either way
                stream.close()
            finished.set()

    threading.Thread(target=reader, name="launcher-logs", daemon=True).start()
    finished.wait(timeout_s)
    stop.set()
    time.sleep(0)  # let the reader see the flag if it is between lines
    with lock:
        return "".join(lines)[-max_bytes:]
