"""One table of cloud kinds: what differs between the places an oumi.launcher job runs.

oumi.launcher's clouds fall into a few kinds that behave alike: its ``local``
cloud (jobs on this machine, in the working dir itself), its ``slurm`` cloud
(clusters named ``user@host``, driven over ssh), oumi's HPC clouds (Polaris,
Frontier, Perlmutter) and the clouds it drives through SkyPilot (VMs that bill
until stopped). Engine code asks this table what a cloud does (is the working
dir copied, where are logs read, what can a job leave behind, where do outputs
persist) instead of comparing cloud names; a new cloud is one row here.

Pricing (a price per hour where a catalog knows one) is to sit beside this
table; restarts ask ``outputs_persist`` where a checkpoint survives the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from oumi_mcp_server.jobs.catalog import LOCAL_CLOUD, SLURM_CLOUD

KindName = Literal["local", "slurm", "hpc", "skypilot"]
# Where a job's output is read: the files oumi's local cloud writes in the run dir, the
# cluster's log file (one bounded ssh call), or the launcher's log stream of the cluster.
LogSource = Literal["run_dir_files", "cluster_log_file", "launcher_stream"]
# Where a restart finds the previous attempt's newest checkpoint: in the working dir on
# this machine, in the job's remote folder on the cluster (over ssh), or not from here (a
# restart then asks oumi to resume from the last checkpoint its output dir still has).
CheckpointSource = Literal["working_dir", "cluster_work_dir", "not_from_here"]

HPC_CLOUDS = frozenset({"polaris", "frontier", "perlmutter"})


@dataclass(frozen=True)
class CloudKind:
    name: KindName
    runs_here: bool  # on this machine, in the working dir itself (nothing is copied)
    syncs_working_dir: bool  # the working dir is copied to where the job runs
    logs: LogSource
    failure_tails: bool  # a failed job's status shows its output tails (read within limits)
    # Its job table lives in the memory of the process that runs oumi.launcher (the worker).
    jobs_live_in_server: bool
    clusters_from_connections: bool  # clusters are configured connections, built per cluster
    sbatch_script: bool  # the job config becomes an sbatch script (#SBATCH lines, time limit)
    accounting_lags: bool  # a job just submitted may be missing from the listing for a moment
    leaves_processes_here: bool  # a cancel can leave the job's processes on this machine
    bills_until_stopped: bool  # the cluster costs money until stop_cluster or down_cluster
    outputs_persist: str  # where a job's outputs (and checkpoints) survive it
    checkpoints: CheckpointSource  # where a restart finds the newest checkpoint
    launching: str  # what a launch does meanwhile, in words


LOCAL = CloudKind(
    name="local",
    runs_here=True,
    syncs_working_dir=False,
    logs="run_dir_files",
    failure_tails=True,
    jobs_live_in_server=True,
    clusters_from_connections=False,
    sbatch_script=False,
    accounting_lags=False,
    leaves_processes_here=True,
    bills_until_stopped=False,
    outputs_persist="on this machine, in the working dir",
    checkpoints="working_dir",
    launching="(starting the job on this machine).",
)
SLURM = CloudKind(
    name="slurm",
    runs_here=False,
    syncs_working_dir=True,
    logs="cluster_log_file",
    failure_tails=True,
    jobs_live_in_server=False,
    clusters_from_connections=True,
    sbatch_script=True,
    accounting_lags=True,
    leaves_processes_here=False,
    bills_until_stopped=False,
    outputs_persist=(
        "on the cluster, in the copy of the working dir each submission makes (a new folder "
        "per launch: relative output dirs move between attempts)"
    ),
    checkpoints="cluster_work_dir",
    launching="(copying the working dir, then sbatch).",
)
HPC = CloudKind(
    name="hpc",
    runs_here=False,
    syncs_working_dir=True,
    logs="launcher_stream",
    failure_tails=False,
    jobs_live_in_server=False,
    clusters_from_connections=False,
    sbatch_script=False,
    accounting_lags=False,
    leaves_processes_here=False,
    bills_until_stopped=True,
    outputs_persist="on the cluster's file system, in the copy of the working dir",
    checkpoints="not_from_here",
    launching="(copying the working dir, then submitting to the scheduler).",
)
SKYPILOT = CloudKind(
    name="skypilot",
    runs_here=False,
    syncs_working_dir=True,
    logs="launcher_stream",
    failure_tails=False,
    jobs_live_in_server=False,
    clusters_from_connections=False,
    sbatch_script=False,
    accounting_lags=False,
    leaves_processes_here=False,
    bills_until_stopped=True,
    outputs_persist=(
        "on the VM's disk: gone with down_cluster unless written to a storage mount or copied out"
    ),
    checkpoints="not_from_here",
    launching="(a cloud VM takes minutes).",
)


def kind_of(cloud: str) -> CloudKind:
    """The kind of an oumi.launcher cloud (any cloud it does not name runs on SkyPilot)."""
    if cloud == LOCAL_CLOUD:
        return LOCAL
    if cloud == SLURM_CLOUD:
        return SLURM
    if cloud in HPC_CLOUDS:
        return HPC
    return SKYPILOT
