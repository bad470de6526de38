"""Run every check side by side under one deadline, and render the answer as text.

Each check runs in a daemon thread: one that hangs past the deadline becomes a
warning naming it, and never keeps doctor (or the process) waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for

from oumi_mcp_server.blocking import start_in_thread
from oumi_mcp_server.doctor.clients import client_config
from oumi_mcp_server.doctor.compute import (
    check_clouds,
    check_engines,
    check_gpu,
    check_skypilot,
    check_slurm,
)
from oumi_mcp_server.doctor.local import (
    check_docs_index,
    check_hf_token,
    check_library,
    check_registry,
    check_versions,
)
from oumi_mcp_server.doctor.models import DoctorReport, Section
from oumi_mcp_server.doctor.worker import check_worker
from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.settings import Settings

DEADLINE_S = 9.0
MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def checks(settings: Settings) -> list[tuple[str, Callable[[], Section]]]:
    """(section name, check) in the order the report shows them."""
    oumi = installed_version("oumi")
    return [
        ("versions", check_versions),
        ("config library", lambda: check_library(settings, oumi)),
        ("docs index", lambda: check_docs_index(settings, oumi)),
        ("job registry", lambda: check_registry(settings)),
        ("engine worker", lambda: check_worker(settings)),
        ("engines", lambda: check_engines(settings.skypilot_dir)),
        ("skypilot", check_skypilot),
        ("clouds", lambda: check_clouds(settings.skypilot_dir)),
        ("slurm", check_slurm),
        ("hugging face token", check_hf_token),
        ("gpu", check_gpu),
    ]


def run_doctor(
    settings: Settings,
    *,
    deadline_s: float = DEADLINE_S,
    planned: list[tuple[str, Callable[[], Section]]] | None = None,
) -> DoctorReport:
    """Every check at once; the answer comes within ``deadline_s`` (plus rendering).
    ``planned`` replaces the real checks (tests)."""
    began = time.monotonic()
    planned = checks(settings) if planned is None else planned
    futures: list[Future[Section]] = [
        start_in_thread(check, name=f"doctor-{name}") for name, check in planned
    ]
    wait_for(futures, timeout=deadline_s)
    sections = [
        _outcome(name, future, deadline_s)
        for (name, _), future in zip(planned, futures, strict=True)
    ]
    return DoctorReport(sections, client_config(), time.monotonic() - began)


def _outcome(name: str, future: Future[Section], deadline_s: float) -> Section:
    if not future.done():
        return Section(
            name,
            "warn",
            f"The check did not finish within {deadline_s:g} s.",
            fix="Run doctor again; if it keeps timing out, this part of the system is hanging.",
        )
    error = future.exception()
    if error is not None:  # a bug in a check: reported, never a crash of the whole report
        return Section(
            name,
            "warn",
            f"The check itself failed: {type(error).__name__}: {error}.",
            fix="Please report this with the output of `oumi-mcp-server doctor --json`.",
        )
    return future.result()


def render_text(report: DoctorReport) -> str:
    lines = ["oumi-mcp-server doctor", ""]
    for section in report.sections:
        lines.append(f"[{MARKS[section.status]}] {section.name}: {section.detail}")
        if section.fix:
            lines.append(f"       fix: {section.fix}")
    config = report.client_config
    lines += [
        "",
        "Client configuration (paste one):",
        "  Claude Code:",
        f"    {config.claude_code}",
        "  Claude Desktop (claude_desktop_config.json) and Cursor (~/.cursor/mcp.json):",
        *(f"    {line}" for line in json.dumps(config.json_snippet, indent=2).splitlines()),
        "",
    ]
    failed = [s.name for s in report.sections if s.status == "fail"]
    warned = [s.name for s in report.sections if s.status == "warn"]
    if failed:
        lines.append(f"Not usable yet: fix {', '.join(failed)} first.")
    elif warned:
        lines.append(f"Usable; {len(warned)} warning(s): {', '.join(warned)}.")
    else:
        lines.append("Everything looks good.")
    lines.append(f"(checked in {report.seconds:.1f} s)")
    return "\n".join(lines)
