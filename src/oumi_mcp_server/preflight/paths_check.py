"""Resolve every path in the config against client_cwd and say whether the run can use it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from oumi_mcp_server.engines import load
from oumi_mcp_server.paths import expand_user_path, is_inside
from oumi_mcp_server.preflight.context import PreflightContext
from oumi_mcp_server.preflight.models import Finding, PathRow, PathStatus
from oumi_mcp_server.preflight.path_fields import (
    PathField,
    config_path_fields,
    is_remote,
    job_path_fields,
    mounted_destinations,
)

ExcludedFiles = Callable[[Path], list[str]]
CHECK = "paths"


def skypilot_excluded_files(working_dir: Path) -> list[str]:
    """What SkyPilot will not upload from ``working_dir`` (.skyignore, else .gitignore)."""
    storage_utils = load("sky.data.storage_utils")
    return list(storage_utils.get_excluded_files(str(working_dir)))


def _nearest_existing_parent(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def is_excluded(relative: str, excluded: list[str]) -> bool:
    for entry in excluded:
        entry = entry.rstrip("/")
        if relative == entry or relative.startswith(entry + "/"):
            return True
    return False


def _row(item: PathField, resolved: Path, status: PathStatus, note: str = "") -> PathRow:
    return PathRow(
        field=item.field,
        raw=item.raw,
        resolved=str(resolved),
        role=item.role,
        status=status,
        note=note,
    )


def _local_row(item: PathField, resolved: Path) -> PathRow:
    if item.role == "output":
        parent = _nearest_existing_parent(resolved)
        if parent.is_dir() and os.access(parent, os.W_OK):
            return _row(item, resolved, "output_ok")
        return _row(item, resolved, "output_not_writable", f"{parent} is not a writable directory.")
    return _row(item, resolved, "ok" if resolved.exists() else "missing")


def _cloud_row(
    item: PathField, resolved: Path, ctx: PreflightContext, excluded: list[str], mounts: list[str]
) -> PathRow:
    if item.field.startswith("file_mounts."):
        if resolved.exists():
            return _row(item, resolved, "mounted", "Uploaded by file_mounts.")
        return _row(item, resolved, "missing", "file_mounts source does not exist.")
    if any(item.raw == m or item.raw.startswith(m.rstrip("/") + "/") for m in mounts):
        return _row(item, resolved, "mounted", "Provided on the VM by a mount.")
    if item.role == "output":
        return _row(
            item,
            resolved,
            "output_on_vm",
            "Written on the VM; the cluster disk is ephemeral: copy results out before down.",
        )
    if os.path.isabs(os.path.expanduser(item.raw)):
        return _row(
            item,
            resolved,
            "not_reachable_on_vm",
            "Absolute paths do not exist on the VM: make it relative to the working dir "
            "or mount it.",
        )
    if not is_inside(resolved, ctx.working_dir):
        return _row(
            item,
            resolved,
            "not_reachable_on_vm",
            f"Outside the working dir {ctx.working_dir}, which is all that is uploaded.",
        )
    if not resolved.exists():
        return _row(
            item,
            resolved,
            "not_found_warning",
            "Missing locally; fine only if setup creates it on the VM.",
        )
    relative = str(resolved.resolve().relative_to(ctx.working_dir.resolve()))
    if is_excluded(relative, excluded):
        return _row(
            item,
            resolved,
            "excluded_by_skyignore",
            "Inside the working dir but ignored by .skyignore/.gitignore: it will not be uploaded.",
        )
    return _row(item, resolved, "ok_synced")


def _findings(rows: list[PathRow], remote: bool) -> tuple[list[Finding], list[Finding]]:
    errors: list[Finding] = []
    warnings: list[Finding] = []
    for row in rows:
        where = f"{row.raw} -> {row.resolved}"
        if row.status == "missing":
            errors.append(
                Finding(
                    check=CHECK,
                    field=row.field,
                    message=f"Input not found: {where}.",
                    hint="Relative paths resolve against client_cwd; fix the path or create "
                    "the file.",
                )
            )
        elif row.status == "output_not_writable":
            errors.append(
                Finding(
                    check=CHECK,
                    field=row.field,
                    message=f"Output cannot be created: {where}. {row.note}",
                    hint="Choose an output location inside the project.",
                )
            )
        elif row.status in ("not_reachable_on_vm", "excluded_by_skyignore"):
            errors.append(
                Finding(
                    check=CHECK,
                    field=row.field,
                    message=f"{row.note} ({where})",
                    hint="Keep inputs inside the working dir, uploaded, with relative paths.",
                )
            )
        elif row.status == "not_found_warning":
            warnings.append(Finding(check=CHECK, field=row.field, message=f"{row.note} ({where})"))
    if remote and any(row.status == "output_on_vm" for row in rows):
        warnings.append(
            Finding(
                check=CHECK,
                message="Outputs are written on the cluster, whose disk is ephemeral.",
                hint="Copy artifacts out (storage mounts, rsync/scp) before "
                "stop_cluster/down_cluster.",
            )
        )
    return errors, warnings


def check_paths(
    ctx: PreflightContext, excluded_files: ExcludedFiles = skypilot_excluded_files
) -> tuple[list[PathRow], list[Finding], list[Finding]]:
    """(rows, errors, warnings). Blocking: run in a worker thread."""
    items = config_path_fields(ctx.data, ctx.client_cwd)
    if ctx.is_job:
        items += job_path_fields(ctx.data)
    items = [item for item in items if not is_remote(item.raw)]
    extra_warnings: list[Finding] = []
    if not ctx.is_remote:
        rows = [_local_row(item, expand_user_path(item.raw, ctx.client_cwd)) for item in items]
    else:
        base = ctx.working_dir
        try:
            excluded = excluded_files(base)
        except Exception as exc:  # SkyPilot missing or git failing: say so, keep checking
            excluded = []
            extra_warnings.append(
                Finding(check=CHECK, message=f"Could not read SkyPilot's ignore rules: {exc}")
            )
        mounts = mounted_destinations(ctx.data) if ctx.is_job else []
        rows = [
            _cloud_row(item, expand_user_path(item.raw, base), ctx, excluded, mounts)
            for item in items
        ]
    errors, warnings = _findings(rows, ctx.is_remote)
    return rows, errors, warnings + extra_warnings
