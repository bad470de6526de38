"""Ranking, filters, partial paths and did-you-mean, on the real 0.9 library."""

from __future__ import annotations

from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.library.classify import ConfigEntry
from oumi_mcp_server.library.index import ConfigIndex, load_index
from oumi_mcp_server.library.search import candidates, overview, rank, resolve_path
from oumi_mcp_server.library.tokens import query_terms
from tests.conftest import LIBRARY_DIR


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ConfigIndex:
    return load_index(LIBRARY_DIR, tmp_path_factory.mktemp("index"))


def top(index: ConfigIndex, query: str, n: int = 3, **filters: str) -> list[str]:
    allowed = candidates(index, **filters)
    return [index.entries[i].path for i in rank(index, query_terms(query), allowed).hits[:n]]


def tiny_index(tmp_path: Path, files: dict[str, str]) -> ConfigIndex:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return load_index(tmp_path, tmp_path / ".index")


def test_realistic_queries_put_the_obvious_recipe_first(index: ConfigIndex) -> None:
    assert top(index, "llama 3.1 8b lora", 1) == ["recipes/llama3_1/sft/8b_lora/train.yaml"]
    assert top(index, "Llama3_1 8B QLoRA", 1) == ["recipes/llama3_1/sft/8b_qlora/train.yaml"]
    assert top(index, "phi4 eval", 1) == ["recipes/phi4/evaluation/reasoning_plus_eval.yaml"]
    assert top(index, "qwen3 grpo", 1) == ["examples/grpo_verl_countdown/train.yaml"]
    assert top(index, "falcon h1 0.5b dpo", 1) == [
        "recipes/falcon_h1/dpo/falcon_h1_0_5b/qlora_dpo.yaml"
    ]


def test_search_is_case_insensitive_and_ands_the_terms(index: ConfigIndex) -> None:
    assert top(index, "LLAMA 3.1 8B LORA", 5) == top(index, "llama 3.1 8b lora", 5)
    both = set(rank(index, ["llama", "lora"]).hits)
    assert both < set(rank(index, ["llama"]).hits) and both < set(rank(index, ["lora"]).hits)
    assert both == set(rank(index, ["llama"]).hits) & set(rank(index, ["lora"]).hits)


def test_path_hits_beat_file_name_hits_beat_content_hits(tmp_path: Path) -> None:
    index = tiny_index(
        tmp_path,
        {
            "recipes/zephyr/train.yaml": "model:\n  model_name: a/b\n",
            "recipes/other/zephyr_train.yaml": "model:\n  model_name: a/b\n",
            "recipes/third/train.yaml": "# Mentions zephyr in its header.\nmodel:\n  x: 1\n",
        },
    )
    assert top(index, "zephyr", 3) == [
        "recipes/zephyr/train.yaml",
        "recipes/other/zephyr_train.yaml",
        "recipes/third/train.yaml",
    ]


def test_exact_model_and_size_tokens_rank_high(index: ConfigIndex) -> None:
    # "qwen3" names the qwen3 family exactly: all its configs (training and jobs) come
    # before those of Qwen3-Next, Qwen3.5 or Qwen3-VL.
    families = [index.entries[i].model_family for i in rank(index, ["qwen3", "sft"]).hits]
    qwen3 = families.count("qwen3")
    assert qwen3 >= 10 and families[:qwen3] == ["qwen3"] * qwen3
    # An exact size: 8b recipes before 70b/405b ones.
    sized = [index.entries[i].size for i in rank(index, ["llama3.1", "8b"]).hits[:5]]
    assert sized == ["8b"] * 5


def test_a_training_config_ranks_above_the_job_that_launches_it(index: ConfigIndex) -> None:
    ranked = top(index, "llama 3.1 70b qlora", 2)
    assert ranked == [
        "recipes/llama3_1/sft/70b_qlora/train.yaml",
        "recipes/llama3_1/sft/70b_qlora/gcp_job.yaml",
    ]


