"""The config change that fixes a cause, computed from the job's own config.

Keys are dotted from the config root, list items in brackets
(``data.train.datasets[0].split``), the form ``oumi train`` takes as overrides and
OmegaConf.update applies. A key the config leaves out has Oumi 0.9's default
(``per_device_train_batch_size`` 8, ``gradient_accumulation_steps`` 1,
``learning_rate`` 5e-05). An empty patch means the config is not at fault, or
nothing in it can be changed safely without knowing more.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from oumi_mcp_server.diagnosis.models import Cause

Config = Mapping[str, Any]
Patch = dict[str, Any]

DEFAULT_BATCH_SIZE = 8
DEFAULT_LEARNING_RATE = 5e-05
DEFAULT_NCCL_TIMEOUT_MINUTES = 10
MAX_GPU_MEMORY_UTILIZATION = 0.95
_SPLIT_ASKED = re.compile(r"(?:Unknown split \"|Bad split: |Instruction \")([\w.-]+)")
_SPLITS_AVAILABLE = re.compile(r"(?:Should be one of|Available splits:) \[([^\]]*)\]")
_KV_ESTIMATE = re.compile(r"estimated maximum model length is (\d+)")
_KV_TOKENS = re.compile(r"stored in KV cache \((\d+)\)")
_NCCL_TIMEOUT_MS = re.compile(r"Timeout\(ms\)=(\d+)")
_CHAT_TEMPLATES = (
    ("llama-3", "llama3-instruct"),
    ("llama3", "llama3-instruct"),
    ("phi-3", "phi3-instruct"),
    ("zephyr", "zephyr"),
    ("gemma-2", "gemma2-it"),
)


def lookup(config: Config, dotted: str) -> Any:
    """The value at a dotted path (``training.learning_rate``), or None."""
    value: Any = config
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def config_patch(
    cause: Cause, config: Config | None, detail: str, has_checkpoint: bool = False
) -> Patch:
    """The patch for ``cause`` given the job's config and the decisive log text."""
    if not config:
        return {}
    if cause in ("time_limit", "preempted"):
        resumable = has_checkpoint and isinstance(config.get("training"), Mapping)
        return {"training.try_resume_from_last_checkpoint": True} if resumable else {}
    make = _PATCHES.get(cause)
    return make(config, detail) if make is not None else {}


