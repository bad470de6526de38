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
from oumi_mcp_server.apidocs.docstrings import field_docstrings, sections, summary
from oumi_mcp_server.apidocs.service import DocsService
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
