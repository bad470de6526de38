"""In stdio mode only MCP messages may reach fd 1."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.jsonrpc import RawStdioSession


def test_claimed_streams_divert_every_kind_of_stray_output() -> None:
    code = textwrap.dedent(
        """
        import os, subprocess, sys
        from oumi_mcp_server.protocol_stdio import claim_protocol_streams
        streams = claim_protocol_streams()
        print("python print")
        sys.stdout.write("sys.stdout write\\n")
        os.write(1, b"raw fd 1 write\\n")
        subprocess.run(["echo", "child process"], check=True)
        streams.writer.write(b'{"jsonrpc":"2.0","id":1,"result":{}}\\n')
        streams.writer.flush()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
    for stray in (b"python print", b"sys.stdout write", b"raw fd 1 write", b"child process"):
        assert stray in out.stderr


def test_children_read_eof_not_the_protocol() -> None:
    code = textwrap.dedent(
        """
        import subprocess
        from oumi_mcp_server.protocol_stdio import claim_protocol_streams
        streams = claim_protocol_streams()
        child = subprocess.run(["cat"], capture_output=True, timeout=10)
        line = streams.reader.readline()
        streams.writer.write(b"child read %d bytes; protocol got %r\\n" % (len(child.stdout), line))
        streams.writer.flush()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=b"protocol line\n", capture_output=True, timeout=30
    )
    assert out.stdout == b"child read 0 bytes; protocol got b'protocol line\\n'\n"


@pytest.mark.slow
def test_skypilot_prints_do_not_corrupt_the_stream(tmp_path: Path, skypilot_api: None) -> None:
    """sky check prints a large table to stdout; the stream must stay pure JSON-RPC."""
    with RawStdioSession(server_env(tmp_path), cwd=tmp_path) as session:
        session.initialize()
        response = session.call_tool("check_environment", {"check_clouds": True}, timeout_s=240)
        assert "error" not in response, response
        result = response["result"]
        assert not result.get("isError"), result
        clouds = result["structuredContent"]["clouds"]
        assert clouds["error"] is None, clouds
        assert isinstance(clouds["enabled_clouds"], list)
        session.close()
        stdout_lines = session.stdout_lines
        stderr = session.stderr_text
    assert stdout_lines, "no protocol output at all"
    for line in stdout_lines:
        message = json.loads(line)  # every line on fd 1 parses as JSON-RPC
        assert message.get("jsonrpc") == "2.0"
    # SkyPilot ran in the engine worker: what it printed went to the worker's log.
    printed = stderr + "".join(
        log.read_text() for log in (tmp_path / "state" / "worker").glob("*/worker.log")
    )
    assert "Checking credentials" in printed or "infra" in printed, "SkyPilot printed nothing?"
