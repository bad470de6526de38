"""The engine worker: server memory, the worker hop, and a hang, side by side.

    .venv/bin/python bench/worker.py [--servers 3] [--calls 30] [--settle-s 15]
        [--no-competitor] [--install-competitor]

memory   N servers over stdio on one state dir (warm-up on, as a client starts them);
         each validates a config, launches a job on oumi's local cloud and lists jobs;
         RSS of every process (servers, their shared engine worker) --settle-s seconds
         after connecting. The same session in one server with OUMI_MCP_ENGINE_WORKER=0
         (oumi in the server, as before the worker); and N of Oumi 0.9's own servers
         (tools/list and its config validation, where it has one) measured the same way.
         Targets: server <= 150 MB; N servers plus the worker <= 1.6 GB.
hop      One server each way (worker / in-process), warm: validate_config and
         get_job_status of a running launcher job (oumi's local cloud), --calls each,
         interleaved; the median difference is the worker hop (target <= 1 ms). And the
         raw round trip of one worker call (stats) from this process.
hang     The worker's fake engines (tests/worker/fakes.py) hang in `status`: how long
         get_job_status takes to answer (the deadline is 2 s), then the next call
         (target: 2 s plus the worker's start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import psutil
from mcp import Client
from mcp.client.stdio import StdioServerParameters

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO))
from common import BenchFailure, base_env, call, ensure_competitor  # noqa: E402

from tests.project import make_project, write_yaml  # noqa: E402

MB = 2**20


def ours(state: Path, **extra: str) -> StdioServerParameters:
    env = base_env(state, OUMI_MCP_CLOUDS="local", **extra)
    return StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)


def local_job(project: Path, run: str) -> str:
    """A job config of its own (servers of one run write theirs at once)."""
    name = f"job-{uuid.uuid4().hex[:8]}.yaml"
    write_yaml(
        project / "configs" / name, {"name": "bench", "resources": {"cloud": "local"}, "run": run}
    )
    return f"configs/{name}"


async def info(client: Client) -> dict[str, Any]:
    found = await client.read_resource("server://info")
    return json.loads(found.contents[0].text)  # type: ignore[union-attr,no-any-return]


async def session(client: Client, project: Path, run: str = "echo bench") -> str:
    """Validate, launch on the local cloud, list: what the targets are measured after."""
    await client.list_tools()
    checked = await call(
        client, "validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}
    )
    if not checked["valid"]:
        raise BenchFailure(f"validate_config: {checked}")
    arguments = {
        "config_path": local_job(project, run),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    launched = await call(client, "run_oumi_job", arguments)
    await call(client, "list_jobs", {})
    return str(launched["job_id"])


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / MB


async def memory_ours(root: Path, servers: int, settle_s: float, worker: bool) -> None:
    project = make_project(root / "project")
    state = root / ("state" if worker else "state-in-process")
    extra = {} if worker else {"OUMI_MCP_ENGINE_WORKER": "0"}
    label = "ours (worker)" if worker else "ours (OUMI_MCP_ENGINE_WORKER=0)"
    async with anyio.create_task_group() as group:
        pids: list[int] = []
        found: dict[str, Any] = {}
        done = anyio.Event()
        ready: list[int] = []

        async def one() -> None:
            async with Client(ours(state, **extra), mode="legacy") as client:
                connected = time.monotonic()
                await session(client, project)
                here = await info(client)
                pids.append(int(here["pid"]))
                await anyio.sleep(max(0.0, settle_s - (time.monotonic() - connected)))
                here = await info(client)
                found.update(here.get("engine_worker") or {})
                ready.append(1)
                if len(ready) == servers:
                    done.set()
                await done.wait()
                measure()

        measured: list[float] = []

        def measure() -> None:
            if measured:
                return
            measured.extend(rss_mb(pid) for pid in pids)
            worker_mb = rss_mb(int(found["pid"])) if found.get("running") else 0.0
            total = sum(measured) + worker_mb
            print(
                f"{label}: {servers} server(s) {', '.join(f'{m:.0f}' for m in measured)} MB"
                f" (max {max(measured):.0f} MB); worker {worker_mb:.0f} MB"
                f" (clients {found.get('clients', 0)}); total {total:.0f} MB"
            )

        for _ in range(servers):
            group.start_soon(one)


async def memory_competitor(script: Path, root: Path, servers: int, settle_s: float) -> None:
    project = make_project(root / "competitor-project")
    measured: list[float] = []
    parameters = StdioServerParameters(
        command=str(script), args=[], env=base_env(root / "competitor-state")
    )

    async def one() -> None:
        async with Client(parameters, mode="legacy", read_timeout_seconds=300) as client:
            connected = time.monotonic()
            await client.list_tools()
            # The same session as ours, through its tools of the same names (answers unchecked).
            await client.call_tool(
                "validate_config",
                {
                    "config": "configs/train.yaml",
                    "task_type": "training",
                    "client_cwd": str(project),
                },
            )
            await client.call_tool(
                "run_oumi_job",
                {
                    "config_path": local_job(project, "echo bench"),
                    "command": "train",
                    "client_cwd": str(project),
                    "dry_run": False,
                },
            )
            await client.call_tool("list_jobs", {})
            await anyio.sleep(max(0.0, settle_s - (time.monotonic() - connected)))
            pid = [p for p in psutil.Process().children() if str(script) in " ".join(p.cmdline())]
            measured.append(sum(p.memory_info().rss for p in pid[-1:]) / MB)

    async with anyio.create_task_group() as group:
        for _ in range(servers):
            group.start_soon(one)
    total = sum(measured)
    print(
        f"Oumi 0.9 oumi-mcp: {servers} server(s) {', '.join(f'{m:.0f}' for m in measured)} MB;"
        f" total {total:.0f} MB"
    )


async def hop(root: Path, calls: int) -> None:
    from oumi_mcp_server.worker.client import WorkerClient
    from oumi_mcp_server.worker.place import WorkerPlace

    project = make_project(root / "hop-project")
    modes = {
        "worker": ours(root / "hop-worker"),
        "in-process": ours(root / "hop-inproc", OUMI_MCP_ENGINE_WORKER="0"),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    async with (
        Client(modes["worker"], mode="legacy") as first,
        Client(modes["in-process"], mode="legacy") as second,
    ):
        clients = {"worker": first, "in-process": second}
        jobs = {name: await session(c, project, "sleep 600") for name, c in clients.items()}
        for name, client in clients.items():  # warm: the job runs, every import is done
            for _ in range(50):
                status = await call(client, "get_job_status", {"job_id": jobs[name]})
                if status["state"] == "running":
                    break
                await anyio.sleep(0.5)
        arguments = {"config": "configs/train.yaml", "client_cwd": str(project)}
        for _ in range(calls):
            for name, client in clients.items():
                started = time.perf_counter()
                await call(client, "validate_config", arguments)
                samples.setdefault(("validate_config", name), []).append(
                    time.perf_counter() - started
                )
                started = time.perf_counter()
                await call(client, "get_job_status", {"job_id": jobs[name]})
                samples.setdefault(("get_job_status", name), []).append(
                    time.perf_counter() - started
                )
        worker_place = WorkerPlace.of(root / "hop-worker", modes["worker"].env)
        raw = WorkerClient(worker_place, idle_s=60.0, environ=modes["worker"].env, spawn=False)
        rounds = []
        for _ in range(200):
            started = time.perf_counter()
            raw.call("stats", deadline_s=5.0)
            rounds.append(time.perf_counter() - started)
        raw.close()
        for name, client in clients.items():
            await call(client, "cancel_job", {"job_id": jobs[name]})
    for tool in ("validate_config", "get_job_status"):
        through = statistics.median(samples[(tool, "worker")]) * 1000
        inside = statistics.median(samples[(tool, "in-process")]) * 1000
        print(
            f"{tool} warm, median of {calls}: worker {through:.2f} ms, in-process "
            f"{inside:.2f} ms, hop {through - inside:+.2f} ms"
        )
    print(f"one worker round trip (stats), median of 200: {statistics.median(rounds) * 1e3:.3f} ms")


async def hang(root: Path) -> None:
    project = make_project(root / "hang-project")
    hang_file = root / "hang"
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    server = ours(
        root / "hang-state",
        OUMI_MCP_WORKER_ENGINES="tests.worker.fakes:steady",
        OUMI_MCP_TEST_HANG_FILE=str(hang_file),
        OUMI_MCP_CLOUD_STATUS_TIMEOUT_S="1",
        PYTHONPATH=pythonpath,
    )
    async with Client(server, mode="legacy") as client:
        job_id = await session(client, project)
        await call(client, "get_job_status", {"job_id": job_id})
        pid = (await info(client))["pid"]
        await anyio.sleep(3.0)  # the server's own background start is over
        threads = psutil.Process(pid).num_threads()
        hang_file.write_text("status\n")
        started = time.perf_counter()
        await client.call_tool("get_job_status", {"job_id": job_id})
        hung = time.perf_counter() - started
        hang_file.unlink()
        started = time.perf_counter()
        await call(client, "get_job_status", {"job_id": job_id})
        after = time.perf_counter() - started
        deadline = time.monotonic() + 5.0  # the timed-out call's thread ends with its deadline
        while psutil.Process(pid).num_threads() > threads and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        grown = psutil.Process(pid).num_threads() - threads
    print(
        f"hanging status (deadline 2 s): answered in {hung:.2f} s; next call {after:.2f} s "
        f"(a new worker's start included); server threads {grown:+d}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--settle-s", type=float, default=15.0)
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--install-competitor", action="store_true")
    args = parser.parse_args()
    competitor = None if args.no_competitor else ensure_competitor(args.install_competitor)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        await memory_ours(root, args.servers, args.settle_s, worker=True)
        await memory_ours(root, 1, args.settle_s, worker=False)
        if competitor is not None:
            await memory_competitor(competitor, root, args.servers, args.settle_s)
        await hop(root, args.calls)
        await hang(root)


if __name__ == "__main__":
    anyio.run(main)
