"""Config library over MCP stdio: first search, warm search, relevance; vs Oumi 0.9's oumi-mcp.

Both servers read the same folder (OUMI_MCP_CONFIGS_DIR). Measured per server:
  - first search after a cold start with a persisted index (ours: index in the cache dir),
  - first search with no index yet (ours: an empty cache dir, the 525 configs parsed now),
  - warm search median (one session, the relevance queries in a loop),
  - top-3 hit rate on bench/relevance.yaml.
"First search" is the search_configs round trip sent right after initialize; the
spawn-to-result time is printed too.

.venv/bin/python bench/library.py [--runs 7] [--warm 300] [--no-competitor] [--relevance-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Summary, ensure_competitor

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_LIBRARY = BENCH_DIR.parents[1] / "shared" / "oumi-configs" / "0.9"
FIRST_QUERY = "llama3_1 8b lora"  # spelled as paths spell it, so both servers find it

# How each server takes a query and returns paths.
Adapter = tuple[str, Callable[[str, int], dict[str, Any]], Callable[[Any], list[str]]]


def _our_arguments(query: str, limit: int) -> dict[str, Any]:
    return {"query": query, "limit": limit}


def _our_paths(result: Any) -> list[str]:
    return [item["path"] for item in (result.structured_content or {}).get("results", [])]


def _their_arguments(query: str, limit: int) -> dict[str, Any]:
    # Its schema takes a list of terms (and returns every match; no limit argument).
    return {"query": query.split()}


def _their_paths(result: Any) -> list[str]:
    return [item["path"] for item in (result.structured_content or {}).get("result", [])]


OURS: Adapter = ("search_configs", _our_arguments, _our_paths)
THEIRS: Adapter = ("search_configs", _their_arguments, _their_paths)


def _ours(library: Path, cache: Path) -> StdioServerParameters:
    env = dict(
        os.environ,
        OUMI_MCP_CONFIGS_DIR=str(library),
        OUMI_MCP_CACHE_DIR=str(cache),
        OUMI_MCP_STATE_DIR=str(cache / "state"),
        OUMI_MCP_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
    )
    return StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)


def _theirs(script: Path, library: Path) -> StdioServerParameters:
    env = dict(os.environ, OUMI_MCP_CONFIGS_DIR=str(library), HF_HUB_OFFLINE="1")
    return StdioServerParameters(command=str(script), args=[], env=env)


async def first_search(parameters: StdioServerParameters, adapter: Adapter) -> tuple[float, float]:
    """(search round trip right after initialize, spawn -> first result)."""
    tool, arguments, paths = adapter
    spawned = time.perf_counter()
    async with Client(parameters, mode="legacy", read_timeout_seconds=300) as client:
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments(FIRST_QUERY, 5))
        done = time.perf_counter()
    assert not result.is_error and paths(result), result.content
    return done - started, done - spawned


async def warm_and_relevance(
    parameters: StdioServerParameters, adapter: Adapter, queries: list[dict[str, Any]], calls: int
) -> tuple[list[float], list[tuple[str, bool, list[str]]]]:
    tool, arguments, paths = adapter
    samples: list[float] = []
    graded = []
    async with Client(parameters, mode="legacy", read_timeout_seconds=300) as client:
        await client.call_tool(tool, arguments(FIRST_QUERY, 5))  # ready and warm
        for item in queries:
            result = await client.call_tool(tool, arguments(item["query"], 3))
            top3 = paths(result)[:3]
            graded.append((item["query"], bool(set(top3) & set(item["expected"])), top3))
        for n in range(calls):
            query = queries[n % len(queries)]["query"]
            started = time.perf_counter()
            await client.call_tool(tool, arguments(query, 20))
            samples.append(time.perf_counter() - started)
    return samples, graded


def _report_relevance(label: str, graded: list[tuple[str, bool, list[str]]]) -> float:
    hits = sum(hit for _, hit, _ in graded)
    rate = hits / len(graded)
    print(f"{label} relevance: top-3 hit rate {rate:.0%} ({hits}/{len(graded)})")
    for query, hit, top3 in graded:
        if not hit:
            print(f"    miss: {query!r} -> {top3}")
    return rate


async def run_ours(library: Path, runs: int, calls: int, queries: list[dict[str, Any]]) -> None:
    label = "oumi-mcp-server"
    persisted = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        await first_search(_ours(library, persisted), OURS)  # writes the persisted index
        cold = [await first_search(_ours(library, persisted), OURS) for _ in range(runs)]
        fresh = []
        for _ in range(runs):
            empty = Path(tempfile.mkdtemp(prefix="bench-library-empty-"))
            try:
                fresh.append(await first_search(_ours(library, empty), OURS))
            finally:
                shutil.rmtree(empty, ignore_errors=True)
        samples, graded = await warm_and_relevance(_ours(library, persisted), OURS, queries, calls)
    finally:
        shutil.rmtree(persisted, ignore_errors=True)
    _print_first(label, "persisted index", cold)
    _print_first(label, "no index yet", fresh)
    print(Summary(f"{label} warm search", samples).line("ms", 1000))
    _report_relevance(label, graded)


def _print_first(label: str, case: str, runs: list[tuple[float, float]]) -> None:
    print(Summary(f"{label} first search ({case})", [r[0] for r in runs]).line("ms", 1000))
    print(Summary(f"{label} spawn -> first result ({case})", [r[1] for r in runs]).line())


async def run_theirs(
    script: Path, library: Path, runs: int, calls: int, queries: list[dict[str, Any]]
) -> None:
    label = "oumi-mcp (Oumi 0.9)"
    parameters = _theirs(script, library)
    cold = [await first_search(parameters, THEIRS) for _ in range(runs)]
    _print_first(label, "its own start-up", cold)
    samples, graded = await warm_and_relevance(parameters, THEIRS, queries, calls)
    print(Summary(f"{label} warm search", samples).line("ms", 1000))
    _report_relevance(label + " (query split into terms)", graded)


async def relevance_only(library: Path, queries: list[dict[str, Any]]) -> None:
    cache = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        _, graded = await warm_and_relevance(_ours(library, cache), OURS, queries, 0)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    _report_relevance("oumi-mcp-server", graded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", type=Path, default=DEFAULT_LIBRARY)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--competitor-runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=300, help="warm searches per server")
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--relevance-only", action="store_true")
    parser.add_argument(
        "--queries",
        type=Path,
        default=BENCH_DIR / "relevance.yaml",
        help="relevance set (bench/relevance_holdout.yaml is the independent one)",
    )
    args = parser.parse_args()
    queries = yaml.safe_load(args.queries.read_text())["queries"]
    if args.relevance_only:
        anyio.run(relevance_only, args.library, queries)
        return
    anyio.run(run_ours, args.library, args.runs, args.warm, queries)
    if args.no_competitor:
        return
    competitor = ensure_competitor(install=False)
    if competitor is None:
        print("oumi-mcp (Oumi 0.9): not installed (bench/.venv-oumi-mcp); comparison skipped.")
        return
    anyio.run(run_theirs, competitor, args.library, args.competitor_runs, args.warm, queries)


if __name__ == "__main__":
    main()
