"""Every tool, driven with generated arguments, answers clearly and in time, and echoes no
outside file.

Hypothesis generates each tool's arguments from its own input schema, mixed with
hostile values: wrong types, huge and unicode strings, NUL, path traversal,
symlinks out of the project, FIFOs, devices, YAML bombs and deep nesting. The
server runs in memory (fake `oumi`, a scripted oumi.launcher, no `sky check`)
on its own event loop; one client serves every example. Every answer must be
a result or a clear tool error (never "failed unexpectedly"), within its time
limit, with no byte of a secret file that lies outside the project.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings
from tests.jobs_support import with_fake_oumi
from tests.launcher_support import FakeLauncher
from tests.project import make_project, training_config, write_yaml

CANARY = "CanaryOutsideTheProject7f3a"
CALL_LIMIT_S = 60.0
# CI runs a fixed sequence; OUMI_MCP_FUZZ_RANDOM=1 (and more examples) explores further.
EXAMPLES = int(os.environ.get("OUMI_MCP_FUZZ_EXAMPLES", "200"))
FIXED = os.environ.get("OUMI_MCP_FUZZ_RANDOM", "") != "1"
UNEXPECTED = ("failed unexpectedly", "Traceback")

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=True)
)


class ServerOnItsOwnLoop:
    """The in-memory server and one client, on an event loop in a thread of their own,
    so that synchronous Hypothesis examples can call it one after the other."""

    def __init__(self, server: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._requests: asyncio.Queue[tuple[str, Any, concurrent.futures.Future[Any]] | None]
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(server, ready), daemon=True)
        self._thread.start()
        ready.result(60)

    def _run(self, server: Any, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve(server, ready))

    async def _serve(self, server: Any, ready: concurrent.futures.Future[None]) -> None:
        self._requests = asyncio.Queue()
        async with Client(server) as client:
            ready.set_result(None)
            while (request := await self._requests.get()) is not None:
                kind, payload, answer = request
                try:
                    if kind == "tool":
                        result: Any = await client.call_tool(*payload)
                    elif kind == "list":
                        result = await client.list_tools()
                    else:
                        result = await client.read_resource(payload)
                    answer.set_result(result)
                except Exception as exc:  # handed to the example
                    answer.set_exception(exc)

    def _ask(self, kind: str, payload: Any) -> Any:
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._requests.put_nowait, (kind, payload, answer))
        return answer.result(CALL_LIMIT_S)

    def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        return self._ask("tool", (tool, arguments))

    def read_resource(self, uri: str) -> Any:
        return self._ask("resource", uri)

    def tool_schemas(self) -> dict[str, dict[str, Any]]:
        return {tool.name: tool.input_schema for tool in self._ask("list", None).tools}

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._requests.put_nowait, None)
        self._thread.join(60)
        self._loop.close()  # its selector and self-pipe: no descriptor outlives the module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("fuzz")
    outside = write_yaml(root / "outside" / "secret.yaml", training_config(max_steps=CANARY))
    (root / "outside" / "notes.txt").write_text(f"{CANARY}\n")
    project = make_project(root / "project")
    (project / "out.yaml").symlink_to(outside)
    (project / "loop.yaml").symlink_to(project / "loop.yaml")
    (project / "bomb.yaml").write_text(BOMB)
    (project / "deep.yaml").write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    (project / "tabs.yaml").write_text("model:\n\tname: x\n")
    (project / "binary.yaml").write_bytes(b"\xff\xfe\x00" * 100)
    os.mkfifo(project / "pipe.yaml")
    write_yaml(
        project / "jobs" / "local_job.yaml", {"resources": {"cloud": "local"}, "run": "true"}
    )
    base = Settings(
        log_level="WARNING",
        state_dir=root / "state",
        cache_dir=root / "cache",
        warmup=False,
        listed_clouds=("gcp",),
        library_wait_s=30.0,
    )
    from tests.conftest import LIBRARY_DIR

    fuzz_settings = replace(with_fake_oumi(base, root), configs_dir=LIBRARY_DIR)
    checker = CloudChecker(lambda: ["gcp"], timeout_s=5.0, cache_s=600.0)
    services = Services.create(fuzz_settings, cloud_checker=checker, launcher=FakeLauncher())
    server = ServerOnItsOwnLoop(build_server(services=services))
    try:
        yield {
            "server": server,
            "tools": server.tool_schemas(),
            "project": project,
            "outside": outside,
            "root": root,
        }
    finally:
        server.close()


def _paths(world: dict[str, Any]) -> st.SearchStrategy[str]:
    project: Path = world["project"]
    names = [
        "configs/train.yaml",
        "out.yaml",
        "loop.yaml",
        "bomb.yaml",
        "deep.yaml",
        "tabs.yaml",
        "binary.yaml",
        "pipe.yaml",
        "jobs/local_job.yaml",
        "../outside/secret.yaml",
        "../outside/notes.txt",
        "data",
        "/dev/zero",
        "/etc/passwd",
        "/proc/self/environ",
        "~/../../etc/shadow",
        "..%2f..%2fetc%2fpasswd",
        "configs/../../outside/secret.yaml",
    ]
    hostile = [str(world["outside"]), str(project / "pipe.yaml"), "x" * 5000, "a\x00b.yaml"]
    return st.sampled_from(names + hostile)


def _strings(world: dict[str, Any]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(["", " ", "..", "../..", "%2e%2e", "a b", "-x", "--flag", "$(id)", "*"]),
        st.sampled_from(["train", "gcp", "local", "k8s", "auto", "running", "both", "all"]),
        _paths(world),
        st.integers(1, 200_000).map(lambda size: "y" * size),
    )


def _json(world: dict[str, Any]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _strings(world)
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=10), children, max_size=4),
        ),
        max_leaves=8,
    )


def _typed(schema: dict[str, Any], world: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if "anyOf" in schema:
        kind = next((option.get("type") for option in schema["anyOf"] if "type" in option), None)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    typed: dict[Any, st.SearchStrategy[Any]] = {
        "string": _strings(world),
        "integer": st.one_of(st.integers(-5, 3000), st.integers()),
        "boolean": st.booleans(),
        "array": st.lists(_strings(world), max_size=5),
        "object": st.dictionaries(_strings(world), _strings(world), max_size=4),
    }
    return typed.get(kind, _json(world))


# Arguments whose meaning is known get values near the ones a client would send.
NAMED: dict[str, list[str]] = {
    "command": ["train", "evaluate", "infer", "eval", "judge", "fly"],
    "cloud": ["", "local", "gcp", "GCP", "aws", "kubernetes", "moon", "slurm"],
    "task_type": ["auto", "training", "job", "painting"],
    "status": ["all", "active", "finished", "running", "canceled", "nope"],
}


def _value(name: str, schema: dict[str, Any], world: dict[str, Any]) -> st.SearchStrategy[Any]:
    if name in ("config", "config_path", "path"):
        near: st.SearchStrategy[Any] = _paths(world)
    elif name in NAMED:
        near = st.sampled_from(NAMED[name])
    else:
        near = _typed(schema, world)
    # Mostly well-typed values that reach the tool's body; sometimes anything at all.
    return st.one_of(near, near, near, _typed(schema, world), _json(world))


def _check(tool: str, arguments: dict[str, Any], result: Any, seconds: float) -> None:
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    shown = f"{tool}({json.dumps(arguments)[:300]})"
    assert seconds < CALL_LIMIT_S, f"{shown} took {seconds:.1f} s"
    assert CANARY not in text, f"{shown} echoed the outside file"
    if result.is_error:
        message = "".join(str(getattr(part, "text", "")) for part in result.content)
        crashed = message.strip() == f"Error executing tool {tool}"  # the SDK's word for a crash
        assert not crashed and not any(word in message for word in UNEXPECTED), (
            f"{shown}: {message[:500]}"
        )
        assert len(message) < 20_000, f"{shown}: an error of {len(message):,} characters"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=FIXED,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_every_tool_answers_clearly_in_time_and_echoes_no_outside_file(
    world: dict[str, Any], data: st.DataObject
) -> None:
    server: ServerOnItsOwnLoop = world["server"]
    tools: dict[str, dict[str, Any]] = world["tools"]
    tool = data.draw(st.sampled_from(sorted(tools)), label="tool")
    properties: dict[str, Any] = tools[tool].get("properties", {})
    required = set(tools[tool].get("required", []))
    arguments = {}
    for name, schema in sorted(properties.items()):
        if name == "dry_run":
            arguments[name] = True  # launches are covered by the job tests
        elif name == "client_cwd" and data.draw(st.integers(0, 3), label="real cwd") > 0:
            arguments[name] = str(world["project"])
        elif name in required or data.draw(st.booleans(), label=f"send {name}"):
            arguments[name] = data.draw(_value(name, schema, world), label=name)
    started = time.monotonic()
    result = server.call_tool(tool, arguments)
    _check(tool, arguments, result, time.monotonic() - started)


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None, derandomize=FIXED, database=None)
@given(job_id=st.one_of(st.text(max_size=30), st.sampled_from(["..", "%2e%2e", "a/b", "x" * 300])))
def test_job_resources_answer_or_refuse_with_the_right_code(
    world: dict[str, Any], job_id: str
) -> None:
    from urllib.parse import quote

    server: ServerOnItsOwnLoop = world["server"]
    try:
        read = server.read_resource(f"jobs://{quote(job_id, safe='')}/logs")
    except MCPError as exc:
        assert exc.code in (INVALID_PARAMS, -32002), (job_id, exc.code, exc.message)
        assert CANARY not in exc.message
    else:
        assert CANARY not in json.dumps(read.model_dump(mode="json"))


# -- deep JSON on stdio, concurrent cancels ------------------------------------------------------

SEED = int(os.environ.get("OUMI_MCP_FUZZ_SEED", "0" if FIXED else str(time.time_ns())))


def _deep_line(rng: random.Random) -> bytes:
    """A line nested 50 to 5,000 deep: bare, in a request's arguments, or as its id."""
    depth = rng.choice([50, 99, 100, 101, 150, 400, 998, 1000, 1001, rng.randint(2, 5000)])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"k": ', b"}")])
    core = b"1" if opener != b"[" else b""
    nested = opener * depth + core + closer * depth
    place = rng.choice(["bare", "arguments", "id", "params"])
    if place == "bare":
        return nested
    if place == "id":
        return b'{"jsonrpc": "2.0", "id": ' + nested + b', "method": "tools/list"}'
    if place == "params":
        return b'{"jsonrpc": "2.0", "id": "p", "method": "tools/list", "params": ' + nested + b"}"
    return (
        b'{"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": '
        b'"get_job_status", "arguments": {"job_id": ' + nested + b"}}}"
    )


