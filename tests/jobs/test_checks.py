"""A launch reads its config once, under a time limit of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError
from oumi_mcp_server.jobs.checks import read_config
from tests.project import make_project

pytestmark = pytest.mark.anyio


async def test_the_config_is_read_once_into_what_every_step_uses(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    source = await read_config("configs/train.yaml", str(project))
    assert source.cwd == project.resolve() and source.path == project / "configs/train.yaml"
    assert source.document.data["training"] and not source.is_job_config


async def test_a_config_that_does_not_answer_in_time_is_reported_as_the_config(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.yaml"  # 1.3 MB of YAML: seconds to parse, like a hung network mount
    big.write_text("values:\n" + "".join(f"  - {index}\n" for index in range(200_000)))
    with pytest.raises(EngineTimeoutError) as raised:
        await read_config(str(big), str(tmp_path), timeout_s=0.05)
    assert raised.value.message.startswith("Reading the config file")
    assert "registry" not in raised.value.describe()
    assert "disk" in raised.value.next_step


async def test_a_pipe_is_refused_at_once_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it for reading would wait for a writer
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        await read_config("pipe.yaml", str(tmp_path), timeout_s=5.0)
