"""The messages that name a cause, as the libraries print them.

Each rule is a literal ``needle`` (a cheap substring test) and, when the needle alone
is too loose, a ``pattern`` that must also match. Rules are tried in order and the
first that matches a line decides it, so the narrow forms come before the broad ones
(``/dev/shm ... No space left on device`` before ``No space left on device``).

A rule with ``consequence=True`` names what happens *after* another failure (NCCL
timeouts on the ranks left waiting for one that died, a capacity miss SkyPilot
fails over from): it is the cause only when nothing else is found. A rule whose
cause is None marks a wrapper line (``ChildFailedError``, a SIGTERM sent to the
survivors) that is never a cause, not even as a plain Python error.

Every line a rule can match must contain one of ``ANCHORS``: the scanner looks only
at lines holding an anchor (a few fast byte searches over the whole log), so a rule
whose message has none would never be reached (the tests run a real message of
each rule's kind through the scanner).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from oumi_mcp_server.diagnosis.models import Cause

ANCHORS: tuple[bytes, ...] = (
    b"rror",
    b"ERROR",
    b"xception",
    b"Traceback",
    b"emory",
    b"Kill",
    b"kill",
    b"KILL",
    b"NCCL",
    b"nccl",
    b"denied",
    b"CANCELLED",
    b"preempt",
    b"ailed",
    b"detected",
    b"No space",
    b"uota",
    b"restricted",
    b"gated repo",
    b"onnect to host",
)
# An exception line: at the start of the line or right after a logger's "] ", never a
# code line of a traceback frame (those are indented).
EXC = r"(?:^|\] )(?:[A-Za-z_]\w*\.)*"
GENERIC_EXCEPTION = re.compile(EXC + r"[A-Z]\w*(?:Error|Exception)(?::|$)")
LIBS = (
    r"(?:transformers|trl|peft|oumi|accelerate|datasets|torch|torchvision|huggingface_hub"
    r"|vllm|deepspeed|bitsandbytes|tokenizers|safetensors|liger_kernel)"
)


@dataclass(frozen=True)
class Rule:
    """A line matches when it holds ``needle`` and, if set, ``pattern`` is found in it."""

    cause: Cause | None
    needle: str
    confidence: float
    pattern: re.Pattern[str] | None = None
    consequence: bool = False


def rule(
    cause: Cause | None,
    needle: str,
    confidence: float,
    pattern: str | None = None,
    consequence: bool = False,
) -> Rule:
    compiled = re.compile(pattern) if pattern is not None else None
    return Rule(cause, needle, confidence, compiled, consequence)


RULES: tuple[Rule, ...] = (
    # Wrappers and the signals sent to the survivors: never a cause.
    rule(None, "ChildFailedError", 0),
    rule(None, "Signal 15 (SIGTERM)", 0),
    rule(None, "SignalException", 0),
    rule(None, "KeyboardInterrupt", 0),
    rule(None, "CalledProcessError", 0, r"non-zero exit status [1-9]\d*\.$"),
    # Host memory: the kernel's or Slurm's OOM killer.
    rule("host_oom", "kill event", 0.95, r"Detected \d+ oom[_-]kill event"),
    rule("host_oom", "Out Of Memory", 0.9, r"tasks? [\d,-]+: Out Of Memory"),
    rule("host_oom", "Out of memory: Kill", 0.9),
    rule("host_oom", "invoked oom-killer", 0.85),
    rule("host_oom", "Signal 9 (SIGKILL) received", 0.8),
    rule("host_oom", "failed (exitcode: -9)", 0.8),
    rule("host_oom", "SIGKILL: 9", 0.75),
    rule("host_oom", "non-zero exit status -9", 0.75),
    rule("host_oom", "is killed by signal: Killed", 0.85),
    rule("host_oom", "can't allocate memory", 0.85),
    rule("host_oom", "Killed", 0.7, r"(?:^|: line \d+:\s+\d+ )Killed(?:\s|$)"),
    rule("host_oom", "return code list", 0.7, r"return code list: \[[^\]]*\b137\b"),
    # Shared memory of the DataLoader's workers (a container's small /dev/shm).
    rule("shm_exhausted", "insufficient shared memory", 0.95),
    rule("shm_exhausted", "is killed by signal: Bus error", 0.95),
    rule("shm_exhausted", "No space left on device", 0.9, r"</torch_|/dev/shm"),
    rule("shm_exhausted", "Bus error", 0.6, r"task \d+: Bus error"),
    # Collectives.
    rule("nccl_timeout", "Watchdog caught collective operation timeout", 0.85, consequence=True),
    rule("nccl_timeout", "Timeout at NCCL work", 0.8, consequence=True),
    rule("nccl_timeout", "DistStoreError", 0.75, r"Timed out after \d+ seconds"),
    rule("nccl_timeout", "Socket Timeout", 0.6, consequence=True),
    rule("nccl_error", "remote process exited or there was a network error", 0.6, consequence=True),
    rule("nccl_error", "NCCL communicator was aborted", 0.5, consequence=True),
    rule(
        "nccl_error",
        "by peer",
        0.5,
        r"(?:gloo|c10d|TCPStore|ProcessGroup).*Connection (?:reset|closed) by peer",
        consequence=True,
    ),
    rule(
        "nccl_error",
        "NCCL error",
        0.9,
        r"NCCL error.*(?:unhandled (?:system|cuda)|internal|invalid (?:usage|argument))",
    ),
    rule(
        "nccl_error",
        "nccl",
        0.85,
        r"\bnccl(?:SystemError|UnhandledCudaError|InternalError|InvalidUsage|InvalidArgument)\b",
    ),
    rule("nccl_error", "NCCL error", 0.7),
    # GPU memory.
    rule("gpu_oom", "CUDA out of memory", 0.95),
    rule("gpu_oom", "CUDA error: out of memory", 0.9),
    rule("gpu_oom", "HIP out of memory", 0.95),
    rule("gpu_oom", "MPS backend out of memory", 0.9),
    rule("gpu_oom", "XPU out of memory", 0.9),
    rule("gpu_oom", "OutOfMemoryError", 0.85, EXC + r"OutOfMemoryError\b"),
    rule("gpu_oom", "CUBLAS_STATUS_ALLOC_FAILED", 0.75),
    rule("host_oom", "MemoryError", 0.7, EXC + r"MemoryError\b"),
    # Hugging Face Hub access: not allowed (403) before not logged in (401).
    rule("hf_access_denied", "not in the authorized list", 0.95),
    rule("hf_access_denied", "enable access to public gated repositories", 0.9),
    rule("hf_access_denied", "403", 0.85, r"\b403 (?:Client Error|Forbidden)"),
    rule("hf_auth", "Please log in", 0.95),
    rule("hf_auth", "Invalid credentials in Authorization header", 0.9),
    rule("hf_auth", "Invalid user token", 0.9),
    rule("hf_auth", "no token found", 0.9),
    rule("hf_auth", "401", 0.85, r"\b401 (?:Client Error|Unauthorized)"),
    rule(
        "hf_auth",
        "gated repo",
        0.75,
        r"You are trying to access a gated repo|Cannot access gated repo",
    ),
    # Datasets.
    rule("dataset_split", 'Unknown split "', 0.95),
    rule("dataset_split", "Bad split: ", 0.95),
    rule("dataset_split", "corresponds to no data", 0.9),
    rule("dataset_not_found", "doesn't exist on the Hub or cannot be accessed", 0.95),
    rule("dataset_not_found", "DatasetNotFoundError", 0.9),
    rule(
        "dataset_not_found",
        "Couldn't find",
        0.9,
        r"Couldn't find (?:any data file at|a dataset script at|'[^']+' on the Hugging Face Hub)",
    ),
    rule("dataset_not_found", "Unable to find '", 0.85),
    rule(
        "dataset_not_found",
        "File not found: ",
        0.85,
        r"File not found: \S+\.(?:jsonl|json|csv|parquet|arrow|txt|tsv)\b",
    ),
    rule("dataset_not_found", "Couldn't reach", 0.6, r"Couldn't reach '[^']+' on the Hub"),
    # oumi's own check of a local dataset file, printed by its CLI as "Error: ..."
    rule("dataset_not_found", "dataset_path '", 0.9, r"dataset_path '[^']+' does not exist"),
    # Model, tokenizer, numerics and the libraries around them.
    rule("chat_template_missing", "tokenizer.chat_template is not set", 0.95),
    rule("chat_template_missing", "does not have a chat template", 0.9),
    rule(
        "nan_loss", "is detected for the", 0.95, r"(?:NaN|INF) is detected for the '[^']+' metric"
    ),
    rule("nan_loss", "loss scale already at minimum", 0.9),
    rule("nan_loss", "returned nan values", 0.85),
    rule("precision_unsupported", "doesn't support bf16", 0.95),
    rule("precision_unsupported", "--tf32 requires Ampere", 0.95),
    rule("precision_unsupported", "does not support bfloat16", 0.9),
    rule("precision_unsupported", "Bfloat16 is only supported on GPUs", 0.95),
    rule("precision_unsupported", "not implemented for 'Half'", 0.8),
    rule("flash_attn_abi", "undefined symbol", 0.97, r"flash_attn[\w.-]*\.so: undefined symbol"),
    rule("flash_attn_missing", "No module named 'flash_attn", 0.95),
    rule("flash_attn_missing", "has been toggled on, but it cannot be used", 0.9),
    rule("flash_attn_missing", "flash_attn seems to be not installed", 0.95),
    rule("flash_attn_missing", "FlashAttention only supports Ampere GPUs or newer", 0.85),
    rule("flash_attn_missing", "Flash attention 2 was requested", 0.95),
    rule("version_mismatch", "undefined symbol", 0.7, r"\.so[\w.]*: undefined symbol"),
    rule(
        "version_mismatch",
        "unexpected keyword argument",
        0.8,
        r"got an unexpected keyword argument '\w+'",
    ),
    rule(
        "version_mismatch",
        "cannot import name",
        0.9,
        r"cannot import name '\w+' from '" + LIBS + r"\b",
    ),
    rule("version_mismatch", "cannot import name", 0.65),
    rule(
        "version_mismatch",
        "has no attribute",
        0.8,
        r"module '" + LIBS + r"[\w.]*' has no attribute",
    ),
    rule("version_mismatch", "is required for a normal functioning of this module", 0.9),
    rule("version_mismatch", "No module named", 0.75, r"No module named '" + LIBS + r"\.[\w.]+'"),
    rule("no_kernel_image", "no kernel image is available", 0.95),
    # Disk.
    rule("disk_full", "No space left on device", 0.9),
    rule("disk_full", "Errno 28", 0.9),
    rule("disk_full", "Disk quota exceeded", 0.9),
    rule("disk_full", "PytorchStreamWriter failed writing file", 0.85),
    # Where the job runs: capacity, preemption, ssh, time.
    rule("no_capacity", "Failed to provision all possible launchable resources", 0.95),
    rule("no_capacity", "No launchable resource found", 0.9),
    rule("no_capacity", "Requested node configuration is not available", 0.9),
    rule("no_capacity", "Unable to allocate resources", 0.85),
    rule("no_capacity", "ResourcesUnavailableError", 0.8, EXC + r"ResourcesUnavailableError:"),
    rule("no_capacity", "Failed to acquire resources", 0.6, consequence=True),
    rule("no_capacity", "InsufficientInstanceCapacity", 0.6, consequence=True),
    rule(
        "no_capacity",
        "uota",
        0.6,
        r"[Qq]uota (?:'[^']*' )?exceeded|QuotaExceeded|exceeded quota",
        consequence=True,
    ),
    rule("preempted", "DUE TO PREEMPTION", 0.95),
    rule("preempted", "preempt", 0.8, r"(?:is|was|been|got) preempted|preempted or failed"),
    rule("ssh_failed", "Failed to SSH to", 0.9),
    rule("ssh_failed", "Failed to establish an SSH connection", 0.9),
    rule("ssh_failed", "Could not reach the Slurm controller", 0.85),
    rule("ssh_failed", "Permission denied (publickey", 0.9),
    rule("ssh_failed", "connect to host", 0.9, r"ssh: connect to host \S+ port \d+: "),
    rule("ssh_failed", "Host key verification failed", 0.9),
    rule("time_limit", "DUE TO TIME LIMIT", 0.97),
    # Credentials and secrets.
    rule("credentials_missing", "api_key not configured", 0.95),
    rule(
        "credentials_missing",
        "File mount source",
        0.95,
        r"File mount source .* does not exist locally",
    ),
    rule("credentials_missing", "Unable to locate credentials", 0.9),
    rule("credentials_missing", "Could not automatically determine credentials", 0.85),
    rule("credentials_missing", "OPENAI_API_KEY environment variable", 0.9),
    # vLLM's KV cache.
    rule("kv_cache_too_small", "maximum number of tokens that can be stored in KV cache", 0.97),
    rule("kv_cache_too_small", "larger than the available KV cache memory", 0.97),
    rule("kv_cache_too_small", "No available memory for the cache blocks", 0.95),
    # Configs.
    rule("config_error", "Config error", 0.95, r"(?:^|Error: )Config error"),
    rule("config_error", "OumiConfigError", 0.9),
    rule("config_error", "omegaconf.errors", 0.9),
    rule("config_error", "Missing mandatory value", 0.9),
    rule("config_error", "Error", 0.85, r"yaml\.(?:scanner|parser|constructor|composer)\.\w+Error"),
    rule("config_error", "Error: ", 0.6, r"^Error: "),
)
