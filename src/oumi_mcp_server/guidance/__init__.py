"""Workflow guidance shipped as Markdown package data.

Each ``<topic>.md`` file in this package is one guidance document; its first
line is ``# Title`` and its first paragraph is the short description.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from oumi_mcp_server.errors import NotFoundError

TOPICS = (
    "mle-workflow",
    "mle-train",
    "mle-synth",
    "mle-analyze",
    "mle-eval",
    "mle-infer",
    "cloud-launch",
    "post-training",
)


@dataclass(frozen=True)
class GuidanceDoc:
    topic: str
    title: str
    description: str
    text: str

    @property
    def uri(self) -> str:
        return f"guidance://{self.topic}"


def _parse(topic: str, text: str) -> GuidanceDoc:
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip() if lines else topic
    paragraph: list[str] = []
    for line in lines[1:]:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    return GuidanceDoc(topic=topic, title=title, description=" ".join(paragraph), text=text)


@cache
def read_guidance(topic: str) -> GuidanceDoc:
    """Load one guidance document by topic name."""
    if topic not in TOPICS:
        raise NotFoundError(
            f"No guidance topic '{topic}'.",
            next_step=f"Use one of: {', '.join(TOPICS)}.",
        )
    text = resources.files(__package__).joinpath(f"{topic}.md").read_text(encoding="utf-8")
    return _parse(topic, text)


def all_guidance() -> list[GuidanceDoc]:
    return [read_guidance(topic) for topic in TOPICS]
