"""SkyPilot's local API server starts in our environment (fastapi<0.145) and stops."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import SKY, skypilot_server_pids


@pytest.mark.slow
def test_skypilot_api_server_starts_and_answers(skypilot_api: None) -> None:
    started = subprocess.run([SKY, "api", "start"], capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    status = subprocess.run([SKY, "api", "info"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "healthy" in (status.stdout + status.stderr).lower()
    assert skypilot_server_pids(), "no API server process found"
