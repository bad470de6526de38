"""API docs over MCP stdio: cold build, warm start, warm query, memory and lookup hit rate,
side by side with Oumi 0.9's oumi-mcp get_docs.

Measured per server, over stdio with the official client:
  - ours, cold: an empty cache; connect, then get_docs until the index is ready
    (the build runs in a child process);
  - ours, warm start: the cache from the cold run; time from the end of the handshake
    to the first get_docs answer with status 'ready' (polled every 5 ms);
  - warm query: one session, get_docs for each lookup query in a loop, the round trip;
  - RSS of the server process (and its children) once its docs answer;
  - top-3 hit rate on bench/docs_lookups.json ('tuning', 'held_out', 'held_out_2' and
    'held_out_3'
    sets; the warm query median is over 'tuning' and 'held_out', as before).

.venv/bin/python bench/docs.py [--warm-starts 5] [--rounds 5]
    [--no-competitor] [--install-competitor]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchFailure, Summary, base_env, child_rss_bytes, ensure_competitor

BENCH_DIR = Path(__file__).resolve().parent
LOOKUPS = json.loads((BENCH_DIR / "docs_lookups.json").read_text())
TOP = 3
HIT_RATE_SETS = ("tuning", "held_out", "held_out_2", "held_out_3")
POLL_S = 0.005
READY_WAIT_S = 300.0


def ours(state: Path) -> StdioServerParameters:
    env = base_env(state, OUMI_MCP_WARMUP="0", OUMI_MCP_CLOUDS="local")
    return StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)


def theirs(script: Path, state: Path) -> StdioServerParameters:
    return StdioServerParameters(command=str(script), args=[], env=base_env(state))


def our_names(result: Any) -> list[str]:
    answer = result.structured_content or {}
    return [hit["name"] for item in answer.get("results", []) for hit in item.get("hits", [])]


def their_names(result: Any) -> list[str]:
    """Qualified names in oumi-mcp's answer, in its order (read from its JSON)."""
    answer = result.structured_content
    if answer is None and result.content:
        try:
            answer = json.loads(result.content[0].text)
        except (ValueError, AttributeError):
            return []
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("qualified_name", "full_name", "name"):
                if isinstance(node.get(key), str) and "." in node[key]:
                    names.append(node[key])
                    break
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(answer)
    return list(dict.fromkeys(names))


def their_names_with_fields(result: Any) -> list[str]:
    """Lenient: a returned class also answers for each field listed inside it."""
    names: list[str] = []
    try:
        answer = json.loads(result.content[0].text)
    except (ValueError, AttributeError, IndexError):
        return names
    for item in answer.get("results", [])[:TOP]:
        name = item.get("qualified_name", "")
        names.append(name)
        names += [f"{name}.{field.get('name')}" for field in item.get("fields", []) or []]
    return names


def hit(names: list[str], expect: list[str], top: int = TOP) -> bool:
    return any(name.endswith(f".{want}") or name == want for name in names[:top] for want in expect)


Names = Callable[[Any], list[str]]


async def hit_rates(
    client: Client, arguments: Callable[[str], dict[str, Any]], names: Names, top: int = TOP
) -> dict[str, tuple[int, int, list[str]]]:
    rates: dict[str, tuple[int, int, list[str]]] = {}
    for set_name in HIT_RATE_SETS:
        lookups = LOOKUPS[set_name]
        misses = []
        for lookup in lookups:
            result = await client.call_tool("get_docs", arguments(lookup["query"]))
            if not hit(names(result), lookup["expect"], top):
                misses.append(lookup["query"])
        rates[set_name] = (len(lookups) - len(misses), len(lookups), misses)
    return rates


async def warm_queries(
    client: Client, arguments: Callable[[str], dict[str, Any]], rounds: int
) -> Summary:
    queries = [lookup["query"] for lookup in LOOKUPS["tuning"] + LOOKUPS["held_out"]]
    samples = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            result = await client.call_tool("get_docs", arguments(query))
            samples.append(time.perf_counter() - started)
            if result.is_error:
                raise BenchFailure(f"get_docs({query!r}) failed: {result.content}")
    return Summary("warm get_docs round trip", samples)


def rate_line(set_name: str, found: int, total: int, misses: list[str]) -> str:
    return f"top-{TOP} {set_name}: {found}/{total} ({100 * found / total:.1f}%) misses: {misses}"


