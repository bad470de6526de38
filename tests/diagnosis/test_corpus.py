"""The failure corpus (tests/fixtures/failures/): every labelled log through diagnose_file.

Top-1 accuracy on the failures must be at least 95%, and no clean run may raise a false
alarm, neither with its exit code 0 nor with the outcome unknown (the log alone must
not name a cause). The confusion table is printed (pytest -s shows it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from oumi_mcp_server.diagnosis import CAUSES, diagnose_file

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "failures"
MIN_ACCURACY = 0.95
MIN_CASES = 60
MIN_CLEAN = 10


def _labels() -> dict[str, dict[str, Any]]:
    labels: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "labels.yaml").read_text())
    return labels


def _predict(name: str, label: dict[str, Any], exit_code: int | None) -> str:
    return diagnose_file(
        CORPUS / name,
        exit_code=exit_code,
        engine_state=label.get("engine_state", ""),
        engine_reason=label.get("engine_reason", ""),
    ).cause


def confusion_table(pairs: list[tuple[str, str]]) -> str:
    """Rows: expected cause; columns: the causes predicted for it, with counts."""
    rows = []
    for expected in CAUSES:
        predicted = Counter(got for want, got in pairs if want == expected)
        if not predicted:
            continue
        hits = predicted.get(expected, 0)
        misses = ", ".join(
            f"{cause} x{count}" for cause, count in predicted.items() if cause != expected
        )
        rows.append(f"  {expected:<22} {hits:>3}/{sum(predicted.values()):<3} {misses}")
    return "\n".join(["  expected               right  wrongly predicted as", *rows])


def test_every_log_is_labelled_and_every_label_has_a_log() -> None:
    logs = {path.name for path in CORPUS.glob("*.log")}
    labels = _labels()
    assert logs == set(labels)
    assert len(labels) >= MIN_CASES
    assert sum(label["cause"] == "none" for label in labels.values()) >= MIN_CLEAN
    assert {label["cause"] for label in labels.values()} == set(CAUSES)


def test_corpus_accuracy_and_no_false_alarms() -> None:
    labels = _labels()
    pairs = [
        (label["cause"], _predict(name, label, label["exit_code"]))
        for name, label in labels.items()
    ]
    failures = [(want, got) for want, got in pairs if want != "none"]
    right = sum(want == got for want, got in failures)
    accuracy = right / len(failures)
    clean = len(pairs) - len(failures)
    print(f"\nfailure corpus: {len(pairs)} logs, {len(failures)} failures, {clean} clean")
    print(confusion_table(pairs))
    print(f"top-1 accuracy on failures: {right}/{len(failures)} = {accuracy:.1%}")
    wrong = [
        name
        for (name, label), (_, got) in zip(labels.items(), pairs, strict=True)
        if label["cause"] != got
    ]
    print("wrong:", wrong or "none")
    false_alarms = [want for want, got in pairs if want == "none" and got != "none"]
    assert not false_alarms
    assert accuracy >= MIN_ACCURACY, wrong


@pytest.mark.parametrize(
    "name", sorted(name for name, label in _labels().items() if label["cause"] == "none")
)
def test_clean_logs_name_no_cause_even_without_an_exit_code(name: str) -> None:
    assert _predict(name, _labels()[name], exit_code=None) == "none"
