"""One ssh call that tells what a cluster's login node offers, read-only.

A small POSIX script on stdin prints ``@@`` lines: the Slurm commands on the
login shell's PATH, whether the log dir exists, whether accounting (sacct)
answers, and the partitions with their GRES, CPUs and memory (sinfo). Each
remote command runs under its own time limit, the whole call under
``TOTAL_TIMEOUT_S``. Sections that never came did not answer. Blocking (ssh):
call from worker threads.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from oumi_mcp_server.masking import mask_text
from oumi_mcp_server.slurm.layout import LOG_DIR, require_log_dir
from oumi_mcp_server.slurm.ssh import RemoteResult, require_cluster, run_remote_script

SLURM_COMMANDS = ("sbatch", "squeue", "sacct", "scontrol", "sinfo")
REMOTE_COMMAND_TIMEOUT_S = 4  # sacct and sinfo, run side by side on the login node
TOTAL_TIMEOUT_S = 10.0
TIMED_OUT = 124  # the exit code of coreutils `timeout` when it stopped the command


def whole_number(text: str) -> int:
    """A count as Slurm prints it (``4``, ``4+``); 0 for anything else."""
    text = text.strip().rstrip("+").strip()
    return int(text) if text.isdigit() else 0


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
        name.rstrip("*"), name.endswith("*"), tuple(items), whole_number(cpus), whole_number(memory)
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
            probe.codes[tag[2:-3]] = whole_number(rest) if rest.strip().isdigit() else -1
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
    script = probe_script(require_log_dir(log_dir))
    result = run_remote_script(cluster, script, timeout_s=timeout_s, remote="sh -l -s")
    probe = parse_probe(result.stdout.decode("utf-8", errors="replace"))
    probe.cluster, probe.log_dir_name, probe.timeout_s, probe.result = (
        cluster,
        log_dir,
        timeout_s,
        result,
    )
    return probe
