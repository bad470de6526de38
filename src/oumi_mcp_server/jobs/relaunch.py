"""relaunch_job: a finished job's config with its diagnosis's fix, as a new file, run again.

The fix is applied to the config the job really ran (its staged copy), never to the
user's file: the patched config is a NEW file beside the original
(``train.yaml`` -> ``train.fix-1.yaml``, the first free number), written once and
never over an existing file. Patch keys are dotted from the config root, list items
in brackets (``data.train.datasets[0].split``). A checkpoint the diagnosis found is
resumed from (``training.resume_from_checkpoint``) unless the patch already says how
to resume. Blocking functions: the service calls them in worker threads.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import JOB_ENV_DEFAULTS
from oumi_mcp_server.jobs.commands import RESERVED_ENV_PREFIX
from oumi_mcp_server.jobs.models import JobDiagnosis, RelaunchResult, RunJobResult
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.paths import is_inside
from oumi_mcp_server.validation.documents import ConfigDocument, load_config_document

RESUME_KEYS = ("training.resume_from_checkpoint", "training.try_resume_from_last_checkpoint")
MAX_COPIES = 1000  # train.fix-1.yaml ... train.fix-1000.yaml
_KEY_PART = re.compile(r"([A-Za-z_][\w-]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_COPY_SUFFIX = re.compile(r"\.(?:fix|rerun)-\d+$")


@dataclass(frozen=True)
class RelaunchPlan:
    """The new config: where it goes, what changes, its text and data."""

    original: Path
    target: Path
    patch: dict[str, Any]
    resume_from: str | None
    document: ConfigDocument  # the patched config, at its new path (not written yet)
    word: str  # "fix" (the diagnosis's fix applied) or "rerun" (the config as it ran)


def key_path(dotted: str) -> list[str | int]:
    """``data.train.datasets[0].split`` -> ['data', 'train', 'datasets', 0, 'split']."""
    parts: list[str | int] = []
    for piece in dotted.split("."):
        matched = _KEY_PART.fullmatch(piece)
        if matched is None:
            raise ValueError(f"{dotted!r} is not a dotted key (name.name[0].name)")
        parts.append(matched.group(1))
        parts += [int(index) for index in _INDEX.findall(matched.group(2))]
    return parts


def apply_patch(data: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted key set (missing mappings are created; a list
    index must exist). Raises ValueError naming a key that cannot be set."""
    patched: dict[str, Any] = copy.deepcopy(dict(data))
    for dotted, value in patch.items():
        parts = key_path(dotted)
        node: Any = patched
        for here, following in itertools.pairwise(parts):
            node = _step(node, here, following, dotted)
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ValueError(f"{dotted}: the config has no item {last} there")
            node[last] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ValueError(f"{dotted}: the config has a value, not a mapping, above it")
    return patched


def _step(node: Any, part: str | int, following: str | int, dotted: str) -> Any:
    if isinstance(part, int):
        if not isinstance(node, list) or part >= len(node):
            raise ValueError(f"{dotted}: the config has no item {part} there")
        return node[part]
    if not isinstance(node, dict):
        raise ValueError(f"{dotted}: the config has a value, not a mapping, above {part}")
    if node.get(part) is None:
        if isinstance(following, int):
            raise ValueError(f"{dotted}: the config has no list at {part}")
        node[part] = {}
    return node[part]


def plan_relaunch(
    record: JobRecord, diagnosis: JobDiagnosis | None, deadline: float | None = None
) -> RelaunchPlan:
    """The patched config for a relaunch (blocking): read from the job's staged copy;
    ``diagnosis`` None (or nothing failed): the config as it ran, unchanged."""
    if diagnosis is not None and diagnosis.cause == "none":
        diagnosis = None
    staged = load_config_document(Path(record.staged_config_path), deadline)
    patch: dict[str, Any] = dict(diagnosis.fix.config_patch) if diagnosis is not None else {}
    resume_from = None
    checkpoint = diagnosis.fix.resume_from if diagnosis is not None else None
    training = staged.data.get("training")
    if checkpoint and Path(checkpoint).is_dir() and isinstance(training, dict):
        resume_from = checkpoint
        if not any(key in patch for key in RESUME_KEYS):
            patch[RESUME_KEYS[0]] = checkpoint
    try:
        data = apply_patch(staged.data, patch)
    except ValueError as exc:
        raise InvalidArgumentError(
            "apply_fix",
            f"the fix cannot be applied to the job's config: {exc}.",
            next_step="Edit the config by hand (fix.steps say what to change), or relaunch "
            "with apply_fix=false.",
        ) from exc
    original = Path(record.config_path)
    cwd = Path(record.client_cwd)
    folder = original.parent if is_inside(original.parent, cwd) else cwd
    word = "fix" if diagnosis is not None else "rerun"
    target = free_copy_path(folder, original, word)
    text = config_text(data, original, record.job_id, diagnosis)
    document = ConfigDocument(target, text, data)
    return RelaunchPlan(original, target, patch, resume_from, document, word)


