"""Walk through the server as an assistant would, over stdio, with the official client.

Run with ``make demo``. Each step prints what a person would want to see.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

WIDTH = 88


def heading(text: str) -> None:
    print(f"\n{'=' * WIDTH}\n{text}\n{'=' * WIDTH}")


def show(text: str, indent: int = 2, *, wrap: bool = True) -> None:
    for line in text.splitlines() or [""]:
        shown = textwrap.fill(line, WIDTH - indent) if line and wrap else line
        print(textwrap.indent(shown, " " * indent))


def structured(result: Any) -> dict[str, Any]:
    if result.is_error:
        raise SystemExit(f"tool failed: {result.content[0].text}")
    return dict(result.structured_content or {})


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="oumi-mcp-demo-") as state:
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["-m", "oumi_mcp_server"],
            env={
                "OUMI_MCP_STATE_DIR": state,
                "OUMI_MCP_LOG_LEVEL": "WARNING",
                "HF_HUB_OFFLINE": "1",
            },
        )
        heading("1. Start the server over stdio and connect (initialize)")
        started = time.perf_counter()
        async with Client(parameters, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            elapsed = time.perf_counter() - started
            info = client.server_info
            show(
                f"{info.name if info else '?'} {info.version if info else ''}: spawn -> tools/list "
                f"in {elapsed * 1000:.0f} ms"
            )
            show(f"Instructions: {client.instructions}")

            heading("2. tools/list: every tool declares how it touches the world")
            for tool in tools:
                hints = tool.annotations
                kind = "read-only" if hints and hints.read_only_hint else "changes things"
                show(f"- {tool.name:<20} {kind}")

            heading("3. get_started: workflow, path rules, installed Oumi")
            report = structured(await client.call_tool("get_started", {}))
            show(
                f"Server {report['server_version']}, Oumi {report['oumi_version']}, "
                f"Python {report['python_version']}"
            )
            for step in report["workflow"]:
                mark = "ready " if step["available"] else "coming"
                tools_text = ", ".join(step["tools"]) or "(you write the config)"
                show(f"[{mark}] {step['step']:>2}. {step['action']}  -> {tools_text}")
            print()
            for rule in report["path_rules"]:
                show(f"* {rule}")

            heading("4. check_environment: engine versions without importing them")
            env = structured(await client.call_tool("check_environment", {}))
            for name, version in env["engine_versions"].items():
                show(f"{name:<16} {version or 'not installed'}")
            show(f"heavy modules loaded by the server: {env['heavy_modules_loaded'] or 'none'}")
            for warning in env["warnings"]:
                show(f"WARNING: {warning}")

            heading("5. Guidance resources")
            for resource in (await client.list_resources()).resources:
                show(f"- {resource.uri}: {resource.description}")
            workflow = await client.read_resource("guidance://mle-workflow")
            text = workflow.contents[0].text  # type: ignore[union-attr]
            print()
            show("guidance://mle-workflow begins:")
            show("\n".join(text.splitlines()[:12]), indent=4, wrap=False)

            heading("6. Bad input gets a clear answer, and the server keeps going")
            typo = await client.call_tool("check_environment", {"check_cloud": True})
            show(typo.content[0].text)  # type: ignore[union-attr]
            print()
            unknown = await client.call_tool("launch_rockets", {})
            show(unknown.content[0].text)  # type: ignore[union-attr]
        heading("Done: the server exited cleanly with the client.")


if __name__ == "__main__":
    anyio.run(main)
