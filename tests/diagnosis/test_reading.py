"""Logs are read within a byte budget (head and tail, true line numbers), and what is shown
of them is masked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from oumi_mcp_server.diagnosis import diagnose, diagnose_file, diagnose_files
from oumi_mcp_server.diagnosis.logfile import lines_log, read_log, text_log

NOISE = "[2025-03-02 10:14:07,118][oumi][rank0][pid:1][MainThread][INFO]][train.py:1] step done\n"
FAILURE = (
    "Traceback (most recent call last):\n"
    "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
)


def _big_log(path: Path, noise_lines: int) -> int:
    """A log of noise with a failure at its end; the failure's line number."""
    path.write_text(NOISE * noise_lines + FAILURE)
    return noise_lines + 2


def test_a_log_bigger_than_the_budget_still_finds_the_cause_in_its_tail(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    failure_line = _big_log(log, 40_000)  # ~3.4 MB
    budget = 256 * 1024
    read = read_log(log, budget)
    assert sum(len(segment.data) for segment in read.segments) <= budget
    assert read.skipped > 0
    found = diagnose_file(log, exit_code=1, max_bytes=budget)
    assert found.cause == "no_kernel_image"
    assert found.evidence[0].line == failure_line


def test_the_head_is_read_too(tmp_path: Path) -> None:
    log = tmp_path / "head.log"
    log.write_text(
        "Error: Config error at 'training.foo': Key 'foo' not in 'TrainingParams'\n"
        + NOISE * 40_000
    )
    found = diagnose_file(log, exit_code=1, max_bytes=128 * 1024)
    assert (found.cause, found.evidence[0].line) == ("config_error", 1)


def test_text_and_streamed_lines_cut_the_same_way() -> None:
    text = NOISE * 20_000 + FAILURE
    budget = 128 * 1024

    def stream() -> Iterator[str]:
        yield from text.splitlines()

    for read in (text_log(text, budget), lines_log(stream(), budget)):
        assert sum(len(segment.data) for segment in read.segments) <= budget
        assert read.segments[-1].data.endswith(b"device\n")
        tail = read.segments[-1]
        assert tail.first_line is not None
        assert tail.first_line + tail.data.count(b"\n") - 1 == 20_002
    assert diagnose(stream(), exit_code=1, max_bytes=budget).evidence[0].line == 20_002


def test_several_logs_of_one_job_and_a_missing_one(tmp_path: Path) -> None:
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    stdout.write_text(NOISE * 3)
    stderr.write_text(FAILURE)
    found = diagnose_files([stdout, stderr, tmp_path / "gone.log"], exit_code=1)
    assert found.cause == "no_kernel_image"
    assert (found.evidence[0].source, found.evidence[0].line) == ("stderr.log", 2)


def test_secrets_in_evidence_and_summary_are_masked() -> None:
    token = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    lines = [
        "Traceback (most recent call last):",
        f"huggingface_hub.errors.HfHubHTTPError: 401 Client Error: Unauthorized for url: "
        f"https://alice:s3cretPassw0rd@huggingface.co/api/models/x "
        f"(token {token}, HF_TOKEN={token})",
        "Invalid credentials in Authorization header",
    ]
    found = diagnose(lines, exit_code=1)
    assert found.cause == "hf_auth"
    shown = found.summary + " ".join(evidence.text for evidence in found.evidence)
    assert token not in shown and "s3cretPassw0rd" not in shown
    assert "***" in shown
    assert found.fix.envs_needed == ("HF_TOKEN",)
