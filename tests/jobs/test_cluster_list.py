"""The clusters' rows (jobs/cluster_list.py): price by source, idle time by what is known,
the 30-minute flag only on clusters that bill until stopped."""

from __future__ import annotations

from oumi_mcp_server.jobs.cluster_list import (
    IdleClock,
    OurCluster,
    SeenCluster,
    cluster_rows,
)

NOW = 1_800_000_000.0


def test_the_clouds_price_comes_first_then_the_kept_quote_then_none() -> None:
    seen = [
        SeenCluster("gcp", "priced", running=1, known=1, price=12.5),
        SeenCluster("gcp", "quoted", running=1, known=1),
        SeenCluster("gcp", "unknown", running=1, known=1),
        SeenCluster("slurm", "me@hpc", running=0, known=0),
    ]
    ours = {
        ("gcp", "priced"): OurCluster(("a",), True, quoted_hourly_usd=9.0),
        ("gcp", "quoted"): OurCluster(("b",), True, quoted_hourly_usd=9.0),
    }
    rows = {row.cluster_name: row for row in cluster_rows(seen, ours, IdleClock(), NOW)}
    assert rows["priced"].hourly_usd == 12.5 and "cloud" in rows["priced"].price_source
    assert rows["quoted"].hourly_usd == 9.0 and "quote" in rows["quoted"].price_source
    assert rows["unknown"].hourly_usd is None and "unknown" in rows["unknown"].price_source
    slurm = rows["me@hpc"]
    assert not slurm.bills_until_stopped and slurm.hourly_usd is None
    assert "per job" in slurm.price_source and slurm.idle_cost_usd is None


def test_idle_counts_from_the_clouds_end_time_and_flags_only_clusters_that_bill() -> None:
    ended = NOW - 40 * 60
    seen = [
        SeenCluster("aws", "idle", running=0, known=2, price=4.0, last_end=ended),
        SeenCluster("local", "local", running=0, known=1, last_end=ended),
    ]
    rows = {row.cloud: row for row in cluster_rows(seen, {}, IdleClock(), NOW)}
    assert rows["aws"].idle_minutes == 40.0 and rows["aws"].idle_cost_usd == 2.6667
    assert "No running job for 40 min" in rows["aws"].warning and "$4.00/h" in rows["aws"].warning
    assert rows["local"].idle_minutes == 40.0 and not rows["local"].warning  # never bills


def test_without_end_times_idle_is_never_overstated_and_a_running_job_resets_it() -> None:
    clock = IdleClock()
    quiet = [SeenCluster("aws", "c", running=0, known=1)]
    (first,) = cluster_rows(quiet, {}, clock, NOW)
    assert first.idle_minutes == 0.0 and "first saw it" in first.idle_basis
    (later,) = cluster_rows(quiet, {}, clock, NOW + 31 * 60)
    assert later.idle_minutes == 31.0 and later.warning
    (busy,) = cluster_rows([SeenCluster("aws", "c", 1, 2)], {}, clock, NOW + 32 * 60)
    assert busy.idle_minutes is None and not busy.warning
    (again,) = cluster_rows(quiet, {}, clock, NOW + 33 * 60)
    assert again.idle_minutes == 0.0  # counted afresh after the job


def test_an_end_time_in_the_future_is_not_negative_idle() -> None:
    seen = [SeenCluster("aws", "skewed", running=0, known=1, last_end=NOW + 120)]
    (row,) = cluster_rows(seen, {}, IdleClock(), NOW)
    assert row.idle_minutes == 0.0 and not row.warning
