"""A raw JSON-RPC session over a server's stdio, recording every stdout line.

The official client hides stray output (it logs and skips unparseable lines);
to prove the stream is clean we read the bytes ourselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

PROTOCOL_VERSION = "2025-11-25"


class RawStdioSession:
    def __init__(self, env: dict[str, str], *, cwd: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "oumi_mcp_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self.stdout_lines: list[str] = []
        self._stderr: list[bytes] = []
        self._lock = threading.Condition()
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            with self._lock:
                self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._lock.notify_all()

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for raw in self._process.stderr:
            self._stderr.append(raw)

    @property
    def stderr_text(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message).encode() + b"\n")
        self._process.stdin.flush()

    def send_request(self, method: str, params: dict[str, Any]) -> int:
        """Send a request now; its id (``answer_to`` waits for the answer)."""
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return self._next_id

    def answer_to(self, request_id: int, *, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for line in self.stdout_lines:
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if message.get("id") == request_id:
                        return dict(message)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no answer to request {request_id} within {timeout_s} s")
                self._lock.wait(remaining)

    def request(
        self, method: str, params: dict[str, Any], *, timeout_s: float = 30
    ) -> dict[str, Any]:
        return self.answer_to(self.send_request(method, params), timeout_s=timeout_s)

    def send_line(self, line: bytes) -> None:
        """Send raw bytes as one line (hostile input)."""
        assert self._process.stdin is not None
        self._process.stdin.write(line + b"\n")
        self._process.stdin.flush()

    def lines_after(self, count: int, *, timeout_s: float = 10.0) -> list[str]:
        """The stdout lines after the first ``count``, once there is one (or at the limit)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.stdout_lines) <= count and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            return self.stdout_lines[count:]

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self._process

    def initialize(self) -> dict[str, Any]:
        response = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "raw-test-client", "version": "0"},
            },
        )
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return response

    def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout_s: float = 30
    ) -> dict[str, Any]:
        return self.request(
            "tools/call", {"name": name, "arguments": arguments}, timeout_s=timeout_s
        )

    def send_call(self, name: str, arguments: dict[str, Any]) -> int:
        """Call a tool now; the request id (``answer_to`` waits for the answer)."""
        return self.send_request("tools/call", {"name": name, "arguments": arguments})

    def close(self) -> None:
        if self._process.stdin and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        time.sleep(0.1)  # let the reader threads drain

    def __enter__(self) -> RawStdioSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def structured(message: dict[str, Any]) -> dict[str, Any]:
    """A tool call's structured answer (its result must not be an error)."""
    result = message.get("result") or {}
    assert not result.get("isError"), result
    return dict(result.get("structuredContent") or {})
