"""Guards: stop a job on budget, time, stall or NaN, and the health it shows without them.

``guards`` on run_oumi_job (every field optional) persist with the job in the registry
and are checked by the service's policy loop (service_guards.py) while the job runs: a
guard that trips cancels the job (and, as ``on_trip`` says, stops or downs a cluster
this server launched for it), records ``stopped_by`` and a one-line reason. Pure values
and functions here: what a guard concludes from hours, spend, progress and the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field

from oumi_mcp_server.answer_model import AnswerModel

OnTrip = Literal["cancel", "stop_cluster", "down_cluster"]
StoppedBy = Literal["max_hours", "max_cost_usd", "stall", "nan"]
STALL_HEALTH_MINUTES = 15.0  # with no guard: a running job this quiet is said to stall
# oumi's training log lines: {'loss': 'nan', 'grad_norm': 'inf', ...} (quoted or not).
_NOT_FINITE = re.compile(r"'(loss|grad_norm)':\s*'?(-?nan|-?inf)'?", re.IGNORECASE)
_PROGRESS = re.compile(r"(\d+)/(\d+) \[")


class Guards(AnswerModel):
    """What stops a job on its own; every field optional. An unknown key is refused: a
    misspelt guard must never pass as no guard."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    max_hours: float | None = Field(
        default=None, gt=0, le=24 * 60, description="Stop after this many hours of running."
    )
    max_cost_usd: float | None = Field(
        default=None,
        gt=0,
        description="Stop when the spend reaches this (price per hour x nodes x hours); a "
        "launch whose quote for max_hours already exceeds it is refused.",
    )
    stall_minutes: float | None = Field(
        default=None,
        gt=0,
        le=24 * 60,
        description="Stop when the job shows no new training step or log output for this long.",
    )
    stop_on_nan: bool = Field(default=False, description="Stop when loss or grad_norm is NaN/inf.")
    on_trip: OnTrip = Field(
        default="cancel",
        description="cancel the job; or also stop_cluster / down_cluster, only for a cluster "
        "this server launched for the job (never one it did not start).",
    )
    price_per_hour_usd: float | None = Field(
        default=None,
        ge=0,
        description="Your price per node-hour (Slurm, HPC, this machine; a cloud's catalog "
        "price otherwise).",
    )

    @property
    def any(self) -> bool:
        return (
            any((self.max_hours, self.max_cost_usd, self.stall_minutes, self.stop_on_nan))
            or self.price_per_hour_usd is not None
        )


@dataclass(frozen=True)
class Trip:
    stopped_by: StoppedBy
    reason: str


@dataclass(frozen=True)
class Progress:
    """What a look at a running job found."""

    hours: float  # running so far
    spend_usd: float | None  # None: no price known
    quiet_minutes: float | None  # since the last new output (None: not known yet)
    nan_at: str | None  # where the loss went NaN ('step 120', 'the log'), None if not


def check(guards: Guards, progress: Progress) -> Trip | None:
    """The first guard the job's progress trips, if any (in the order of the fields)."""
    if guards.max_hours is not None and progress.hours >= guards.max_hours:
        return Trip("max_hours", f"ran {progress.hours:.2f} h, the limit is {guards.max_hours:g} h")
    if (
        guards.max_cost_usd is not None
        and progress.spend_usd is not None
        and progress.spend_usd >= guards.max_cost_usd
    ):
        return Trip(
            "max_cost_usd",
            f"spent ${progress.spend_usd:.2f}, the budget is ${guards.max_cost_usd:g}",
        )
    quiet = progress.quiet_minutes
    if guards.stall_minutes is not None and quiet is not None and quiet >= guards.stall_minutes:
        return Trip(
            "stall",
            f"no new training step or log output for {quiet:.1f} min (limit "
            f"{guards.stall_minutes:g} min)",
        )
    if guards.stop_on_nan and progress.nan_at is not None:
        return Trip("nan", f"the loss or grad_norm is NaN/inf since {progress.nan_at}")
    return None


def health(progress: Progress, guards: Guards | None) -> list[str]:
    """Warnings for a running job, with or without guards (nothing is stopped by them)."""
    warnings = []
    threshold = guards.stall_minutes if guards and guards.stall_minutes else STALL_HEALTH_MINUTES
    if progress.quiet_minutes is not None and progress.quiet_minutes >= threshold:
        warnings.append(f"stalled: no new output for {progress.quiet_minutes:.0f} min")
    if progress.nan_at is not None:
        warnings.append(f"NaN: the loss or grad_norm is NaN/inf since {progress.nan_at}")
    return warnings


def nan_since(lines: Iterable[str]) -> str | None:
    """Where the log first shows a NaN/inf loss or grad_norm: 'step N' when a progress bar
    on that line says it, else 'the log'; None when it shows none."""
    last_step = None
    for line in lines:
        steps = _PROGRESS.findall(line)
        found = _NOT_FINITE.search(line)
        if found is not None:
            before = _PROGRESS.findall(line[: found.start()]) or steps
            step = before[-1][0] if before else last_step
            return f"step {step}" if step else "the log"
        if steps:
            last_step = steps[-1][0]
    return None


def launch_refusal(
    guards: Guards, hourly_usd: float | None, estimated_total_usd: float | None = None
) -> str:
    """Why a launch is refused up front ('' if it is not): the quote for max_hours, or the
    estimate of the whole run, is over max_cost_usd."""
    budget = guards.max_cost_usd
    if budget is None or hourly_usd is None:
        return ""
    if guards.max_hours is not None and hourly_usd * guards.max_hours > budget:
        cost = hourly_usd * guards.max_hours
        return (
            f"max_hours={guards.max_hours:g} at ${hourly_usd:.2f}/h costs ${cost:.2f}, over "
            f"max_cost_usd={budget:g}"
        )
    if estimated_total_usd is not None and estimated_total_usd > budget:
        return (
            f"the run is estimated at ${estimated_total_usd:.2f} at ${hourly_usd:.2f}/h (its "
            f"measured speed), over max_cost_usd={budget:g}"
        )
    return ""
