"""A scriptable oumi.launcher stand-in, injected through the LauncherEngine interface.

Paid clouds cannot run here, so tests of races and failures drive this fake:
``up`` can block until released or raise, ``status`` can hang or raise per
cloud, ``cancel`` can hang, and every call is recorded so a test can check
that nothing was left running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from oumi_mcp_server.jobs.launcher.engine import LauncherJob


@dataclass
class FakeCloud:
    hang_s: float = 0.0  # status blocks this long (a hanging cloud)
    error: str = ""  # status raises RuntimeError(error)
    jobs: list[LauncherJob] = field(default_factory=list)


class FakeLauncher:
    def __init__(self, clouds: Mapping[str, FakeCloud] | None = None) -> None:
        self.clouds_by_name: dict[str, FakeCloud] = dict(
            clouds or {"gcp": FakeCloud(), "aws": FakeCloud(), "local": FakeCloud()}
        )
        self.lock = threading.Lock()
        self.calls: list[tuple[str, ...]] = []
        self.up_gate: threading.Event | None = None  # up waits for it when set
        self.up_error: str = ""
        self.up_returned = threading.Event()
        self.cancel_hang_s = 0.0
        self.final_status_on_cancel = "CANCELLED"
        self.logs_text = ""
        self._next_id = 1

    # -- scripting helpers -------------------------------------------------------------

    def add_job(self, cloud: str, cluster: str, job_id: str, name: str, status: str) -> None:
        state = {"RUNNING": "running", "SUCCEEDED": "completed", "FAILED": "failed"}.get(
            status, status.lower()
        )
        job = LauncherJob(
            id=job_id,
            name=name,
            cloud=cloud,
            cluster=cluster,
            status=status,
            state=state,
            done=state in ("completed", "failed", "cancelled"),
        )
        with self.lock:
            self.clouds_by_name[cloud].jobs.append(job)

    def set_status(self, cloud: str, job_id: str, status: str, state: str, done: bool) -> None:
        self.update_jobs(cloud, job_id=job_id, status=status, state=state, done=done)

    def update_jobs(
        self, cloud: str, *, job_id: str = "", cluster: str = "", **changes: Any
    ) -> None:
        """Change what the cloud says of its jobs (those of ``job_id`` or ``cluster``)."""
        with self.lock:
            jobs = self.clouds_by_name[cloud].jobs
            for index, job in enumerate(jobs):
                if (not job_id or job.id == job_id) and (not cluster or job.cluster == cluster):
                    jobs[index] = replace(job, **changes)

    def calls_named(self, name: str) -> list[tuple[str, ...]]:
        with self.lock:
            return [call for call in self.calls if call[0] == name]

    # -- the LauncherEngine interface ----------------------------------------------------

    def clouds(self) -> list[str]:
        return sorted(self.clouds_by_name)

    def clusters(self, cloud: str) -> list[str]:
        return []  # every fake cloud is listed as a whole

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        cloud = str(job_config["resources"]["cloud"])
        with self.lock:
            self.calls.append(("up", cloud, cluster_name or ""))
        if self.up_gate is not None:
            self.up_gate.wait(30)
        if self.up_error:
            raise RuntimeError(self.up_error)
        with self.lock:
            job_id = str(self._next_id)
            self._next_id += 1
        cluster = cluster_name or f"{cloud}-cluster-{job_id}"
        self.add_job(cloud, cluster, job_id, str(job_config.get("name", "")), "RUNNING")
        self.up_returned.set()
        return self.clouds_by_name[cloud].jobs[-1]

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]:
        target = self.clouds_by_name.get(cloud)
        if target is None:
            raise ValueError(f"Cloud {cloud} not found in the registry.")
        with self.lock:
            self.calls.append(("status", cloud, cluster or "", job_id or ""))
        if target.hang_s:
            time.sleep(target.hang_s)
        if target.error:
            raise RuntimeError(target.error)
        with self.lock:
            return [
                job
                for job in target.jobs
                if (not cluster or job.cluster == cluster) and (not job_id or job.id == job_id)
            ]

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob:
        with self.lock:
            self.calls.append(("cancel", cloud, cluster, job_id))
        if self.cancel_hang_s:
            time.sleep(self.cancel_hang_s)
        self.set_status(cloud, job_id, self.final_status_on_cancel, "cancelled", True)
        return next(job for job in self.clouds_by_name[cloud].jobs if job.id == job_id)

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str:
        with self.lock:
            self.calls.append(("logs", cloud, cluster, job_id))
        return self.logs_text[:max_bytes]

    def stop(self, cloud: str, cluster: str) -> None:
        with self.lock:
            self.calls.append(("stop", cloud, cluster))

    def down(self, cloud: str, cluster: str) -> None:
        with self.lock:
            self.calls.append(("down", cloud, cluster))
