"""Env values the OS cannot hand to a process are refused before anything starts.

The limits are checked against the real kernel too: the same environments passed to
a real exec succeed just under the limit and fail with E2BIG just over it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import check_arguments
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import job_service_for, with_fake_oumi
from tests.project import make_project

SECRET = "hunter2-"  # values are built from it; it must never appear in an answer
MAX_ARG_STRLEN = 32 * os.sysconf("SC_PAGE_SIZE")  # Linux: one argv/envp string, NUL included
TRUE = "/bin/true"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux limits")


def secret_of(size: int) -> str:
    return (SECRET * (size // len(SECRET) + 1))[:size]


def check(envs: dict[str, str], cloud: str = "") -> Any:
    return check_arguments(
        "train", job_name="", cloud=cloud, cluster_name="", envs=envs, overrides=[]
    )


def exec_error(envs: dict[str, str]) -> int | None:
    """errno of a real exec with the server's environment plus ``envs`` (None: it ran)."""
    try:
        subprocess.run([TRUE], env={**os.environ, **envs}, check=True)
    except OSError as exc:
        return exc.errno
    return None


def _text(error: InvalidArgumentError) -> str:
    return error.describe()


def test_a_value_just_under_the_single_string_limit_passes_and_one_byte_more_is_refused() -> None:
    name = "LONG_PROMPT"
    fits = secret_of(MAX_ARG_STRLEN - 1 - len(f"{name}="))  # plus its NUL: exactly the limit
    assert check({name: fits}).envs == {name: fits}
    assert exec_error({name: fits}) is None  # the kernel agrees

    too_long = fits + "x"
    with pytest.raises(InvalidArgumentError) as caught:
        check({name: too_long})
    assert exec_error({name: too_long}) == errno.E2BIG  # the kernel agrees
    text = _text(caught.value)
    assert f"'{name}'" in text and f"{len(too_long)} bytes" in text
    assert str(MAX_ARG_STRLEN - 1) in text and "MAX_ARG_STRLEN" in text
    assert SECRET not in text


def test_environments_too_large_together_are_refused_naming_the_largest() -> None:
    arg_max = min(os.sysconf("SC_ARG_MAX"), 6 * 1024 * 1024)
    chunk = MAX_ARG_STRLEN // 2
    envs = {f"PART_{index}": secret_of(chunk) for index in range(arg_max // chunk + 2)}
    assert exec_error(envs) == errno.E2BIG  # each string fits; all of them do not
    with pytest.raises(InvalidArgumentError) as caught:
        check(envs)
    text = _text(caught.value)
    assert (
        "ARG_MAX" in text
        and str(arg_max) in text
        and "The largest variables in envs: 'PART_" in text
    )
    assert "server's environment" in text and "file" in caught.value.next_step
    assert SECRET not in text


CHECK_BOTH_TARGETS = """
import sys
from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import check_arguments

chunk, count = int(sys.argv[1]), int(sys.argv[2])
envs = {f"PART_{index}": "v" * chunk for index in range(count)}
for cloud in ("gcp", ""):
    try:
        check_arguments("train", job_name="", cloud=cloud, cluster_name="", envs=envs, overrides=[])
    except InvalidArgumentError as exc:
        print(cloud or "here", "refused" if "ARG_MAX" in exc.message else exc.message)
    else:
        print(cloud or "here", "ok")
"""


def test_the_servers_own_environment_is_counted_for_a_run_here_only() -> None:
    """A server started with a large environment: envs that fit alone do not fit with it."""
    arg_max = min(os.sysconf("SC_ARG_MAX"), 6 * 1024 * 1024)
    chunk = 64 * 1024
    inherited = {f"INHERITED_{index}": "i" * chunk for index in range(arg_max // 2 // chunk)}
    answer = subprocess.run(
        [sys.executable, "-c", CHECK_BOTH_TARGETS, str(chunk), str(arg_max * 6 // 10 // chunk)],
        env={**os.environ, **inherited},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # The VM does not get this machine's environment; a run here does.
    assert answer.stdout.split("\n")[:2] == ["gcp ok", "here refused"], answer


@pytest.mark.parametrize(
    "envs",
    [{"TOKEN": "hunter2-before\x00after"}, {"TO\x00KEN": "hunter2-value"}],
    ids=["nul-in-value", "nul-in-name"],
)
def test_a_nul_byte_is_refused(envs: dict[str, str]) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        check(envs)
    assert SECRET not in _text(caught.value)
    with pytest.raises(ValueError):  # exec could not pass it either
        subprocess.run([TRUE], env={**os.environ, **envs}, check=True)


@pytest.mark.anyio
async def test_a_dry_run_refuses_a_200kb_value_naming_it_not_showing_it(
    settings: Settings, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    jobs = await job_service_for(with_fake_oumi(settings, tmp_path))
    with pytest.raises(InvalidArgumentError) as caught:
        await jobs.run(
            "configs/train.yaml",
            "train",
            str(project),
            dry_run=True,
            envs={"WANDB_MODE": "offline", "SYSTEM_PROMPT": secret_of(200_000)},
        )
    text = _text(caught.value)
    assert "'SYSTEM_PROMPT'" in text and "200000 bytes" in text and str(MAX_ARG_STRLEN) in text
    assert "in a file" in caught.value.next_step and "path" in caught.value.next_step
    assert SECRET not in text and "WANDB_MODE" not in text
    assert jobs.registry.count() == 0


@pytest.fixture
async def jobs_client(settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as connected:
        yield connected


@pytest.mark.anyio
@pytest.mark.parametrize("dry_run", [True, False])
async def test_the_tool_counts_bytes_answers_a_clear_error_and_launches_nothing(
    jobs_client: Client, tmp_path: Path, dry_run: bool
) -> None:
    """50 000 characters (under the tools' text limit) of 3 bytes each: 150 000 bytes."""
    project = make_project(tmp_path / "project")
    value = SECRET + "\u20ac" * 50_000
    result = await jobs_client.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "dry_run": dry_run,
            "envs": {"SYSTEM_PROMPT": value},
        },
    )
    assert result.is_error
    text = str(result.content[0].text)  # type: ignore[union-attr]
    assert "'SYSTEM_PROMPT'" in text and f"{len(os.fsencode(value))} bytes" in text
    assert "MAX_ARG_STRLEN" in text and "Next step:" in text
    assert SECRET not in text
    listed = await jobs_client.call_tool("list_jobs", {})
    assert not listed.is_error and (listed.structured_content or {}).get("jobs") == []


@pytest.mark.anyio
async def test_a_value_over_the_tools_text_limit_is_refused_without_showing_it(
    jobs_client: Client, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    value = SECRET + "x" * 200_000
    result = await jobs_client.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "envs": {"SYSTEM_PROMPT": value},
        },
    )
    assert result.is_error
    text = str(result.content[0].text)  # type: ignore[union-attr]
    assert "Invalid argument 'envs'" in text and "200," in text, text
    assert SECRET[:8] not in text
