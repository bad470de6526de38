"""What get_guidance answers."""

from __future__ import annotations

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel


class GuidanceTopic(AnswerModel):
    topic: str
    title: str
    description: str
    uri: str = Field(description="The same document as an MCP resource.")


class GuidanceAnswer(AnswerModel):
    topic: str = Field(description="The topic asked for; '' lists them.")
    title: str = ""
    text: str = Field(default="", description="The whole guidance document (Markdown).")
    topics: list[GuidanceTopic] = Field(default_factory=list)
