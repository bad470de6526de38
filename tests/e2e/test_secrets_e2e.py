"""A secret in the server's own environment never shows: not in answers, logs or state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import stdio_parameters
from tests.project import make_project

pytestmark = pytest.mark.anyio

SERVER_SECRET = "hf_ServerSideSecret0123456789"


async def test_the_servers_secrets_stay_out_of_answers_logs_and_state(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    parameters = stdio_parameters(
        tmp_path,
        HF_TOKEN=SERVER_SECRET,
        WANDB_API_KEY="wandb-" + SERVER_SECRET,
        OUMI_MCP_LOG_LEVEL="DEBUG",
    )
    cwd = str(project)
    calls = [
        ("check_environment", {}),
        ("pre_flight_check", {"config": "configs/train.yaml", "client_cwd": cwd}),
        ("validate_config", {"config": "configs/train.yaml", "client_cwd": cwd}),
        (
            "run_oumi_job",
            {"config_path": "configs/train.yaml", "command": "train", "client_cwd": cwd},
        ),
        ("list_jobs", {}),
        ("get_started", {}),
    ]
    answers = []
    async with Client(parameters, mode="legacy", read_timeout_seconds=300) as client:
        for tool, arguments in calls:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, (tool, result.content)
            answers.append(json.dumps(result.model_dump(mode="json")))
        answers.append(json.dumps((await client.read_resource("server://info")).model_dump()))
    logged = capfd.readouterr()
    for text in (*answers, logged.out, logged.err):
        assert "ServerSideSecret" not in text
    stored = b"".join(
        path.read_bytes() for path in tmp_path.joinpath("state").rglob("*") if path.is_file()
    )
    assert b"ServerSideSecret" not in stored
