"""Which process wrote a line, from the prefix its launcher put in front of it.

Distributed launchers tag each worker's output: torchrun ``[rank3]:`` or, with
``--tee``, ``[default0]:``; mpirun ``[1,0]<stderr>:``; srun ``--label`` ``3: ``;
SkyPilot ``(worker1, rank=1, pid=2345, ip=10.0.0.2)``; Ray ``(RayWorker pid=123)``;
Oumi's own log records ``[oumi][rank0]``. Timestamps added by a log collector
(``2024-06-28T06:11:52.685300953Z``) come off first.
"""

from __future__ import annotations

import re

_COLLECTOR_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z? ")
_PREFIXES = (
    re.compile(r"\[rank(\d{1,5})\]:\s?"),
    re.compile(r"\[[a-z_]*?(\d{1,5})\]:\s?"),
    re.compile(r"\[\d{1,5},(\d{1,5})\]<std(?:out|err)>:\s?"),
    re.compile(r"\((?:head|worker\d*|task)[^)]*?\brank=(\d{1,5})[^)]*\)\s"),
    re.compile(r"\([A-Za-z_]\w*,? pid=(\d+)[^)]*\)\s"),
    re.compile(r"(\d{1,4}): "),
)
_PREFIX_STARTS = frozenset("[(0123456789")
_OUMI_RANK = re.compile(r"\]\[rank(\d{1,5})\]\[")
# A logger's record header in front of the message: Oumi's "[time][oumi][rank0]...[file.py:12] ",
# vLLM's "ERROR 03-02 10:20:34 [core.py:700] ", glog's "[E302 12:41:02.4 NCCL.cpp:632] ",
# SkyPilot's "I 03-02 15:11:09 controller.py:900] ".
_RECORD_HEADER = re.compile(
    r"^(?:\[[^\]]*\]\[oumi\].*?\]\]\[[\w.]+:\d+\] ?"
    r"|(?:INFO|WARNING|ERROR|DEBUG|CRITICAL) \d\d-\d\d [\d:]+ (?:\[[\w.]+:\d+\]|[\w.]+:\d+\]) "
    r"|\[?[IWEF]\d{3,4} [\d:.]+ (?:\d+ )?[\w./]+:\d+\] "
    r"|[IWEF] \d\d-\d\d [\d:]+ [\w.]+:\d+\] )"
)


def split_rank(line: str) -> tuple[str | None, str]:
    """(the writer's rank, or its pid as ``pid=N``, or None; the line without prefixes)."""
    rest = _COLLECTOR_TIME.sub("", line, count=1) if line[:1].isdigit() else line
    rank: str | None = None
    # A torchrun prefix may sit on top of another one; most lines have none at all.
    for _ in range(2 if rest[:1] in _PREFIX_STARTS else 0):
        for index, prefix in enumerate(_PREFIXES):
            found = prefix.match(rest)
            if found is None:
                continue
            pid_only = index == 4
            if rank is None:
                rank = f"pid={found.group(1)}" if pid_only else found.group(1)
            rest = rest[found.end() :]
            break
        else:
            break
    if rank is None and "[oumi]" in rest[:60]:
        oumi = _OUMI_RANK.search(rest, 0, 80)
        if oumi is not None:
            rank = oumi.group(1)
    return rank, rest


def without_record_header(text: str) -> str:
    """The message of a log record, without the logger's time/level/file header."""
    return _RECORD_HEADER.sub("", text, count=1)
