"""The root cause wins: the first failing rank, not the timeouts and wrappers after it;
an error the run got past is not the cause; the engine's record alone can name one."""

from __future__ import annotations

from oumi_mcp_server.diagnosis import diagnose

OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."
WATCHDOG = (
    "[E302 10:51:13.715 ProcessGroupNCCL.cpp:632] [Rank {rank}] Watchdog caught collective "
    "operation timeout: WorkNCCL(SeqNum=9, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, "
    "Timeout(ms)=600000) ran for 600061 milliseconds before timing out."
)


def _bar(step: int, total: int = 100) -> str:
    return f" {step}%|█         | {step}/{total} [00:0{step % 10}<00:30,  1.90it/s]"


def _traceback(prefix: str, last: str) -> list[str]:
    return [
        f"{prefix}Traceback (most recent call last):",
        f'{prefix}  File "/opt/conda/lib/python3.11/site-packages/transformers/trainer.py", line 1',
        f"{prefix}    loss = self.compute_loss(model, inputs)",
        f"{prefix}{last}",
    ]


def test_the_first_failing_rank_wins_over_the_timeouts_of_the_others() -> None:
    lines = [f"[rank0]:{_bar(step)}" for step in range(1, 6)]
    lines += [f"[rank{rank}]:{WATCHDOG.format(rank=rank)}" for rank in (0, 1)]  # printed first
    lines += _traceback("[rank3]: ", OOM)
    lines += [f"[rank2]:{WATCHDOG.format(rank=2)}"]
    found = diagnose(lines, exit_code=1)
    assert found.cause == "gpu_oom"
    assert "rank 3" in found.summary
    assert found.evidence[0].line == len(lines) - 1
    assert "nccl_timeout" in {candidate.cause for candidate in found.other_candidates}


def test_timeouts_alone_are_the_cause_when_no_rank_says_more() -> None:
    lines = [f"[rank{rank}]:{WATCHDOG.format(rank=rank)}" for rank in range(4)]
    assert diagnose(lines, exit_code=1).cause == "nccl_timeout"


def test_a_sigkill_root_failure_in_torchruns_report_is_a_host_oom() -> None:
    report = [
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
        "oumi FAILED",
        "------------------------------------------------------------",
        "Failures:",
        "[1]:",
        "  rank      : 0 (local_rank: 0)",
        "  exitcode  : -9 (pid: 4200)",
        "  traceback : Signal 9 (SIGKILL) received by PID 4200",
        "------------------------------------------------------------",
        "Root Cause (first observed failure):",
        "[0]:",
        "  rank      : 2 (local_rank: 2)",
        "  exitcode  : 1 (pid: 4202)",
        "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
        "============================================================",
    ]
    # The root failure exited with 1 (its own error, printed before): the SIGKILL listed under
    # "Failures" is torchrun stopping a survivor, not the cause.
    lines = [*_traceback("[rank2]: ", "KeyError: 'messages'"), *report]
    assert diagnose(lines, exit_code=1).cause == "python_error"
    root_killed = [line.replace("exitcode  : 1 (", "exitcode  : -9 (") for line in report]
    found = diagnose(root_killed, exit_code=1)
    assert found.cause == "host_oom"
    assert found.evidence[0].text == "exitcode  : -9 (pid: 4202)"


def test_an_oom_the_run_recovered_from_is_not_the_cause() -> None:
    lines = [_bar(1), *_traceback("", OOM), "retrying with a smaller batch"]
    lines += [_bar(step) for step in range(1, 30)]
    lines += _traceback("", "OSError: [Errno 28] No space left on device")
    found = diagnose(lines, exit_code=1)
    assert found.cause == "disk_full"
    assert {"cause": "gpu_oom", "confidence": 0.47} in [
        candidate.model_dump() for candidate in found.other_candidates
    ]


def test_a_retried_download_is_not_the_cause_and_a_clean_end_is_none() -> None:
    lines = [
        "'(ReadTimeoutError(\"HTTPSConnectionPool(host='cdn-lfs.hf.co', port=443): "
        "Read timed out.\"))' thrown while requesting GET https://huggingface.co/x/resolve/main/model.safetensors",
        "Retrying in 1s [Retry 1/5].",
        *_traceback("", "requests.exceptions.ReadTimeout: Read timed out. (read timeout=10)"),
        "Retrying in 2s [Retry 2/5].",
        "model.safetensors: 100%|██████████| 2.47G/2.47G [00:09<00:00, 262MB/s]",
    ]
    assert diagnose(lines, exit_code=0).cause == "none"
    found = diagnose([*lines, *_traceback("", "KeyError: 'text'")], exit_code=1)
    assert found.cause == "python_error"
    assert found.summary.endswith("KeyError: 'text'")


def test_an_error_at_the_last_retry_is_the_cause() -> None:
    lines = [
        "Retrying in 8s [Retry 5/5].",
        *_traceback("", "huggingface_hub.errors.GatedRepoError: 401 Client Error."),
    ]
    assert diagnose(lines, exit_code=1).cause == "hf_auth"


def test_a_finished_run_has_no_cause_whatever_its_log_says() -> None:
    lines = [*_traceback("", OOM), "Killed"]
    assert diagnose(lines, exit_code=0).cause == "none"
    assert diagnose(lines, exit_code=None, engine_state="COMPLETED").cause == "none"


def test_model_names_and_warnings_alone_name_nothing() -> None:
    lines = [
        "Loading bigscience/bloom-560m, nanollama/nanollama-50m and killed-bert-base",
        "/x/torch/cuda/memory.py:12: UserWarning: CUDA out of memory may follow; lower it",
        "{'error': 'none', 'messages': [{'role': 'user', 'content': 'Traceback'}]}",
    ]
    assert diagnose(lines, exit_code=None).cause == "none"
    found = diagnose(lines, exit_code=1)
    assert (found.cause, found.confidence) == ("python_error", 0.2)
    assert found.summary == "The job failed with exit code 1, but its log names no error."


def test_slurm_timeout_with_an_empty_log_is_a_time_limit() -> None:
    for state in ("TIMEOUT", "JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15"):
        found = diagnose("", exit_code=None, engine_state=state)
        assert found.cause == "time_limit"
        assert found.evidence[0].source == "engine"


def test_exit_137_or_minus_9_without_a_log_is_a_host_oom() -> None:
    for code in (137, -9):
        found = diagnose([], exit_code=code)
        assert found.cause == "host_oom"
        assert found.evidence[0].text == f"exit code {code} (SIGKILL)"


def test_other_engine_records() -> None:
    assert diagnose("", exit_code=None, engine_state="OUT_OF_MEMORY").cause == "host_oom"
    assert diagnose("", exit_code=None, engine_state="PREEMPTED").cause == "preempted"
    assert diagnose("", exit_code=None, engine_state="FAILED_NO_RESOURCE").cause == "no_capacity"
    reason = "ResourcesUnavailableError: Failed to provision all possible launchable resources."
    assert diagnose("", exit_code=1, engine_state="FAILED", engine_reason=reason).cause == (
        "no_capacity"
    )
    cancelled = diagnose("", exit_code=None, engine_state="CANCELLED by 1000")
    assert (cancelled.cause, cancelled.summary) == (
        "none",
        "The job was cancelled; nothing failed.",
    )
    # The engine's word wins over what the log shows: Slurm killed the job at its time limit.
    log = [
        *_traceback(
            "", "torch.distributed.elastic.multiprocessing.api.SignalException: got signal: 15"
        )
    ]
    assert diagnose(log, exit_code=-15, engine_state="TIMEOUT").cause == "time_limit"
