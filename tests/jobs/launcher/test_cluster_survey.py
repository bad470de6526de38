"""The clusters out of the launcher's listings (survey.py), and the times and price that
oumi.launcher's JobStatus carries (engine.py)."""

from __future__ import annotations

from oumi_mcp_server.jobs.launcher.engine import LauncherJob, to_launcher_job
from oumi_mcp_server.jobs.launcher.listing import CloudListing, Listed
from oumi_mcp_server.jobs.launcher.survey import cluster_survey


def job(cluster: str, job_id: str, *, done: bool, **fields: object) -> LauncherJob:
    state = "completed" if done else "running"
    return LauncherJob(
        id=job_id,
        name="n",
        cloud="aws",
        cluster=cluster,
        status=state.upper(),
        state=state,
        done=done,
        **fields,  # type: ignore[arg-type]
    )


def test_clusters_count_their_jobs_and_know_the_last_end_only_when_every_end_is_known() -> None:
    listed = Listed(
        [
            CloudListing(
                "aws",
                [
                    job("a", "1", done=True, ended_at=100.0, cost_per_hour=3.0),
                    job("a", "2", done=True, ended_at=250.0, cost_per_hour=3.0),
                    job("b", "3", done=True, ended_at=90.0),
                    job("b", "4", done=True),  # no end time: the last end is not known
                    job("c", "5", done=False),
                ],
            ),
            CloudListing("slurm", [], cluster="me@hpc"),  # listed on its own: shown empty
            CloudListing("gcp", error="credentials expired", next_step="run sky check"),
        ],
        note="azure left out",
    )
    survey = cluster_survey(listed)
    by_name = {cluster.cluster: cluster for cluster in survey.clusters}
    assert (by_name["a"].known, by_name["a"].running, by_name["a"].last_end) == (2, 0, 250.0)
    assert by_name["a"].price == 3.0
    assert by_name["b"].last_end is None and by_name["b"].price is None
    assert by_name["c"].running == 1 and by_name["c"].last_end is None
    assert by_name["me@hpc"].known == 0 and by_name["me@hpc"].cloud == "slurm"
    assert [(w.cloud, w.error) for w in survey.warnings] == [("gcp", "credentials expired")]
    assert survey.listed == ["aws", "slurm/me@hpc"] and survey.notes == ["azure left out"]


def test_oumi_launchers_job_status_gives_its_times_and_price() -> None:
    from oumi.core.launcher import JobState, JobStatus

    status = JobStatus(
        name="n",
        id="7",
        status="JobStatus.SUCCEEDED",
        cluster="sky-1",
        metadata="",
        done=True,
        state=JobState.SUCCEEDED,
        cost_per_hour=32.77,
        submit_time=1000.0,
        start_at=1010.0,
        end_at=2000.0,
    )
    converted = to_launcher_job("aws", status)
    assert (converted.started_at, converted.ended_at) == (1010.0, 2000.0)
    assert converted.cost_per_hour == 32.77 and converted.state == "completed"
    bare = JobStatus(
        name="n",
        id="8",
        status="RUNNING",
        cluster="c",
        metadata="",
        done=False,
        state=JobState.RUNNING,
        start_at=0,
    )
    converted = to_launcher_job("aws", bare)
    assert converted.started_at is None and converted.ended_at is None
    assert converted.cost_per_hour is None
