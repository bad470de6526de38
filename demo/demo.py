"""Walk through the server as an assistant would, over stdio, with the official client.

Run with ``make demo``. Each step prints what a person would want to see.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import ImageContent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.tiny_project import build_tiny_model, make_tiny_project

WIDTH = 88
# resources/subscribe is how handshake-era clients (this demo's) watch a resource.
warnings.filterwarnings("ignore", message="resources/(un)?subscribe is removed")
UPDATES: list[str] = []  # resources the server said were updated
CHART = Path(tempfile.gettempdir()) / "oumi-mcp-demo" / "loss-curve.png"


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


def text_of(result: Any) -> str:
    return str(result.content[0].text) if result.content else ""


async def on_message(message: Any) -> None:
    """The client's message handler: keeps the resource-updated notifications."""
    if getattr(message, "method", "") == "notifications/resources/updated":
        UPDATES.append(str(message.params.uri))


async def watch(client: Client, job_id: str, started: float) -> dict[str, Any]:
    """Read the job's state again at each notification about it (a slow poll as a safety
    net), showing each new state once."""
    last, seen = "", 0
    while True:
        status = structured(await client.call_tool("get_job_status", {"job_id": job_id}))
        if status["state"] != last:
            elapsed = time.perf_counter() - started
            show(f"{elapsed:5.1f} s  {status['state']:<10} {status['reason'][:70]}")
            last = status["state"]
        if status["terminal"] or time.perf_counter() - started > 600:
            return status
        with anyio.move_on_after(10.0):
            while len(UPDATES) == seen:
                await anyio.sleep(0.05)
        seen = len(UPDATES)


