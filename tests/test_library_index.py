"""The index: classification of known configs, malformed YAML, the persisted index."""

from __future__ import annotations

import logging
import os
import statistics
import time
from pathlib import Path

import pytest

from oumi_mcp_server.library.classify import ConfigEntry
from oumi_mcp_server.library.index import ConfigIndex, index_file, load_index
from oumi_mcp_server.library.search import rank
from oumi_mcp_server.library.tokens import document_tokens, query_terms, size_tokens
from tests.conftest import LIBRARY_DIR
from tests.library_support import copy_sample


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ConfigIndex:
    return load_index(LIBRARY_DIR, tmp_path_factory.mktemp("index"))


def entry(index: ConfigIndex, path: str) -> ConfigEntry:
    return index.entries[index.by_path[path]]


def test_every_config_is_indexed_and_classified(index: ConfigIndex) -> None:
    assert len(index.entries) == 525 and index.skipped == []
    assert all(e.config_class and e.task_type and e.description for e in index.entries)
    classes = {e.config_class for e in index.entries}
    assert {"training", "evaluation", "inference", "job", "synthesis", "judge"} <= classes
    assert {"analyze", "quantization", "tuning", "async_evaluation"} <= classes


def test_a_lora_recipe(index: ConfigIndex) -> None:
    lora = entry(index, "recipes/llama3_1/sft/8b_lora/train.yaml")
    assert (lora.config_class, lora.task_type, lora.peft) == ("training", "sft", "lora")
    assert lora.model_name == "meta-llama/Llama-3.1-8B-Instruct"
    assert (lora.model_family, lora.size, lora.trainer_type) == ("llama3_1", "8b", "TRL_SFT")
    assert lora.datasets == ["yahma/alpaca-cleaned"]
    assert lora.description == "Lora config for Llama 8B."
    assert entry(index, "recipes/llama3_1/sft/8b_qlora/train.yaml").peft == "qlora"
    assert entry(index, "recipes/qwen3/sft/0.6b_full/train.yaml").peft == "full"


def test_preference_and_rl_recipes_get_their_task(index: ConfigIndex) -> None:
    assert entry(index, "recipes/phi3/dpo/train.yaml").task_type == "dpo"
    assert entry(index, "recipes/phi3/kto/train.yaml").task_type == "kto"
    assert entry(index, "examples/grpo_verl_countdown/train.yaml").task_type == "grpo"
    assert entry(index, "examples/gkd/train.yaml").task_type == "gkd"
    assert entry(index, "recipes/gpt2/pretraining/train.yaml").task_type == "pretrain"


def test_a_job_config_has_its_cloud_and_the_task_it_launches(index: ConfigIndex) -> None:
    job = entry(index, "recipes/llama3_1/sft/8b_lora/gcp_job.yaml")
    assert (job.config_class, job.cloud, job.task_type, job.peft) == ("job", "gcp", "sft", "lora")
    assert job.references == ["recipes/llama3_1/sft/8b_lora/train.yaml"]
    assert job.model_family == "llama3_1"
    dpo_job = entry(index, "recipes/phi3/dpo/gcp_job.yaml")
    assert (dpo_job.config_class, dpo_job.task_type) == ("job", "dpo")
    lambda_job = entry(index, "recipes/falcon_h1/evaluation/falcon_h1_7b/lambda_job.yaml")
    assert (lambda_job.cloud, lambda_job.task_type) == ("lambda", "eval")
    polaris = entry(index, "recipes/llama3_1/sft/8b_lora/polaris_job.yaml")
    assert (polaris.cloud, polaris.task_type) == ("polaris", "sft")


def test_other_config_classes(index: ConfigIndex) -> None:
    expected = {
        "recipes/qwen3/evaluation/8b_eval.yaml": ("evaluation", "eval"),
        "recipes/gpt2/evaluation/async_eval.yaml": ("async_evaluation", "eval"),
        "recipes/qwen3/inference/8b_infer.yaml": ("inference", "infer"),
        "apis/openai/infer_gpt_4o.yaml": ("inference", "infer"),
        "examples/synthesis/conversation_synth.yaml": ("synthesis", "synth"),
        "projects/judges/generic/safety.yaml": ("judge", "judge"),
        "examples/analyze/analyze.yaml": ("analyze", "analyze"),
        "examples/quantization/awq_quantization_config.yaml": ("quantization", "quantize"),
        "recipes/smollm/tuning/135m/tune.yaml": ("tuning", "tune"),
    }
    for path, (config_class, task) in expected.items():
        assert (entry(index, path).config_class, entry(index, path).task_type) == (
            config_class,
            task,
        ), path
    assert entry(index, "apis/openai/infer_gpt_4o.yaml").engine == "OPENAI"


