"""The loopback Slurm cluster (scripts/slurm-loopback) for tests of oumi.launcher's `slurm` cloud.

``slurm_cluster()`` answers the cluster name oumi uses, ``root@localhost``, when the
cluster is reachable the way oumi reaches it: ssh in batch mode (keys and port come
from the block ``scripts/slurm-loopback up`` writes into ~/.ssh/config) and ``sinfo``
on the far side showing the node up. Otherwise the test is skipped, or fails when
``OUMI_MCP_REQUIRE_SLURM=1`` (CI starts the cluster, so there it must be up).
"""

from __future__ import annotations

import functools
import os
import subprocess

import pytest

CLUSTER = "root@localhost"
NOT_UP = "no loopback Slurm cluster: run `make slurm-up` (as root) to start one"
READY_NODE_STATES = {"idle", "mixed", "allocated", "completing"}
CHECK_TIMEOUT_S = 15.0


@functools.cache
def cluster_problem() -> str:
    """Why the cluster cannot be used, or "" when it can (checked once per test session)."""
    command = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        CLUSTER,
        "sinfo -h -n localhost -o %T",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        return "no ssh client"
    except subprocess.TimeoutExpired:
        return f"ssh {CLUSTER} sinfo did not answer within {CHECK_TIMEOUT_S:.0f} s"
    if done.returncode != 0:
        return f"ssh {CLUSTER} sinfo failed: {done.stderr.strip()[-300:] or done.returncode}"
    state = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    if state.rstrip("*~#") not in READY_NODE_STATES:
        return f"the node is not up (sinfo says {state or 'nothing'!r})"
    return ""


def slurm_required() -> bool:
    return os.environ.get("OUMI_MCP_REQUIRE_SLURM") == "1"


def slurm_cluster() -> str:
    """The loopback cluster's name for oumi.launcher; skips (or fails, when required) if down."""
    problem = cluster_problem()
    if problem:
        message = f"{NOT_UP} ({problem})"
        if slurm_required():
            pytest.fail(message)
        pytest.skip(message)
    return CLUSTER