async def job_loop(client: Client, work: Path) -> None:
    """Steps 7-16: the whole local loop on a tiny model, as an assistant would run it."""
    heading("7. A tiny project to train (built offline: 2-layer Llama, word-level tokenizer)")
    started = time.perf_counter()
    model = build_tiny_model(work / "tiny-model")
    project = work / "my-project"
    config = make_tiny_project(project, model)
    show(f"model:   {model} ({time.perf_counter() - started:.1f} s to build)")
    show(f"project: {project}")
    show(f"config:  {config.relative_to(project)} (TRL_SFT, 10 steps, CPU, output/tiny)")
    where = {"client_cwd": str(project)}

    heading("8. search_configs: find a recipe close to what the user wants")
    found = await client.call_tool("search_configs", {"query": "llama sft", "limit": 3})
    if found.is_error:
        show(f"(config library unavailable here: {text_of(found).splitlines()[0]})")
    else:
        for item in structured(found).get("results", [])[:3]:
            show(f"- {item.get('path')}: {item.get('description') or ''}"[:WIDTH])
        show("An assistant copies a recipe into the project and adapts it; ours is ready.")

    heading("9. validate_config: Oumi's own config classes, paths against client_cwd")
    report = structured(
        await client.call_tool("validate_config", {"config": "configs/train.yaml", **where})
    )
    show(f"{report['summary']}  (kind: {report['kind']})")

    heading("10. pre_flight_check: paths, Hugging Face, hardware")
    preflight = structured(
        await client.call_tool("pre_flight_check", {"config": "configs/train.yaml", **where})
    )
    show(preflight["summary"])
    for row in preflight["paths"]:
        show(f"- {row['field']}: {row['status']} -> {row['resolved']}")

    arguments = {"config_path": "configs/train.yaml", "command": "train", **where}
    heading("11. run_oumi_job (dry run, the default): exactly what would run")
    dry = structured(await client.call_tool("run_oumi_job", arguments))
    show("argv: " + " ".join(dry["argv"]), wrap=False)
    show(f"cwd: {dry['cwd']}")
    show(f"staged config: {dry['staged_config_path']}")
    show(f"env additions: {dry['env_additions']}")
    show(f"checks: {dry['checks']['summary']}")
    show("(without job_name, the real launch gets a fresh id of the same form)")
    show(f"next: {dry['next_step']}")
    guards = {"max_hours": 2, "stop_on_nan": True, "price_per_hour_usd": 1.5}
    kept = structured(
        await client.call_tool("run_oumi_job", {**arguments, "max_restarts": 2, "guards": guards})
    )
    restarts, cost = kept["restarts"], kept["cost"]
    show(
        f"with max_restarts=2: restarts on {', '.join(restarts['restart_on'])}, resuming "
        f"from {restarts['checkpoints']}"
    )
    show(
        f"with guards {guards}: ${cost['total_hourly_usd']:.2f}/h, at most "
        f"${cost['max_total_usd']:.2f} for max_hours=2 ({cost['source'][:40]})"
    )

    heading("12. run_oumi_job(dry_run=false): launch for real")
    started = time.perf_counter()
    job = structured(await client.call_tool("run_oumi_job", {**arguments, "dry_run": False}))
    show(f"{job['message']} (returned in {(time.perf_counter() - started) * 1000:.0f} ms)")
    show(f"job_id: {job['job_id']}  state: {job['state']}")
    job_id = job["job_id"]

    heading("13. Subscribed to jobs://<id>: the server says when the state changes")
    await client.subscribe_resource(f"jobs://{job_id}")
    status = await watch(client, job_id, time.perf_counter())
    heard = [uri for uri in UPDATES if uri == f"jobs://{job_id}"]
    show(f"({len(heard)} resource-updated notifications for this job, no polling needed)")

    heading("14. get_job_logs: the training's own output (last lines of stdout)")
    logs = structured(
        await client.call_tool("get_job_logs", {"job_id": job_id, "stream": "stdout", "lines": 200})
    )
    lines = logs["chunks"][0]["text"].splitlines()
    losses = [line for line in lines if "'loss'" in line]
    for line in losses[:3] + (["..."] if len(losses) > 4 else []) + losses[-1:]:
        show(line[:WIDTH], wrap=False)
    show(f"({len(losses)} loss lines; next: {logs['next_step']})")

    heading("15. get_job_metrics: the loss curve, summarized and drawn")
    result = await client.call_tool("get_job_metrics", {"job_id": job_id})
    metrics = structured(result)
    if metrics.get("found"):
        summary = metrics["summary"]
        show(f"{summary['points']} steps from {metrics['source']}")
        show(f"summary: {summary['note']}")
    else:
        show(metrics.get("note", text_of(result)))
    images = [block for block in result.content if isinstance(block, ImageContent)]
    if images:
        CHART.parent.mkdir(parents=True, exist_ok=True)
        CHART.write_bytes(base64.b64decode(images[0].data))
        show(f"The loss curve is saved at {CHART}: open it to see the run.")

    heading("16. The result")
    show(f"state: {status['state']}, exit code {status['exit_code']}")
    show(f"next step: {status['next_step']}")
    output = Path(status["output_dir"]) if status["output_dir"] else None
    if output and output.is_dir():
        names = sorted(p.name for p in output.iterdir())
        show(f"{output}: {', '.join(names)}")
    listing = structured(await client.call_tool("list_jobs", {}))
    show(f"list_jobs: {listing['counts']}")
    longer = {**arguments, "overrides": ["training.max_steps=20000"], "guards": {"max_hours": 1}}
    cost = structured(await client.call_tool("run_oumi_job", longer))["cost"]
    show(f"a 20,000-step run here, estimated: {cost['estimated_hours']} h", wrap=False)
    show(f"({cost['estimate_basis']})")
    await launcher_loop(client, project)


