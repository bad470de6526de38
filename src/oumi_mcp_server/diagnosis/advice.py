"""What each cause means and what to do about it, in plain words.

``SENTENCES`` open the summary; ``STEPS`` are the fix in words (the config patch,
when one applies, is computed in patches.py). ``envs_needed`` names the variables
a job must have set, never their values.
"""

from __future__ import annotations

import re

from oumi_mcp_server.diagnosis.models import Cause

SENTENCES: dict[Cause, str] = {
    "gpu_oom": "The GPU ran out of memory",
    "host_oom": "The machine ran out of RAM and the process was killed",
    "shm_exhausted": "The DataLoader workers ran out of shared memory (/dev/shm)",
    "nccl_timeout": "A collective operation between GPUs timed out (one rank stopped answering)",
    "nccl_error": "NCCL, the GPU-to-GPU communication library, failed",
    "hf_auth": "Hugging Face refused the download because the job is not logged in",
    "hf_access_denied": "Hugging Face refused the download: this account has no access to the repo",
    "dataset_not_found": "The dataset could not be found",
    "dataset_split": "The dataset has no split of the requested name",
    "chat_template_missing": "The tokenizer has no chat template",
    "nan_loss": "The loss became NaN (training diverged)",
    "precision_unsupported": "The GPU (or CPU) does not support the requested precision",
    "flash_attn_missing": "Flash attention was requested but cannot be used here",
    "flash_attn_abi": "The installed flash-attn was built for another torch version",
    "version_mismatch": "Installed library versions do not match each other",
    "no_kernel_image": "The installed torch has no kernels for this GPU",
    "disk_full": "The disk is full",
    "no_capacity": "No machine with the requested resources could be provisioned",
    "preempted": "The machine was taken away (preempted) while the job ran",
    "ssh_failed": "The cluster could not be reached over SSH",
    "time_limit": "The job hit its time limit and was stopped",
    "credentials_missing": "A credential or file the job needs is missing",
    "kv_cache_too_small": "vLLM's KV cache cannot hold one sequence of the maximum model length",
    "config_error": "The config is invalid",
    "python_error": "The job stopped with a Python error",
    "none": "The job finished without error",
}

