"""Job building blocks: states, ids, commands and overrides, log tails and pages."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs import logs
from oumi_mcp_server.jobs.catalog import COMMAND_ARGV, COMMANDS
from oumi_mcp_server.jobs.commands import check_command, check_envs, parse_overrides
from oumi_mcp_server.jobs.naming import check_job_id, generate_job_id, job_id_from_name
from oumi_mcp_server.jobs.status import (
    TERMINAL,
    JobState,
    advance,
    from_engine_state,
    is_terminal,
)
from oumi_mcp_server.masking import mask_env

# -- states ---------------------------------------------------------------------------


def test_terminal_states_are_final() -> None:
    assert {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED} == TERMINAL
    for terminal in TERMINAL:
        assert is_terminal(terminal)
        for later in JobState:
            assert advance(terminal, later) is terminal
    assert advance(JobState.RUNNING, JobState.COMPLETED) is JobState.COMPLETED
    assert advance(None, JobState.LAUNCHING) is JobState.LAUNCHING


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("pending", JobState.QUEUED),
        ("SUCCEEDED", JobState.COMPLETED),
        ("JobState.CANCELLED", JobState.CANCELLED),
        ("FAILED_SETUP", JobState.FAILED),
        ("setting-up", JobState.LAUNCHING),
        ("running", JobState.RUNNING),
        ("canceled", JobState.CANCELLED),
    ],
)
def test_engine_states_map_through_one_table(raw: str, state: JobState) -> None:
    assert from_engine_state(raw) is state


def test_unknown_engine_state_is_none() -> None:
    assert from_engine_state("levitating") is None


# -- job ids -----------------------------------------------------------------------------


def test_generated_ids_are_human_friendly_and_unique() -> None:
    now = time.mktime((2026, 11, 24, 10, 15, 0, 0, 0, -1))
    job_id = generate_job_id("train", now)
    assert job_id.startswith("train_20261124_101500_") and len(job_id.rsplit("_", 1)[1]) == 6
    assert len({generate_job_id("train", now) for _ in range(200)}) == 200
    assert check_job_id(job_id) == job_id


def test_job_names_are_refused_with_a_suggestion_never_rewritten() -> None:
    assert job_id_from_name("llama-sft.v2") == "llama-sft.v2"
    assert job_id_from_name("  llama-sft.v2 ") == "llama-sft.v2"  # surrounding blanks only
    for name, suggestion in (("my run #3", "'my_run_3'"), ("%2e%2e", "'2e_2e'")):
        with pytest.raises(InvalidArgumentError, match="job_name") as raised:
            job_id_from_name(name)
        assert suggestion in raised.value.next_step, raised.value.next_step
    huge = "x" * 50_000_000
    with pytest.raises(InvalidArgumentError) as raised:
        job_id_from_name(huge)
    assert len(raised.value.describe()) < 500


@pytest.mark.parametrize(
    "name", ["../etc", "a/b", "a\\b", "..", "x..y", "", "!!!", "a" * 65, "a\x00b"]
)
def test_bad_job_names_are_clear_errors(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="job_name"):
        job_id_from_name(name)


@pytest.mark.parametrize("job_id", ["../x", "a/b", "..", "%2e%2e", "", "a b", "x" * 65, "-x"])
def test_malformed_job_ids_are_rejected(job_id: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not a valid job id"):
        check_job_id(job_id)


# -- commands, overrides, envs ----------------------------------------------------------


def test_every_allowed_command_exists_in_the_installed_oumi_cli() -> None:
    oumi = Path(sys.executable).parent / "oumi"
    top = subprocess.run([str(oumi), "--help"], capture_output=True, text=True, timeout=120)
    for command in COMMANDS:
        argv = COMMAND_ARGV[command]
        assert f" {argv[0]} " in top.stdout, f"oumi {argv[0]} is missing"
        if len(argv) > 1:
            sub = subprocess.run(
                [str(oumi), argv[0], "--help"], capture_output=True, text=True, timeout=120
            )
            assert f" {argv[1]} " in sub.stdout, f"oumi {' '.join(argv)} is missing"


def test_command_allow_list_and_aliases() -> None:
    assert check_command("train") == "train"
    assert check_command(" EVAL ") == "evaluate"
    for bad in ("launch", "rm", "train; rm -rf /", "distributed"):
        with pytest.raises(InvalidArgumentError, match="command"):
            check_command(bad)


def test_overrides_become_single_cli_arguments() -> None:
    parsed = parse_overrides(
        [
            "training.max_steps=10",
            "data.train.datasets[0].dataset_path=data/x.jsonl",
            "training.learning_rate=-1e-5",
            "model.model_name = my/model",
        ]
    )
    assert [o.argument for o in parsed] == [
        "--training.max_steps=10",
        "--data.train.datasets[0].dataset_path=data/x.jsonl",
        "--training.learning_rate=-1e-5",
        "--model.model_name=my/model",
    ]


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("training.max_steps=10; rm -rf ~", "shell metacharacters"),
        ("training.output_dir=$(whoami)", "shell metacharacters"),
        ("training.output_dir=`id`", "shell metacharacters"),
        ("a.b=x|y", "shell metacharacters"),
        ("a.b=x > /tmp/f", "shell metacharacters"),
        ("a.b='quoted'", "shell metacharacters"),
        ("--training.max_steps=10", "leading dashes"),
        ("-c=/etc/passwd", "leading dashes"),
        ("training.max_steps", "key.path=value"),
        ("1abc=2", "invalid key"),
        ("a..b=2", "invalid key"),
        ("config=/tmp/other.yaml", "option of the oumi command"),
        ("a.b=--flag", "starting with '--'"),
        ("a.b=line\nbreak", "shell metacharacters"),
    ],
)
def test_bad_overrides_are_clear_errors(override: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match="overrides") as caught:
        parse_overrides([override])
    assert problem in str(caught.value)
    assert "key.path=value" in caught.value.next_step


def test_envs_are_checked_and_secrets_masked() -> None:
    assert check_envs({"WANDB_MODE": "offline"}) == {"WANDB_MODE": "offline"}
    for bad in ({"1X": "a"}, {"A-B": "a"}, {"OUMI_MCP_JOB_ID": "x"}, {"A": "a\x00"}):
        with pytest.raises(InvalidArgumentError, match="envs"):
            check_envs(bad)
    assert mask_env({"HF_TOKEN": "hf_abc", "MODE": "x"}) == {"HF_TOKEN": "***", "MODE": "x"}


# -- logs ------------------------------------------------------------------------------------


def _log(tmp_path: Path, lines: int, *, trailing: bool = True) -> Path:
    path = tmp_path / "log.txt"
    body = "\n".join(f"line {i}" for i in range(lines))
    path.write_text(body + ("\n" if trailing else ""))
    return path


@pytest.mark.parametrize("trailing", [True, False])
def test_tail_returns_the_last_lines(tmp_path: Path, trailing: bool) -> None:
    path = _log(tmp_path, 1000, trailing=trailing)
    page = logs.tail(path, 3)
    assert page.text == "line 997\nline 998\nline 999"
    assert page.lines == 3 and not page.truncated and not page.more_after
    assert path.read_bytes()[page.start :].decode().rstrip("\n") == page.text
    whole = logs.tail(path, 5000)
    assert whole.start == 0 and whole.lines == 1000


def test_tail_of_missing_or_empty_file(tmp_path: Path) -> None:
    assert logs.tail(tmp_path / "nope", 10).text == ""
    (tmp_path / "empty").write_text("")
    page = logs.tail(tmp_path / "empty", 10)
    assert (page.text, page.lines, page.size) == ("", 0, 0)


def test_tail_is_capped_in_characters(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_text("".join(f"{i:05d}" + "x" * 995 + "\n" for i in range(200)))
    page = logs.tail(path, 200, max_chars=10_000)
    assert len(page.text) <= 10_000 and page.truncated
    assert page.text.splitlines()[-1].startswith("00199")
    assert all(len(line) == 1000 for line in page.text.splitlines())  # whole lines only
    giant = tmp_path / "giant.txt"
    giant.write_text("y" * 200_000)
    page = logs.tail(giant, 10)
    assert len(page.text) == logs.MAX_CHARS and page.truncated


def test_progress_bar_redraws_show_the_last_state(tmp_path: Path) -> None:
    path = tmp_path / "bar.txt"
    path.write_text("start\n  0%|   |\r 50%|#  |\r100%|###|\ndone\n")
    assert logs.tail(path, 10).text == "start\n100%|###|\ndone"


def test_forward_pages_continue_exactly_where_they_stopped(tmp_path: Path) -> None:
    path = _log(tmp_path, 1000)
    seen: list[str] = []
    offset = 0
    while True:
        page = logs.read_from(path, offset, lines=300)
        seen += page.text.splitlines()
        assert page.lines <= 300
        offset = page.end
        if not page.more_after:
            break
    assert seen == [f"line {i}" for i in range(1000)]
    beyond = logs.read_from(path, 10**9)
    assert beyond.text == "" and beyond.end == path.stat().st_size


def test_forward_page_is_capped_at_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_text("".join("z" * 999 + "\n" for _ in range(100)))
    page = logs.read_from(path, 0, max_chars=5_500)
    assert page.lines == 5 and page.end == 5_000 and page.more_after


def _fastest_tail(path: Path, runs: int = 20) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        page = logs.tail(path, 200)
        timings.append(time.perf_counter() - started)
    assert page.lines == 200
    return min(timings)


def test_tail_cost_does_not_grow_with_file_size(tmp_path: Path) -> None:
    line = b"x" * 99 + b"\n"
    small = tmp_path / "small.log"
    small.write_bytes(line * 1_000)  # 100 kB
    big = tmp_path / "big.log"
    with big.open("wb") as out:
        for _ in range(100):
            out.write(line * 10_000)  # 100 MB
    fastest_small, fastest_big = _fastest_tail(small), _fastest_tail(big)
    assert fastest_big < 0.01, fastest_big
    assert fastest_big < 10 * fastest_small + 0.002, (fastest_big, fastest_small)


def test_remembered_final_states_are_bounded() -> None:
    from oumi_mcp_server.jobs.backend import FinalStates, Observation

    final = FinalStates()
    done = Observation(JobState.COMPLETED, "exit code 0", 0)
    for index in range(FinalStates.MAX_ENTRIES + 50):
        final.put(f"job{index}", done)
    assert len(final) == FinalStates.MAX_ENTRIES
    assert final.get("job0") is None and final.get(f"job{FinalStates.MAX_ENTRIES + 49}") is done
    final.pop("job100")
    assert final.get("job100") is None
