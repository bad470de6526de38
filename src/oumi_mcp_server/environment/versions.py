"""Installed engine versions, read from package metadata without importing."""

from __future__ import annotations

import sys
from importlib import metadata

# Distributions whose versions matter to a person debugging a run.
ENGINE_DISTRIBUTIONS = (
    "oumi",
    "skypilot",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "huggingface_hub",
    "mcp",
    "fastapi",
)

# Modules that must never load on the server's start-up path.
HEAVY_MODULES = ("oumi", "torch", "transformers", "sky", "huggingface_hub")


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when absent."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def engine_versions() -> dict[str, str | None]:
    return {name: installed_version(name) for name in ENGINE_DISTRIBUTIONS}


def loaded_heavy_modules() -> list[str]:
    """Which heavy modules this process has imported so far."""
    return [name for name in HEAVY_MODULES if name in sys.modules]
