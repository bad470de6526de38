"""Which clouds list_jobs asks: SkyPilot's enabled ones, those of our jobs, the one named.

The fake launcher (tests/launcher_support.py) records every status call, so each
test can see exactly which clouds were asked. SkyPilot's record of a `sky check`
is written by SkyPilot's own code into the test's HOME (tests/skypilot_support.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from mcp import Client

from oumi_mcp_server.environment.engines_in_use import engines_in_use, engines_line
from oumi_mcp_server.environment.skypilot_state import (
    SKYPILOT_CLOUDS,
    SkyPilotRecord,
    read_skypilot_record,
)
from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.launcher.asked_clouds import clouds_to_ask
from oumi_mcp_server.jobs.models import RunJobResult
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services, build_job_service
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import (
    CONFIG,
    LIMITS,
    job_service_for_engine,
    launch_on_gcp,
    until,
)
from tests.launcher_support import FakeCloud, FakeLauncher
from tests.project import make_project
from tests.skypilot_support import record_sky_check

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The defaults a new user has: no OUMI_MCP_CLOUDS, a HOME without ~/.sky."""
    return replace(settings, listed_clouds=None)


@pytest.fixture
def engine() -> FakeLauncher:
    return FakeLauncher(
        {"gcp": FakeCloud(), "aws": FakeCloud(), "azure": FakeCloud(), "local": FakeCloud()}
    )


def asked(engine: FakeLauncher) -> set[str]:
    return {call[1] for call in engine.calls_named("status")}


# -- list_jobs -------------------------------------------------------------------------------


async def test_a_fresh_home_asks_no_skypilot_cloud_and_says_how_to_enable_one(
    settings: Settings, engine: FakeLauncher
) -> None:
    assert not settings.skypilot_dir.exists()
    job_service = job_service_for_engine(settings, engine)
    listed = await job_service.list_jobs()
    assert asked(engine) == {"local"}
    assert listed.warnings == [] and listed.clouds_listed == ["local"]
    assert len(listed.notes) == 1, listed.notes
    assert "No SkyPilot cloud is enabled" in listed.notes[0]
    assert "no record of a `sky check`" in listed.notes[0]
    assert "run `sky check`" in listed.notes[0]
    await job_service.close()


