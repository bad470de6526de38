"""JobRecord: which of our job ids maps to which engine identity. Never a status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

LOCAL_CLOUD = "local"


@dataclass(frozen=True)
class JobRecord:
    """Identity only: everything needed to find the job in its engine, and nothing observed.

    Local jobs are identified by the wrapper's pid, its process start time and
    a marker on its command line (so a reused pid is never mistaken for ours);
    cloud jobs (a later backend) by cloud, cluster name and launcher job id.
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

    @property
    def is_local(self) -> bool:
        return self.cloud == LOCAL_CLOUD

    def with_process(self, pid: int, start_time: float) -> JobRecord:
        return replace(self, pid=pid, process_start_time=start_time)
