"""The job wrapper on its own: what it does before and around the command it runs."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def test_the_wrapper_does_not_start_a_command_cancelled_before_it_began(tmp_path: Path) -> None:
    import json
    import sys

    run = tmp_path / "run"
    run.mkdir()
    (run / "cancel.json").write_text('{"requested_at": 1.0, "force": false}')
    marker = tmp_path / "started"
    subprocess.run(
        [
            sys.executable,
            "-I",
            "-m",
            "oumi_mcp_server.jobs.process.wrapper",
            "--run-dir",
            str(run),
            "--marker",
            "m",
            "--",
            "touch",
            str(marker),
        ],
        check=False,
        timeout=30,
    )
    assert not marker.exists()
    assert json.loads((run / "exit.json").read_text())["exit_code"] == -signal.SIGTERM
