"""get_job_metrics through the MCP client: real job processes (a fake `oumi` script),
metric records written where Oumi writes them, the chart as image content.

The real tiny `oumi train` run is read through this tool in tests/e2e/test_jobs_e2e.py.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ImageContent
from PIL import Image

from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import launch_fake_job, with_fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as connected:
        yield connected


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def write_records(output_dir: Path, losses: list[float]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"step": step, "loss": loss, "learning_rate": 1e-3, "epoch": step / 10})
        for step, loss in enumerate(losses, start=1)
    ]
    (output_dir / "metrics_rank0000.jsonl").write_text("\n".join(lines) + "\n")


async def metrics_of(client: Client, job_id: str, **arguments: Any) -> Any:
    return await client.call_tool("get_job_metrics", {"job_id": job_id, **arguments})


async def test_a_running_job_gives_a_partial_curve_and_a_chart(
    client: Client, project: Path
) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="30")
    write_records(project / "output" / "run", [2.0, 1.6, 1.3])
    result = await metrics_of(client, job_id, metrics=["loss", "learning_rate"])
    assert not result.is_error, result.content
    answer = result.structured_content or {}
    assert answer["state"] in {"running", "launching"} and not answer["terminal"]
    assert answer["found"] and answer["series"]["loss"] == [[1, 2.0], [2, 1.6], [3, 1.3]]
    assert answer["summary"]["first_loss"] == 2.0 and answer["summary"]["last_loss"] == 1.3
    assert "partial curve" in answer["next_step"]
    images = [block for block in result.content if isinstance(block, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    picture = Image.open(io.BytesIO(base64.b64decode(images[0].data)))
    assert picture.format == "PNG" and picture.width >= 600 and picture.height >= 300
    await client.call_tool("cancel_job", {"job_id": job_id, "force": True})


async def test_last_n_nan_and_no_chart(client: Client, project: Path) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="0")
    write_records(project / "output" / "run", [2.0, 1.5, 1.2, float("nan"), float("nan")])
    result = await metrics_of(client, job_id, last_n=2, chart=False)
    answer = result.structured_content or {}
    assert answer["series"]["loss"] == [[4, None], [5, None]]  # NaN: None in JSON
    assert "NaN since step 4" in answer["summary"]["note"]
    assert answer["chart"] == "not drawn (chart=false)"
    assert not [block for block in result.content if isinstance(block, ImageContent)]


async def test_a_job_without_metrics_says_where_it_looked(client: Client, project: Path) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="0")
    with anyio.fail_after(20):
        while True:
            status = await client.call_tool("get_job_status", {"job_id": job_id})
            if (status.structured_content or {}).get("terminal"):
                break
            await anyio.sleep(0.1)
    result = await metrics_of(client, job_id)
    assert not result.is_error
    answer = result.structured_content or {}
    assert not answer["found"] and answer["series"] == {}
    assert str(project / "output" / "run") in answer["note"]
    assert "get_job_logs" in answer["next_step"]


async def test_bad_arguments_are_refused_in_plain_words(client: Client, project: Path) -> None:
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="0")
    too_many = await metrics_of(client, job_id, metrics=[f"m{i}" for i in range(9)])
    assert too_many.is_error
    bad_name = await metrics_of(client, job_id, metrics=["loss; rm -rf /"])
    assert bad_name.is_error and "not a metric name" in bad_name.content[0].text  # type: ignore[union-attr]
    negative = await metrics_of(client, job_id, last_n=-1)
    assert negative.is_error
    unknown = await metrics_of(client, "no-such-job")
    assert unknown.is_error and "No job with id 'no-such-job'" in unknown.content[0].text  # type: ignore[union-attr]