async def launcher_loop(client: Client, project: Path) -> None:
    """Steps 17-18: the same training through oumi.launcher, on its credential-free local cloud."""
    heading("17. run_oumi_job with a job config: the cloud path, on oumi.launcher's local cloud")
    job_config = project / "configs" / "job.yaml"
    oumi = Path(sys.executable).parent / "oumi"
    job_config.write_text(
        "name: tiny-through-the-launcher\n"
        "resources:\n  cloud: local   # gcp, aws, k8s, slurm, ... take the same path\n"
        "envs:\n  HF_HUB_OFFLINE: '1'\n"
        f"run: {oumi} train -c configs/train.yaml --training.output_dir output/launcher\n"
    )
    arguments = {"config_path": "configs/job.yaml", "command": "train", "client_cwd": str(project)}
    dry = structured(await client.call_tool("run_oumi_job", arguments))
    shown = dry["job_config"]
    show(f"job config to launch: name={shown['name']} working_dir={shown['working_dir']}")
    show(f"resources: {shown['resources']}  checks: {dry['checks']['summary']}")
    started = time.perf_counter()
    job = structured(await client.call_tool("run_oumi_job", {**arguments, "dry_run": False}))
    show(f"{job['message']} (returned in {(time.perf_counter() - started) * 1000:.0f} ms)")
    job_id = job["job_id"]

    heading("18. Status from launcher.status, logs and metrics through the launcher path")
    await client.subscribe_resource(f"jobs://{job_id}")
    status = await watch(client, job_id, started)
    logs = structured(await client.call_tool("get_job_logs", {"job_id": job_id, "lines": 200}))
    text = "".join(chunk["text"] for chunk in logs["chunks"])
    losses = [line for line in text.splitlines() if "'loss'" in line]
    show(f"{len(losses)} loss lines; last: {losses[-1][:70] if losses else '-'}")
    show(f"launcher job {status['launcher_job_id']} on {status['cloud']}: {status['state']}")
    metrics = structured(
        await client.call_tool("get_job_metrics", {"job_id": job_id, "chart": False})
    )
    show(f"get_job_metrics: {metrics.get('summary', {}).get('note') or metrics.get('note')}")
    for row in structured(await client.call_tool("list_clusters", {}))["clusters"]:
        show(
            f"list_clusters: {row['cloud']}/{row['cluster_name']}: {row['jobs_running']} "
            f"running, idle {row['idle_minutes']} min, bills until stopped: "
            f"{row['bills_until_stopped']}"
        )

    heading("19. The engine worker: oumi, torch and SkyPilot ran outside the server")
    info = json.loads((await client.read_resource("server://info")).contents[0].text)  # type: ignore[union-attr]
    worker = info["engine_worker"]
    heavy = [name for name in info["heavy_modules_loaded"] if name != "huggingface_hub"]
    show(f"server pid {info['pid']}: engine modules loaded {heavy or 'none'}")
    if worker.get("running"):
        show(
            f"engine worker pid {worker['pid']}: {worker['rss_mb']:.0f} MB, "
            f"{worker['clients']} client(s), {worker['calls']} calls, up {worker['uptime_s']:.0f} s"
        )


async def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="oumi-mcp-demo-") as state,
        tempfile.TemporaryDirectory(prefix="oumi-mcp-demo-work-") as work,
    ):
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["-m", "oumi_mcp_server"],
            env={
                "OUMI_MCP_STATE_DIR": state,
                "OUMI_MCP_LOG_LEVEL": "WARNING",
                "HF_HUB_OFFLINE": "1",
                "DO_NOT_TRACK": "1",  # the demo runs offline: no telemetry from the job
                "OUMI_MCP_CLOUDS": "local",  # list_jobs asks the credential-free cloud only
                **{k: v for k, v in os.environ.items() if k.startswith("OUMI_MCP_")},
            },
        )
        heading("1. Start the server over stdio and connect (initialize)")
        started = time.perf_counter()
        async with Client(parameters, mode="legacy", message_handler=on_message) as client:
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

            await job_loop(client, Path(work))
        heading("Done: the server exited cleanly with the client.")
        if CHART.is_file():
            show(f"The tiny run's loss curve (PNG): {CHART}")


if __name__ == "__main__":
    anyio.run(main)
