"""Static facts about Oumi's CLI and our limits, cheap to import at server start."""

from __future__ import annotations

# Oumi 0.9 CLI commands that take a config with -c, and the argv each runs. A
# test checks each against `oumi --help`; `judge` runs `oumi judge dataset`
# (pass input=<file.jsonl> as an override).
COMMAND_ARGV: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "evaluate": ("evaluate",),
    "infer": ("infer",),
    "synth": ("synth",),
    "analyze": ("analyze",),
    "judge": ("judge", "dataset"),
    "quantize": ("quantize",),
    "tune": ("tune",),
}
COMMANDS = tuple(COMMAND_ARGV)
COMMAND_ALIASES = {"eval": "evaluate", "synthesize": "synth", "training": "train"}
# The validation kind each command's config must be.
COMMAND_KIND = {
    "train": "training",
    "evaluate": "evaluation",
    "infer": "inference",
    "synth": "synthesis",
    "analyze": "analyze",
    "judge": "judge",
    "quantize": "quantization",
    "tune": "tuning",
}
# Where each command writes its results (dotted config fields, first match wins).
OUTPUT_FIELDS = {
    "train": ("training.output_dir",),
    "evaluate": ("output_dir",),
    "infer": ("output_path",),
    "synth": ("output_path",),
    "analyze": ("output_path",),
    "judge": ("output",),
    "quantize": ("output_path",),
    "tune": ("tuning.output_dir",),
}
# get_job_logs: lines per call, and the hard cap on characters per chunk.
MAX_LOG_LINES = 2000
MAX_LOG_CHARS = 40_000
# get_job_metrics: metrics per call.
MAX_METRICS = 8
# Clouds oumi.launcher 0.9 registers (a test checks this against which_clouds()).
LAUNCHER_CLOUDS = (
    "aws",
    "azure",
    "frontier",
    "gcp",
    "k8s",
    "lambda",
    "local",
    "modal",
    "nebius",
    "perlmutter",
    "polaris",
    "runpod",
    "sky-slurm",
    "slurm",
)
CLOUD_ALIASES = {"kubernetes": "k8s", "google": "gcp", "lambdalabs": "lambda", "amazon": "aws"}
# oumi.launcher's own "local" cloud (jobs on this machine, kept in the server's
# memory). Our own process backend's jobs also show "local" as their cloud.
LOCAL_CLOUD = "local"
SLURM_CLOUD = "slurm"  # oumi.launcher's Slurm cloud: clusters named user@host
# Set in the environment of every job we start, on any engine, so that its
# processes can be recognised (and stopped) as that job's.
JOB_MARKER_ENV = "OUMI_MCP_JOB_ID"
# Line-buffered Python output, so get_job_logs sees progress as it happens.
JOB_ENV_DEFAULTS = {"PYTHONUNBUFFERED": "1"}
