"""What every probe of the hostile pass shares: the server it drives over stdio, the
world of files around it (a project, files outside it), and how an answer is judged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import base_env

from tests.jobs_support import fake_oumi
from tests.jsonrpc import RawStdioSession
from tests.project import make_project

OUTCOMES = ("ok", "clear error", "crash", "hang", "failed unexpectedly", "wrong state")
UNEXPECTED = ("failed unexpectedly", "Traceback")
CANARY = "HostileCanary7e1d"
CALL_LIMIT_S = 30.0
TOKEN = "hostile-token-0123456789abcdef"


class Crashed(Exception):
    pass


class Server(RawStdioSession):
    def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
        """(is_error, text, structured) of one tool call; Crashed or TimeoutError otherwise."""
        request_id = self.send_call(name, arguments)
        try:
            message = self.answer_to(request_id, timeout_s=CALL_LIMIT_S)
        except TimeoutError:
            if self.process.poll() is not None:
                raise Crashed from None
            raise
        if "error" in message:
            return True, json.dumps(message["error"]), {}
        result = message.get("result") or {}
        text = "".join(str(part.get("text", "")) for part in result.get("content", []))
        return bool(result.get("isError")), text, dict(result.get("structuredContent") or {})


class World:
    def __init__(self, root: Path, code: Path | None) -> None:
        self.root = root
        self.project = make_project(root / "project")
        extra = {"PYTHONPATH": str(code)} if code else {}
        self.code = code
        self.env = base_env(
            root / "state",
            OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(root / "bin")),
            OUMI_MCP_WARMUP="0",
            OUMI_MCP_DOCS_AUTOBUILD="0",
            OUMI_MCP_CLOUDS="none",
            OUMI_MCP_JOB_CANCEL_GRACE_S="2",
            **extra,
        )
        self.outside = root / "outside"
        self.outside.mkdir()
        (self.outside / "secret.conf").write_text(
            f"admin:{CANARY}:0:0: /root\nservice:{CANARY}:1:1: /srv\n"
        )
        (self.outside / "outside.yaml").write_text(f"model:\n  model_name: {CANARY}\n")

    def server(self, **env: str) -> Server:
        server = Server({**self.env, **env}, cwd=self.root)
        server.initialize()
        return server

    def launch(self, name: str, **envs: str) -> dict[str, Any]:
        return {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(self.project),
            "dry_run": False,
            "job_name": name,
            "envs": {"FAKE_OUMI_SLEEP": "120", **envs},
        }


def judged(is_error: bool, text: str, shows: str = CANARY) -> str:
    if shows and shows in text:
        return "wrong state"
    if is_error:
        return "failed unexpectedly" if any(word in text for word in UNEXPECTED) else "clear error"
    return "ok"
