"""Local hardware: accelerators (via nvidia-smi, no torch in the server) and memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from oumi_mcp_server.preflight.context import PreflightContext
from oumi_mcp_server.preflight.models import Finding, GpuInfo, HardwareReport

CHECK = "hardware"
NVIDIA_SMI_TIMEOUT_S = 5.0
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
# Rough bytes per parameter: weights in 16-bit for inference; weights, gradients
# and Adam states for full fine-tuning; frozen 16-bit weights plus small adapters for LoRA.
BYTES_PER_PARAM = {"inference": 2.0, "full": 16.0, "lora": 2.5}


def detect_gpus() -> tuple[list[GpuInfo], str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "none (no nvidia-smi)"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"nvidia-smi failed: {exc}"
    gpus = []
    for line in out.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 3:
            memory = float(parts[1]) / 1024 if parts[1].replace(".", "").isdigit() else None
            gpus.append(GpuInfo(name=parts[0], memory_gb=memory, compute_capability=parts[2]))
    return gpus, "nvidia-smi"


def memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        return None
    return None


def model_size_billions(model_name: str) -> float | None:
    """Parameter count from names like 'Llama-3.1-8B' or 'SmolLM2-135M' (None if absent)."""
    match = _SIZE.search(model_name.split("/")[-1])
    if not match:
        return None
    value = float(match.group(1))
    return value if match.group(2).lower() == "b" else value / 1000


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _memory_mode(ctx: PreflightContext) -> str:
    if ctx.kind.kind.name not in ("training", "tuning"):
        return "inference"
    return "lora" if _section(ctx.data, "training").get("use_peft") else "full"


def _warnings(ctx: PreflightContext, gpus: list[GpuInfo], available: float | None) -> list[Finding]:
    model = _section(ctx.data, "model")
    training = _section(ctx.data, "training")
    found: list[Finding] = []
    wants_bf16 = "bfloat16" in (
        str(model.get("torch_dtype_str", "")),
        str(training.get("mixed_precision_dtype", "")).lower(),
    )
    old_gpu = [
        gpu for gpu in gpus if gpu.compute_capability and float(gpu.compute_capability) < 8.0
    ]
    if wants_bf16 and old_gpu:
        found.append(
            Finding(
                check=CHECK,
                message=f"bfloat16 requested but {old_gpu[0].name} (compute capability "
                f"{old_gpu[0].compute_capability}) lacks fast bf16.",
                hint="Use float16 (model.torch_dtype_str) on pre-Ampere GPUs.",
            )
        )
    if str(model.get("attn_implementation", "")).startswith("flash_attention") and not gpus:
        found.append(
            Finding(
                check=CHECK,
                message="flash attention requested but no NVIDIA GPU was found.",
                hint="Set model.attn_implementation to sdpa (or remove it) for CPU runs.",
            )
        )
    name = str(model.get("model_name", ""))
    size = model_size_billions(name)
    if size is not None and not gpus:
        mode = _memory_mode(ctx)
        needed = size * BYTES_PER_PARAM[mode]
        if available is None or needed > 0.5 * available or size >= 1.0:
            found.append(
                Finding(
                    check=CHECK,
                    message=f"CPU-only machine: {name} (~{size:g}B parameters) needs roughly "
                    f"{needed:.0f} GB for {mode} and will be very slow.",
                    hint="Run on a GPU (a cloud target) or use a tiny model for a smoke test.",
                )
            )
    return found


def check_hardware(ctx: PreflightContext) -> tuple[HardwareReport, list[Finding]]:
    gpus, source = detect_gpus()
    available = memory_gb()
    report = HardwareReport(
        gpus=gpus,
        cpu_count=os.cpu_count() or 1,
        memory_gb=round(available, 1) if available else None,
        source=source,
    )
    return report, _warnings(ctx, gpus, available)
