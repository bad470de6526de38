"""The operations a worker serves, by name, and which of them only read.

A read is retried once on a fresh worker when the worker died under it; a write
(launch, cancel, stop, down) never is: the caller is told what is known.
"""

from __future__ import annotations

READS = frozenset(
    {
        "launcher.clouds",
        "launcher.clusters",
        "launcher.status",
        "launcher.read_logs",
        "pricer.quote",
        "validate",
        "enabled_clouds",
        "excluded_files",
        "warm_up",
        "stats",
    }
)
WRITES = frozenset({"launcher.up", "launcher.cancel", "launcher.stop", "launcher.down"})
OPERATIONS = READS | WRITES
# What each write leaves unknown when the worker dies under it, and how to find out.
WRITE_CHECKS = {
    "launcher.up": "the job may have been submitted: list_jobs shows it if it was",
    "launcher.cancel": "the job may have been cancelled: get_job_status says",
    "launcher.stop": "the cluster may have been stopped: list_jobs or `sky status` says",
    "launcher.down": "the cluster may have been torn down: list_jobs or `sky status` says",
}
