"""get_guidance: the guidance documents through a tool, for clients that show only tools."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.guidance import TOPICS, all_guidance, read_guidance
from oumi_mcp_server.guidance.models import GuidanceAnswer, GuidanceTopic
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Get guidance"),
        description=(
            "Workflow guidance written for this server (the same text as the guidance:// "
            "resources). No topic: the topics with one-line descriptions. Topics: "
            f"{', '.join(TOPICS)}."
        ),
    )
    async def get_guidance(
        topic: Annotated[
            str, Field(description="A topic name; '' lists them.", max_length=64)
        ] = "",
    ) -> GuidanceAnswer:
        with reported_as_tool_errors("get_guidance"):
            topic = topic.strip()
            if not topic:
                return GuidanceAnswer(
                    topic="",
                    topics=[
                        GuidanceTopic(
                            topic=doc.topic,
                            title=doc.title,
                            description=doc.description,
                            uri=doc.uri,
                        )
                        for doc in all_guidance()
                    ],
                )
            doc = read_guidance(topic)
            return GuidanceAnswer(topic=doc.topic, title=doc.title, text=doc.text)
