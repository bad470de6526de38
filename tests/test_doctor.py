"""`oumi-mcp-server doctor`: the real command on this machine, read-only, bounded, no secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from oumi_mcp_server.apidocs.cache import index_file
from oumi_mcp_server.doctor import Section, render_text, run_doctor
from oumi_mcp_server.doctor.local import check_docs_index
from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.worker.client import WorkerClient
from oumi_mcp_server.worker.engines import ENGINES_ENV
from oumi_mcp_server.worker.place import WorkerPlace
from tests.conftest import LIBRARY_DIR
from tests.skypilot_support import record_sky_check
from tests.worker.fakes import REPO, SPEC

SCRIPT = Path(sys.executable).parent / "oumi-mcp-server"
SECTIONS = [
    "versions",
    "config library",
    "docs index",
    "job registry",
    "engine worker",
    "engines",
    "skypilot",
    "clouds",
    "slurm",
    "hugging face token",
    "gpu",
]
SECRET = "hf_secretvalue123456"
# Nothing listens on port 22 of 127.0.0.2 here (the loopback Slurm cluster is 127.0.0.1:2222
# through ~/.ssh/config); if something did, BatchMode would refuse the unknown user anyway.
UNREACHABLE = "nobody@127.0.0.2"
# Variables of the test runner that would change what doctor finds.
CLEARED = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "XDG_CACHE_HOME",
    "OUMI_SLURM_CONNECTIONS",
)


def doctor_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),  # no ~/.cache/huggingface/token, no ~/.sky of the real user
        OUMI_MCP_STATE_DIR=str(tmp_path / "state"),
        OUMI_MCP_CACHE_DIR=str(tmp_path / "cache"),
        OUMI_MCP_CONFIGS_DIR=str(LIBRARY_DIR),
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    return env


def doctor(
    tmp_path: Path, *args: str, **extra: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = doctor_env(tmp_path, **extra)
    began = time.monotonic()
    done = subprocess.run(
        [str(SCRIPT), "doctor", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - began


def doctor_json(
    tmp_path: Path, **extra: str
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    done, _ = doctor(tmp_path, "--json", **extra)
    return json.loads(done.stdout), done  # stdout is one JSON object and nothing else


def section(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in report["sections"] if s["name"] == name]
    assert len(found) == 1, f"{name}: {report['sections']}"
    return found[0]


def test_the_text_report_has_every_section_and_the_client_config(tmp_path: Path) -> None:
    done, seconds = doctor(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    for name in SECTIONS:
        assert any(
            line.startswith(f"[{mark}] {name}: ") for line in lines for mark in ("ok  ", "WARN")
        ), f"no line for {name}:\n{done.stdout}"
    assert f"[ok  ] versions: oumi {installed_version('oumi')}, oumi-mcp-server" in done.stdout
    # The library copy may carry a sync marker (then its oumi version is said too).
    where = re.escape(str(LIBRARY_DIR))
    library = rf"525 configs (for oumi [\d.]+ )?from OUMI_MCP_CONFIGS_DIR={where}"
    assert re.search(library, done.stdout), done.stdout
    assert "[ok  ] job registry: No jobs yet" in done.stdout
    assert "[WARN] hugging face token: Absent" in done.stdout
    assert f"claude mcp add oumi -- {SCRIPT} serve" in done.stdout
    assert f'"command": "{SCRIPT}"' in done.stdout
    assert seconds < 10


def test_json_is_one_object_and_doctor_creates_nothing(tmp_path: Path) -> None:
    report, done = doctor_json(tmp_path)
    assert done.returncode == 0
    assert report["ok"] is True
    assert [s["name"] for s in report["sections"]] == SECTIONS
    for item in report["sections"]:
        assert item["status"] in ("ok", "warn"), item
        assert item["detail"]
        assert (item["fix"] is None) == (item["status"] == "ok"), item
        assert isinstance(item["data"], dict)
    library = section(report, "config library")["data"]
    assert (library["source"], library["count"]) == ("override", 525)
    assert section(report, "docs index")["data"]["built"] is False
    assert section(report, "hugging face token")["data"] == {"present": False, "where": None}
    assert section(report, "slurm")["status"] == "ok"  # none configured
    config = report["client_config"]
    assert config["command"] == str(SCRIPT) and Path(config["command"]).is_absolute()
    assert config["claude_code"] == f"claude mcp add oumi -- {SCRIPT} serve"
    for client in ("claude_desktop", "cursor"):
        assert config[client] == {
            "mcpServers": {"oumi": {"command": str(SCRIPT), "args": ["serve"]}}
        }
    # Read-only: no registry, no state folder, no cache (library index, docs index) made.
    assert not (tmp_path / "state").exists()
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("mode", [(), ("--json",)])
def test_a_token_in_the_environment_is_present_and_never_printed(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    done, _ = doctor(tmp_path, *mode, HF_TOKEN=SECRET)
    assert done.returncode == 0
    assert "Present (the HF_TOKEN environment variable)" in done.stdout
    assert SECRET not in done.stdout and SECRET not in done.stderr
    assert "secretvalue" not in done.stdout + done.stderr


def test_a_saved_token_file_is_found_where_huggingface_hub_looks(tmp_path: Path) -> None:
    token = tmp_path / "home" / ".cache" / "huggingface" / "token"
    token.parent.mkdir(parents=True)
    token.write_text(SECRET + "\n")
    report, done = doctor_json(tmp_path)
    found = section(report, "hugging face token")
    assert (found["status"], found["data"]) == ("ok", {"present": True, "where": str(token)})
    assert SECRET not in done.stdout + done.stderr


def test_an_unreachable_slurm_cluster_is_a_warning_and_doctor_stays_quick(tmp_path: Path) -> None:
    bad = "-oProxyCommand=touch${IFS}pwned"  # read by ssh as an option: never run
    began = time.monotonic()
    report, done = doctor_json(tmp_path, OUMI_SLURM_CONNECTIONS=f"{UNREACHABLE},{bad}")
    assert time.monotonic() - began < 10
    assert done.returncode == 0
    slurm = section(report, "slurm")
    assert slurm["status"] == "warn"
    assert "2 of 2 unreachable" in slurm["detail"]
    clusters = slurm["data"]["clusters"]
    assert clusters[UNREACHABLE] != "reachable" and "127.0.0.2" in clusters[UNREACHABLE]
    assert clusters[bad].startswith("not a valid cluster name")
    assert f"ssh -o BatchMode=yes {UNREACHABLE} true" in slurm["fix"]
    assert not (tmp_path / "pwned").exists()


def test_engines_say_what_is_in_use_and_the_next_step_for_the_rest(tmp_path: Path) -> None:
    fresh, done = doctor_json(tmp_path)
    assert done.returncode == 0
    engines = section(fresh, "engines")
    assert engines["status"] == "ok"
    assert engines["detail"].startswith("In use: this machine. Not configured: SkyPilot clouds")
    assert "run `sky check`" in engines["detail"] and "OUMI_SLURM_CONNECTIONS" in engines["detail"]
    assert "no record of a `sky check`" in section(fresh, "clouds")["detail"]
    assert not (tmp_path / "home" / ".sky").exists()  # doctor started no SkyPilot

    record_sky_check(tmp_path / "home", ["GCP", "Kubernetes"])
    enabled, _ = doctor_json(tmp_path)
    engines = section(enabled, "engines")
    assert engines["detail"].startswith("In use: this machine, SkyPilot clouds (gcp, k8s).")
    in_use = {use["engine"]: use["in_use"] for use in engines["data"]["engines"]}
    assert in_use == {"this machine": True, "SkyPilot clouds": True, "Slurm": False}
    clouds = section(enabled, "clouds")
    assert (clouds["status"], clouds["data"]["enabled"]) == ("ok", ["gcp", "kubernetes"])


def job(job_id: str, **identity: Any) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        command="train",
        config_path="/p/train.yaml",
        staged_config_path="/p/train.yaml",
        client_cwd="/p",
        run_dir="/p/run",
        submitted_at=time.time(),
        **identity,
    )


def test_registered_jobs_are_counted_without_changing_the_registry(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "state")
    registry.add(job("ended", pid=2**22 + 12345, process_start_time=1.0))  # past pid_max
    registry.add(job("cloud", backend=LAUNCHER_BACKEND, cloud="gcp"))
    before = registry.path.read_bytes()
    report, done = doctor_json(tmp_path)
    assert done.returncode == 0
    jobs = section(report, "job registry")
    assert jobs["status"] == "ok"
    assert jobs["data"]["counts"] == {
        "process job ended": 1,
        "on gcp (state: ask list_jobs)": 1,
    }
    assert jobs["detail"].startswith(f"2 jobs in {registry.path}")
    assert registry.path.read_bytes() == before


def test_an_unreadable_registry_fails_and_the_exit_code_says_so(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "jobs.db").write_bytes(b"this is not a database" * 100)
    done, _ = doctor(tmp_path)
    assert done.returncode == 1
    assert "[FAIL] job registry: The registry" in done.stdout
    assert "Not usable yet: fix job registry first." in done.stdout
    report, done = doctor_json(tmp_path)
    assert done.returncode == 1 and report["ok"] is False
    assert section(report, "job registry")["status"] == "fail"


def test_a_damaged_docs_index_is_a_warning_and_is_left_alone(tmp_path: Path) -> None:
    settings = Settings(log_level="INFO", state_dir=tmp_path / "s", cache_dir=tmp_path / "c")
    path = index_file(settings.cache_dir, "0.9")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "oumi_version": "0.9", "complete": false}')
    found = check_docs_index(settings, "0.9")
    assert found.status == "warn"
    assert "incomplete" in found.detail and found.fix
    assert path.read_text().endswith('"complete": false}')


def test_a_hanging_or_broken_check_cannot_hold_up_the_report(tmp_path: Path) -> None:
    settings = Settings(log_level="INFO", state_dir=tmp_path / "s", cache_dir=tmp_path / "c")

    def hangs() -> Section:
        time.sleep(30)
        return Section("hangs", "ok", "never")

    def breaks() -> Section:
        raise RuntimeError("a bug")

    began = time.monotonic()
    report = run_doctor(
        settings,
        deadline_s=0.5,
        planned=[
            ("hangs", hangs),
            ("breaks", breaks),
            ("fine", lambda: Section("fine", "ok", "fine")),
        ],
    )
    assert time.monotonic() - began < 3
    hung, broke, fine = report.sections
    assert (hung.status, hung.detail) == ("warn", "The check did not finish within 0.5 s.")
    assert broke.status == "warn" and "RuntimeError: a bug" in broke.detail
    assert fine.status == "ok" and not report.blocked
    assert "Usable; 2 warning(s): hangs, breaks." in render_text(report)


def test_doctor_shows_the_engine_worker_and_its_last_restart(tmp_path: Path) -> None:
    report, _ = doctor_json(tmp_path)
    assert section(report, "engine worker")["data"]["running"] is False
    extra = {
        ENGINES_ENV: SPEC,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    env = doctor_env(tmp_path, **extra)
    client = WorkerClient(WorkerPlace.of(tmp_path / "state", env), idle_s=60.0, environ=env)
    try:
        client.call("launcher.clouds", deadline_s=10.0)
        client.replace("a test replaced it")
        client.call("launcher.clouds", deadline_s=10.0)
        report, _ = doctor_json(tmp_path, **extra)
        worker = section(report, "engine worker")
        assert worker["status"] == "ok", worker
        data = worker["data"]
        assert data["running"] and data["pid"] == client.worker_pid() and data["clients"] == 1
        assert data["rss_mb"] > 0 and data["uptime_s"] >= 0
        assert data["last_restart"]["reason"] == "a test replaced it"
        assert f"pid {data['pid']}" in worker["detail"] and "a test replaced it" in worker["detail"]
    finally:
        pid = client.worker_pid()
        client.close()
        if pid is not None:
            os.kill(pid, 9)