STEPS: dict[Cause, tuple[str, ...]] = {
    "gpu_oom": (
        "Lower the per-device batch size and raise gradient accumulation by the same factor "
        "(the effective batch size stays the same).",
        "If the batch size is already 1: enable gradient checkpointing, then train LoRA "
        "adapters (use_peft), then shorten model_max_length, or use a bigger GPU.",
    ),
    "host_oom": (
        "Give the job more RAM (a larger instance, or Slurm --mem) or use fewer DataLoader "
        "workers; a large dataset can be streamed (data.train.stream) instead of loaded whole.",
    ),
    "shm_exhausted": (
        "Set training.dataloader_num_workers to 0, or give the container more shared memory "
        "(docker run --shm-size=16g, or ipc: host).",
    ),
    "nccl_timeout": (
        "Look at the other ranks' output for the first error: a rank that crashed or hung "
        "makes the others time out.",
        "If a long step (saving, evaluation) is simply slow, raise "
        "training.nccl_default_timeout_minutes.",
    ),
    "nccl_error": (
        "Run again with NCCL_DEBUG=INFO to see which link failed; on GPUs without NVLink try "
        "NCCL_P2P_DISABLE=1, and check that every node sees the same network interface "
        "(NCCL_SOCKET_IFNAME).",
    ),
    "hf_auth": (
        "Log in to Hugging Face where the job runs (hf auth login) or pass HF_TOKEN to the job.",
        "For a gated model, accept its license on the model page with the same account.",
    ),
    "hf_access_denied": (
        "Request access on the model's Hugging Face page and wait for approval, then run again "
        "with a token of that account (a fine-grained token needs access to gated repos).",
    ),
    "dataset_not_found": (
        "Check dataset_name / dataset_path: the spelling, that the file exists where the job "
        "runs, and for a private or gated Hub dataset that HF_TOKEN is set.",
    ),
    "dataset_split": ("Use a split the dataset has (the error lists them).",),
    "chat_template_missing": (
        "Set model.chat_template to a template Oumi ships (chat_ml, llama3-instruct, "
        "phi3-instruct, zephyr, ...), or use the instruct version of the model.",
    ),
    "nan_loss": (
        "Lower the learning rate (by 10x here), keep gradient clipping on (max_grad_norm 1.0) "
        "and add warmup.",
        "With float16, prefer bfloat16 on Ampere or newer GPUs, or float32 on older ones.",
    ),
    "precision_unsupported": (
        "Use float16 on GPUs older than Ampere (V100, T4), float32 on a CPU.",
    ),
    "flash_attn_missing": (
        "Use model.attn_implementation: sdpa (PyTorch's own attention), or install flash-attn "
        "on an Ampere or newer GPU.",
    ),
    "flash_attn_abi": (
        "Use model.attn_implementation: sdpa, or reinstall flash-attn built for the installed "
        "torch (pip install flash-attn --no-build-isolation --force-reinstall).",
    ),
    "version_mismatch": (
        "Install the versions Oumi pins: pip install --upgrade 'oumi==0.9.*' in a fresh "
        "environment, without upgrading transformers, trl or peft on their own.",
    ),
    "no_kernel_image": (
        "Install a torch build for this GPU's CUDA architecture (pick the matching CUDA wheel) "
        "or run on a GPU the installed build supports.",
    ),
    "disk_full": (
        "Free disk space or use a larger disk; keep fewer checkpoints "
        "(training.trainer_kwargs.save_total_limit) and point HF_HOME at a larger volume.",
    ),
    "no_capacity": (
        "Try another region or cloud, another GPU type or fewer GPUs, on-demand instead of "
        "spot, or run again later.",
    ),
    "preempted": (
        "Run again, resuming from the last checkpoint; save checkpoints more often on spot "
        "instances, or use on-demand ones.",
    ),
    "ssh_failed": (
        "Check the host name, that the SSH key is loaded (ssh-add -l) and that "
        "ssh <user>@<host> works from this machine.",
    ),
    "time_limit": (
        "Ask for more time (Slurm --time, or the cluster's limit) and resume from the last "
        "checkpoint; save checkpoints often enough to lose little.",
    ),
    "credentials_missing": (
        "Set the named variable or create the missing file where the job is launched; for "
        "Weights & Biases either set WANDB_API_KEY or turn it off (training.enable_wandb: false).",
    ),
    "kv_cache_too_small": (
        "Lower model.model_max_length to what fits (the error gives the number) or give vLLM "
        "more GPU memory (gpu_memory_utilization) or more GPUs.",
    ),
    "config_error": (
        "Fix the config key or value the error names, then validate the config again.",
    ),
    "python_error": (
        "Read the exception and the frames above it; fix the code or the data it names.",
    ),
    "none": ("Nothing to fix.",),
}

_NAMED_VARIABLE = re.compile(
    r"\b([A-Z][A-Z0-9]*_(?:API_KEY|TOKEN|ACCESS_KEY_ID|SECRET_ACCESS_KEY))\b"
)
_CREDENTIAL_VARIABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("wandb", ("WANDB_API_KEY",)),
    ("Unable to locate credentials", ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
    ("Could not automatically determine credentials", ("GOOGLE_APPLICATION_CREDENTIALS",)),
)


def envs_needed(cause: Cause, detail: str) -> tuple[str, ...]:
    """Names of the variables the job needs, from the cause and the log's own words."""
    names: list[str] = []
    private_dataset = re.search(r"\b40[13]\b|gated|private", detail) is not None
    if cause in ("hf_auth", "hf_access_denied") or (
        cause == "dataset_not_found" and private_dataset
    ):
        names.append("HF_TOKEN")
    elif cause == "credentials_missing":
        for marker, variables in _CREDENTIAL_VARIABLES:
            if marker in detail:
                names += variables
        names += _NAMED_VARIABLE.findall(detail)
    return tuple(dict.fromkeys(names))