@pytest.mark.slow
def test_deep_json_lines_on_stdio_each_get_one_answer_and_the_server_lives(
    tmp_path: Path,
) -> None:
    from tests.conftest import server_env
    from tests.jsonrpc import RawStdioSession

    rng = random.Random(SEED)
    with RawStdioSession(server_env(tmp_path), cwd=tmp_path) as session:
        session.initialize()
        for _ in range(40):
            line = _deep_line(rng)
            before = len(session.stdout_lines)
            session.send_line(line)
            answers = session.lines_after(before, timeout_s=15)
            assert session.process.poll() is None, (SEED, line[:120], session.stderr_text[-2000:])
            assert len(answers) == 1, (SEED, line[:120], answers)
            answer = json.loads(answers[0])
            assert "error" in answer or "result" in answer, (SEED, answer)
            listed = session.request("tools/list", {}, timeout_s=15)
            assert listed["result"]["tools"], (SEED, listed)


@pytest.mark.slow
@pytest.mark.anyio
async def test_random_concurrent_cancels_all_answer_cleanly_and_leave_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
    from oumi_mcp_server.jobs.os_processes import processes_with_env

    rng = random.Random(SEED)
    project = make_project(tmp_path / "project")
    launch = {"config_path": "configs/train.yaml", "command": "train", "client_cwd": str(project)}
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as client:

        async def call(tool: str, arguments: dict[str, Any], delay_s: float) -> Any:
            await asyncio.sleep(delay_s)
            return await client.call_tool(tool, arguments)

        for round_number in range(6):
            sleep = rng.choice(["0", "1", "60"])
            launched = client.call_tool(
                "run_oumi_job",
                {
                    **launch,
                    "dry_run": False,
                    "job_name": f"r{round_number}",
                    "envs": {"FAKE_OUMI_SLEEP": sleep},
                },
            )
            job = {"job_id": f"r{round_number}"}
            calls = [
                call("cancel_job", {**job, "force": rng.random() < 0.3}, rng.uniform(0, 0.08))
                for _ in range(rng.randint(2, 8))
            ] + [call("get_job_status", job, rng.uniform(0, 0.08)) for _ in range(2)]
            answers = await asyncio.gather(launched, *calls)
            for answer in answers:
                text = "".join(str(getattr(part, "text", "")) for part in answer.content)
                assert not any(word in text for word in UNEXPECTED), (SEED, round_number, text)
            cancels = [a.structured_content or {} for a in answers[1:-2] if not a.is_error]
            assert {c["action"] for c in cancels} <= {"cancelled", "already_finished"}, cancels
            deadline = time.monotonic() + 30
            while processes_with_env(JOB_MARKER_ENV, job["job_id"]):
                assert time.monotonic() < deadline, (SEED, round_number, "processes left")
                await asyncio.sleep(0.1)
            status = (await client.call_tool("get_job_status", job)).structured_content or {}
            assert status.get("terminal"), (SEED, round_number, status)
