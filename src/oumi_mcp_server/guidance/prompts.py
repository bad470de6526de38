# ruff: noqa: E501  (prompt texts: one step a line)
"""The texts of the workflow prompts (MCP prompts, shown by clients as slash commands):
each steers the assistant through the server's tools in the right order."""

from __future__ import annotations

METHODS = ("lora", "qlora", "full")
CLOUDS = ("slurm", "gcp", "aws", "azure", "lambda", "runpod", "kubernetes", "local")
EVAL_TASKS = ("mmlu", "hellaswag", "arc_challenge", "gsm8k", "truthfulqa_mc2", "winogrande")


def fine_tune(model: str, dataset_path: str, method: str = "lora") -> str:
    return f"""Fine-tune {model} on my data at {dataset_path} with {method or "lora"}.

Work in my project directory (pass it as client_cwd to every path-sensitive tool):
1. get_started, then search_configs for a {method or "lora"} training recipe close to {model}; read the best one with get_config.
2. Copy it into my project as a new config; point the dataset at {dataset_path} and the model at {model}. Never edit or launch the library file.
3. validate_config; for any field you are unsure of (type, default, meaning), look it up with get_docs (each problem names its docs entry).
4. pre_flight_check with the target I will run on; fix every blocking problem.
5. run_oumi_job as a dry run and show me the exact command; launch with dry_run=false only after I agree.
6. Watch it: subscribe to jobs://<job_id> if you can (else get_job_status now and then), show me the loss curve with get_job_metrics while it runs, and tell me when it ends and where the output is."""


def evaluate_checkpoint(checkpoint_path: str, tasks: str = "mmlu") -> str:
    return f"""Evaluate the checkpoint at {checkpoint_path} on {tasks or "mmlu"}.

1. search_configs with task=eval for a recipe close to this model; read it with get_config.
2. Copy it into my project; set model.model_name to {checkpoint_path} (a LoRA adapter goes in model.adapter_model with its base model) and the tasks to {tasks or "mmlu"}. Look up the evaluation fields with get_docs (EvaluationConfig, LMHarnessTaskParams).
3. validate_config, then pre_flight_check; fix every blocking problem.
4. run_oumi_job with command=evaluate as a dry run; launch after I agree.
5. When it completes, read the results from the job's output dir and summarise them per task."""


def debug_failed_job(job_id: str, read_only: bool = False) -> str:
    relaunch = (
        "5. Propose the smallest fix and show the changed lines; give me the exact command to run it myself."
        if read_only
        else f"5. Offer relaunch_job {job_id}: its dry run shows the patch, the new config file it writes beside mine (mine is never changed) and the launch. Run it with dry_run=false only after I agree (pass the job's envs again if it had any)."
    )
    return f"""Find out why job {job_id} failed, and how to fix it.

1. diagnose_job {job_id}: the root cause, how sure it is, the evidence lines and the fix (steps, a config patch, variables needed, a checkpoint to resume from).
2. If the cause is python_error, unsure (confidence below 0.5) or not what the evidence shows: get_job_logs {job_id} for more of stderr and stdout (page back with offset), and get_job_metrics {job_id} if it trained for a while (a NaN or exploding loss names its step).
3. Explain the cause to me in one or two sentences, quoting the decisive evidence line.
4. If the fix changes the config: validate_config and pre_flight_check it; get_docs for the fields involved.
{relaunch}"""


def move_to_cloud(config_path: str, cloud: str = "slurm", cluster_name: str = "") -> str:
    cluster = f" on the cluster {cluster_name}" if cluster_name else ""
    slurm = (
        "\nFor Slurm, cluster_name is user@host; the dry run shows the job script (#SBATCH "
        "lines, setup that activates oumi on the cluster) and pre-flight checks the cluster "
        "over ssh (sbatch, accounting, partitions, GPUs, the log dir)."
        if (cloud or "slurm") == "slurm"
        else ""
    )
    return f"""Move my run of {config_path} to {cloud or "slurm"}{cluster}.

1. Read guidance with get_guidance topic=cloud-launch.
2. pre_flight_check the config for cloud={cloud or "slurm"}: which paths sync with my project, which are not reachable there, credentials, and what the cloud needs.
3. run_oumi_job with cloud={cloud or "slurm"}{f", cluster_name={cluster_name}" if cluster_name else ""} as a dry run: show me the job config, the files that would be synced, resources, the price quote (cost: per hour, nodes, the most for guards.max_hours, and estimated_hours/estimated_total_usd when a short run there measured the speed) and the teardown reminder.{slurm}
4. Propose guards (max_hours, max_cost_usd, stall_minutes, stop_on_nan, on_trip) and, for long runs, max_restarts; launch with dry_run=false only after I agree; then follow it with get_job_status (spend so far, health) and get_job_logs.
5. When it ends: copy the outputs out, show me list_clusters (what each cluster costs per hour and how long it has idled), then offer stop_cluster or down_cluster (never without my confirmation)."""


READ_ONLY_NOTE = """

This server runs read-only: run_oumi_job, relaunch_job, cancel_job, stop_cluster and down_cluster are not available here. Do every check and dry step you can, then give me the exact command to run myself (for example `oumi train -c <config>`, or `oumi launch up -c <job config>`), and never claim a job was started, cancelled or stopped."""
