"""A problem found in a config: where, what, and how to fix it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    field: str = Field(description="Dotted path of the field ('' for the whole config).")
    message: str
    hint: str = ""
