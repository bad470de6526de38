"""Where jobs run: SkyPilot, its clouds, Slurm clusters over ssh, and this machine's GPUs.

Nothing is started: SkyPilot's API server is looked for (module, executable, port),
never launched, and the enabled clouds are read from SkyPilot's record of its last
``sky check`` (a fresh check would start the server and probe every cloud for
minutes). Each Slurm cluster gets one ``ssh -o BatchMode=yes ... true`` in
parallel, all under one time limit. Blocking: run from worker threads.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
from collections import Counter
from importlib import util
from pathlib import Path

from oumi_mcp_server.doctor.models import Section
from oumi_mcp_server.environment.engines_in_use import (
    configured_clusters,
    engines_line,
    read_engines_in_use,
)
from oumi_mcp_server.environment.report import environment_warnings
from oumi_mcp_server.environment.skypilot_state import SKY_DIR, read_skypilot_record
from oumi_mcp_server.environment.versions import engine_versions, installed_version
from oumi_mcp_server.errors import EngineUnavailableError
from oumi_mcp_server.preflight.gpus import read_gpus
from oumi_mcp_server.slurm.layout import CONNECTIONS_ENV, SSH_HINT
from oumi_mcp_server.slurm.ssh import cluster_problem, run_remote_script

SKY_API_PORT = 46580  # SkyPilot's local API server (sky.server.common.DEFAULT_SERVER_URL)
PORT_PROBE_S = 0.3
SLURM_TOTAL_S = 7.0


def sky_executable() -> str | None:
    """The ``sky`` command beside this Python (this venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "sky"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("sky")


def api_server_running(port: int = SKY_API_PORT) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PORT_PROBE_S):
            return True
    except OSError:
        return False


