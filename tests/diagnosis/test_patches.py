"""The fix's config patch, computed from the job's own config (Oumi 0.9 field names)."""

from __future__ import annotations

from typing import Any

import pytest

from oumi_mcp_server.diagnosis import diagnose
from oumi_mcp_server.diagnosis.patches import config_patch, lookup

OOM = ["Traceback (most recent call last):", "torch.OutOfMemoryError: CUDA out of memory."]


def _apply(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {section: dict(values) for section, values in config.items()}
    for dotted, value in patch.items():
        section, key = dotted.split(".", 1)
        result.setdefault(section, {})[key] = value
    return result


@pytest.mark.parametrize("batch", [2, 3, 4, 6, 8, 9, 12, 16, 25, 32, 64])
@pytest.mark.parametrize("accumulation", [1, 2, 3, 8])
def test_gpu_oom_keeps_the_effective_batch_size(batch: int, accumulation: int) -> None:
    config = {
        "training": {
            "per_device_train_batch_size": batch,
            "gradient_accumulation_steps": accumulation,
        }
    }
    patch = diagnose(OOM, exit_code=1, config=config).fix.config_patch
    patched = _apply(config, patch)["training"]
    assert patched["per_device_train_batch_size"] < batch
    assert (
        patched["per_device_train_batch_size"] * patched["gradient_accumulation_steps"]
        == batch * accumulation
    )


def test_gpu_oom_steps_after_batch_size_one() -> None:
    config: dict[str, Any] = {"training": {"per_device_train_batch_size": 1}}
    steps = []
    for _ in range(4):
        patch = config_patch("gpu_oom", config, "")
        steps.append(patch)
        config = _apply(config, patch)
    assert steps[0] == {"training.enable_gradient_checkpointing": True}
    assert steps[1] == {"training.use_peft": True}
    assert steps[2] == {}  # nothing left in the config: the steps say what else to do
    config["model"] = {"model_max_length": 4096}
    assert config_patch("gpu_oom", config, "") == {"model.model_max_length": 2048}


def test_gpu_oom_uses_oumis_defaults_for_keys_left_out_and_needs_a_config() -> None:
    assert config_patch("gpu_oom", {"training": {}}, "") == {
        "training.per_device_train_batch_size": 4,
        "training.gradient_accumulation_steps": 2,
    }
    assert config_patch("gpu_oom", {"generation": {"batch_size": 8}}, "") == {
        "generation.batch_size": 4
    }
    assert diagnose(OOM, exit_code=1).fix.config_patch == {}


def test_patches_of_other_causes() -> None:
    training = {"training": {"learning_rate": 2e-4, "dataloader_num_workers": 8}}
    assert config_patch("shm_exhausted", training, "") == {"training.dataloader_num_workers": 0}
    assert config_patch("host_oom", training, "") == {"training.dataloader_num_workers": 4}
    assert config_patch("nan_loss", training, "") == {"training.learning_rate": 2e-5}
    for cause in ("flash_attn_missing", "flash_attn_abi"):
        assert config_patch(cause, {"model": {}}, "") == {"model.attn_implementation": "sdpa"}
    bf16 = {"model": {"torch_dtype_str": "bfloat16"}, "training": {"mixed_precision_dtype": "bf16"}}
    assert config_patch("precision_unsupported", bf16, "doesn't support bf16/gpu") == {
        "model.torch_dtype_str": "float16",
        "training.mixed_precision_dtype": "fp16",
    }
    half = {"model": {"torch_dtype_str": "float16"}}
    assert config_patch("precision_unsupported", half, "not implemented for 'Half'") == {
        "model.torch_dtype_str": "float32"
    }
    assert config_patch("nccl_timeout", {"training": {}}, "Timeout(ms)=1800000") == {
        "training.nccl_default_timeout_minutes": 60
    }
    assert config_patch("chat_template_missing", {"model": {"model_name": "x/Llama-3-8B"}}, "") == {
        "model.chat_template": "llama3-instruct"
    }
    assert config_patch(
        "no_capacity", {"resources": {"use_spot": True, "region": "us-east-1"}}, ""
    ) == {
        "resources.use_spot": False,
        "resources.region": None,
    }


def test_kv_cache_patch_takes_the_length_the_error_names() -> None:
    estimate = "Based on the available memory, the estimated maximum model length is 81632."
    assert config_patch("kv_cache_too_small", {"model": {}}, estimate) == {
        "model.model_max_length": 81408
    }
    older = "larger than the maximum number of tokens that can be stored in KV cache (20480)."
    assert config_patch("kv_cache_too_small", {"model": {}}, older) == {
        "model.model_max_length": 20480
    }
    grpo = {"training": {"grpo": {"use_vllm": True, "vllm_gpu_memory_utilization": 0.8}}}
    assert config_patch("kv_cache_too_small", grpo, "No available memory for the cache blocks") == {
        "training.grpo.vllm_gpu_memory_utilization": 0.85
    }


def test_dataset_split_patch_names_the_dataset_that_asked() -> None:
    config = {
        "data": {
            "train": {"datasets": [{"dataset_name": "a"}]},
            "validation": {"datasets": [{"dataset_name": "b", "split": "validation"}]},
        }
    }
    log = [
        "Traceback (most recent call last):",
        "ValueError: Unknown split \"validation\". Should be one of ['train', 'test'].",
    ]
    assert diagnose(log, exit_code=1, config=config).fix.config_patch == {
        "data.validation.datasets[0].split": "test"
    }


def test_time_limit_resumes_only_from_a_checkpoint() -> None:
    config = {"training": {}}
    assert config_patch("time_limit", config, "", has_checkpoint=False) == {}
    assert config_patch("time_limit", config, "", has_checkpoint=True) == {
        "training.try_resume_from_last_checkpoint": True
    }


def test_lookup() -> None:
    assert lookup({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert lookup({"a": {"b": 1}}, "a.b.c") is None
    assert lookup({}, "a") is None