def _gpu_oom(config: Config, detail: str) -> Patch:
    if not isinstance(config.get("training"), Mapping):
        batch = _int(lookup(config, "generation.batch_size"), 1)
        if batch > 1:
            return {"generation.batch_size": batch // 2}
        return _shorter_context(config)
    batch = _int(lookup(config, "training.per_device_train_batch_size"), DEFAULT_BATCH_SIZE)
    accumulation = _int(lookup(config, "training.gradient_accumulation_steps"), 1)
    if batch > 1:
        factor = _smallest_prime_factor(batch)  # the effective batch stays the same
        return {
            "training.per_device_train_batch_size": batch // factor,
            "training.gradient_accumulation_steps": accumulation * factor,
        }
    if not lookup(config, "training.enable_gradient_checkpointing"):
        return {"training.enable_gradient_checkpointing": True}
    if not lookup(config, "training.use_peft"):
        return {"training.use_peft": True}
    return _shorter_context(config)


def _host_oom(config: Config, detail: str) -> Patch:
    workers = lookup(config, "training.dataloader_num_workers")
    if workers == "auto":
        return {"training.dataloader_num_workers": 2}
    if isinstance(workers, int) and workers > 0:
        return {"training.dataloader_num_workers": workers // 2}
    return {}


def _shm_exhausted(config: Config, detail: str) -> Patch:
    workers = lookup(config, "training.dataloader_num_workers")
    if isinstance(config.get("training"), Mapping) and workers not in (0, None):
        return {"training.dataloader_num_workers": 0}
    return {}


def _nccl_timeout(config: Config, detail: str) -> Patch:
    if not isinstance(config.get("training"), Mapping):
        return {}
    minutes = lookup(config, "training.nccl_default_timeout_minutes")
    found = _NCCL_TIMEOUT_MS.search(detail)
    if not isinstance(minutes, int | float):
        minutes = int(found.group(1)) / 60_000 if found else DEFAULT_NCCL_TIMEOUT_MINUTES
    return {"training.nccl_default_timeout_minutes": max(30, math.ceil(minutes * 2))}


def _dataset_split(config: Config, detail: str) -> Patch:
    asked, available = _SPLIT_ASKED.search(detail), _SPLITS_AVAILABLE.search(detail)
    if asked is None or available is None:
        return {}
    splits = re.findall(r"'([^']+)'", available.group(1))
    for section in ("train", "validation", "test"):
        datasets = lookup(config, f"data.{section}.datasets")
        for index, dataset in enumerate(datasets if isinstance(datasets, list) else []):
            split = dataset.get("split", "train") if isinstance(dataset, Mapping) else None
            if split == asked.group(1):
                choice = _nearest_split(section, splits)
                return {f"data.{section}.datasets[{index}].split": choice} if choice else {}
    return {}


def _nearest_split(section: str, splits: list[str]) -> str | None:
    preferred = ("train",) if section == "train" else ("validation", "valid", "test", "eval")
    return next((name for name in preferred if name in splits), splits[0] if splits else None)


def _chat_template(config: Config, detail: str) -> Patch:
    model = str(lookup(config, "model.model_name") or "").lower()
    template = next((name for key, name in _CHAT_TEMPLATES if key in model), "chat_ml")
    return {"model.chat_template": template}


def _nan_loss(config: Config, detail: str) -> Patch:
    rate = lookup(config, "training.learning_rate")
    rate = float(rate) if isinstance(rate, int | float | str) and _is_number(rate) else None
    patch: Patch = {"training.learning_rate": float(f"{(rate or DEFAULT_LEARNING_RATE) / 10:.3g}")}
    if "training" in config and lookup(config, "training.max_grad_norm") in (0, 0.0):
        patch["training.max_grad_norm"] = 1.0
    return patch


def _precision(config: Config, detail: str) -> Patch:
    dtype = str(lookup(config, "model.torch_dtype_str") or "auto")
    mixed = str(lookup(config, "training.mixed_precision_dtype") or "none")
    if "Half" in detail:  # half precision on a CPU
        patch: Patch = {"model.torch_dtype_str": "float32"}
        return patch | ({"training.mixed_precision_dtype": "none"} if mixed != "none" else {})
    if "tf32" in detail:
        tf32 = lookup(config, "training.trainer_kwargs.tf32")
        return {"training.trainer_kwargs.tf32": False} if tf32 else {}
    patch = {}
    if dtype in ("bfloat16", "bf16", "auto") or mixed != "bf16":
        patch["model.torch_dtype_str"] = "float16"
    if mixed == "bf16":
        patch["training.mixed_precision_dtype"] = "fp16"
    return patch


def _sdpa(config: Config, detail: str) -> Patch:
    return {"model.attn_implementation": "sdpa"}


def _kv_cache(config: Config, detail: str) -> Patch:
    patch: Patch = {}
    found = _KV_ESTIMATE.search(detail) or _KV_TOKENS.search(detail)
    if found is not None:
        tokens = int(found.group(1))
        patch["model.model_max_length"] = tokens // 256 * 256 if tokens >= 512 else tokens
    utilization = lookup(config, "training.grpo.vllm_gpu_memory_utilization")
    if lookup(config, "training.grpo.use_vllm") or isinstance(utilization, float):
        current = utilization if isinstance(utilization, float) else 0.9
        raised = round(min(MAX_GPU_MEMORY_UTILIZATION, current + 0.05), 2)
        if raised > current:
            patch["training.grpo.vllm_gpu_memory_utilization"] = raised
    return patch or _shorter_context(config)


def _no_capacity(config: Config, detail: str) -> Patch:
    resources = config.get("resources")
    if not isinstance(resources, Mapping):
        return {}
    patch: Patch = {}
    if resources.get("use_spot"):
        patch["resources.use_spot"] = False
    for key in ("zone", "region"):
        if resources.get(key):
            patch[f"resources.{key}"] = None
    return patch


def _shorter_context(config: Config) -> Patch:
    length = lookup(config, "model.model_max_length")
    if isinstance(length, int) and length > 512:
        return {"model.model_max_length": length // 2}
    return {}


def _smallest_prime_factor(number: int) -> int:
    return next((f for f in range(2, math.isqrt(number) + 1) if number % f == 0), number)


def _int(value: object, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


_PATCHES: dict[Cause, Callable[[Config, str], Patch]] = {
    "gpu_oom": _gpu_oom,
    "host_oom": _host_oom,
    "shm_exhausted": _shm_exhausted,
    "nccl_timeout": _nccl_timeout,
    "dataset_split": _dataset_split,
    "chat_template_missing": _chat_template,
    "nan_loss": _nan_loss,
    "precision_unsupported": _precision,
    "flash_attn_missing": _sdpa,
    "flash_attn_abi": _sdpa,
    "kv_cache_too_small": _kv_cache,
    "no_capacity": _no_capacity,
}
