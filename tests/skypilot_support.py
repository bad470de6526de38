"""SkyPilot's record of a `sky check` in a test HOME, written by SkyPilot's own code.

A child process with HOME set to the test's folder calls SkyPilot's
``global_user_state.set_enabled_clouds``, exactly what ``sky check`` does at its
end, so the tests read the file SkyPilot really writes (nothing is probed and no
API server starts). Each set of clouds is written once per test session and copied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

WRITE_RECORD = """
import sys
from sky import global_user_state
from sky.clouds import cloud
global_user_state.set_enabled_clouds(sys.argv[1:], cloud.CloudCapability.COMPUTE, "default")
"""
_TEMPLATES: dict[tuple[str, ...], Path] = {}


def record_sky_check(home: Path, enabled: Sequence[str]) -> Path:
    """``home/.sky`` holding SkyPilot's record of a `sky check` that enabled ``enabled``
    (SkyPilot's names: "GCP", "AWS", "Kubernetes"); returns that folder."""
    key = tuple(sorted(enabled))
    template = _TEMPLATES.get(key)
    if template is None:
        template_home = Path(tempfile.mkdtemp(prefix="sky-check-record-"))
        template = _TEMPLATES[key] = write_sky_check(template_home, key)
    target = home / ".sky"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, target, dirs_exist_ok=True)
    return target


def write_sky_check(home: Path, enabled: Sequence[str]) -> Path:
    """Record ``enabled`` in ``home/.sky`` itself (also while SkyPilot's API server uses
    that folder: SQLite serializes the write); returns the folder."""
    env = {**os.environ, "HOME": str(home)}
    subprocess.run(
        [sys.executable, "-c", WRITE_RECORD, *enabled],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return home / ".sky"
