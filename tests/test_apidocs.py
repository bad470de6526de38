"""The API index of the installed Oumi: a real build in a child process, lookups,
filters, the cache (reused, rebuilt when corrupt or for another version), failures."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.apidocs.cache import CacheUnusable, index_file, installed_oumi_version, load
from oumi_mcp_server.apidocs.configs import config_places
from oumi_mcp_server.apidocs.docstrings import field_docstrings, sections, summary
from oumi_mcp_server.apidocs.model import ApiEntry, ApiIndex
from oumi_mcp_server.apidocs.search import SearchIndex
from oumi_mcp_server.apidocs.service import DocsService
from oumi_mcp_server.apidocs.vocabulary import normal, words
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.conftest import stdio_parameters

BUILD_WAIT_S = 240.0
VERSION = installed_oumi_version() or ""


def wait_until_settled(docs: DocsService, timeout_s: float = BUILD_WAIT_S) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = docs.state().state
        if state in ("ready", "failed", "idle"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the index did not settle within {timeout_s} s")


@pytest.fixture(scope="session")
def built_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir holding a real index of the installed oumi, built once per session."""
    cache = tmp_path_factory.mktemp("docs-cache")
    docs = DocsService(cache)
    docs.start()
    assert wait_until_settled(docs) == "ready", docs.state()
    return cache


@pytest.fixture
def docs(built_cache: Path) -> Iterator[DocsService]:
    service = DocsService(built_cache, autobuild=False)
    service.start()
    assert wait_until_settled(service, 10) == "ready"
    yield service
    service.close()


def only_hits(docs: DocsService, query: str, **filters: object) -> list[dict[str, object]]:
    answer = docs.get_docs([query], **filters)  # type: ignore[arg-type]
    assert answer.status == "ready", answer.message
    return [hit.model_dump() for hit in answer.results[0].hits]


def test_a_dataclass_by_short_name_with_its_fields(docs: DocsService) -> None:
    hits = only_hits(docs, "TrainingConfig")
    top = hits[0]
    assert top["name"] == "oumi.core.configs.training_config.TrainingConfig"
    assert top["kind"] == "dataclass"
    fields = {field["name"]: field for field in top["fields"]}  # type: ignore[attr-defined]
    assert {"model", "data", "training", "peft"} <= set(fields)


def test_a_field_with_type_default_and_docstring(docs: DocsService) -> None:
    top = only_hits(docs, "TrainingParams.learning_rate")[0]
    assert top["name"] == "oumi.core.configs.params.training_params.TrainingParams.learning_rate"
    assert top["kind"] == "field"
    assert top["type"] == "float"
    assert float(str(top["default"])) == 5e-05
    assert "learning rate" in str(top["summary"]).lower()
    assert "scheduler" in str(top["doc"])  # the whole docstring for the entry named


def test_public_re_exports_are_exact_names(docs: DocsService) -> None:
    answer = docs.get_docs(
        ["oumi.core.configs.TrainingParams", "oumi.core.configs.PeftParams.lora_r"]
    )
    assert [result.match for result in answer.results] == ["exact", "exact"]
    assert answer.results[1].hits[0].name.endswith("peft_params.PeftParams.lora_r")
    assert answer.results[1].hits[0].type == "int"


def test_keywords_and_a_renamed_class(docs: DocsService) -> None:
    assert any(
        h["name"].endswith("PeftParams.lora_r") for h in only_hits(docs, "lora rank", limit=3)
    )  # type: ignore[union-attr]
    # LoraParams is PeftParams in this oumi: the class comes first.
    assert str(only_hits(docs, "LoraParams", limit=3)[0]["name"]).endswith("PeftParams")
    packing = [str(h["name"]) for h in only_hits(docs, "packing", limit=3)]
    assert any(name.endswith("DatasetSplitParams.pack") for name in packing)


def test_a_function_signature_with_parsed_docstring(docs: DocsService) -> None:
    hits = only_hits(docs, "oumi.train.train")
    assert hits[0]["kind"] == "function"
    assert str(hits[0]["signature"]).startswith("train(config: ")
    assert "Trains a model" in str(hits[0]["summary"])


def test_kind_and_module_filters(docs: DocsService) -> None:
    fields = only_hits(docs, "learning rate", kind="field", limit=20)
    assert fields and all(hit["kind"] == "field" for hit in fields)
    configs = only_hits(docs, "temperature", module="oumi.core.configs", limit=20)
    assert configs and all(str(h["module"]).startswith("oumi.core.configs") for h in configs)
    unknown = docs.get_docs(["x"], module="configs")
    assert not unknown.results and "oumi.core.configs" in unknown.message


