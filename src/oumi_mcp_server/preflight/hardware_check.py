"""Local hardware: accelerators (via nvidia-smi, no torch in the server), memory, and
whether the config's model fits them.

Only for runs on this machine: the service asks for it when the target is local.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from oumi_mcp_server.preflight.context import PreflightContext
from oumi_mcp_server.preflight.gpus import NVIDIA_SMI_TIMEOUT_S, Gpu, GpuReading, read_gpus
from oumi_mcp_server.preflight.models import Finding, GpuInfo, HardwareReport

CHECK = "hardware"
_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
# Rough bytes per parameter, activations left out. Full fine-tuning with Adam: fp32
# master weights, gradients and two moments (16). LoRA: the frozen weights in their
# dtype plus adapters and their optimizer state (small). QLoRA: 4-bit (or 8-bit)
# weights plus quantization constants and adapters. Inference: the weights.
FULL_BYTES = 16.0
ADAPTER_BYTES = 0.5
QLORA_BYTES = {4: 0.7, 8: 1.2}
DTYPE_BYTES = {
    "float32": 4.0,
    "fp32": 4.0,
    "f32": 4.0,
    "float16": 2.0,
    "fp16": 2.0,
    "f16": 2.0,
    "half": 2.0,
    "bfloat16": 2.0,
    "bf16": 2.0,
}
OUMI_DEFAULT_DTYPE = "float32"  # model.torch_dtype_str when the config leaves it out
MODE_LABELS = {
    "inference": "inference",
    "full": "full fine-tuning",
    "lora": "LoRA",
    "qlora": "QLoRA",
}
# An estimate this much above the memory is clearly too big (the estimate is rough).
FIT_MARGIN = 1.1
# Device maps with which one process spreads the model over every visible GPU.
SPREADING_DEVICE_MAPS = frozenset({"auto", "balanced", "balanced_low_0", "sequential"})


@dataclass(frozen=True)
class MemoryEstimate:
    """Roughly how much memory the config's model needs (activations left out)."""

    model: str
    billions: float  # parameters, from the model's name
    mode: str  # inference | full | lora | qlora
    bytes_per_param: float

    @property
    def gb(self) -> float:
        return self.billions * self.bytes_per_param

    def describe(self) -> str:
        return (
            f"{self.model} (~{self.billions:g}B parameters) needs roughly {self.gb:.1f} GB for "
            f"{MODE_LABELS[self.mode]} ({self.bytes_per_param:g} bytes per parameter, "
            "activations not counted)"
        )


@dataclass(frozen=True)
class HardwareAssessment:
    report: HardwareReport
    warnings: list[Finding]
    notes: list[Finding]  # information that asks nothing of the user (the model fits)


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
    if not _section(ctx.data, "training").get("use_peft"):
        return "full"
    return "qlora" if _section(ctx.data, "peft").get("q_lora") else "lora"


def _weight_bytes(model: dict[str, Any]) -> float:
    dtype = str(model.get("torch_dtype_str") or OUMI_DEFAULT_DTYPE).strip().lower()
    return DTYPE_BYTES.get(dtype.removeprefix("torch."), 4.0)


def memory_estimate(ctx: PreflightContext) -> MemoryEstimate | None:
    """The config's model and run mode, priced in bytes per parameter (None: size unknown)."""
    model = _section(ctx.data, "model")
    name = str(model.get("model_name", ""))
    size = model_size_billions(name)
    if size is None:
        return None
    mode = _memory_mode(ctx)
    if mode == "full":
        per_param = FULL_BYTES
    elif mode == "qlora":
        bits = _section(ctx.data, "peft").get("q_lora_bits", 4)
        per_param = QLORA_BYTES.get(bits if isinstance(bits, int) else 4, QLORA_BYTES[4])
    elif mode == "lora":
        per_param = _weight_bytes(model) + ADAPTER_BYTES
    else:
        per_param = _weight_bytes(model)
    return MemoryEstimate(name, size, mode, per_param)


def _sharding(ctx: PreflightContext) -> str:
    """How the config shards the model across GPUs ('' when it does not)."""
    fsdp = _section(ctx.data, "fsdp")
    if fsdp.get("enable_fsdp") and str(fsdp.get("sharding_strategy", "")).upper() != "NO_SHARD":
        return "FSDP shards it"
    deepspeed = _section(ctx.data, "deepspeed")
    if deepspeed.get("enable_deepspeed") and str(deepspeed.get("zero_stage", "0")) != "0":
        return f"DeepSpeed ZeRO-{deepspeed.get('zero_stage')} shards it"
    device_map = _section(ctx.data, "model").get("device_map", "auto")
    if device_map is None or str(device_map).strip().lower() in SPREADING_DEVICE_MAPS:
        return f"model.device_map {device_map or 'auto'} spreads it"
    return ""


