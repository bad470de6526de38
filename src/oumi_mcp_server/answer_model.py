"""The base of our answer models: a model's validator is built when it is first used,
not when its module is imported, so start-up does not pay for answers it never gives."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AnswerModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
