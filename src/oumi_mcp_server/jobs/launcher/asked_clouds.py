"""Which clouds list_jobs asks: those that can answer without starting anything new.

Asking a SkyPilot cloud starts SkyPilot's local API server when it is not running:
10-20 s before the answer, then a daemon of about 3 GB that stays. So a SkyPilot
cloud is asked only when the person enabled it (SkyPilot's last ``sky check``, read
from its state file by environment/skypilot_state.py), when a job of ours is there,
or when the call names it; with a remote API server (nothing starts on this machine)
every one is. oumi's ``local`` cloud is always asked (it lives in this process), Slurm
when clusters are configured, any other cloud when a job of ours is there.
``OUMI_MCP_CLOUDS`` replaces all of this (listing.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from oumi_mcp_server.environment.skypilot_state import SKYPILOT_CLOUDS, SkyPilotRecord
from oumi_mcp_server.jobs.catalog import LOCAL_CLOUD, SLURM_CLOUD

ENABLE_HINT = "to list and launch jobs on a cloud, set up its credentials, then run `sky check`"


@dataclass(frozen=True)
class CloudsToAsk:
    clouds: tuple[str, ...]
    note: str = ""  # one line when no SkyPilot cloud is enabled, and how to enable one


def clouds_to_ask(
    skypilot: SkyPilotRecord,
    *,
    ours: Iterable[str] = (),
    named: Iterable[str] = (),
    slurm_configured: bool = False,
) -> CloudsToAsk:
    """The clouds to list, in order; ``ours``: clouds where jobs of ours are, ``named``:
    clouds the call names."""
    wanted = {cloud for cloud in (*ours, *named) if cloud}
    if skypilot.remote_endpoint:
        enabled = set(SKYPILOT_CLOUDS)
    else:
        enabled = set(skypilot.enabled_launcher_clouds())
    always = {LOCAL_CLOUD, *([SLURM_CLOUD] if slurm_configured else [])}
    clouds = tuple(sorted(always | enabled | wanted))
    if enabled:
        return CloudsToAsk(clouds)
    return CloudsToAsk(clouds, no_skypilot_note(skypilot, [c for c in clouds if c in wanted]))


def no_skypilot_note(skypilot: SkyPilotRecord, asked_anyway: Iterable[str]) -> str:
    """One line: no SkyPilot cloud is enabled, so none was asked (but those our jobs use)."""
    anyway = sorted(cloud for cloud in asked_anyway if cloud in SKYPILOT_CLOUDS)
    besides = f" besides {', '.join(anyway)} (named or used by our jobs)" if anyway else ""
    return (
        f"No SkyPilot cloud is enabled ({skypilot.describe()}), so list_jobs asked none"
        f"{besides} and started nothing; {ENABLE_HINT}."
    )
