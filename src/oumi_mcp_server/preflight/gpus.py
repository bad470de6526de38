"""This machine's NVIDIA GPUs, read with ``nvidia-smi`` (the server never imports torch).

Blocking, and bounded: ``nvidia-smi`` runs in its own process group with a time
limit, and the whole group is killed when it is exceeded, so a wedged driver or
a hanging wrapper script costs a few seconds and a warning, never a stuck check.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

NVIDIA_SMI = "nvidia-smi"
NVIDIA_SMI_TIMEOUT_S = 5.0
QUERY = ("--query-gpu=name,memory.total,memory.used,compute_cap", "--format=csv,noheader,nounits")
_MIB_PER_GB = 1024.0
_SHOWN_OUTPUT = 200  # characters of nvidia-smi's own words kept in a warning


@dataclass(frozen=True)
class Gpu:
    name: str
    total_gb: float | None  # None when nvidia-smi reports [N/A]
    used_gb: float | None
    compute_capability: str | None


@dataclass(frozen=True)
class GpuReading:
    """What nvidia-smi said. ``error`` is set when it is installed but could not be read."""

    gpus: list[Gpu] = field(default_factory=list)
    source: str = "none (no nvidia-smi)"
    error: str = ""


def read_gpus(
    search_path: str | None = None, timeout_s: float = NVIDIA_SMI_TIMEOUT_S
) -> GpuReading:
    """Blocking: the GPUs nvidia-smi lists. ``search_path`` is the PATH to find it on
    (None: the server's own PATH)."""
    executable = shutil.which(NVIDIA_SMI, path=search_path)
    if executable is None:
        return GpuReading()
    try:
        output = _run([executable, *QUERY], timeout_s)
        gpus = [_parse(line) for line in output.splitlines() if line.strip()]
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return GpuReading(source="nvidia-smi failed", error=str(exc))
    return GpuReading(gpus=gpus, source="nvidia-smi")


def _run(argv: list[str], timeout_s: float) -> str:
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own group: a timeout kills whatever it started too
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise subprocess.TimeoutExpired(argv[0], timeout_s) from None
    finally:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    if process.returncode != 0:
        said = " ".join((err.strip() or out.strip()).split())[:_SHOWN_OUTPUT]
        raise subprocess.SubprocessError(
            f"nvidia-smi exited with status {process.returncode}" + (f": {said}" if said else "")
        )
    return out


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    # A process stuck in the driver may not die at once; it is not waited for long.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1.0)


def _parse(line: str) -> Gpu:
    """One line of ``name, memory.total, memory.used, compute_cap`` (MiB, no units)."""
    parts = [part.strip() for part in line.rsplit(",", 3)]
    if len(parts) != 4 or not parts[0]:
        raise ValueError(f"unexpected nvidia-smi output {line.strip()[:_SHOWN_OUTPUT]!r}")
    name, total, used, capability = parts
    return Gpu(name, _gigabytes(total), _gigabytes(used), _capability(capability))


def _gigabytes(mib: str) -> float | None:
    try:
        return float(mib) / _MIB_PER_GB
    except ValueError:  # [N/A], [Not Supported]
        return None


def _capability(text: str) -> str | None:
    try:
        float(text)
    except ValueError:
        return None
    return text
