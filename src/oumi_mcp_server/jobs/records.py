"""JobRecord: which of our job ids maps to which engine identity. Never a status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from oumi_mcp_server.jobs.catalog import LOCAL_CLOUD

# Which engine runs a job: our own process backend, or oumi.launcher (any cloud,
# including the launcher's own "local" cloud).
PROCESS_BACKEND = "process"
LAUNCHER_BACKEND = "launcher"
# Accepted, still being checked: no engine has it yet (acceptance.py answers for it).
PENDING_BACKEND = "pending"


@dataclass(frozen=True)
class JobRecord:
    """Identity only: everything needed to find the job in its engine, and nothing observed.

    Process jobs are identified by the wrapper's pid, its process start time and
    a marker on its command line (so a reused pid is never mistaken for ours);
    launcher jobs by cloud, cluster name and launcher job id (empty until
    ``launcher.up`` returns), and the launcher job's name, which is our job id.
    ``model_name`` and ``output_dir`` are for display only.
    """

    job_id: str
    command: str
    config_path: str  # the user's file, as resolved at launch
    staged_config_path: str  # the copy the job actually reads
    client_cwd: str  # the job's working directory
    run_dir: str  # our per-job directory: staged config, logs, pid/exit files
    submitted_at: float  # epoch seconds
    cloud: str = LOCAL_CLOUD
    cluster_name: str = ""
    launcher_job_id: str = ""
    pid: int | None = None
    process_start_time: float | None = None  # psutil create_time of ``pid``
    marker: str = ""
    stdout_path: str = ""
    stderr_path: str = ""
    model_name: str = ""
    output_dir: str = ""
    argv: tuple[str, ...] = ()
    env_names: tuple[str, ...] = field(default=())  # names only: values may be secrets
    backend: str = PROCESS_BACKEND
    request_digest: str = ""  # digests of the request's arguments (never their values)
    attempt: int = 1  # jobs with restarts: the attempt this identity belongs to

    @property
    def attempt_key(self) -> str:
        """The job id, with the attempt after the first: what a final state is kept under
        (a restarted job's next attempt is another engine job)."""
        return self.job_id if self.attempt == 1 else f"{self.job_id}/{self.attempt}"

    @property
    def is_process(self) -> bool:
        """True for jobs of our own process backend (not oumi.launcher's local cloud)."""
        return self.backend == PROCESS_BACKEND

    @property
    def is_pending(self) -> bool:
        """True while the launch is accepted but its checks run: nothing started yet."""
        return self.backend == PENDING_BACKEND

    @property
    def is_launched(self) -> bool:
        """True once a launcher job has its launcher job id."""
        return self.backend == LAUNCHER_BACKEND and bool(self.launcher_job_id)

    def with_process(self, pid: int, start_time: float) -> JobRecord:
        return replace(self, pid=pid, process_start_time=start_time)
