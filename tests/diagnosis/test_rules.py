"""Every rule, reached through the scanner by a real message of its kind.

The scanner only looks at lines holding an anchor; a rule whose message holds none
would never fire. rule_messages.yaml holds what a library prints, one message per rule
in the order of diagnosis/rules.py; wrapper lines (None) must name no cause at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from oumi_mcp_server.diagnosis.logfile import Segment
from oumi_mcp_server.diagnosis.models import Cause
from oumi_mcp_server.diagnosis.rules import ANCHORS, RULES
from oumi_mcp_server.diagnosis.scanner import scan

MESSAGES: list[tuple[Cause | None, str]] = [
    (entry["cause"], entry["message"])
    for entry in yaml.safe_load((Path(__file__).parent / "rule_messages.yaml").read_text())
]


def _causes(line: str) -> list[Cause]:
    data = f"Traceback (most recent call last):\n{line}\n".encode()
    return [finding.cause for finding in scan([Segment(data, 1, "log")])]


def test_one_message_per_rule() -> None:
    assert len(MESSAGES) == len(RULES)


@pytest.mark.parametrize(("cause", "line"), MESSAGES)
def test_each_message_names_its_cause(cause: Cause | None, line: str) -> None:
    if cause is not None:  # a wrapper line only matters when an anchor brought it in
        assert any(anchor.decode() in line for anchor in ANCHORS)
    assert _causes(line) == ([cause] if cause is not None else [])


@pytest.mark.parametrize(
    "line",
    [
        "/usr/lib/python3/x.py:12: UserWarning: may run out of memory: CUDA out of memory",
        "[rank0]:[W302 10:40:11.2 ProcessGroupNCCL.cpp:1538] Warning: WARNING: NCCL error in: x",
        "gpu-node-07:3121:3290 [0] misc/socket.cc:484 NCCL WARN NET/Socket : Connect failed",
        "    raise OSError('[Errno 28] No space left on device')",
        "    except torch.OutOfMemoryError:",
        "Loading bigscience/bloom-560m and nanollama/nanollama-50m: error_rate=0.0",
    ],
)
def test_warnings_code_lines_and_names_are_never_causes(line: str) -> None:
    assert _causes(line) == []