def _gpu_fit(
    ctx: PreflightContext, estimate: MemoryEstimate, gpus: list[Gpu]
) -> tuple[bool, Finding]:
    """(fits, the finding): a warning when the model clearly does not fit, else a note."""
    sized = [gpu for gpu in gpus if gpu.total_gb]
    if not sized:
        return False, _unreadable(estimate, "nvidia-smi reported no memory size for the GPUs")
    spread = _sharding(ctx)
    smallest = min(sized, key=lambda gpu: gpu.total_gb or 0.0)
    per_gpu = smallest.total_gb or 0.0
    if spread and len(sized) > 1:
        capacity = sum(gpu.total_gb or 0.0 for gpu in sized)
        where = f"the {len(sized)} GPUs together have {capacity:.0f} GB ({spread} across them)"
    else:
        capacity = per_gpu
        which = "each GPU" if len(sized) > 1 else "the GPU"
        where = f"{which} ({smallest.name}) has {capacity:.0f} GB"
    used = sum(gpu.used_gb or 0.0 for gpu in sized)
    if used > 0.1 * sum(gpu.total_gb or 0.0 for gpu in sized):
        where += f"; {used:.0f} GB of it is in use now"
    if estimate.gb <= FIT_MARGIN * capacity:
        return True, Finding(
            check=CHECK, message=f"GPU memory fits: {estimate.describe()}; {where}."
        )
    return False, Finding(
        check=CHECK,
        message=f"The model does not fit in GPU memory: {estimate.describe()}, but {where}.",
        hint=_fit_advice(estimate, len(sized)),
    )


def _fit_advice(estimate: MemoryEstimate, gpu_count: int) -> str:
    steps = []
    if estimate.mode == "full":
        steps.append("train LoRA adapters (training.use_peft: true, ~2-4 bytes/parameter)")
    if estimate.mode in ("full", "lora"):
        steps.append("or QLoRA (also peft.q_lora: true, ~0.7 bytes/parameter)")
    if estimate.mode != "inference":
        steps.append(
            "lower training.per_device_train_batch_size and turn on gradient checkpointing "
            "(training.enable_gradient_checkpointing: true) for the activations"
        )
    if gpu_count > 1 and estimate.mode == "inference":
        steps.append("spread it over the GPUs (model.device_map: auto)")
    elif gpu_count > 1:
        steps.append("shard across the GPUs with FSDP (fsdp.enable_fsdp: true) or DeepSpeed")
    steps.append(
        "run on a cloud with bigger or more GPUs (e.g. cloud='gcp', accelerators 'A100-80GB:8')"
    )
    steps.append("or pick a smaller model")
    return "To make it fit: " + "; ".join(steps) + "."


def _unreadable(estimate: MemoryEstimate | None, reason: str) -> Finding:
    need = f" {estimate.describe()}." if estimate else ""
    return Finding(
        check=CHECK,
        message=f"could not read GPU memory: {reason}.{need}",
        hint="Run `nvidia-smi` yourself to see whether the GPUs and their driver work; "
        "a run here may not be able to use them.",
    )


def _findings(
    ctx: PreflightContext, reading: GpuReading, available: float | None
) -> tuple[list[Finding], list[Finding]]:
    model = _section(ctx.data, "model")
    training = _section(ctx.data, "training")
    gpus = reading.gpus
    found: list[Finding] = []
    notes: list[Finding] = []
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
    no_gpu = not gpus and not reading.error
    if str(model.get("attn_implementation", "")).startswith("flash_attention") and no_gpu:
        found.append(
            Finding(
                check=CHECK,
                message="flash attention requested but no NVIDIA GPU was found.",
                hint="Set model.attn_implementation to sdpa (or remove it) for CPU runs.",
            )
        )
    estimate = memory_estimate(ctx)
    if reading.error:
        found.append(_unreadable(estimate, reading.error))
    elif estimate is not None and gpus:
        fits, finding = _gpu_fit(ctx, estimate, gpus)
        (notes if fits else found).append(finding)
    elif estimate is not None and (
        available is None or estimate.gb > 0.5 * available or estimate.billions >= 1.0
    ):
        found.append(
            Finding(
                check=CHECK,
                message=f"CPU-only machine: {estimate.model} (~{estimate.billions:g}B parameters) "
                f"needs roughly {estimate.gb:.0f} GB for {estimate.mode} and will be very slow.",
                hint="Run on a GPU (a cloud target) or use a tiny model for a smoke test.",
            )
        )
    return found, notes


def assess_hardware(
    ctx: PreflightContext,
    *,
    search_path: str | None = None,
    nvidia_smi_timeout_s: float = NVIDIA_SMI_TIMEOUT_S,
) -> HardwareAssessment:
    """Blocking: this machine's GPUs and memory, and whether the config's model fits.

    ``search_path`` is the PATH nvidia-smi is looked up on (None: the server's own).
    """
    reading = read_gpus(search_path, nvidia_smi_timeout_s)
    available = memory_gb()
    report = HardwareReport(
        gpus=[
            GpuInfo(
                name=gpu.name,
                memory_gb=gpu.total_gb,
                compute_capability=gpu.compute_capability,
            )
            for gpu in reading.gpus
        ],
        cpu_count=os.cpu_count() or 1,
        memory_gb=round(available, 1) if available else None,
        source=reading.source,
    )
    warnings, notes = _findings(ctx, reading, available)
    report.memory_fit = " ".join(note.message for note in notes)
    return HardwareAssessment(report, warnings, notes)


def check_hardware(
    ctx: PreflightContext,
    *,
    search_path: str | None = None,
    nvidia_smi_timeout_s: float = NVIDIA_SMI_TIMEOUT_S,
) -> tuple[HardwareReport, list[Finding]]:
    """Blocking: the hardware report and its warnings (see ``assess_hardware``)."""
    assessment = assess_hardware(
        ctx, search_path=search_path, nvidia_smi_timeout_s=nvidia_smi_timeout_s
    )
    return assessment.report, assessment.warnings
