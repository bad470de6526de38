"""The table of cloud kinds: every cloud oumi.launcher registers has one, and it says
what engine code needs of it."""

from __future__ import annotations

from oumi_mcp_server.jobs.catalog import LAUNCHER_CLOUDS, LOCAL_CLOUD, SLURM_CLOUD
from oumi_mcp_server.jobs.kinds import HPC, LOCAL, SKYPILOT, SLURM, kind_of


def test_every_launcher_cloud_has_a_kind() -> None:
    kinds = {cloud: kind_of(cloud).name for cloud in LAUNCHER_CLOUDS}
    assert kinds[LOCAL_CLOUD] == "local" and kinds[SLURM_CLOUD] == "slurm"
    assert {kinds[name] for name in ("polaris", "frontier", "perlmutter")} == {"hpc"}
    assert {kinds[name] for name in ("aws", "gcp", "azure", "lambda", "runpod", "k8s")} == {
        "skypilot"
    }


def test_only_the_local_cloud_runs_here_and_leaves_processes_here() -> None:
    for kind in (LOCAL, SLURM, HPC, SKYPILOT):
        assert kind.runs_here == (kind is LOCAL), kind.name
        assert kind.syncs_working_dir == (kind is not LOCAL), kind.name
        assert kind.leaves_processes_here == (kind is LOCAL), kind.name
        assert kind.outputs_persist and kind.launching, kind.name


def test_slurm_alone_is_an_sbatch_script_read_on_the_cluster() -> None:
    assert SLURM.sbatch_script and SLURM.accounting_lags and SLURM.clusters_from_connections
    assert SLURM.logs == "cluster_log_file" and not SLURM.bills_until_stopped
    for kind in (LOCAL, HPC, SKYPILOT):
        assert not (kind.sbatch_script or kind.accounting_lags), kind.name
    assert SKYPILOT.bills_until_stopped and SKYPILOT.logs == "launcher_stream"
    assert "storage mount" in SKYPILOT.outputs_persist