def free_copy_path(folder: Path, original: Path, word: str) -> Path:
    """``<stem>.<word>-N<suffix>`` in ``folder``, the first N not taken."""
    stem = _COPY_SUFFIX.sub("", original.stem)
    suffix = original.suffix if original.suffix in (".yaml", ".yml") else ".yaml"
    for number in range(1, MAX_COPIES + 1):
        candidate = folder / f"{stem}.{word}-{number}{suffix}"
        if not os.path.lexists(candidate):
            return candidate
    raise InvalidArgumentError(
        "job_id",
        f"{folder} already holds {MAX_COPIES} copies of {original.name}.",
        next_step="Remove old copies, then relaunch again.",
    )


def config_text(
    data: Mapping[str, Any], original: Path, job_id: str, diagnosis: JobDiagnosis | None
) -> str:
    import yaml

    why = f"the fix for {diagnosis.cause}" if diagnosis is not None else "no change"
    header = (
        f"# {original.name} as job {job_id} ran it, with {why} (relaunch_job).\n"
        "# The original file is unchanged.\n"
    )
    return header + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)


def write_new_config(plan: RelaunchPlan) -> Path:
    """Write the patched config as a new file (never over an existing one, never through a
    link); the next free name if the planned one was taken meanwhile. Blocking."""
    target = plan.target
    for _ in range(MAX_COPIES):
        try:
            descriptor = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644
            )
        except FileExistsError:
            target = free_copy_path(target.parent, plan.original, plan.word)
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(plan.document.text)
        return target
    raise InvalidArgumentError("job_id", f"no free name for a copy of {plan.original.name}.")


def replayed_overrides(record: JobRecord, patch: Mapping[str, Any]) -> list[str]:
    """The original request's overrides (process jobs: from its argv), as key=value; those
    the patch sets are left out (the patched config says them)."""
    argv = list(record.argv)
    if "-c" not in argv:
        return []
    after = argv[argv.index("-c") + 2 :]
    overrides = [item[2:] for item in after if item.startswith("--") and "=" in item]
    return [item for item in overrides if item.split("=", 1)[0] not in patch]


def missing_envs(record: JobRecord, envs: Mapping[str, str]) -> list[str]:
    """Variables the original job had that ``envs`` does not give again (values are never
    kept, so they cannot be replayed)."""
    added = set(JOB_ENV_DEFAULTS)  # the server's own, added to every process job
    return [
        name
        for name in record.env_names
        if name not in envs and name not in added and not name.startswith(RESERVED_ENV_PREFIX)
    ]


def relaunch_result(
    record: JobRecord,
    diagnosis: JobDiagnosis | None,
    plan: RelaunchPlan,
    target: Path,
    run: RunJobResult,
    envs: Mapping[str, str],
    missing: list[str],
) -> RelaunchResult:
    """relaunch_job's answer: what changes, the new file, and run_oumi_job's answer."""
    job = f"job_id='{record.job_id}'"
    cause = diagnosis.cause if diagnosis is not None else ""
    notes = []
    if cause == "none":
        notes.append("Nothing failed in that job: it runs again as it ran.")
    elif diagnosis is not None and not plan.patch:
        notes.append(
            f"The diagnosis ({cause}) has no config change to apply: the config runs as it ran."
        )
    if plan.resume_from:
        notes.append(f"It resumes from {plan.resume_from}.")
    if missing:
        notes.append(
            f"The job ran with {', '.join(missing)}: values are never kept, so pass them again "
            "in envs (the launch is refused without them)."
        )
    needed = [name for name in (diagnosis.fix.envs_needed if diagnosis else []) if name not in envs]
    if needed:
        notes.append(
            f"The fix needs {', '.join(needed)} set (in envs, or the server's environment)."
        )
    if not record.is_process:
        notes.append(
            "Resource options of the original request (accelerators, disk, spot, cpus, "
            "memory, time limit) are not kept: it runs on the same cloud and cluster."
        )
    if run.dry_run:
        done = f"Dry run: {target} would be written (nothing was written or started)."
        next_step = (
            f"Show the user config_patch and the dry run; relaunch_job({job}, dry_run=false"
            f"{', envs={...}' if missing else ''}) writes the file and launches it."
        )
    else:
        done = f"Wrote {target} and launched it as job {run.job_id} ({run.state or 'not started'})."
        next_step = (
            f"Follow it with get_job_status(job_id='{run.job_id}')."
            if run.launched
            else run.next_step
        )
    return RelaunchResult(
        job_id=record.job_id,
        dry_run=run.dry_run,
        cause=cause,
        config_patch=plan.patch,
        resume_from=plan.resume_from,
        original_config_path=str(plan.original),
        new_config_path=str(target),
        written=not run.dry_run,
        new_config_text=plan.document.text,
        envs_replayed=sorted(envs),
        run=run,
        message=" ".join([done, *notes]),
        next_step=next_step,
    )
