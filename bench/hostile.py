"""A hostile pass over the real server: every probe classified by what it got back.

    .venv/bin/python bench/hostile.py [--code SRC_DIR]

Each probe sends something hostile over stdio (or HTTP) to a real server process
(fake `oumi`, no cloud) and its outcome is one of: ok (the right answer), clear
error (an error that says what went wrong), crash (the server exited), hang (no
answer within its time limit), failed unexpectedly (an error that is a crash in
words), wrong state (an answer that is untrue or shows what it must not). The
table at the end counts them. ``--code`` runs another source tree (a checkout of
an earlier commit's ``src``) with this script, for a before/after comparison.
Bounded: every wait has a limit and every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from hostile_jobs import (
    cancel_during_launch,
    concurrent_cancels,
    flagged_env,
    stopped_job,
    swapped_config,
)
from hostile_world import CALL_LIMIT_S, CANARY, OUTCOMES, TOKEN, Crashed, World, judged

# -- stdio lines ------------------------------------------------------------------------------

LINES: dict[str, bytes] = {
    "broken JSON": b'{"jsonrpc": "2.0", "id": 7, "method": "tools/list"',
    "lone surrogate": b'{"jsonrpc": "2.0", "id": 8, "method": "x", "params": {"a": "\\ud800"}}',
    "no method": b'{"jsonrpc": "2.0", "id": 9, "params": {}}',
    "not an object": b"[1, 2, 3]",
    "wrong jsonrpc": b'{"jsonrpc": "1.0", "id": 10, "method": "tools/list"}',
    "not UTF-8": b"\xff\xfe\xfd",
    "array 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "object 5,000 deep": b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    "arguments 300 deep": b'{"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": '
    b'{"name": "get_started", "arguments": {"x": ' + b"[" * 300 + b"]" * 300 + b"}}}",
    "id is an object": b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}',
    "id is an array": b'{"jsonrpc": "2.0", "id": [1], "method": "tools/list"}',
    "id is true": b'{"jsonrpc": "2.0", "id": true, "method": "tools/list"}',
    "2 MB string": b'{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": '
    b'"get_job_status", "arguments": {"job_id": "' + b"x" * 2_000_000 + b'"}}}',
}


def line_probe(world: World, line: bytes) -> str:
    with world.server() as server:
        before = len(server.stdout_lines)
        server.send_line(line)
        answers = server.lines_after(before, timeout_s=10)
        if server.process.poll() is not None:
            return "crash"
        try:
            listed = server.request("tools/list", {}, timeout_s=10)
        except TimeoutError:
            return "crash" if server.process.poll() is not None else "hang"
        if not answers or not listed.get("result"):
            return "hang"
        return "clear error" if '"error"' in answers[0] else "ok"


# -- tools ---------------------------------------------------------------------------------------


def tool_probe(world: World, name: str, arguments: dict[str, Any], **env: str) -> str:
    with world.server(**env) as server:
        try:
            is_error, text, _ = server.call(name, arguments)
        except Crashed:
            return "crash"
        except TimeoutError:
            return "hang"
        return judged(is_error, text)


def damaged_registry(world: World, how: str, tool: str) -> str:
    state = world.root / f"state-{how}-{tool}"
    state.mkdir()
    if how == "folder":
        (state / "jobs.db").mkdir()
    else:
        (state / "jobs.db").write_bytes(b"not SQLite at all\n" * 64)
    arguments = {"job_id": "some-job"} if tool != "list_jobs" else {}
    return tool_probe(world, tool, arguments, OUMI_MCP_STATE_DIR=str(state))


# -- HTTP ----------------------------------------------------------------------------------------


def http_probe(world: World, address: str, scheme: str) -> str:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "oumi_mcp_server", "serve", "--transport", "http"]
    env = {**world.env, "OUMI_MCP_HTTP_TOKEN": TOKEN}
    process = subprocess.Popen(
        [*command, "--host", address, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection((address, port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        response = httpx.post(
            f"http://{address}:{port}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "hostile", "version": "1"},
                },
            },
            headers={
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "authorization": f"{scheme} {TOKEN}",
            },
            timeout=CALL_LIMIT_S,
        )
        return "ok" if response.status_code == 200 else "wrong state"
    finally:
        process.terminate()
        process.wait(10)


# -- the pass ------------------------------------------------------------------------------------


def probes(world: World) -> dict[str, Callable[[], str]]:
    cwd = str(world.project)
    found: dict[str, Callable[[], str]] = {
        f"stdio: {label}": (lambda line=line: line_probe(world, line))
        for label, line in LINES.items()
    }
    secret = str((world.outside / "secret.conf").relative_to("/"))
    (world.project / "hosts.yml").write_text(f"github.com:\n  oauth_token: {CANARY}\n")
    (world.project / "colon.yaml").write_text((world.outside / "secret.conf").read_text())
    tools: dict[str, tuple[str, dict[str, Any]]] = {
        "client_cwd '/' reads a file outside": (
            "validate_config",
            {"config": secret, "client_cwd": "/"},
        ),
        "client_cwd '/etc'": ("validate_config", {"config": "passwd", "client_cwd": "/etc"}),
        "colon-format keys quoted back": (
            "validate_config",
            {"config": "colon.yaml", "client_cwd": cwd},
        ),
        "dotted top-level key, task_type train": (
            "validate_config",
            {"config": "hosts.yml", "client_cwd": cwd, "task_type": "train"},
        ),
        "path traversal": ("validate_config", {"config": "../../etc/passwd", "client_cwd": cwd}),
        "a FIFO as config": ("validate_config", {"config": "/dev/stdin", "client_cwd": cwd}),
        "job id with slashes": ("get_job_status", {"job_id": "../../etc"}),
        "negative log lines": ("get_job_logs", {"job_id": "x", "lines": -5}),
        "unknown command": (
            "run_oumi_job",
            {"config_path": "configs/train.yaml", "command": "rm", "client_cwd": cwd},
        ),
        "bogus status filter": ("list_jobs", {"status": "bogus"}),
        "empty metric name": ("get_job_metrics", {"job_id": "x", "metrics": [""]}),
        "wrong argument type": ("search_configs", {"limit": "many"}),
        "flag-like cluster name": ("stop_cluster", {"cloud": "gcp", "cluster_name": "--all"}),
        "override injection": (
            "run_oumi_job",
            {
                "config_path": "configs/train.yaml",
                "command": "train",
                "client_cwd": cwd,
                "overrides": ["--training.output_dir=/x; rm -rf /"],
            },
        ),
    }
    for label, (tool, arguments) in tools.items():
        found[f"tool: {label}"] = lambda tool=tool, arguments=arguments: tool_probe(
            world, tool, arguments
        )
    for how in ("not a database", "folder"):
        for tool in ("list_jobs", "get_job_status", "cancel_job"):
            found[f"registry {how}: {tool}"] = lambda how=how, tool=tool: damaged_registry(
                world, how, tool
            )
    found["8 cancels at once, 3 rounds"] = lambda: concurrent_cancels(world)
    for delay in (0, 10, 30, 50):
        found[f"cancel {delay} ms after launch"] = lambda delay=delay: cancel_during_launch(
            world, delay
        )
    found["SIGSTOP job: status and cancel"] = lambda: stopped_job(world)
    found["config swapped during 20 launches"] = lambda: swapped_config(world)
    for name in ("PYTHONPATH", "BASH_ENV", "ENV"):
        found[f"envs {name} flagged"] = lambda name=name: flagged_env(world, name)
    found["HTTP 'bearer' in lower case"] = lambda: http_probe(world, "127.0.0.1", "bearer")
    found["HTTP bound to 127.0.0.2"] = lambda: http_probe(world, "127.0.0.2", "Bearer")
    return found


def run_probe(probe: Callable[[], str]) -> str:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(probe)
        try:
            return future.result(timeout=120)
        except concurrent.futures.TimeoutError:
            return "hang"
        except Crashed:
            return "crash"
        except TimeoutError:
            return "hang"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, help="run this source tree (its src folder)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile-") as temporary:
        world = World(Path(temporary), options.code)
        counts: Counter[str] = Counter()
        for label, probe in probes(world).items():
            outcome = run_probe(probe)
            counts[outcome] += 1
            print(f"{outcome:20} {label}", flush=True)
    print()
    print(" | ".join(OUTCOMES) + " | probes")
    print(" | ".join(str(counts[outcome]) for outcome in OUTCOMES) + f" | {sum(counts.values())}")


if __name__ == "__main__":
    main()
