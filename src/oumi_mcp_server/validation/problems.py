"""A problem found in a config: where, what, and how to fix it."""

from __future__ import annotations

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel


class Problem(AnswerModel):
    field: str = Field(description="Dotted path of the field ('' for the whole config).")
    message: str
    hint: str = ""
    docs: str = Field(
        default="",
        description="The get_docs entry (qualified name) for the field or class to look up.",
    )
