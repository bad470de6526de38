"""What get_docs and list_modules answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldBrief(BaseModel):
    name: str
    type: str
    default: str
    summary: str


class DocHit(BaseModel):
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


class QueryAnswer(BaseModel):
    query: str
    match: str = Field(description="exact, short_name, search or none.")
    hits: list[DocHit]
    did_you_mean: list[str] = Field(default_factory=list)


class IndexState(BaseModel):
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


class DocsAnswer(BaseModel):
    status: str = Field(description="ready, building or failed: only 'ready' carries results.")
    message: str
    oumi_version: str | None = None
    results: list[QueryAnswer] = Field(default_factory=list)
    index: IndexState


class ModuleSummary(BaseModel):
    name: str
    summary: str
    entries: int


class ModulesAnswer(BaseModel):
    status: str
    message: str
    oumi_version: str | None = None
    modules: list[ModuleSummary] = Field(default_factory=list)
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Modules oumi could not import here, and why."
    )
    index: IndexState