def test_registered_names(docs: DocsService) -> None:
    hits = only_hits(docs, "debug_sft", kind="registry")
    assert hits[0]["name"] == "registry.dataset.debug_sft"


def test_misses_suggest_names(docs: DocsService) -> None:
    answer = docs.get_docs(["learnin_rat", "zzqqxxj"])
    assert "learning_rate" in answer.results[0].did_you_mean
    assert answer.results[1].match == "none" and answer.results[1].hits == []


def test_list_modules(docs: DocsService) -> None:
    answer = docs.list_modules()
    modules = {module.name: module for module in answer.modules}
    assert modules["oumi.core.configs.params.training_params"].entries > 50
    assert answer.oumi_version == VERSION


def test_a_second_start_reuses_the_cache(built_cache: Path) -> None:
    path = index_file(built_cache, VERSION)
    before = path.stat().st_mtime_ns
    docs = DocsService(built_cache)  # auto-build on: it would build if it had to
    started = time.monotonic()
    docs.start()
    assert wait_until_settled(docs, 10) == "ready"
    assert time.monotonic() - started < 5
    assert path.stat().st_mtime_ns == before


def test_unusable_cache_files_are_reported_not_served(built_cache: Path, tmp_path: Path) -> None:
    good = json.loads(index_file(built_cache, VERSION).read_text())
    path = tmp_path / "index.json"
    for broken, why in (
        (b"{not json", "unreadable"),
        (json.dumps({**good, "oumi_version": "0.1"}).encode(), "for oumi 0.1"),
        (json.dumps({**good, "complete": False}).encode(), "incomplete"),
        (json.dumps({**good, "format": 0}).encode(), "another format"),
    ):
        path.write_bytes(broken)
        with pytest.raises(CacheUnusable, match=why):
            load(path, VERSION)


