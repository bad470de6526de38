"""The real server over stdio under hostile input and signals.

Every request line gets an answer (a line the SDK cannot parse gets a JSON-RPC
error, with its id when it can be read, and a log line), and the next request
still works. SIGINT, SIGTERM and SIGHUP each end the server within a second,
after its cleanup, and leave its jobs running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env, stop_processes
from tests.conftest import server_env
from tests.jobs_support import fake_oumi
from tests.jsonrpc import RawStdioSession
from tests.project import make_project

MALFORMED = [
    # (the line, the error code, the id the answer carries)
    (b'{"jsonrpc": "2.0", "id": 7, "method": "tools/list"', -32700, None),
    (
        b'{"jsonrpc": "2.0", "id": "b8", "method": "tools/list", "params": {"x": "\\ud800"}}',
        -32700,
        "b8",
    ),
    (b'{"jsonrpc": "2.0", "id": "b9", "params": {}}', -32600, "b9"),
    (b"[1, 2, 3]", -32600, None),
    (b"42", -32600, None),
    (b'{"jsonrpc": "1.0", "id": "ten", "method": "tools/list"}', -32600, "ten"),
    (b"\xff\xfe not even text", -32700, None),
    # Nested past the parser's recursion limit: a RecursionError, not a ValueError.
    (b"[" * 1000 + b"]" * 1000, -32700, None),
    (b'{"a": ' * 5000 + b"1" + b"}" * 5000, -32700, None),
    # Parsed, but deeper than any MCP message: refused before the SDK handles it.
    (
        b'{"jsonrpc": "2.0", "id": "deep", "method": "tools/call", "params": {"name": '
        b'"get_started", "arguments": {"x": ' + b"[" * 300 + b"]" * 300 + b"}}}",
        -32600,
        "deep",
    ),
    # An id that is neither a string nor a number: answered, with a null id.
    (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}', -32600, None),
    (b'{"jsonrpc": "2.0", "id": [1], "method": "tools/list"}', -32600, None),
    (b'{"jsonrpc": "2.0", "id": true, "method": "tools/list"}', -32600, None),
]
SHUTDOWN_WITHIN_S = 1.0


def test_every_malformed_line_gets_an_error_answer_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    with RawStdioSession(server_env(tmp_path), cwd=tmp_path) as session:
        session.initialize()
        for line, code, request_id in MALFORMED:
            before = len(session.stdout_lines)
            session.send_line(line)
            answers = [json.loads(text) for text in session.lines_after(before)]
            assert len(answers) == 1, (line, answers)
            assert answers[0]["error"]["code"] == code, (line, answers)
            assert answers[0]["id"] == request_id, (line, answers)
            listed = session.request("tools/list", {}, timeout_s=10)
            assert listed["result"]["tools"], listed
        session.close()
        logged = [row for row in session.stderr_text.splitlines() if "malformed request" in row]
        assert len(logged) == len(MALFORMED), session.stderr_text[-3000:]


def _start_with_a_job(tmp_path: Path, name: str) -> tuple[RawStdioSession, str]:
    project = make_project(tmp_path / "project")
    env = server_env(tmp_path, OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(tmp_path / "bin")))
    session = RawStdioSession(env, cwd=tmp_path)
    session.initialize()
    answer = session.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "dry_run": False,
            "job_name": name,
            "envs": {"FAKE_OUMI_SLEEP": "120"},
        },
        timeout_s=120,
    )
    assert answer["result"]["structuredContent"]["launched"], answer
    for _ in range(100):
        if processes_with_env(JOB_MARKER_ENV, name):
            break
        time.sleep(0.05)
    return session, name


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_server_within_a_second_and_its_job_runs_on(
    tmp_path: Path, signum: signal.Signals
) -> None:
    session, job = _start_with_a_job(tmp_path, f"survives-{signum.name.lower()}")
    try:
        started = time.monotonic()
        session.process.send_signal(signum)
        session.process.wait(timeout=10)
        took = time.monotonic() - started
        session.close()
        assert took < SHUTDOWN_WITHIN_S, f"{signum.name}: {took:.2f} s"
        assert session.process.returncode == 0
        assert f"Received {signum.name}: shutting down" in session.stderr_text
        assert "Cleaned up" in session.stderr_text
        assert processes_with_env(JOB_MARKER_ENV, job), "the job did not survive"
    finally:
        stop_processes(processes_with_env(JOB_MARKER_ENV, job), 2.0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_the_http_server_shuts_down_cleanly_on_each_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    port = _free_port()
    env = server_env(tmp_path, OUMI_MCP_HTTP_TOKEN="t" * 32)
    command = ["-m", "oumi_mcp_server", "serve", "--transport", "http", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signum)
        process.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert took < SHUTDOWN_WITHIN_S, f"{signum.name}: {took:.2f} s"
    assert "Cleaned up" in stderr, stderr[-2000:]
