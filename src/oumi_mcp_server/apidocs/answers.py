"""What get_docs and list_modules answer."""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from oumi_mcp_server.answer_model import AnswerModel


class FieldBrief(AnswerModel):
    name: str
    type: str
    default: str
    summary: str


class DocHit(AnswerModel):
    """One entry; fields that are empty for it (a class's type, a field's signature) are
    left out of the answer."""

    name: str = Field(description="Qualified name: pass it back to get_docs for this entry alone.")
    kind: str
    module: str
    signature: str = ""
    type: str = ""
    default: str = ""
    summary: str = ""
    doc: str = Field(default="", description="The whole docstring (exact matches only).")
    args: dict[str, str] = Field(default_factory=dict)
    returns: str = ""
    fields: list[FieldBrief] = Field(
        default_factory=list, description="A dataclass's fields (exact matches only)."
    )


class QueryAnswer(AnswerModel):
    query: str
    match: str = Field(description="exact, short_name, search or none.")
    hits: list[DocHit]
    did_you_mean: list[str] = Field(default_factory=list)


class IndexState(AnswerModel):
    state: str = Field(description="idle, loading, building, ready or failed.")
    oumi_version: str | None = None
    entries: int = 0
    modules_done: int = 0
    modules_total: int = 0
    ready_in_s: float | None = None
    build_seconds: float | None = None
    error: str = ""
    next_step: str = ""
    build_log: str = ""


class DocsAnswer(AnswerModel):
    status: str = Field(description="ready, building or failed: only 'ready' carries results.")
    message: str
    oumi_version: str | None = None
    results: list[QueryAnswer] = Field(default_factory=list)
    index: IndexState | None = Field(
        default=None, description="The index's build state; left out when it is ready."
    )

    def lean(self) -> dict[str, Any]:
        """The answer as sent: JSON values, without the fields left at their defaults."""
        return self.model_dump(mode="json", exclude_defaults=True)


class ModuleSummary(AnswerModel):
    name: str
    summary: str
    entries: int


class ModulesAnswer(AnswerModel):
    status: str
    message: str
    oumi_version: str | None = None
    modules: list[ModuleSummary] = Field(default_factory=list)
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Modules oumi could not import here, and why."
    )
    index: IndexState


class PublishedDocsAnswer(DocsAnswer):
    """DocsAnswer as get_docs declares it. Clients check every answer against the declared
    schema, descending into each property it lists, and a hit's properties were most of
    that work (about 80 checks an answer, a third of a warm call). So the schema's
    references are written out in place (each is used once, so it is no larger), and a
    hit is declared as an object with its required keys, its fields described in words;
    the server still checks every answer against the full model before it leaves."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = DocsAnswer.model_json_schema()
        definitions = schema.pop("$defs", {})
        written = _written_out(schema, definitions)
        hits = written["properties"]["results"]["items"]["properties"]["hits"]
        hits["items"] = _described_in_words(hits["items"])
        return cast(JsonSchemaValue, written)


def _described_in_words(item: dict[str, Any]) -> dict[str, Any]:
    """An object schema reduced to its required keys, its properties said in prose."""
    said = []
    for name, field in item.get("properties", {}).items():
        kind = field.get("type", "object")
        inner = field.get("items", {}).get("properties") if kind == "array" else None
        if inner:
            kind = f"array of {{{', '.join(inner)}}}"
        text = " ".join(str(field.get("description", "")).split()).rstrip(".")
        said.append(f"{name} ({kind})" + (f": {text}" if text else ""))
    lead = " ".join(str(item.get("description", "")).split())
    return {
        "type": "object",
        "required": item.get("required", []),
        "description": f"{lead} Fields: " + "; ".join(said) + ".",
    }


def _written_out(node: Any, definitions: dict[str, Any]) -> Any:
    """A JSON schema with each local '$ref' replaced by the definition it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            named = definitions[ref.removeprefix("#/$defs/")]
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            return _written_out({**named, **siblings}, definitions)
        return {key: _written_out(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_written_out(item, definitions) for item in node]
    return node