def test_a_corrupt_cache_is_rebuilt(built_cache: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = index_file(cache, VERSION)
    path.parent.mkdir(parents=True)
    good = json.loads(index_file(built_cache, VERSION).read_text())
    path.write_text(json.dumps({**good, "oumi_version": "0.0.1"})[:5000])  # truncated
    docs = DocsService(cache)
    docs.start()
    assert wait_until_settled(docs) == "ready", docs.state()
    assert load(path, VERSION).complete


def test_a_failed_build_says_why_and_how_to_retry(tmp_path: Path) -> None:
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\necho 'ImportError: no torch here' >&2\nexit 3\n")
    failing.chmod(0o755)
    docs = DocsService(tmp_path / "cache", python=str(failing))
    docs.start()
    assert wait_until_settled(docs, 30) == "failed"
    answer = docs.get_docs(["TrainingParams"])
    assert answer.status == "failed"
    assert "exited with code 3" in answer.message and "no torch here" in answer.message
    assert "rebuild=true" in answer.message
    assert not index_file(tmp_path / "cache", VERSION).exists()


def test_a_build_is_stopped_with_the_server(tmp_path: Path) -> None:
    sleeper = tmp_path / "python"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    docs = DocsService(tmp_path / "cache", python=str(sleeper))
    docs.start()
    deadline = time.monotonic() + 10
    while docs.state().state != "building" and time.monotonic() < deadline:
        time.sleep(0.05)
    answer = docs.get_docs(["TrainingParams"])
    assert answer.status == "building" and "ready in about" in answer.message
    docs.close()
    assert wait_until_settled(docs, 10) == "idle"


def test_docstring_parsing() -> None:
    doc = (
        "Does a thing.\n\nMore words.\n\nArgs:\n    x (int): The x.\n        Continued.\n"
        "    y: The y.\n\nReturns:\n    A value.\n"
    )
    args, returns = sections(doc)
    assert summary(doc) == "Does a thing."
    assert args == {"x": "The x. Continued.", "y": "The y."}
    assert returns == "A value."
    source = "class A:\n    a: int = 1\n    '''About a.'''\n    b: str = ''\n"
    assert field_docstrings(source, "A") == {"a": "About a."}


@pytest.mark.anyio
async def test_get_docs_answers_at_once_while_building_with_progress(settings: Settings) -> None:
    server = build_server(settings)  # an empty cache: the first call starts the real build
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    async with Client(server) as client:
        started = time.monotonic()
        first = await client.call_tool("get_docs", {"query": "TrainingParams"})
        assert time.monotonic() - started < 2
        answer = first.structured_content
        assert answer is not None and answer["status"] == "building"
        assert "ready in about" in answer["message"]
        deadline = time.monotonic() + 30
        while not progress and time.monotonic() < deadline:
            await client.call_tool(
                "get_docs", {"query": "TrainingParams"}, progress_callback=on_progress
            )
            await anyio.sleep(0.2)
    assert progress and progress[0][1] is not None and progress[0][1] > 100


@pytest.mark.anyio
async def test_over_stdio_the_server_never_imports_oumi_for_docs(
    built_cache: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(built_cache, cache)
    built = index_file(cache, VERSION).stat().st_mtime_ns
    params = stdio_parameters(tmp_path, OUMI_MCP_CACHE_DIR=str(cache))
    async with Client(params, mode="legacy") as client:
        deadline = time.monotonic() + 20
        while True:
            result = await client.call_tool("get_docs", {"query": ["TrainingParams", "lora_r"]})
            answer = result.structured_content
            assert answer is not None
            if answer["status"] == "ready" or time.monotonic() > deadline:
                break
        assert answer["status"] == "ready", answer["message"]
        assert answer["results"][0]["hits"][0]["kind"] == "dataclass"
        # Lean: no index state once ready, no empty fields; the text is the same object.
        assert "index" not in answer and json.loads(result.content[0].text) == answer  # type: ignore[union-attr]
        field = answer["results"][1]["hits"][0]
        assert field["name"].endswith("PeftParams.lora_r") and field["type"] == "int"
        assert "signature" not in field and all(
            value not in ("", [], {}) for value in field.values()
        )
        modules = await client.call_tool("list_modules", {})
        assert modules.structured_content and modules.structured_content["modules"]
        info = await client.read_resource("server://info")
    loaded = json.loads(info.contents[0].text)["heavy_modules_loaded"]  # type: ignore[union-attr]
    assert loaded == []
    assert index_file(cache, VERSION).stat().st_mtime_ns == built  # loaded, not rebuilt


@pytest.mark.anyio
async def test_validation_problems_name_their_docs_entry(
    client: Client, docs: DocsService, tmp_path: Path
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "model:\n  model_name: tiny\ntraining:\n  learning_rat: 0.1\n  max_steps: abc\n"
        "  lora_r: 8\n"
    )
    result = await client.call_tool(
        "validate_config",
        {"config": "train.yaml", "client_cwd": str(tmp_path), "task_type": "training"},
    )
    answer = result.structured_content
    assert answer is not None, result.content
    by_field = {problem["field"]: problem["docs"] for problem in answer["errors"]}
    params = "oumi.core.configs.params.training_params.TrainingParams"
    assert by_field["training.learning_rat"] == f"{params}.learning_rate"  # the suggestion
    assert by_field["training.lora_r"] == params  # no close field: the class
    assert by_field["training.max_steps"] == f"{params}.max_steps"  # a wrong type
    # Each docs name is an exact get_docs entry.
    looked_up = docs.get_docs([f"{params}.learning_rate", params])
    assert [item.match for item in looked_up.results] == ["exact", "exact"]


def _configs_index() -> SearchIndex:
    """A made-up config tree: ServeConfig holds DecodingParams (field 'decoding'),
    TuneConfig holds OtherParams (field 'other'); no top-level config holds LooseParams."""
    configs, params = "oumi.core.configs", "oumi.core.configs.params.p"
    serve, tune = f"{configs}.serve_config.ServeConfig", f"{configs}.tune_config.TuneConfig"
    decoding, other = f"{params}.DecodingParams", f"{params}.OtherParams"
    loose = f"{params}.LooseParams"

    def field(parent: str, name: str, doc: str, type_: str = "int") -> ApiEntry:
        module = parent.rsplit(".", 1)[0]
        return ApiEntry(
            f"{parent}.{name}", "field", module, doc, type=type_, doc=doc, parent=parent
        )

    entries = [
        ApiEntry(serve, "dataclass", serve.rsplit(".", 1)[0], "Serving a model."),
        field(serve, "decoding", "How to decode.", f"{decoding} | None"),
        field(serve, "engine", "The engine that serves the model."),
        ApiEntry(tune, "dataclass", tune.rsplit(".", 1)[0], "Tuning a model."),
        field(tune, "other", "Other things.", other),
        ApiEntry(decoding, "dataclass", params, "Decoding."),
        field(decoding, "batch_size", "Sequences decoded together."),
        field(decoding, "seed", "The random seed."),
        ApiEntry(other, "dataclass", params, "Other things."),
        field(other, "engine", "The engine that serves the model, when tuning."),
        field(other, "batch_size", "Batch size when serving."),
        ApiEntry(loose, "dataclass", params, "Loose things."),
        field(loose, "seed", "The random seed."),
    ]
    return SearchIndex(ApiIndex("0", entries, [], {}, {}))


def test_config_places_follow_field_types() -> None:
    places = config_places(_configs_index().entries)
    assert places["oumi.core.configs.serve_config.ServeConfig"].depth == 0
    decoding = places["oumi.core.configs.params.p.DecodingParams"]
    assert decoding.depth == 1 and decoding.path == {"ServeConfig", "decoding"}
    assert "oumi.core.configs.params.p.LooseParams" not in places


def test_a_query_naming_a_field_and_where_it_is_ranks_that_field_first() -> None:
    search = _configs_index()

    def top(query: str) -> str:
        return search.find(query, limit=3).entries[0].name.split(".", 3)[-1]

    # The field's whole name, with its class's name or that of a config above it.
    assert top("serve engine") == "serve_config.ServeConfig.engine"
    assert top("serve batch size") == "params.p.DecodingParams.batch_size"
    assert top("decoding seed") == "params.p.DecodingParams.seed"
    # Otherwise, among equals, what a top-level config holds comes first.
    assert top("random seed") == "params.p.DecodingParams.seed"


def test_word_families_fold_into_one_form() -> None:
    def same(*forms: str) -> bool:
        return len({normal(form) for form in forms}) == 1

    assert same("penalize", "penalizes", "penalized", "penalty", "penalties")
    assert same("repeat", "repeats", "repetition")
    assert same("pack", "packs", "packed", "packing")
    assert same("quantize", "quantized", "quantization")
    assert same("generate", "generated", "generating", "generation")
    assert same("step", "steps") and not same("loss", "los")
    assert words("lr_scheduler_steps") == ["lr", "scheduler", "step"]


def _vocabulary_index() -> SearchIndex:
    """Made-up fields whose docstrings say what their names do not."""
    params = "oumi.core.configs.params.p"
    decoding, notes = f"{params}.DecodingParams", f"{params}.NotesParams"

    def field(parent: str, name: str, doc: str) -> ApiEntry:
        return ApiEntry(f"{parent}.{name}", "field", params, doc, doc=doc, parent=parent)

    entries = [
        ApiEntry(decoding, "dataclass", params, "Decoding."),
        field(decoding, "max_length", "The longest input the model reads, in tokens."),
        field(decoding, "novelty_cost", "Penalizes tokens that repeat what came before."),
        field(decoding, "seed", "The random seed."),
        ApiEntry(notes, "dataclass", params, "Notes."),
        field(notes, "context_notes", "Notes kept beside the run."),
        field(notes, "window_title", "The title of the window."),
    ]
    return SearchIndex(ApiIndex("0", entries, [], {}, {}))


def test_a_docstring_word_matches_its_whole_family() -> None:
    search = _vocabulary_index()
    found = [entry.short_name for entry in search.find("penalty for repetitions").entries]
    assert found[0] == "novelty_cost"


def test_a_synonym_is_a_weaker_match_than_the_word_itself() -> None:
    search = _vocabulary_index()

    def ranked(query: str) -> list[str]:
        return [entry.short_name for entry in search.find(query, limit=3).entries]

    # 'context' alone: the name that says it first, the synonym after it.
    assert ranked("context")[:2] == ["context_notes", "max_length"]
    # 'context window' as a phrase is the maximum length: both its words are matched.
    assert ranked("context window")[0] == "max_length"


def test_the_words_a_question_is_phrased_with_do_not_count() -> None:
    search = _vocabulary_index()
    assert search.find("which seed should I get").entries[0].short_name == "seed"


def test_the_published_schema_says_every_hit_field_in_words() -> None:
    from oumi_mcp_server.apidocs.answers import DocHit, PublishedDocsAnswer

    schema = PublishedDocsAnswer.model_json_schema()
    hits = schema["properties"]["results"]["items"]["properties"]["hits"]["items"]
    assert "properties" not in hits and set(hits["required"]) == {"name", "kind", "module"}
    for name in DocHit.model_fields:
        assert f"{name} (" in hits["description"], name