async def ping_round_trips(client: Client, count: int) -> Summary:
    """The floor on this machine: an MCP ping over the same stdio session."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await client.send_ping()
        samples.append(time.perf_counter() - started)
    return Summary("MCP ping round trip, same session (the floor)", samples)


def our_arguments(query: str) -> dict[str, Any]:
    return {"query": query, "limit": TOP}


async def until_ready(client: Client) -> float:
    started = time.perf_counter()
    while True:
        result = await client.call_tool("get_docs", {"query": "TrainingParams", "limit": 1})
        answer = result.structured_content or {}
        if answer.get("status") == "ready":
            return time.perf_counter() - started
        if answer.get("status") == "failed":
            raise BenchFailure(f"the index build failed: {answer.get('message')}")
        if time.perf_counter() - started > READY_WAIT_S:
            raise BenchFailure("the index was not ready in time")
        await anyio.sleep(POLL_S)


async def run_ours(work: Path, warm_starts: int, rounds: int) -> dict[str, Any]:
    state = work / "ours"
    async with Client(ours(state), mode="legacy", read_timeout_seconds=300) as client:
        cold = await until_ready(client)
        info = (await client.call_tool("list_modules", {})).structured_content or {}
    build_seconds = info.get("index", {}).get("build_seconds")
    print(f"ours, cold: connect -> index ready {cold:.2f} s (the build child: {build_seconds} s)")
    starts = []
    for _ in range(warm_starts):
        async with Client(ours(state), mode="legacy") as client:
            starts.append(await until_ready(client))
    start = Summary("ours, warm start: handshake -> first ready answer", starts)
    print(start.line("ms", 1000))
    async with Client(ours(state), mode="legacy") as client:
        await until_ready(client)
        warm = await warm_queries(client, our_arguments, rounds)
        baseline = await ping_round_trips(client, len(warm.samples))
        rss = child_rss_bytes()
        rates = await hit_rates(client, our_arguments, our_names)
    print(f"ours, {warm.line('ms', 1000)}")
    print(f"ours, {baseline.line('ms', 1000)}")
    print(f"ours, RSS with the index loaded: {rss / 2**20:.0f} MB")
    for set_name, (found, total, misses) in rates.items():
        print(f"ours, {rate_line(set_name, found, total, misses)}")
    return {"warm_ms": warm.median * 1000, "rss_mb": rss / 2**20}


async def run_theirs(script: Path, work: Path, rounds: int) -> dict[str, Any]:
    state = work / "theirs"
    async with Client(theirs(script, state), mode="legacy", read_timeout_seconds=600) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        schema = tools["get_docs"].input_schema
        print(f"oumi-mcp get_docs schema: {json.dumps(schema.get('properties', {}))[:300]}")
        key = (
            "query" if "query" in schema.get("properties", {}) else next(iter(schema["properties"]))
        )
        takes_list = "array" in json.dumps(schema["properties"][key])

        def arguments(query: str) -> dict[str, Any]:
            return {key: [query] if takes_list else query}

        started = time.perf_counter()
        while True:  # its index builds in the background after start
            first = await client.call_tool("get_docs", arguments("TrainingParams"))
            if '"index_ready":true' in str(first.content).replace(" ", ""):
                break
            if time.perf_counter() - started > READY_WAIT_S:
                raise BenchFailure(f"oumi-mcp's index was not ready: {first.content}")
            await anyio.sleep(0.05)
        ready_s = time.perf_counter() - started
        print(f"oumi-mcp, connect -> index ready: {ready_s:.2f} s")
        sample = await client.call_tool("get_docs", arguments("learning_rate"))
        print(f"oumi-mcp, answer to 'learning_rate': {str(sample.content)[:700]}")
        warm = await warm_queries(client, arguments, rounds)
        rss = child_rss_bytes()
        rates = await hit_rates(client, arguments, their_names)
        lenient = await hit_rates(client, arguments, their_names_with_fields, top=10**6)
    print(f"oumi-mcp, {warm.line('ms', 1000)}")
    print(f"oumi-mcp, RSS once its docs answer: {rss / 2**20:.0f} MB")
    for set_name, (found, total, misses) in rates.items():
        print(f"oumi-mcp, {rate_line(set_name, found, total, misses)}")
    for set_name, (found, total, misses) in lenient.items():
        line = rate_line(set_name, found, total, misses)
        print(f"oumi-mcp, a field inside a top-{TOP} class counts: {line}")
    return {"warm_ms": warm.median * 1000, "rss_mb": rss / 2**20}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm-starts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--install-competitor", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oumi-mcp-docs-") as tmp:
        work = Path(tmp)
        mine = await run_ours(work, args.warm_starts, args.rounds)
        script = None if args.no_competitor else ensure_competitor(install=args.install_competitor)
        if script is None:
            print("oumi-mcp (Oumi 0.9): not installed or skipped; no comparison.")
            return
        other = await run_theirs(script, work, args.rounds)
    print(f"ratio warm query oumi-mcp / ours: {other['warm_ms'] / mine['warm_ms']:.1f}x")
    print(f"ratio RSS oumi-mcp / ours: {other['rss_mb'] / mine['rss_mb']:.1f}x")


if __name__ == "__main__":
    anyio.run(main)
