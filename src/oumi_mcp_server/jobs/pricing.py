"""The price per hour of what a launch asks for, from SkyPilot's offline catalogs.

Beside the cloud-kind table (kinds.py): a SkyPilot cloud's price comes from SkyPilot's
own catalog functions (``sky.catalog``), for the cheapest instance type with the
accelerators asked for, in its cheapest region, as SkyPilot chooses. They are called
only when the catalog is on disk and SkyPilot would not download it again (it
refreshes a catalog it fetched itself once it is older than the cloud's pull
frequency): a quote never opens a network connection, and with no usable catalog it
says so and gives no number. Slurm, HPC and process jobs cost what the person says
(``OUMI_MCP_PRICE_PER_HOUR_USD`` or ``guards.price_per_hour_usd``), else 0, with
the GPU-hours shown. Blocking (the first call imports sky): call it in a worker.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from oumi_mcp_server.jobs.kinds import kind_of

_ACCELERATORS = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*(?::\s*(\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True)
class Quote:
    """What one hour of a launch costs (None: not known, with the reason in ``note``)."""

    hourly_usd: float | None
    spot_hourly_usd: float | None = None
    instance_type: str = ""
    region: str = ""
    nodes: int = 1
    gpus: float = 0.0  # accelerators per node
    source: str = ""
    note: str = ""

    @property
    def total_hourly_usd(self) -> float | None:
        """The price of an hour of the whole job: every node (spot price when asked)."""
        return None if self.hourly_usd is None else self.hourly_usd * self.nodes


class Pricer(Protocol):
    """What the job service asks for prices (tests inject a fixed one)."""

    def quote(
        self, cloud: str, accelerators: str, *, use_spot: bool, nodes: int, price: float | None
    ) -> Quote: ...


def parse_accelerators(spec: str) -> tuple[str, float] | None:
    """'A100:2' -> ('A100', 2.0); 'H100' -> ('H100', 1.0); None for anything else."""
    found = _ACCELERATORS.match(spec or "")
    if not found:
        return None
    return found.group(1), float(found.group(2) or 1)


def configured_price(explicit: float | None) -> float | None:
    """The person's price per node-hour: the guard's, else OUMI_MCP_PRICE_PER_HOUR_USD."""
    if explicit is not None:
        return explicit
    raw = os.environ.get("OUMI_MCP_PRICE_PER_HOUR_USD", "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


class SkyPilotPricer:
    """Prices from SkyPilot's catalogs on disk (never downloaded here)."""

    def quote(
        self, cloud: str, accelerators: str, *, use_spot: bool, nodes: int, price: float | None
    ) -> Quote:
        asked = parse_accelerators(accelerators)
        gpus = asked[1] if asked else 0.0
        mine = configured_price(price)
        if not cloud or kind_of(cloud).name != "skypilot":
            return Quote(
                mine if mine is not None else 0.0,
                nodes=nodes,
                gpus=gpus,
                source="your price (OUMI_MCP_PRICE_PER_HOUR_USD or guards.price_per_hour_usd)"
                if mine is not None
                else "none: this machine or your cluster's allocation (set "
                "OUMI_MCP_PRICE_PER_HOUR_USD to price it)",
            )
        if mine is not None:
            return Quote(mine, nodes=nodes, gpus=gpus, source="your price (guards)")
        if asked is None:
            return Quote(
                None, nodes=nodes, note="No accelerators asked for: no GPU price to quote."
            )
        return _catalog_quote(cloud, asked, use_spot=use_spot, nodes=nodes)


def _catalog_quote(cloud: str, asked: tuple[str, float], *, use_spot: bool, nodes: int) -> Quote:
    name, count = asked
    asked_spot = use_spot
    from sky.catalog import common

    filename = f"{cloud}/vms.csv"
    path = common.get_catalog_path(filename)
    refusal = _would_download(cloud, filename, path, common)
    if refusal:
        return Quote(None, nodes=nodes, gpus=count, note=refusal)
    import sky.catalog as catalog

    count_value: int | float = int(count) if count.is_integer() else count
    try:
        types, fuzzy = catalog.get_instance_type_for_accelerator(
            name, count_value, use_spot=use_spot, clouds=cloud
        )
        if not types and use_spot:  # no spot offering: price it on demand, and say so
            types, fuzzy = catalog.get_instance_type_for_accelerator(
                name, count_value, use_spot=False, clouds=cloud
            )
            use_spot = False
    except Exception as exc:  # a catalog SkyPilot cannot read is a note, not a crash
        return Quote(None, nodes=nodes, gpus=count, note=f"SkyPilot's {filename}: {exc}")
    if not types:
        near = f" (it has: {', '.join(fuzzy[:6])})" if fuzzy else ""
        return Quote(
            None,
            nodes=nodes,
            gpus=count,
            note=f"{cloud}'s catalog has no {name}:{count_value}{near}.",
        )
    instance_type = types[0]
    regions = catalog.get_region_zones_for_instance_type(instance_type, use_spot, clouds=cloud)
    region = regions[0].name if regions else None
    hourly = catalog.get_hourly_cost(instance_type, False, region, None, clouds=cloud)
    spot = _spot_price(catalog, instance_type, region, cloud)
    dated = time.strftime("%Y-%m-%d", time.gmtime(os.path.getmtime(path)))
    return Quote(
        spot if use_spot and spot is not None else hourly,
        spot_hourly_usd=spot,
        instance_type=instance_type,
        region=region or "",
        nodes=nodes,
        gpus=count,
        source=f"SkyPilot's catalog {path} (written {dated}), cheapest region first",
        note=""
        if spot is not None or not asked_spot
        else f"{cloud} has no spot price for it in the catalog: the on-demand price is shown.",
    )


def _spot_price(catalog: Any, instance_type: str, region: str | None, cloud: str) -> float | None:
    try:
        price = float(catalog.get_hourly_cost(instance_type, True, region, None, clouds=cloud))
    except Exception:  # no spot column or no spot row: no spot price
        return None
    return price if price == price and price > 0 else None  # NaN: an empty SpotPrice


def _would_download(cloud: str, filename: str, path: str, common: Any) -> str:
    """Why SkyPilot would fetch this catalog (a network call) instead of reading it; ''
    when it reads the file on disk."""
    if not os.path.isfile(path):
        return (
            f"No offline price catalog for {cloud} ({path} is missing): no quote. `sky "
            f"show-gpus --cloud {cloud}` fetches it once."
        )
    try:
        module = importlib.import_module(f"sky.catalog.{cloud}_catalog")
    except ImportError:
        return ""
    hours = getattr(module, "_PULL_FREQUENCY_HOURS", None)
    if hours is None or common.is_catalog_modified(filename):
        return ""  # never refreshed: placed or edited by hand, or no refresh period
    if time.time() - os.path.getmtime(path) <= hours * 3600:
        return ""
    return (
        f"SkyPilot's {cloud} catalog is older than {hours} h and would be downloaded again "
        f"(a network call): no quote. `sky show-gpus --cloud {cloud}` refreshes it."
    )