def check_skypilot() -> Section:
    name = "skypilot"
    spec = util.find_spec("sky")
    version = installed_version("skypilot")
    if spec is None or not spec.submodule_search_locations:
        return Section(
            name,
            "warn",
            "SkyPilot is not importable: cloud launches are unavailable (process jobs, run "
            "here, work).",
            fix="Reinstall oumi with its launcher dependencies (pip install 'oumi==0.9.*').",
            data={"importable": False, "version": version},
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    server_module = (package / "server" / "server.py").is_file()
    executable = sky_executable()
    running = api_server_running()
    data = {
        "importable": True,
        "version": version,
        "executable": executable,
        "api_server_module": server_module,
        "api_server_running": running,
    }
    state = (
        f"its API server is running on 127.0.0.1:{SKY_API_PORT}"
        if running
        else "its API server is not running (the first call to an enabled cloud starts it, "
        "~10-20 s; the server asks no other)"
    )
    detail = (
        f"skypilot {version} importable; checked: `sky` at {executable or 'nowhere'}, "
        f"module sky.server.server {'present' if server_module else 'missing'}; {state}."
    )
    # environment_warnings also judges oumi; the versions section reports that part.
    problems = [text for text in environment_warnings(engine_versions()) if "fastapi" in text]
    if not server_module or executable is None:
        problems.append(
            "SkyPilot's API server cannot be started from here: reinstall skypilot "
            "(pip install --force-reinstall skypilot) in the server's environment."
        )
    if problems:
        return Section(name, "warn", detail, fix=" ".join(problems), data=data)
    return Section(name, "ok", detail, data=data)


def check_clouds(sky_dir: Path = SKY_DIR) -> Section:
    """The clouds SkyPilot's last ``sky check`` enabled, read from its state file (read-only)."""
    name = "clouds"
    record = read_skypilot_record(sky_dir)
    fix = (
        "Configure a cloud's credentials, then run `sky check` (or call check_environment "
        "with check_clouds=true). Process jobs (run here) and Slurm need no cloud."
    )
    enabled = list(record.enabled) if record.enabled is not None else None
    data = {"enabled": enabled, "source": str(record.source)}
    if record.error:
        return Section(
            name,
            "warn",
            f"Could not read SkyPilot's last `sky check` from {record.source}: {record.error}.",
            fix="Run `sky check` in a terminal to see which clouds are enabled.",
            data=data,
        )
    if enabled is None:
        return Section(
            name,
            "warn",
            f"Not known yet: {record.describe()}; doctor does not start SkyPilot's API server "
            "to run one.",
            fix=fix,
            data=data,
        )
    if not enabled:
        return Section(
            name, "warn", "No cloud enabled (SkyPilot's last `sky check`).", fix=fix, data=data
        )
    return Section(
        name,
        "ok",
        f"Enabled: {', '.join(enabled)} (SkyPilot's last `sky check`; not re-checked now).",
        data=data,
    )


def check_engines(sky_dir: Path = SKY_DIR) -> Section:
    """Which engines run jobs for this person, and the next step for those not configured."""
    engines = read_engines_in_use(sky_dir)
    return Section(
        "engines",
        "ok",
        engines_line(engines),
        data={"engines": [use.model_dump() for use in engines]},
    )


def reach(cluster: str, timeout_s: float) -> str:
    """Why `ssh -o BatchMode=yes <cluster> true` failed within ``timeout_s``, or "" if it worked."""
    problem = cluster_problem(cluster)
    if problem:
        return f"not a valid cluster name: {problem}"
    try:
        result = run_remote_script(cluster, "", timeout_s=timeout_s, remote="true")
    except EngineUnavailableError as exc:
        return exc.message
    if result.timed_out:
        return f"no answer within {timeout_s:g} s"
    if result.returncode != 0:
        return result.stderr or f"ssh exited with status {result.returncode}"
    return ""


def check_slurm(total_s: float = SLURM_TOTAL_S) -> Section:
    name = "slurm"
    clusters = configured_clusters()
    if not clusters:
        return Section(
            name,
            "ok",
            f"No Slurm cluster configured ({CONNECTIONS_ENV} is not set); Slurm is optional.",
            data={"clusters": {}},
        )
    answers: dict[str, str] = {}

    def probe(cluster: str) -> None:
        answers[cluster] = reach(cluster, total_s)

    threads = [threading.Thread(target=probe, args=(c,), daemon=True) for c in clusters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(total_s + 3.0)  # run_remote_script kills ssh at total_s
    results = {c: answers.get(c, f"no answer within {total_s:g} s") for c in clusters}
    bad = {c: why for c, why in results.items() if why}
    data = {"clusters": {c: (why or "reachable") for c, why in results.items()}}
    checked = "checked with `ssh -o BatchMode=yes -o ConnectTimeout=5 <cluster> true`"
    if not bad:
        return Section(name, "ok", f"Reachable: {', '.join(clusters)} ({checked}).", data=data)
    unreachable = "; ".join(f"{c}: {why}" for c, why in bad.items())
    first = next(iter(bad))
    user, _, host = first.partition("@")
    return Section(
        name,
        "warn",
        f"{len(bad)} of {len(clusters)} unreachable ({checked}): {unreachable}.",
        fix=SSH_HINT.format(cluster=first, host=host or first, user=user),
        data=data,
    )


def check_gpu() -> Section:
    reading = read_gpus()
    gpus = [
        {"name": gpu.name, "total_gb": gpu.total_gb, "compute_capability": gpu.compute_capability}
        for gpu in reading.gpus
    ]
    data: dict[str, object] = {"source": reading.source, "gpus": gpus}
    if reading.error:
        return Section(
            "gpu",
            "warn",
            f"nvidia-smi could not be read: {reading.error}.",
            fix="Check the NVIDIA driver (run `nvidia-smi` in a terminal); process jobs use the "
            "CPU.",
            data=data,
        )
    if not gpus:
        return Section(
            "gpu",
            "warn",
            "No local GPU (no nvidia-smi on PATH): process jobs run on CPU.",
            fix="Fine for tiny models; launch larger jobs on a cloud or a Slurm cluster.",
            data=data,
        )
    names = Counter(gpu.name for gpu in reading.gpus)
    listed = ", ".join(f"{count} x {name}" for name, count in names.items())
    return Section("gpu", "ok", f"{listed} (nvidia-smi).", data=data)
