"""Slurm pre-flight: can oumi reach the cluster over ssh, and does it have what the job asks for?

oumi's ``slurm`` cloud drives a cluster named ``user@host`` through plain ssh
(no prompt can be answered: it runs in the background), ``sbatch``, ``squeue``,
``scontrol`` and ``sacct`` on the login node's PATH, writes each job's output
to ``~/oumi_slurm_logs/<id>.out`` (a job fails at launch when that directory is
missing) and lists jobs through Slurm accounting. All of that is checked in ONE
ssh call: a small POSIX script on stdin prints ``@@`` lines, each remote
command under its own time limit, the whole call under ``TOTAL_TIMEOUT_S``
(the ssh process runs in its own process group and is killed with it).
Whatever did not answer is named. Blocking: call from worker threads.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oumi_mcp_server.errors import EngineTimeoutError, EngineUnavailableError, InvalidArgumentError
from oumi_mcp_server.masking import mask_text, shown
from oumi_mcp_server.preflight.models import CloudReport, Finding
from oumi_mcp_server.preflight.ssh import (
    STDERR_TAIL_CHARS,
    RemoteResult,
    cluster_problem,
    require_cluster,
    run_remote_script,
)

CHECK = "slurm"
LOG_DIR = "oumi_slurm_logs"  # under the remote $HOME: where oumi has sbatch write job output
CONNECTIONS_ENV = "OUMI_SLURM_CONNECTIONS"
SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scontrol", "sinfo")
REMOTE_COMMAND_TIMEOUT_S = 4  # sacct and sinfo, run side by side on the login node
TOTAL_TIMEOUT_S = 10.0
TIMED_OUT = 124  # the exit code of coreutils `timeout` when it stopped the command
ACCOUNTING_DISABLED = "accounting storage is disabled"

_LOG_DIR = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]{0,200}")
_SBATCH_PARTITION = re.compile(
    r"^\s*#SBATCH\s+(?:--partition(?:=|\s+)|-p\s*)([^\s#]+)", re.MULTILINE
)
SSH_HINT = (
    "oumi reaches the cluster with ssh in the background, so no prompt can be answered. "
    "Make `ssh -o BatchMode=yes {cluster} true` work in a terminal: add an entry to "
    "~/.ssh/config (`Host {host}` with HostName, Port, `User {user}`, IdentityFile "
    "~/.ssh/<key> and `BatchMode yes`), put the key's .pub line in ~/.ssh/authorized_keys "
    "on the cluster, and accept the host key once by running `ssh {cluster} true`."
)


def ensure_log_dir(cluster: str, *, log_dir: str = LOG_DIR, timeout_s: float = 10.0) -> None:
    """Create ``~/<log_dir>`` on the cluster (``mkdir -p``), as launches need it to exist."""
    quoted = shlex.quote(_require_log_dir(log_dir))
    result = run_remote_script(cluster, f'mkdir -p -- "$HOME"/{quoted}\n', timeout_s=timeout_s)
    if result.timed_out:
        raise EngineTimeoutError(
            f"ssh {cluster} did not answer within {timeout_s:g} s (creating ~/{log_dir}).",
            next_step=f"Check that `ssh {cluster} true` answers, then try again.",
        )
    if result.returncode != 0:
        raise EngineUnavailableError(
            f"Could not create ~/{log_dir} on {cluster}: {result.stderr or result.returncode}.",
            next_step=f"Create it yourself: `ssh {cluster} mkdir -p {log_dir}`.",
        )


def _require_log_dir(log_dir: str) -> str:
    if not _LOG_DIR.fullmatch(log_dir) or ".." in log_dir.split("/"):
        raise InvalidArgumentError("log_dir", "a plain directory path under the remote home")
    return log_dir


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
        cpus=_number(str(resources.get("cpus") or "")),
        memory_mb=_memory_mb(str(resources.get("memory") or "")),
    )


def _accelerators(spec: str) -> tuple[str, int]:
    spec = spec.strip().rstrip("+").strip()
    if not spec:
        return "", 0
    if spec.isdigit():
        return "", int(spec)
    gpu_type, _, count = spec.partition(":")
    return gpu_type.strip(), _number(count) or 1


def _number(text: str) -> int:
    text = text.strip().rstrip("+").strip()
    return int(text) if text.isdigit() else 0


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


@dataclass(frozen=True)
class NodeGroup:
    """One line of ``sinfo -h -o '%P %G %c %m'``: nodes of a partition alike in GRES/CPUs/memory."""

    partition: str
    default: bool
    gres: tuple[tuple[str, str, int], ...]  # (name, type, count), e.g. ("gpu", "a100", 4)
    cpus: int
    memory_mb: int

    def has_gpus(self, gpu_type: str, count: int) -> bool:
        return any(
            name == "gpu" and n >= count and (not gpu_type or kind.lower() == gpu_type.lower())
            for name, kind, n in self.gres
        )

    def describe(self) -> str:
        gpus = ",".join(f"{n}:{k}:{c}" if k else f"{n}:{c}" for n, k, c in self.gres) or "no GPUs"
        mark = "*" if self.default else ""
        return f"{self.partition}{mark} ({self.cpus} CPUs, {self.memory_mb} MB, {gpus})"


def parse_sinfo_line(line: str) -> NodeGroup | None:
    parts = line.split()
    if len(parts) != 4:
        return None
    name, gres, cpus, memory = parts
    items = []
    for item in gres.split(","):
        words = re.sub(r"\(.*?\)", "", item).split(":")  # drop "(S:0-1)" and the like
        if len(words) >= 2 and words[-1].isdigit():
            items.append((words[0], words[1] if len(words) > 2 else "", int(words[-1])))
    return NodeGroup(
        name.rstrip("*"), name.endswith("*"), tuple(items), _number(cpus), _number(memory)
    )


@dataclass
class Probe:
    """What the remote script printed (sections that never came did not answer)."""

    started: bool = False
    ended: bool = False
    home: str = ""
    commands: dict[str, str] = field(default_factory=dict)  # name -> path, "" if missing
    log_dir_state: str = ""  # ok | missing | notdir
    codes: dict[str, int] = field(default_factory=dict)  # sacct / sinfo exit codes
    errors: dict[str, list[str]] = field(default_factory=dict)
    groups: list[NodeGroup] = field(default_factory=list)
    cluster: str = ""
    log_dir_name: str = LOG_DIR
    timeout_s: float = TOTAL_TIMEOUT_S
    result: RemoteResult | None = None


def probe_script(log_dir: str) -> str:
    limit = REMOTE_COMMAND_TIMEOUT_S
    commands = " ".join(SLURM_COMMANDS)
    return f"""echo "@@start"
