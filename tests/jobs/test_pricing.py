"""Price quotes from SkyPilot's real v8 Lambda catalog, offline (../shared/skypilot-catalog,
or OUMI_MCP_TEST_SKY_CATALOG; where neither is, a catalog written here in the same format,
so the check always runs).

SkyPilot resolves its catalog folder from HOME when it is imported, so each check runs
in a fresh Python process whose HOME holds the catalog (and nothing else of SkyPilot's).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.pricing import SkyPilotPricer, parse_accelerators

SHARED = Path(__file__).resolve().parents[3] / "shared" / "skypilot-catalog" / "v8" / "lambda"
HEADER = (
    "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice"
)
# (instance type, accelerator, count, price by region): the same shape as Lambda's rows.
WRITTEN = (
    ("gpu_1x_a10", "A10", 1, {"us-east-1": 0.75, "us-west-1": 0.86}),
    ("gpu_1x_a100_sxm4", "A100", 1, {"us-east-1": 1.29, "europe-central-1": 1.49}),
    ("gpu_8x_a100_80gb_sxm4", "A100-80GB", 8, {"us-west-2": 14.32, "us-east-1": 12.0}),
    ("gpu_1x_h100_pcie", "H100", 1, {"us-south-1": 2.49}),
)


def _catalog(tmp_path: Path) -> Path:
    """The real catalog when it is here, else one written in its format."""
    given = os.environ.get("OUMI_MCP_TEST_SKY_CATALOG")
    for folder in (Path(given) if given else None, SHARED):
        if folder is not None and (folder / "vms.csv").is_file():
            return folder / "vms.csv"
    written = tmp_path / "written" / "vms.csv"
    written.parent.mkdir(parents=True)
    rows = [HEADER]
    for instance, name, count, prices in WRITTEN:
        for region, price in prices.items():
            rows.append(f"{instance},{name},{count}.0,30.0,200.0,{price},{region},,")
    written.write_text("\n".join(rows) + "\n")
    return written


# Every accelerator row of the catalog: our quote against SkyPilot's own price for the
# same instance type and region, and against the cheapest price of the rows themselves.
# An audit hook counts every socket connection the quotes make.
_CHECK = """
import csv, json, sys, time
connections = []
def hook(event, args):
    if event == "socket.connect":
        connections.append(args)
sys.addaudithook(hook)
from oumi_mcp_server.jobs.pricing import SkyPilotPricer
import sky.catalog as catalog
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
asked = sorted(
    {(r["AcceleratorName"], r["AcceleratorCount"]) for r in rows if r["AcceleratorName"]}
)
pricer, answers = SkyPilotPricer(), []
pricer.quote("lambda", "A10:1", use_spot=False, nodes=1, price=None)  # sky loaded once
for name, count in asked:
    started = time.perf_counter()
    spec = f"{name}:{int(float(count))}"
    quote = pricer.quote("lambda", spec, use_spot=False, nodes=1, price=None)
    seconds = time.perf_counter() - started
    theirs = catalog.get_hourly_cost(
        quote.instance_type, False, quote.region, None, clouds="lambda"
    )
    cheapest = min(float(r["Price"]) for r in rows
                   if r["AcceleratorName"] == name and r["AcceleratorCount"] == count)
    answers.append([name, count, quote.hourly_usd, theirs, cheapest, seconds])
print(json.dumps({"answers": answers, "connections": len(connections)}))
"""


def _home_with(tmp_path: Path, catalog: Path | None) -> Path:
    home = tmp_path / "home"
    target = home / ".sky" / "catalogs" / "v8" / "lambda"
    target.mkdir(parents=True)
    if catalog is not None:
        shutil.copy(catalog, target / "vms.csv")
    return home


def _run(home: Path, script: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "HOME": str(home), "SKYPILOT_DISABLE_USAGE_COLLECTION": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_every_lambda_accelerator_is_quoted_at_skypilots_price_without_a_connection(
    tmp_path: Path,
) -> None:
    catalog = _catalog(tmp_path)
    home = _home_with(tmp_path, catalog)
    result = _run(home, _CHECK, str(home / ".sky" / "catalogs" / "v8" / "lambda" / "vms.csv"))
    answers = result["answers"]
    assert isinstance(answers, list)
    with catalog.open(newline="") as source:
        accelerators = {
            (r["AcceleratorName"], r["AcceleratorCount"]) for r in csv.DictReader(source)
        }
    assert len(answers) == len(accelerators - {("", "")}) >= len(WRITTEN)
    for name, count, ours, theirs, cheapest, _ in answers:
        assert ours == theirs == cheapest, (name, count, ours, theirs, cheapest)
    slowest = max(seconds for *_, seconds in answers)
    assert slowest < 0.05, f"a quote took {slowest:.3f} s once sky was loaded"
    assert result["connections"] == 0


def test_with_no_catalog_there_is_no_number_and_no_connection(tmp_path: Path) -> None:
    script = """
import json, sys
connections = []
def hook(event, args):
    if event == "socket.connect":
        connections.append(args)
sys.addaudithook(hook)
from oumi_mcp_server.jobs.pricing import SkyPilotPricer
quote = SkyPilotPricer().quote("lambda", "A100:1", use_spot=False, nodes=1, price=None)
print(json.dumps({"hourly": quote.hourly_usd, "note": quote.note, "connections": len(connections)}))
"""
    result = _run(_home_with(tmp_path, None), script)
    assert result["hourly"] is None and "no quote" in str(result["note"])
    assert result["connections"] == 0


def test_slurm_and_process_jobs_cost_what_the_person_says() -> None:
    pricer = SkyPilotPricer()
    free = pricer.quote("slurm", "A100:2", use_spot=False, nodes=2, price=None)
    assert free.hourly_usd == 0.0 and free.gpus == 2.0 and "OUMI_MCP_PRICE" in free.source
    priced = pricer.quote("", "", use_spot=False, nodes=1, price=3.5)
    assert priced.hourly_usd == 3.5 and priced.total_hourly_usd == 3.5
    assert parse_accelerators("H100:8") == ("H100", 8.0)
    assert parse_accelerators("A100") == ("A100", 1.0)
    assert parse_accelerators("rm -rf /") is None


@pytest.mark.anyio
async def test_pre_flight_check_quotes_a_cloud_job_config_from_the_catalog(tmp_path: Path) -> None:
    """The real server over stdio, its HOME holding the Lambda catalog."""
    from mcp import Client

    from tests.conftest import stdio_parameters
    from tests.project import make_project, write_yaml

    catalog = _catalog(tmp_path)
    home = _home_with(tmp_path, catalog)
    project = make_project(tmp_path / "project")
    write_yaml(
        project / "jobs" / "job.yaml",
        {
            "resources": {"cloud": "lambda", "accelerators": "A100:1"},
            "num_nodes": 2,
            "run": "oumi train -c configs/train.yaml",
        },
    )
    with catalog.open(newline="") as source:
        cheapest = min(
            float(row["Price"])
            for row in csv.DictReader(source)
            if row["AcceleratorName"] == "A100" and row["AcceleratorCount"] == "1.0"
        )
    parameters = stdio_parameters(tmp_path, HOME=str(home))
    async with Client(parameters, mode="legacy", read_timeout_seconds=120) as client:
        result = await client.call_tool(
            "pre_flight_check", {"config": "jobs/job.yaml", "client_cwd": str(project)}
        )
    report = result.structured_content or {}
    assert not result.is_error and report["cost"] is not None, report
    assert report["cost"]["hourly_usd"] == cheapest and report["cost"]["nodes"] == 2
    assert report["cost"]["total_hourly_usd"] == cheapest * 2
