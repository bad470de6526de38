"""The words the library tools answer with: every result explains itself."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath

from oumi_mcp_server.library.index import ConfigIndex
from oumi_mcp_server.library.models import (
    CategoriesReport,
    ConfigDetail,
    ConfigLookup,
    ConfigSummary,
    LibraryStatus,
)
from oumi_mcp_server.library.search import PathMatch, Ranking
from oumi_mcp_server.library.sources import OVERRIDE_ENV, LibrarySource

FIX = (
    f"Set {OVERRIDE_ENV} to an Oumi configs/ folder (for example a checkout's configs/) "
    "and restart the server, or run `oumi-mcp-server sync-configs` once while online "
    "(it fills the cache for the installed oumi version); then call the tool again."
)
NO_OUMI = (
    "No config library: oumi is not installed in the server's environment, so there is "
    f"no version to fetch configs for, {OVERRIDE_ENV} is not set and no local Oumi "
    "checkout was found."
)
PATH_EXAMPLE = (
    "Pass a path from search_configs, e.g. recipes/llama3_1/sft/8b_lora/train.yaml "
    "(a unique part such as llama3_1/sft/8b_lora also works)."
)
CATEGORIES_HINT = (
    "Search with search_configs(query=..., task=..., model=...), e.g. "
    "query='llama 3.1 8b lora' or task='dpo'; read one with get_config(path)."
)
USAGE = (
    "This is a reference recipe from the library, not a file to run. Copy it into the "
    "user's project (e.g. configs/{name}), adapt model, data and output paths there, and "
    "pass the copy's path (with client_cwd) to validate_config, pre_flight_check and "
    "run_oumi_job. Never pass a library path to those tools."
)


def no_source(version: str, sync_error: str) -> str:
    return (
        f"No config library source works: {OVERRIDE_ENV} is not set, the cache has no "
        f"configs for oumi {version}, fetching them failed ({sync_error}), and no local "
        "Oumi checkout was found."
    )


def not_ready_next_step(sync_timeout_s: float) -> str:
    return (
        "The work continues in the background; call the tool again in about 30 s "
        f"(a download gives up after {sync_timeout_s:.0f} s and then says why)."
    )


def ready_status(source: LibrarySource, index: ConfigIndex) -> LibraryStatus:
    return LibraryStatus(
        state="ready",
        source=source.source,
        version=source.version,
        count=len(index.entries),
        path=str(source.root),
        detail=source.detail,
        skipped_files=len(index.skipped),
        index="persisted" if index.origin == "persisted" else "built",
    )


def library_line(source: LibrarySource, index: ConfigIndex) -> str:
    version = f"oumi {source.version}" if source.version else "unknown oumi version"
    return f"{len(index.entries)} configs, {version}, from {source.source} ({source.root})"


def _filters(task: str, model: str, keywords: list[str]) -> str:
    parts = [f"task={task!r}"] if task else []
    parts += [f"model={model!r}"] if model else []
    parts += [f"keyword={word!r}" for word in keywords]
    return f" with {', '.join(parts)}" if parts else ""


def search_message(
    ranking: Ranking | None,
    hits: list[int],
    shown: int,
    *,
    task: str,
    model: str,
    keywords: list[str],
    index: ConfigIndex,
) -> str:
    filters = _filters(task, model, keywords)
    read = " Read one with get_config(path)."
    if ranking is None:
        if not hits:
            return f"No config matches{filters}. Loosen the filters; list_categories shows them."
        if not filters:
            return (
                f"No query: one training recipe per model family first, then the rest of the "
                f"{len(index.entries)} configs (recipes before examples). Narrow with query, "
                "task or model."
            ) + read
        return f"{len(hits)} configs match{filters}; showing {shown}." + read
    terms = ", ".join(repr(term) for term in ranking.terms)
    if ranking.matched_all:
        return f"{len(hits)} configs match all of {terms}{filters}; showing the best {shown}.{read}"
    if not hits:
        return (
            f"Nothing matches {terms}{filters}. Try fewer or broader terms, drop a filter, or "
            "call list_categories for the model families and tasks the library has."
        )
    missing = ", ".join(repr(term) for term in ranking.unmatched)
    why = f" ({missing} matches nothing)" if missing else ""
    return (
        f"No config matches all of {terms}{filters}{why}. Showing the {shown} closest, "
        "those matching the most terms: adapt one, or search with fewer terms." + read
    )


def lookup_miss(path: str, match: PathMatch, index: ConfigIndex) -> ConfigLookup:
    suggestions = [ConfigSummary.of(index.entries[i]) for i in match.suggestions[:10]]
    if match.how == "ambiguous":
        message = (
            f"{path!r} matches {len(match.suggestions)} configs; call get_config again with "
            "one of the paths in did_you_mean."
        )
    elif suggestions:
        message = f"No config at {path!r}. Did you mean one of did_you_mean?"
    else:
        message = f"No config at {path!r}, and nothing close. Use search_configs to find one."
    return ConfigLookup(
        found=False, resolved_as=match.how, did_you_mean=suggestions, message=message
    )


def lookup_hit(
    path: str, match: PathMatch, index: ConfigIndex, content: str | None
) -> ConfigLookup:
    assert match.entry is not None
    entry = index.entries[match.entry]
    folder = entry.path.rpartition("/")[0]
    related = [
        other.path
        for other in index.entries
        if other.path != entry.path and other.path.rpartition("/")[0] == folder
    ]
    name = PurePosixPath(entry.path).name
    detail = ConfigDetail(
        **ConfigSummary.of(entry).model_dump(),
        trainer_type=entry.trainer_type,
        engine=entry.engine,
        library_file=str(index.root / entry.path),
        related=related[:20],
        usage=USAGE.format(name=name),
        content=content,
    )
    how = {
        "exact": f"Found {entry.path}.",
        "partial": f"{path!r} matched {entry.path}.",
        "directory": f"{path!r} is a folder; showing its main file {entry.path} "
        "(the other files are in related).",
    }[match.how]
    hint = "" if content is not None else " Pass include_content=true for the YAML."
    return ConfigLookup(found=True, resolved_as=match.how, config=detail, message=how + hint)


def categories_report(source: LibrarySource, index: ConfigIndex) -> CategoriesReport:
    entries = index.entries

    def counts(values: list[str | None]) -> dict[str, int]:
        return dict(sorted(Counter(v for v in values if v).items()))

    providers = [e.path.split("/")[1] for e in entries if e.path.startswith("apis/")]
    return CategoriesReport(
        library=ready_status(source, index),
        categories=counts([e.category or "(top level)" for e in entries]),
        config_classes=counts([e.config_class for e in entries]),
        tasks=counts([e.task_type for e in entries]),
        model_families=counts([e.model_family for e in entries if e.category == "recipes"]),
        api_providers=counts(list(providers)),
        skipped_files=[f"{item.path}: {item.reason}" for item in index.skipped],
        hint=CATEGORIES_HINT,
    )