def test_sizes_and_families_are_normalised(index: ConfigIndex) -> None:
    distill = entry(index, "recipes/deepseek_r1/sft/distill_qwen_1_5b/lora_train.yaml")
    assert (distill.model_family, distill.size) == ("deepseek_r1", "1.5b")
    falcon = entry(index, "recipes/falcon_h1/dpo/falcon_h1_0_5b/qlora_dpo.yaml")
    assert (falcon.size, falcon.peft, falcon.task_type) == ("0.5b", "qlora", "dpo")
    countdown = entry(index, "examples/grpo_verl_countdown/train.yaml")
    assert (countdown.model_family, countdown.size) == ("qwen3", "4b")


def test_tokens_meet_between_paths_and_queries() -> None:
    tokens = document_tokens("recipes/llama3_1/sft/8b_lora/train")
    assert {"llama3.1", "llama", "3.1", "llama3", "8b", "lora", "train"} <= tokens
    assert query_terms("Llama-3.1 8B LoRA config") == ["llama", "3.1", "8b", "lora"]
    assert query_terms("llama3_1") == ["llama3.1"]
    assert query_terms("fine-tune qwen2.5") == ["finetune", "qwen2.5"]
    assert size_tokens("distill_qwen_1_5b") == ["1.5b"]
    assert size_tokens("falcon_h1_0_5b/qlora") == ["0.5b"]


def test_malformed_yaml_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_sample(tmp_path / "lib")
    (root / "recipes" / "broken.yaml").write_text("model: [unclosed\n  name: : :\n")
    (root / "recipes" / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    (root / "recipes" / "empty.yaml").write_text("")
    with caplog.at_level(logging.WARNING):
        index = load_index(root, tmp_path / "index")
    skipped = {item.path for item in index.skipped}
    assert skipped == {"recipes/broken.yaml", "recipes/binary.yaml"}
    assert "recipes/broken.yaml" in caplog.text
    assert "recipes/llama3_1/sft/8b_lora/train.yaml" in index.by_path
    assert entry(index, "recipes/empty.yaml").config_class == "other"


def test_the_persisted_index_is_reused_and_refreshed_on_change(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "lib")
    first = load_index(root, tmp_path / "index")
    assert first.origin == "built" and index_file(tmp_path / "index", root).is_file()
    second = load_index(root, tmp_path / "index")
    assert second.origin == "persisted"
    assert [e.path for e in second.entries] == [e.path for e in first.entries]
    assert second.postings == first.postings
    # Any change in paths, sizes or mtimes rebuilds it.
    changed = root / "recipes" / "phi3" / "dpo" / "train.yaml"
    changed.write_text(changed.read_text() + "\n# edited\n")
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert load_index(root, tmp_path / "index").origin == "built"
    (root / "recipes" / "new.yaml").write_text("model:\n  model_name: x/y\n")
    rebuilt = load_index(root, tmp_path / "index")
    assert rebuilt.origin == "built" and "recipes/new.yaml" in rebuilt.by_path


def test_a_damaged_persisted_index_is_rebuilt(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "lib")
    load_index(root, tmp_path / "index")
    index_file(tmp_path / "index", root).write_text("{not json")
    assert load_index(root, tmp_path / "index").origin == "built"


def test_a_warm_search_takes_well_under_three_milliseconds(index: ConfigIndex) -> None:
    queries = ["llama 3.1 8b lora", "qwen3 grpo", "phi4 eval", "gemma3 qlora", "dpo", "vision"]
    samples = []
    for _ in range(20):
        for query in queries:
            started = time.perf_counter()
            rank(index, query_terms(query))
            samples.append(time.perf_counter() - started)
    assert statistics.median(samples) < 0.003
