"""Slurm pre-flight: can oumi reach the cluster over ssh, and does it have what the job asks for?

oumi's ``slurm`` cloud drives a cluster named ``user@host`` through plain ssh
(no prompt can be answered: it runs in the background), ``sbatch``, ``squeue``,
``scontrol`` and ``sacct`` on the login node's PATH, writes each job's output
to ``~/oumi_slurm_logs/<id>.out`` (a job fails at launch when that directory is
missing) and lists jobs through Slurm accounting. All of that is probed in ONE ssh call
(``slurm/probe.py``, read-only); this module judges what the probe found
against what the job asks for, and names whatever did not answer. Blocking:
call from worker threads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oumi_mcp_server.masking import shown
from oumi_mcp_server.preflight.models import CloudReport, Finding
from oumi_mcp_server.slurm.layout import CONNECTIONS_ENV, LOG_DIR, SSH_HINT
from oumi_mcp_server.slurm.probe import (
    REMOTE_COMMAND_TIMEOUT_S,
    SLURM_COMMANDS,
    TIMED_OUT,
    TOTAL_TIMEOUT_S,
    NodeGroup,
    Probe,
    probe_cluster,
    whole_number,
)
from oumi_mcp_server.slurm.ssh import STDERR_TAIL_CHARS, cluster_problem

CHECK = "slurm"
ACCOUNTING_DISABLED = "accounting storage is disabled"

_SBATCH_PARTITION = re.compile(
    r"^\s*#SBATCH\s+(?:--partition(?:=|\s+)|-p\s*)([^\s#]+)", re.MULTILINE
)


@dataclass(frozen=True)
class SlurmRequest:
    """What a job config asks of the cluster (as oumi turns it into sbatch options)."""

    partitions: tuple[str, ...] = ()
    gpu_type: str = ""  # "" = any type
    gpus: int = 0
    cpus: int = 0
    memory_mb: int = 0

    @property
    def gres(self) -> str:
        return f"gpu:{self.gpu_type}:{self.gpus}" if self.gpu_type else f"gpu:{self.gpus}"


def slurm_request(job: Mapping[str, Any]) -> SlurmRequest:
    """Partitions from the setup and run blocks' ``#SBATCH`` lines, GPUs, CPUs and memory from
    ``resources`` (accelerators ``A100:2`` -> gres ``gpu:A100:2``, as oumi maps them)."""
    blocks = [job.get(name) for name in ("setup", "run")]
    partitions: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            for found in _SBATCH_PARTITION.findall(block):
                partitions += [p for p in found.strip("'\"").split(",") if p]
    resources = job.get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    gpu_type, gpus = _accelerators(str(resources.get("accelerators") or ""))
    return SlurmRequest(
        partitions=tuple(dict.fromkeys(partitions)),
        gpu_type=gpu_type,
        gpus=gpus,
        cpus=whole_number(str(resources.get("cpus") or "")),
        memory_mb=_memory_mb(str(resources.get("memory") or "")),
    )


def _accelerators(spec: str) -> tuple[str, int]:
    spec = spec.strip().rstrip("+").strip()
    if not spec:
        return "", 0
    if spec.isdigit():
        return "", int(spec)
    gpu_type, _, count = spec.partition(":")
    return gpu_type.strip(), whole_number(count) or 1


def _memory_mb(text: str) -> int:
    text = text.strip().rstrip("+").strip()
    units = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
    unit = text[-1:].upper()
    if unit in units:
        text = text[:-1]
    try:
        return round(float(text) * units.get(unit, 1024))  # oumi: GiB unless a unit is given
    except ValueError:
        return 0


def check_slurm(
    cluster: str,
    job: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    log_dir: str = LOG_DIR,
    timeout_s: float = TOTAL_TIMEOUT_S,
) -> tuple[CloudReport, list[Finding], list[Finding]]:
    """The report, errors and warnings of the Slurm checks of ``job`` (a job config's data)
    on ``cluster``; ``environ``: the server's environment (for OUMI_SLURM_CONNECTIONS)."""
    problem = cluster_problem(cluster)
    if problem:
        return invalid_cluster(cluster, problem)
    return judge(probe_cluster(cluster, log_dir=log_dir, timeout_s=timeout_s), job, environ)


def invalid_cluster(cluster: str, problem: str) -> tuple[CloudReport, list[Finding], list[Finding]]:
    report = CloudReport(target=CHECK, uses_skypilot=False, enabled=None)
    message = f"Invalid Slurm cluster name {shown(cluster)}: {problem}."
    return report, [_finding(message, "Pass it as user@host.", "cluster_name")], []


def judge(
    probe: Probe, job: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[CloudReport, list[Finding], list[Finding]]:
    """What ``probe`` means for ``job`` (a job config's data; {} for any other config)."""
    cluster, result = probe.cluster, probe.result
    report = CloudReport(target=CHECK, uses_skypilot=False, enabled=None)
    warnings = _connections_warnings(cluster, environ)
    if not probe.started:
        report.enabled = False
        user, _, host = cluster.partition("@")
        hint = SSH_HINT.format(cluster=cluster, host=host, user=user)
        if result is None or result.timed_out:
            message = (
                f"ssh {cluster} did not answer within {probe.timeout_s:g} s "
                "(connecting or logging in)."
            )
        else:
            message = (
                f"Cannot reach {cluster} over ssh without a prompt: {result.stderr or 'no output'}."
            )
        report.note = message
        return report, [_finding(message, hint)], warnings
    errors = _command_errors(probe, cluster)
    errors += _accounting_errors(probe, cluster)
    warnings += _log_dir_warnings(probe, cluster, probe.log_dir_name)
    errors += _request_errors(probe, slurm_request(job), cluster)
    warnings += _not_answered(probe, cluster)
    report.enabled = not errors
    groups = "; ".join(group.describe() for group in probe.groups) or "none listed"
    seconds = f" in {result.seconds:.1f} s" if result else ""
    report.note = f"Slurm cluster {cluster} answered{seconds}; partitions: {groups}."
    return report, errors, warnings


def _finding(message: str, hint: str, field_name: str = "") -> Finding:
    return Finding(check=CHECK, message=message, hint=hint, field=field_name)


def _connections_warnings(cluster: str, environ: Mapping[str, str]) -> list[Finding]:
    listed = [name.strip() for name in environ.get(CONNECTIONS_ENV, "").split(",")]
    if cluster in listed:
        return []
    return [
        _finding(
            f"{cluster} is not in {CONNECTIONS_ENV}: a launch adds it for this server process "
            "only.",
            f"Add it to {CONNECTIONS_ENV} in the server's environment (comma-separated "
            f"user@host) so a restarted server still reaches the job.",
        )
    ]


def _command_errors(probe: Probe, cluster: str) -> list[Finding]:
    missing = [
        name for name in SLURM_COMMANDS if name in probe.commands and not probe.commands[name]
    ]
    if not missing:
        return []
    return [
        _finding(
            f"Not on the PATH of {cluster}'s login shell: {', '.join(missing)}.",
            "oumi runs these over ssh in a login shell: make them available there (e.g. add "
            "Slurm's bin directory to PATH in ~/.profile on the cluster, or load its module "
            "there), or point the cluster name at a Slurm login node.",
        )
    ]


def _accounting_errors(probe: Probe, cluster: str) -> list[Finding]:
    code = probe.codes.get("sacct")
    if code is None or code == 0 or code == TIMED_OUT or not probe.commands.get("sacct"):
        return []
    said = " ".join(probe.errors.get("sacct", []))[-STDERR_TAIL_CHARS:]
    if ACCOUNTING_DISABLED in said.lower():
        message = f"Slurm accounting storage is disabled on {cluster}."
    else:
        message = f"sacct fails on {cluster} (exit code {code}): {said or 'no message'}."
    return [
        _finding(
            message + " Job status and list_jobs read jobs through sacct.",
            "Ask the cluster's admins to enable accounting (AccountingStorageType="
            "accounting_storage/slurmdbd with a running slurmdbd); check with "
            f"`ssh {cluster} sacct -X -n`.",
        )
    ]


def _log_dir_warnings(probe: Probe, cluster: str, log_dir: str) -> list[Finding]:
    if probe.log_dir_state == "missing":
        return [
            _finding(
                f"~/{log_dir} does not exist on {cluster}; it will be created at launch "
                "(Slurm writes each job's output there and fails the job without it).",
                f"Nothing to do; or create it now: `ssh {cluster} mkdir -p {log_dir}`.",
            )
        ]
    if probe.log_dir_state == "notdir":
        return [
            _finding(
                f"~/{log_dir} on {cluster} is not a directory: every job would fail at launch.",
                f"Move it aside on the cluster, then `ssh {cluster} mkdir -p {log_dir}`.",
            )
        ]
    return []


def _request_errors(probe: Probe, request: SlurmRequest, cluster: str) -> list[Finding]:
    if probe.codes.get("sinfo") != 0 or not probe.groups:
        return []  # said by _not_answered or _command_errors
    errors = []
    names = list(dict.fromkeys(group.partition for group in probe.groups))
    listed = ", ".join(
        f"{n}*" if any(g.default and g.partition == n for g in probe.groups) else n for n in names
    )
    unknown = [name for name in request.partitions if name not in names]
    if unknown:
        errors.append(
            _finding(
                f"Partition(s) {', '.join(unknown)} do not exist on {cluster} "
                f"(partitions: {listed}; * is the default).",
                "Fix the `#SBATCH --partition` line in the job config's run block, or remove "
                "it to use the default partition.",
                "run",
            )
        )
    known = [name for name in request.partitions if name in names]
    scope = _scope(probe.groups, known) if known or not unknown else list(probe.groups)
    where = f"partition {'/'.join(known)}" if known else "the default partition"
    where = "any partition" if unknown and not known else where
    offered = "; ".join(group.describe() for group in scope) or listed
    if request.gpus and not any(g.has_gpus(request.gpu_type, request.gpus) for g in scope):
        errors.append(
            _finding(
                f"No node in {where} of {cluster} has GRES {request.gres} "
                f"(resources.accelerators); it has: {offered}.",
                "Ask for GPUs a node has (resources.accelerators 'TYPE:N' becomes gres "
                "gpu:TYPE:N; 'N' asks for untyped gpu:N), pick a partition that has them, "
                "or remove resources.accelerators for a CPU job.",
                "resources.accelerators",
            )
        )
    if request.cpus and scope and request.cpus > max(g.cpus for g in scope):
        errors.append(
            _finding(
                f"resources.cpus asks {request.cpus} CPUs per task; the most a node in {where} "
                f"has is {max(g.cpus for g in scope)} ({offered}).",
                "Lower resources.cpus (it becomes sbatch --cpus-per-task).",
                "resources.cpus",
            )
        )
    if request.memory_mb and scope and request.memory_mb > max(g.memory_mb for g in scope):
        errors.append(
            _finding(
                f"resources.memory asks {request.memory_mb} MB; the most a node in {where} has "
                f"is {max(g.memory_mb for g in scope)} MB ({offered}).",
                "Lower resources.memory (GiB unless a unit is given; it becomes sbatch --mem).",
                "resources.memory",
            )
        )
    return errors


def _scope(groups: Sequence[NodeGroup], partitions: Sequence[str]) -> list[NodeGroup]:
    """The node groups a job may land on: its partitions', else the default partition's."""
    if partitions:
        return [group for group in groups if group.partition in partitions]
    default = [group for group in groups if group.default]
    return default or list(groups)


def _not_answered(probe: Probe, cluster: str) -> list[Finding]:
    """Warnings for what did not answer: a remote command stopped by its own time limit, or
    the sections the ssh call never printed before it was stopped."""
    findings = []
    for name, what in (("sacct", "accounting (sacct)"), ("sinfo", "partitions and GPUs (sinfo)")):
        code = probe.codes.get(name)
        if code == TIMED_OUT:
            findings.append(
                _finding(
                    f"{name} did not answer within {REMOTE_COMMAND_TIMEOUT_S} s on the cluster: "
                    f"{what} not verified.",
                    "slurmctld/slurmdbd may be overloaded or down; check with "
                    f"`ssh {cluster} {name}`.",
                )
            )
        elif code is None and not probe.ended:
            findings.append(_finding(f"{what}: no answer before the time limit; not verified.", ""))
        elif name == "sinfo" and code not in (None, 0) and probe.commands.get("sinfo"):
            said = " ".join(probe.errors.get("sinfo", []))[-STDERR_TAIL_CHARS:]
            findings.append(
                _finding(f"sinfo failed (exit code {code}): {said}; {what} not verified.", "")
            )
    if probe.result is not None and probe.result.timed_out and not probe.ended and not findings:
        findings.append(_finding("The cluster checks were stopped by their time limit.", ""))
    return findings
