"""Slurm pre-flight and bounded Slurm log reads, against the real loopback cluster.

Tests marked ``slurm`` use the cluster ``scripts/slurm-loopback up`` starts
(``tests/slurm_support.py``): skipped with the reason when it is down, failing
when OUMI_MCP_REQUIRE_SLURM=1. The others need no cluster.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError
from oumi_mcp_server.jobs.launcher.slurm_logs import read_slurm_log, slurm_log_read, to_log_page
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.preflight.models import Finding
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.preflight.slurm_check import check_slurm, judge, slurm_request
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.slurm.probe import TOTAL_TIMEOUT_S, Probe
from oumi_mcp_server.slurm.remote_dirs import ensure_log_dir
from oumi_mcp_server.slurm.ssh import cluster_problem, run_remote_script
from tests.project import write_yaml
from tests.slurm_support import slurm_cluster

CONNECTED = {"OUMI_SLURM_CONNECTIONS": "other@host, root@localhost"}
PLAIN_JOB = {"resources": {"cloud": "slurm"}, "working_dir": ".", "run": "echo hello"}
LINES = 2000
EXPECTED = b"".join(f"line {i}\n".encode() for i in range(1, LINES + 1))


@pytest.fixture
def cluster() -> str:
    return slurm_cluster()


def _ssh(cluster: str, command: str, timeout_s: float = 15.0) -> str:
    done = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", cluster, command],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return done.stdout


def _remote_children() -> list[str]:
    """ssh / tail / sleep processes this test process (still) has below it."""
    names = {"ssh", "tail", "head", "sleep"}
    return [
        f"{child.pid} {child.name()}"
        for child in psutil.Process().children(recursive=True)
        if child.is_running() and child.status() != psutil.STATUS_ZOMBIE and child.name() in names
    ]


def _messages(findings: list[Finding]) -> str:
    return "\n".join(f"{f.message} | {f.hint}" for f in findings)


# --- pre-flight on the real cluster -------------------------------------------------------


@pytest.mark.slurm
def test_a_plain_job_passes_and_the_partitions_are_listed(cluster: str) -> None:
    began = time.monotonic()
    report, errors, warnings = check_slurm(cluster, PLAIN_JOB, CONNECTED)
    assert not errors, _messages(errors)
    assert not warnings, _messages(warnings)  # listed in OUMI_SLURM_CONNECTIONS, logs dir there
    assert report.enabled is True
    assert "partitions: debug* (" in report.note and "no GPUs" in report.note
    assert time.monotonic() - began < TOTAL_TIMEOUT_S


@pytest.mark.slurm
def test_a_cluster_missing_from_the_connections_is_a_warning(cluster: str) -> None:
    _, errors, warnings = check_slurm(cluster, PLAIN_JOB, {"OUMI_SLURM_CONNECTIONS": "a@b"})
    assert not errors
    assert [w.check for w in warnings] == ["slurm"]
    assert "for this server process only" in warnings[0].message
    assert "restarted server still reaches the job" in warnings[0].hint


@pytest.mark.slurm
@pytest.mark.parametrize("unreachable", ["root@127.0.0.2", "nobody-here@localhost"])
def test_an_unreachable_cluster_is_an_error_with_the_ssh_fix(
    cluster: str, unreachable: str
) -> None:
    began = time.monotonic()
    report, errors, _ = check_slurm(unreachable, PLAIN_JOB, CONNECTED)
    assert time.monotonic() - began < TOTAL_TIMEOUT_S
    assert report.enabled is False
    assert len(errors) == 1 and errors[0].check == "slurm"
    assert f"Cannot reach {unreachable} over ssh" in errors[0].message
    assert "Connection refused" in errors[0].message or "Permission denied" in errors[0].message
    for fix in ("~/.ssh/config", "BatchMode yes", "IdentityFile", "authorized_keys"):
        assert fix in errors[0].hint
    assert f"ssh {unreachable} true" in errors[0].hint


@pytest.mark.slurm
def test_a_cluster_that_does_not_answer_in_time_is_named_and_its_ssh_killed(
    cluster: str,
) -> None:
    began = time.monotonic()
    report, errors, _ = check_slurm(cluster, PLAIN_JOB, CONNECTED, timeout_s=0.05)
    assert time.monotonic() - began < 3
    assert [e.message for e in errors] == [
        f"ssh {cluster} did not answer within 0.05 s (connecting or logging in)."
    ]
    assert report.enabled is False and not _remote_children()


def test_checks_that_never_answered_are_warnings_naming_them() -> None:
    listed = {"OUMI_SLURM_CONNECTIONS": "root@hpc"}
    started_only = Probe(started=True, cluster="root@hpc", log_dir_state="ok")  # stopped mid-way
    _, errors, warnings = judge(started_only, PLAIN_JOB, listed)
    assert not errors
    assert [w.message for w in warnings] == [
        "accounting (sacct): no answer before the time limit; not verified.",
        "partitions and GPUs (sinfo): no answer before the time limit; not verified.",
    ]
    slow = Probe(
        started=True, ended=True, cluster="root@hpc", log_dir_state="ok", codes={"sacct": 124}
    )
    _, errors, warnings = judge(slow, PLAIN_JOB, listed)
    assert not errors and "sacct did not answer within 4 s" in warnings[0].message


@pytest.mark.slurm
def test_a_partition_or_gpus_the_cluster_lacks_are_errors_naming_what_it_has(
    cluster: str,
) -> None:
    job = {**PLAIN_JOB, "run": "#SBATCH --partition=gpu-big\necho hi"}
    _, errors, _ = check_slurm(cluster, job, CONNECTED)
    assert len(errors) == 1 and errors[0].field == "run", _messages(errors)
    assert "gpu-big" in errors[0].message and "partitions: debug*" in errors[0].message

    job = {**PLAIN_JOB, "resources": {"cloud": "slurm", "accelerators": "A100:2"}}
    _, errors, _ = check_slurm(cluster, job, CONNECTED)
    assert [e.field for e in errors] == ["resources.accelerators"], _messages(errors)
    assert "gpu:A100:2" in errors[0].message and "debug* (" in errors[0].message
    assert "no GPUs" in errors[0].message

    job = {**PLAIN_JOB, "resources": {"cloud": "slurm", "cpus": "512", "memory": "4096"}}
    _, errors, _ = check_slurm(cluster, job, CONNECTED)
    assert sorted(e.field for e in errors) == ["resources.cpus", "resources.memory"]


@pytest.mark.slurm
def test_a_missing_log_dir_is_a_warning_and_ensure_log_dir_creates_it(cluster: str) -> None:
    log_dir = f"oumi_mcp_test_logs_{uuid.uuid4().hex[:8]}"  # the real ~/oumi_slurm_logs stays
    try:
        _, errors, warnings = check_slurm(cluster, PLAIN_JOB, CONNECTED, log_dir=log_dir)
        assert not errors
        assert len(warnings) == 1 and f"~/{log_dir} does not exist" in warnings[0].message
        assert "created at launch" in warnings[0].message
        ensure_log_dir(cluster, log_dir=log_dir)
        assert _ssh(cluster, f"test -d ~/{log_dir} && echo yes").strip() == "yes"
        _, _, warnings = check_slurm(cluster, PLAIN_JOB, CONNECTED, log_dir=log_dir)
        assert not warnings, _messages(warnings)
    finally:
        _ssh(cluster, f"rmdir ~/{log_dir} 2>/dev/null; true")


@pytest.mark.slurm
@pytest.mark.anyio
async def test_pre_flight_of_a_slurm_job_config_runs_the_cluster_checks(
    cluster: str, settings: Settings, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "job.yaml", {**PLAIN_JOB, "run": "#SBATCH -p nope\necho hi"})
    service = _service(settings, environ=CONNECTED)
    report = await service.check("job.yaml", str(tmp_path), "slurm", cluster=cluster)
    slurm_errors = [e for e in report.errors if e.check == "slurm"]
    assert report.blocking and len(slurm_errors) == 1, _messages(report.errors)
    assert "nope" in slurm_errors[0].message
    assert report.cloud_readiness is not None and "debug*" in report.cloud_readiness.note
    assert report.timings_ms["slurm"] < TOTAL_TIMEOUT_S * 1000


# --- pre-flight without a cluster ----------------------------------------------------------


def _service(settings: Settings, **kw: object) -> PreflightService:
    checker = CloudChecker(lambda: [], timeout_s=5, cache_s=300)
    return PreflightService(
        settings,
        cloud_checker=checker,
        library=LibraryService(settings),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.anyio
async def test_without_a_cluster_name_the_cluster_checks_are_skipped_with_a_warning(
    settings: Settings, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "job.yaml", PLAIN_JOB)
    report = await _service(settings).check("job.yaml", str(tmp_path), "slurm")
    skipped = [w for w in report.warnings if w.check == "slurm"]
    assert len(skipped) == 1 and "skipped" in skipped[0].message
    assert "cluster_name='user@host'" in skipped[0].hint
    assert not [e for e in report.errors if e.check == "slurm"]


@pytest.mark.anyio
async def test_a_launchs_configs_share_one_probe_of_the_cluster(
    settings: Settings, tmp_path: Path
) -> None:
    calls: list[str] = []

    def probe(cluster: str, timeout_s: float) -> Probe:
        calls.append(cluster)
        time.sleep(0.3)  # still in flight when the second check asks
        return Probe(started=True, ended=True, cluster=cluster, log_dir_state="ok")

    write_yaml(tmp_path / "job.yaml", PLAIN_JOB)
    service = _service(settings, slurm_probe=probe, environ=CONNECTED)
    reports = await asyncio.gather(
        *(service.check("job.yaml", str(tmp_path), "slurm", cluster="root@hpc") for _ in "ab")
    )
    assert calls == ["root@hpc"]
    assert all(r.cloud_readiness and r.cloud_readiness.enabled for r in reports)


@pytest.mark.anyio
async def test_a_complete_probe_is_reused_for_a_minute_and_an_incomplete_one_is_not(
    settings: Settings, tmp_path: Path
) -> None:
    """A launch right after its dry run does not ssh to the cluster again."""
    calls: list[str] = []

    def probe(cluster: str, timeout_s: float) -> Probe:
        calls.append(cluster)
        return Probe(started=True, ended=cluster != "root@flaky", cluster=cluster)

    write_yaml(tmp_path / "job.yaml", PLAIN_JOB)
    service = _service(settings, slurm_probe=probe, environ=CONNECTED)
    for cluster in ("root@hpc", "root@hpc", "root@flaky", "root@flaky"):
        await service.check("job.yaml", str(tmp_path), "slurm", cluster=cluster)
    assert calls == ["root@hpc", "root@flaky", "root@flaky"]


@pytest.mark.parametrize(
    "bad", ["-oProxyCommand=touch /tmp/x@h", "root@-oProxyCommand=x", "a b@h", "r'@h", "root@"]
)
def test_cluster_names_that_ssh_would_read_as_options_are_refused(bad: str) -> None:
    assert cluster_problem(bad)
    _, errors, _ = check_slurm(bad, PLAIN_JOB, CONNECTED)
    assert len(errors) == 1 and errors[0].field == "cluster_name"
    with pytest.raises(InvalidArgumentError):
        read_slurm_log(bad, "1", max_bytes=10, offset=None, timeout_s=1)
    assert not cluster_problem("alice@login-1.hpc.example.org")


def test_what_a_job_asks_of_the_cluster_is_read_like_oumi_maps_it() -> None:
    request = slurm_request(
        {
            "setup": "#SBATCH -p gpu\nmodule load cuda",
            "run": "#SBATCH --partition a,b\n# #SBATCH -p commented\necho",
            "resources": {"accelerators": "H100:8+", "cpus": "4+", "memory": "16"},
        }
    )
    assert request.partitions == ("gpu", "a", "b")
    assert request.gres == "gpu:H100:8" and request.cpus == 4
    assert request.memory_mb == 16 * 1024
    assert slurm_request({"resources": {"accelerators": "2"}}).gres == "gpu:2"
    assert slurm_request({"resources": {"accelerators": "A100"}}).gres == "gpu:A100:1"


# --- bounded log reads ---------------------------------------------------------------------


@pytest.fixture
def finished_job(cluster: str) -> Iterator[str]:
    """A real Slurm job that wrote LINES lines to ~/oumi_slurm_logs/<id>.out."""
    command = (
        "sbatch --parsable -o ~/oumi_slurm_logs/%j.out "
        "--wrap 'for i in $(seq 1 2000); do echo line $i; done'"
    )
    job_id = _ssh(cluster, command).strip().split(";")[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        queued = _ssh(cluster, f"squeue -h -j {job_id} -o %T 2>/dev/null; true").strip()
        size = _ssh(cluster, f"wc -c < ~/oumi_slurm_logs/{job_id}.out 2>/dev/null; true").strip()
        if not queued and size == str(len(EXPECTED)):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"Slurm job {job_id} did not finish writing its log within 60 s")
    try:
        yield job_id
    finally:
        _ssh(cluster, f"rm -f ~/oumi_slurm_logs/{job_id}.out")


@pytest.mark.slurm
def test_a_tail_is_bounded_whole_lines_and_knows_the_size(cluster: str, finished_job: str) -> None:
    log = read_slurm_log(cluster, finished_job, max_bytes=1000, offset=None, timeout_s=10)
    assert log.found and log.complete and log.size == len(EXPECTED)
    assert log.end == log.size and log.end - log.start <= 1000
    assert log.text.splitlines()[-1] == f"line {LINES}"
    assert EXPECTED[log.start : log.end].decode().rstrip("\n") == log.text  # whole lines
    assert log.text.splitlines()[0].startswith("line ")

    short = read_slurm_log(
        cluster, finished_job, max_bytes=1000, offset=None, timeout_s=10, lines=3
    )
    assert short.text == "line 1998\nline 1999\nline 2000" and short.lines == 3
    page = to_log_page(short)
    assert (page.start, page.end, page.size, page.more_after) == (
        len(EXPECTED) - 30,
        len(EXPECTED),
        len(EXPECTED),
        False,
    )
    assert not _remote_children()


@pytest.mark.slurm
def test_forward_pages_concatenate_to_the_whole_log(cluster: str, finished_job: str) -> None:
    pieces, offset, calls = [], 0, 0
    while True:
        log = read_slurm_log(cluster, finished_job, max_bytes=4096, offset=offset, timeout_s=10)
        calls += 1
        assert log.start == offset and log.end - log.start <= 4096
        assert not log.truncated
        pieces.append(EXPECTED[log.start : log.end])
        assert log.text == pieces[-1].decode().rstrip("\n")
        offset = log.end
        if log.complete:
            break
        assert to_log_page(log).more_after
    assert b"".join(pieces) == EXPECTED
    assert len(EXPECTED) / 4096 <= calls <= len(EXPECTED) / 4080 + 1  # whole lines, full pages
    past_the_end = read_slurm_log(cluster, finished_job, max_bytes=100, offset=10**9, timeout_s=10)
    assert past_the_end.text == "" and past_the_end.complete
    assert not _remote_children()


@pytest.mark.slurm
def test_get_job_logs_reads_a_slurm_job_as_one_output_stream(
    cluster: str, finished_job: str
) -> None:
    read = slurm_log_read(cluster, finished_job, lines=5, offset=None, timeout_s=10)
    assert (read.stream, read.path) == ("output", f"{cluster}:~/oumi_slurm_logs/{finished_job}.out")
    assert read.page.text.splitlines() == [f"line {i}" for i in range(LINES - 4, LINES + 1)]
    assert read.page.size == len(EXPECTED) and not read.page.more_after
    first = slurm_log_read(cluster, finished_job, lines=2, offset=0, timeout_s=10).page
    assert first.text == "line 1\nline 2" and first.end == len(b"line 1\nline 2\n")
    assert first.more_after
    none_yet = slurm_log_read(cluster, "999999999", lines=5, offset=None, timeout_s=10).page
    assert (none_yet.text, none_yet.size, none_yet.more_after) == ("", 0, False)


@pytest.mark.slurm
def test_a_job_without_a_log_is_not_found_and_job_ids_are_checked(cluster: str) -> None:
    log = read_slurm_log(cluster, "999999999", max_bytes=100, offset=None, timeout_s=10)
    assert not log.found and log.text == "" and log.size == 0
    for bad in ("../../etc/passwd", "1;rm -rf ~", "$HOME", "12_", "-1"):
        with pytest.raises(InvalidArgumentError, match="job_id"):
            read_slurm_log(cluster, bad, max_bytes=100, offset=None, timeout_s=10)


@pytest.mark.slurm
def test_a_read_past_its_time_limit_leaves_no_ssh_behind(cluster: str) -> None:
    began = time.monotonic()
    slow = run_remote_script(cluster, "echo started; sleep 8\n", timeout_s=1.5)
    assert slow.timed_out and time.monotonic() - began < 5
    assert slow.stdout == b"started\n"  # what answered before the limit is kept
    assert not _remote_children()

    with pytest.raises(EngineTimeoutError, match=r"did not answer within 0\.01 s"):
        read_slurm_log(cluster, "1", max_bytes=100, offset=None, timeout_s=0.01)
    assert not _remote_children()