async def test_a_home_whose_sky_check_enabled_one_cloud_asks_exactly_that_cloud(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    sky = record_sky_check(tmp_path / "home", ["GCP"])
    job_service = job_service_for_engine(replace(settings, skypilot_dir=sky), engine)
    listed = await job_service.list_jobs()
    assert asked(engine) == {"gcp", "local"}
    assert listed.clouds_listed == ["gcp", "local"]
    assert listed.warnings == [] and listed.notes == []
    await job_service.close()


async def test_a_sky_check_that_enabled_none_is_said_as_such(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    sky = record_sky_check(tmp_path / "home", [])
    job_service = job_service_for_engine(replace(settings, skypilot_dir=sky), engine)
    listed = await job_service.list_jobs()
    assert asked(engine) == {"local"}
    assert "SkyPilot's last `sky check` enabled none" in listed.notes[0]
    await job_service.close()


async def test_a_job_of_ours_on_gcp_makes_gcp_asked_with_nothing_enabled(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    job_service = job_service_for_engine(settings, engine)  # its pre-flight says gcp is enabled
    ours = await launch_on_gcp(job_service, make_project(tmp_path / "project"))
    engine.add_job("aws", "their-cluster", "7", "by-hand", "RUNNING")
    before = len(engine.calls_named("status"))

    listed = await job_service.list_jobs()  # the SkyPilot folder has no `sky check` record
    calls = engine.calls_named("status")[before:]
    assert {call[1] for call in calls} == {"gcp", "local"}
    assert [(job.job_id, job.state) for job in listed.jobs] == [(ours.job_id, "running")]
    assert listed.warnings == [] and listed.clouds_listed == ["gcp", "local"]
    assert len(listed.notes) == 1 and "besides gcp" in listed.notes[0]
    await job_service.close()


async def test_list_jobs_asks_a_cloud_the_call_names(
    settings: Settings, engine: FakeLauncher
) -> None:
    engine.add_job("aws", "their-cluster", "7", "by-hand", "RUNNING")
    job_service = job_service_for_engine(settings, engine)
    listed = await job_service.list_jobs(cloud="AWS")
    assert asked(engine) == {"aws", "local"}
    assert [(job.cloud, job.launcher_job_id) for job in listed.jobs] == [("aws", "7")]
    with pytest.raises(InvalidArgumentError, match=r"not a cloud oumi\.launcher knows"):
        await job_service.list_jobs(cloud="nimbus")
    await job_service.close()


async def test_oumi_mcp_clouds_still_decides_alone(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    sky = record_sky_check(tmp_path / "home", ["GCP"])
    configured = replace(settings, skypilot_dir=sky, listed_clouds=("azure",))
    job_service = job_service_for_engine(configured, engine)
    listed = await job_service.list_jobs()
    assert asked(engine) == {"azure"}
    assert listed.clouds_listed == ["azure"] and listed.notes == []
    await job_service.close()


async def test_the_listing_warm_up_asks_the_enabled_clouds_once_and_list_jobs_reuses_it(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    sky = record_sky_check(tmp_path / "home", ["AWS"])
    services = Services.create(replace(settings, skypilot_dir=sky, warmup=True), launcher=engine)
    assert services.listings_warmup.state == "idle"
    async with Client(build_server(services=services)) as client:
        await client.list_tools()  # the first request after the handshake starts it
        assert await until(lambda: services.listings_warmup.state == "done", timeout_s=60)
        assert services.listings_warmup.listed == ["aws", "local"]
        assert asked(engine) == {"aws", "local"}
        calls = len(engine.calls_named("status"))
        started = time.monotonic()
        result = await client.call_tool("list_jobs", {})
        assert time.monotonic() - started < 1.0
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["clouds_listed"] == ["aws", "local"]
        assert len(engine.calls_named("status")) == calls  # answered from the warm cache


async def test_with_nothing_enabled_the_warm_up_asks_no_cloud(
    settings: Settings, engine: FakeLauncher
) -> None:
    services = Services.create(replace(settings, warmup=True), launcher=engine)
    async with Client(build_server(services=services)) as client:
        await client.list_tools()
        assert await until(lambda: services.listings_warmup.state == "done", timeout_s=60)
    assert services.listings_warmup.listed == []
    assert engine.calls_named("status") == []


# -- pre-flight reads the same record (a dry run starts nothing) ------------------------------


async def dry_run_on(
    cloud: str, settings: Settings, engine: FakeLauncher, project: Path
) -> RunJobResult:
    """A dry run with the real pre-flight (no injected cloud checker)."""
    services = Services.create(settings, launcher=engine)
    job_service = build_job_service(
        settings,
        validation=services.validation,
        preflight=services.preflight,
        launcher=lambda: engine,
        launcher_limits=LIMITS,
    )
    try:
        return await job_service.run(CONFIG, "train", str(project), cloud=cloud)
    finally:
        await job_service.close()


async def test_a_dry_run_on_a_cloud_reads_the_sky_check_record(
    settings: Settings, engine: FakeLauncher, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    fresh = await dry_run_on("gcp", settings, engine, project)
    assert not fresh.checks.blocking, fresh.checks
    cloud = [w.message for w in fresh.checks.warnings if "enabled" in w.message]
    assert len(cloud) == 1 and "no record of a `sky check`" in cloud[0], cloud

    aws_only = replace(settings, skypilot_dir=record_sky_check(tmp_path / "a", ["AWS"]))
    refused = await dry_run_on("gcp", aws_only, engine, project)
    assert refused.checks.blocking
    assert [e.message for e in refused.checks.preflight_errors] == [
        "Cloud 'gcp' is not enabled in SkyPilot (enabled: aws)."
    ]

    kubernetes = replace(settings, skypilot_dir=record_sky_check(tmp_path / "k", ["Kubernetes"]))
    enabled = await dry_run_on("k8s", kubernetes, engine, project)
    assert not [e for e in enabled.checks.preflight_errors if e.check == "cloud"]
    assert not [w for w in enabled.checks.warnings if "enabled" in w.message]
    assert engine.calls == []  # nothing was asked of any cloud


# -- the pieces --------------------------------------------------------------------------------


def test_the_record_is_read_as_skypilot_writes_it(tmp_path: Path) -> None:
    missing = read_skypilot_record(tmp_path / "nowhere" / ".sky", environ={})
    assert missing.enabled is None and not missing.error and not missing.checked
    sky = record_sky_check(tmp_path / "home", ["Kubernetes", "GCP", "SSH"])
    record = read_skypilot_record(sky, environ={})
    assert record.enabled == ("gcp", "kubernetes", "ssh") and not record.remote_endpoint
    assert record.enabled_launcher_clouds() == ("gcp", "k8s")  # ssh node pools: not oumi's
    broken = tmp_path / "broken" / ".sky"
    broken.mkdir(parents=True)
    (broken / "state.db").write_text("not a database")
    assert read_skypilot_record(broken, environ={}).error


def test_a_remote_api_server_makes_every_skypilot_cloud_asked(tmp_path: Path) -> None:
    sky = tmp_path / ".sky"
    sky.mkdir()
    (sky / "config.yaml").write_text("api_server:\n  endpoint: https://sky.example.com/\n")
    record = read_skypilot_record(sky, environ={})
    assert record.remote_endpoint == "https://sky.example.com"
    asked_clouds = clouds_to_ask(record)
    assert set(asked_clouds.clouds) == {*SKYPILOT_CLOUDS, "local"} and not asked_clouds.note
    local = {"SKYPILOT_API_SERVER_ENDPOINT": "http://127.0.0.1:46580"}
    assert read_skypilot_record(tmp_path / "none", environ=local).remote_endpoint == ""


def test_slurm_is_asked_once_clusters_are_configured() -> None:
    never_checked = SkyPilotRecord(Path("/nowhere/state.db"))
    assert clouds_to_ask(never_checked).clouds == ("local",)
    with_slurm = clouds_to_ask(never_checked, slurm_configured=True)
    assert with_slurm.clouds == ("local", "slurm") and "sky check" in with_slurm.note
    ours = clouds_to_ask(never_checked, ours=["polaris"], named=["runpod"])
    assert ours.clouds == ("local", "polaris", "runpod") and "besides runpod" in ours.note


def test_our_skypilot_clouds_are_the_ones_oumi_drives_through_skypilot() -> None:
    import oumi.launcher
    from oumi.launcher.clouds.sky_cloud import SkyCloud
    from sky.utils.registry import CLOUD_REGISTRY

    through_skypilot = {
        name
        for name in oumi.launcher.which_clouds()
        if name != "slurm" and isinstance(oumi.launcher.get_cloud(name), SkyCloud)
    }
    assert through_skypilot == set(SKYPILOT_CLOUDS)
    for oumi_name, sky_name in SKYPILOT_CLOUDS.items():
        cloud = CLOUD_REGISTRY.from_str(sky_name)
        assert cloud is not None and str(cloud).lower() == sky_name, oumi_name


def test_engines_in_use_say_the_next_step_for_each_missing_one(tmp_path: Path) -> None:
    fresh = engines_in_use(SkyPilotRecord(tmp_path / "state.db"), [])
    assert [(use.engine, use.in_use) for use in fresh] == [
        ("this machine", True),
        ("SkyPilot clouds", False),
        ("Slurm", False),
    ]
    line = engines_line(fresh)
    assert line.startswith("In use: this machine. Not configured: SkyPilot clouds: ")
    assert "run `sky check`" in line and "OUMI_SLURM_CONNECTIONS=user@login-node" in line
    configured = engines_in_use(
        SkyPilotRecord(tmp_path / "state.db", enabled=("gcp", "kubernetes")), ["me@login"]
    )
    assert all(use.in_use and not use.next_step for use in configured)
    assert engines_line(configured) == (
        "In use: this machine, SkyPilot clouds (gcp, k8s), Slurm (me@login)."
    )