def test_when_no_config_has_every_term_the_closest_are_returned(index: ConfigIndex) -> None:
    ranking = rank(index, query_terms("gemma3 qlora"))
    assert not ranking.matched_all
    best = [index.entries[i] for i in ranking.hits[:2]]
    assert all(e.model_family == "gemma3" and e.peft == "lora" for e in best)
    nothing = rank(index, query_terms("zzzunknown llama"))
    assert nothing.unmatched == ["zzzunknown"] and nothing.hits


def test_filters_by_task_model_and_their_errors(index: ConfigIndex) -> None:
    allowed = candidates(index, task="dpo")
    assert allowed and all(index.entries[i].task_type == "dpo" for i in allowed)
    jobs = candidates(index, task="job", model="Llama 3.1")
    assert jobs and all(
        index.entries[i].config_class == "job" and index.entries[i].model_family == "llama3_1"
        for i in jobs
    )
    qwen3 = candidates(index, model="qwen3")
    assert qwen3 and not any(index.entries[i].model_family == "qwen3_5" for i in qwen3)
    assert candidates(index) is None
    with pytest.raises(InvalidArgumentError, match="'task'") as error:
        candidates(index, task="teleport")
    assert "sft" in error.value.next_step


def test_empty_query_gives_an_overview_recipes_first(index: ConfigIndex) -> None:
    firsts = [index.entries[i] for i in overview(index, None)[:10]]
    assert all(e.category == "recipes" and e.config_class == "training" for e in firsts)
    families = [e.model_family for e in firsts]
    assert len(set(families)) == len(families), "one recipe per family"


def _resolved(index: ConfigIndex, text: str) -> tuple[str | None, str, list[str]]:
    match = resolve_path(index, text)
    path = index.entries[match.entry].path if match.entry is not None else None
    return path, match.how, [index.entries[i].path for i in match.suggestions]


def test_get_config_paths_exact_partial_and_directory(index: ConfigIndex) -> None:
    exact = "recipes/phi3/dpo/train.yaml"
    assert _resolved(index, exact)[:2] == (exact, "exact")
    assert _resolved(index, f"configs/{exact}")[:2] == (exact, "exact")
    assert _resolved(index, f"oumi://configs/{exact}")[:2] == (exact, "exact")
    assert _resolved(index, str(LIBRARY_DIR / exact))[:2] == (exact, "exact")
    assert _resolved(index, "phi3/kto/train")[:2] == ("recipes/phi3/kto/train.yaml", "partial")
    assert _resolved(index, "recipes/phi3/dpo")[:2] == ("recipes/phi3/dpo/train.yaml", "directory")
    assert _resolved(index, "phi3/dpo")[1] == "ambiguous"  # also recipes/vision/phi3/dpo/
    path, how, others = _resolved(index, "llama3_1/sft/8b_lora")
    assert (path, how) == ("recipes/llama3_1/sft/8b_lora/train.yaml", "directory")
    assert "recipes/llama3_1/sft/8b_lora/gcp_job.yaml" in others


def test_ambiguous_and_missing_paths_get_suggestions(index: ConfigIndex) -> None:
    path, how, suggestions = _resolved(index, "8b_full")
    assert path is None and how == "ambiguous"
    assert {
        "recipes/llama3_1/sft/8b_full/train.yaml",
        "recipes/qwen3/sft/8b_full/train.yaml",
    } < set(suggestions)
    path, how, suggestions = _resolved(index, "recipes/llama3_1/sft/8b_lorra/train.yaml")
    assert path is None and how == "missing"
    assert suggestions[0] == "recipes/llama3_1/sft/8b_lora/train.yaml"
    path, how, suggestions = _resolved(index, "qwen3 8b eval")
    assert how == "missing" and suggestions[0] == "recipes/qwen3/evaluation/8b_eval.yaml"


def test_the_index_entries_are_the_summaries_tools_return(index: ConfigIndex) -> None:
    entry: ConfigEntry = index.entries[index.by_path["recipes/phi3/dpo/train.yaml"]]
    assert entry.content == [], "raw content is not kept in memory"