echo "@@home $HOME"
if command -v timeout >/dev/null 2>&1; then lim() {{ timeout {limit} "$@"; }}
else lim() {{ "$@"; }}; fi
for c in {commands}; do p=$(command -v "$c" 2>/dev/null) || p=; echo "@@cmd $c $p"; done
d="$HOME"/{shlex.quote(log_dir)}
if [ -d "$d" ]; then echo "@@logdir ok"; elif [ -e "$d" ]; then echo "@@logdir notdir"
else echo "@@logdir missing"; fi
t=$(mktemp -d 2>/dev/null) || {{ t="/tmp/oumi-preflight.$$"; mkdir -p "$t"; }}
(lim sacct -X -n --starttime now-1minutes --format=JobID >/dev/null 2>"$t/sacct.err"
 echo "@@sacct.rc $?" >"$t/sacct.rc") &
(lim sinfo -h -o '%P %G %c %m' >"$t/sinfo.out" 2>"$t/sinfo.err"
 echo "@@sinfo.rc $?" >"$t/sinfo.rc") &
wait
for s in sacct sinfo; do
 cat "$t/$s.rc" 2>/dev/null; tail -c 400 "$t/$s.err" 2>/dev/null | sed "s/^/@@$s.err /"
done
head -c 16000 "$t/sinfo.out" | sed 's/^/@@sinfo.out /'
rm -rf "$t"
echo "@@end"
"""


def parse_probe(stdout: str) -> Probe:
    probe = Probe()
    for line in stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "@@start":
            probe.started = True
        elif tag == "@@end":
            probe.ended = True
        elif tag == "@@home":
            probe.home = rest
        elif tag == "@@cmd":
            name, _, path = rest.partition(" ")
            probe.commands[name] = path.strip()
        elif tag == "@@logdir":
            probe.log_dir_state = rest.strip()
        elif tag in ("@@sacct.rc", "@@sinfo.rc"):
            probe.codes[tag[2:-3]] = _number(rest) if rest.strip().isdigit() else -1
        elif tag in ("@@sacct.err", "@@sinfo.err"):
            probe.errors.setdefault(tag[2:-4], []).append(mask_text(rest))
        elif tag == "@@sinfo.out" and (group := parse_sinfo_line(rest)) is not None:
            probe.groups.append(group)
    return probe


def probe_cluster(
    cluster: str, *, log_dir: str = LOG_DIR, timeout_s: float = TOTAL_TIMEOUT_S
) -> Probe:
    """Run the checks' script on ``cluster`` (one ssh call, at most ``timeout_s``)."""
    require_cluster(cluster)
    # A login shell, as oumi's commands run in one: its PATH is the one that counts.
    script = probe_script(_require_log_dir(log_dir))
    result = run_remote_script(cluster, script, timeout_s=timeout_s, remote="sh -l -s")
    probe = parse_probe(result.stdout.decode("utf-8", errors="replace"))
    probe.cluster, probe.log_dir_name, probe.timeout_s, probe.result = (
        cluster,
        log_dir,
        timeout_s,
        result,
    )
    return probe


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
