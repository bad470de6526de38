"""A launch reads its config once, under a time limit of its own."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from oumi_mcp_server.errors import EngineTimeoutError
from oumi_mcp_server.jobs.checks import read_config
from tests.project import make_project

pytestmark = pytest.mark.anyio


async def test_the_config_is_read_once_into_what_every_step_uses(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    source = await read_config("configs/train.yaml", str(project))
    assert source.cwd == project.resolve() and source.path == project / "configs/train.yaml"
    assert source.document.data["training"] and not source.is_job_config


async def test_a_config_that_does_not_answer_is_reported_as_the_config_not_the_registry(
    tmp_path: Path,
) -> None:
    hung = tmp_path / "hung.yaml"
    os.mkfifo(hung)  # opening it for reading blocks, as on a hung network mount
    try:
        with pytest.raises(EngineTimeoutError) as raised:
            await read_config(str(hung), str(tmp_path), timeout_s=0.3)
        assert raised.value.message.startswith("Reading the config file")
        assert "registry" not in raised.value.describe()
        assert "disk" in raised.value.next_step
    finally:
        # Release the reader still blocked in open(): a writer opens, writes nothing, closes.
        writer = threading.Thread(target=lambda: open(hung, "w").close(), daemon=True)
        writer.start()
        writer.join(5)
