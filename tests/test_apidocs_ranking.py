"""The ranking rules of get_docs on small made-up indexes (no oumi build): config places,
word families, synonyms, question words, and the schema get_docs publishes."""

from __future__ import annotations

from oumi_mcp_server.apidocs.configs import config_places
from oumi_mcp_server.apidocs.model import ApiEntry, ApiIndex
from oumi_mcp_server.apidocs.search import SearchIndex
from oumi_mcp_server.apidocs.vocabulary import normal, words


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
