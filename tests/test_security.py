"""Tried as an attacker would: files outside the project, bounded parsing, secrets, modes."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import with_fake_oumi
from tests.project import make_project, training_config, write_yaml

pytestmark = pytest.mark.anyio

SECRET = "hf_TopSecretValue0123456789"
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=True)
)


@pytest.fixture
async def client(settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as connected:
        yield connected


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def _text(result: Any) -> str:
    return "\n".join(str(getattr(part, "text", "")) for part in result.content)


async def _error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    started = time.monotonic()
    result = await client.call_tool(tool, arguments)
    assert time.monotonic() - started < 30, f"{tool} took too long"
    assert result.is_error, result.structured_content
    text = _text(result)
    assert "failed unexpectedly" not in text, text
    return text


def _tools_on(config: str, project: Path) -> list[tuple[str, dict[str, Any]]]:
    cwd = str(project)
    return [
        ("validate_config", {"config": config, "client_cwd": cwd}),
        ("pre_flight_check", {"config": config, "client_cwd": cwd}),
        ("run_oumi_job", {"config_path": config, "command": "train", "client_cwd": cwd}),
    ]


# -- files stay inside the project ---------------------------------------------------------


async def test_a_config_outside_the_project_is_refused_unread(
    client: Client, project: Path, tmp_path: Path
) -> None:
    outside = write_yaml(tmp_path / "elsewhere" / "c.yaml", training_config(max_steps=SECRET))
    (project / "link.yaml").symlink_to(outside)
    for config in (str(outside), "link.yaml", "../elsewhere/c.yaml", "/etc/passwd"):
        for tool, arguments in _tools_on(config, project):
            text = await _error(client, tool, arguments)
            assert "outside the project" in text, (tool, config, text)
            assert SECRET not in text and "root:" not in text


@pytest.mark.parametrize("cwd", ["/", "/etc", "/usr", "/proc/self/root", "/etc/ssh", "home"])
async def test_a_system_folder_is_never_a_project(client: Client, cwd: str) -> None:
    cwd = str(Path.home()) if cwd == "home" else cwd
    for config in ("etc/passwd", "passwd", ".ssh/config"):
        for tool, arguments in _tools_on(config, Path(cwd)):
            text = await _error(client, tool, arguments)
            assert "system folder" in text and "client_cwd" in text, (tool, cwd, text)
            assert "root:" not in text


COLON_LINES = "root:x:0:0:root: /root\ndaemon:x:1:1:daemon: /usr/sbin\n"
HOSTS = "github.com:\n  user: someone\n  oauth_token: gho_NotForAnswers1234567890\n"


@pytest.mark.parametrize("content", [COLON_LINES, HOSTS])
@pytest.mark.parametrize("task_type", ["auto", "train"])
async def test_keys_that_are_not_names_are_never_quoted(
    client: Client, project: Path, content: str, task_type: str
) -> None:
    (project / "other.yaml").write_text(content)
    result = await client.call_tool(
        "validate_config",
        {"config": "other.yaml", "client_cwd": str(project), "task_type": task_type},
    )
    text = _text(result) + json.dumps(result.structured_content or {})
    assert "failed unexpectedly" not in text, text
    for fragment in ("root:x", "daemon:x", "github.com", "gho_", "someone"):
        assert fragment not in text, (fragment, text)
    if task_type == "auto":
        assert result.is_error and "cannot tell which kind" in text, text
    else:
        report = result.structured_content or {}
        assert not result.is_error and not report["valid"], text
        assert "a key that is not a field name" in text, text


async def test_pipes_devices_and_long_paths_get_clear_errors_at_once(
    client: Client, project: Path
) -> None:
    os.mkfifo(project / "pipe.yaml")
    cases = {
        "pipe.yaml": "not a regular file",
        "/dev/zero": "outside the project",
        "x" * 5000: "too long",
        "a/" + "y" * 300 + ".yaml": "too long",
    }
    for config, expected in cases.items():
        for tool, arguments in _tools_on(config, project):
            text = await _error(client, tool, arguments)
            assert expected in text, (tool, config[:20], text)
            assert len(text) < 2000


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BOMB, "aliases"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
        ("a: &a [*a]\n", "aliases"),
    ],
)
async def test_hostile_yaml_is_bounded_and_named(
    client: Client, project: Path, content: str, expected: str
) -> None:
    (project / "hostile.yaml").write_text(content)
    for tool, arguments in _tools_on("hostile.yaml", project):
        text = await _error(client, tool, arguments)
        assert expected in text, (tool, text)


async def test_a_value_from_the_file_is_never_quoted_in_an_error(
    client: Client, project: Path
) -> None:
    write_yaml(project / "bad.yaml", training_config(max_steps=SECRET))
    result = await client.call_tool(
        "validate_config", {"config": "bad.yaml", "client_cwd": str(project)}
    )
    assert not result.is_error
    report = result.structured_content or {}
    assert not report["valid"] and report["errors"][0]["field"] == "training.max_steps"
    assert SECRET not in json.dumps(report)


# -- arguments ----------------------------------------------------------------------------


async def test_a_huge_argument_gets_a_short_error(client: Client) -> None:
    text = await _error(client, "get_job_status", {"job_id": "x" * 5_000_000})
    assert len(text) < 500 and "5,000,000 characters" in text


async def test_a_job_name_is_refused_with_a_suggestion_not_rewritten(
    client: Client, project: Path
) -> None:
    arguments = {"config_path": "configs/train.yaml", "command": "train"}
    text = await _error(
        client, "run_oumi_job", {**arguments, "client_cwd": str(project), "job_name": "my run"}
    )
    assert "job_name" in text and "'my_run'" in text


async def test_type_errors_read_like_the_others(client: Client) -> None:
    text = await _error(client, "list_jobs", {"limit": "lots", "status": 3})
    assert "'limit': expected a whole number" in text and "'status': expected text" in text
    assert "pydantic" not in text and "http" not in text


async def test_a_malformed_job_id_in_a_resource_is_invalid_params(client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource("jobs://no%20such!/logs")
    assert raised.value.code == INVALID_PARAMS and "job_id" in raised.value.message


# -- secrets, audit, modes --------------------------------------------------------------------


async def test_secrets_never_leave_the_job(
    client: Client, project: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    envs = {
        "HF_TOKEN": SECRET,
        "PLAIN": "ghp_AlsoSecret0123456789",
        "DB_URL": "postgres://me:pa55word@db/x",
        "PYTHONPATH": "/opt/mine",
    }
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "envs": envs,
    }
    dry = await client.call_tool("run_oumi_job", arguments)
    launched = await client.call_tool("run_oumi_job", {**arguments, "dry_run": False})
    answer = launched.structured_content or {}
    job = {"job_id": answer["job_id"]}
    answers = [dry, launched]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await client.call_tool("get_job_status", job)
        answers.append(status)
        if (status.structured_content or {}).get("terminal"):
            break
    answers += [
        await client.call_tool("get_job_logs", job),
        await client.call_tool("list_jobs", {}),
        await client.call_tool("cancel_job", job),
    ]
    shown = json.dumps([a.structured_content for a in answers]) + "".join(map(_text, answers))
    for secret in ("TopSecretValue", "AlsoSecret", "pa55word"):
        assert secret not in shown and secret not in caplog.text
    assert "postgres://me:***@db/x" in shown
    flagged = [w for w in (dry.structured_content or {})["checks"]["warnings"]]
    assert any(w["check"] == "envs" and w["field"] == "PYTHONPATH" for w in flagged)
    state = settings.state_dir
    stored = b"".join(path.read_bytes() for path in state.rglob("*") if path.is_file())
    assert b"TopSecretValue" not in stored and b"AlsoSecret" not in stored
    rows = sqlite3.connect(state / "jobs.db").execute("SELECT * FROM jobs").fetchall()
    assert rows and "TopSecretValue" not in repr(rows)


async def test_every_mutating_call_is_audited_with_masked_arguments(
    client: Client, project: Path, settings: Settings
) -> None:
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "envs": {"WANDB_API_KEY": SECRET},
    }
    await client.call_tool("run_oumi_job", arguments)
    await client.call_tool("cancel_job", {"job_id": "no-such-job"})
    await client.call_tool("list_jobs", {})  # read-only: not audited
    log = settings.state_dir / "audit.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["tool"] for entry in entries] == ["run_oumi_job", "cancel_job"]
    launch, cancel = entries
    assert launch["arguments"]["envs"] == {"WANDB_API_KEY": "***"} and launch["result"] == "ok"
    assert launch["transport"] == "in-process" and launch["duration_ms"] >= 0
    assert cancel["result"] == "error" and "no-such-job" in cancel["answer"]
    assert SECRET not in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"


async def test_the_state_is_readable_by_the_user_only(
    client: Client, project: Path, settings: Settings
) -> None:
    launched = await client.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "dry_run": False,
        },
    )
    run_dir = Path((launched.structured_content or {})["run_dir"])
    deadline = time.monotonic() + 30
    while not (run_dir / "exit.json").exists() and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    state = settings.state_dir
    for folder in (state, state / "jobs", run_dir):
        assert oct(folder.stat().st_mode & 0o777) == "0o700", folder
    files = [path for path in state.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"jobs.db", "stdout.log", "exit.json", "config.yaml"}
    loose = [path for path in files if path.stat().st_mode & 0o077]
    assert loose == []


async def test_read_only_mode_offers_nothing_that_changes_anything(
    settings: Settings, project: Path
) -> None:
    async with Client(build_server(replace(settings, read_only=True))) as connected:
        tools = (await connected.list_tools()).tools
        assert tools and all(tool.annotations and tool.annotations.read_only_hint for tool in tools)
        names = {tool.name for tool in tools}
        assert {"get_job_status", "list_jobs", "validate_config", "search_configs"} <= names
        for mutating in ("run_oumi_job", "cancel_job", "stop_cluster", "down_cluster"):
            assert mutating not in names
            result = await connected.call_tool(mutating, {"job_id": "x"})
            assert result.is_error
        listed = await connected.call_tool("list_jobs", {})
        assert not listed.is_error
