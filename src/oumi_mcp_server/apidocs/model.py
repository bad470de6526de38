"""The API index as stored: entries (one per documented name), modules, aliases."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = 1
KINDS = ("class", "dataclass", "function", "method", "field", "registry")


@dataclass(slots=True)
class ApiEntry:
    name: str  # qualified: module.Class.member, or registry.<type>.<name>
    kind: str  # one of KINDS
    module: str
    summary: str = ""
    signature: str = ""  # classes, functions, methods; an enum's values
    type: str = ""  # fields
    default: str = ""  # fields
    doc: str = ""  # the whole docstring, trimmed
    args: dict[str, str] = field(default_factory=dict)
    returns: str = ""
    parent: str = ""  # the class of a field or method

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(slots=True)
class ModuleInfo:
    name: str
    summary: str
    entries: int = 0


@dataclass
class ApiIndex:
    oumi_version: str
    entries: list[ApiEntry]
    modules: list[ModuleInfo]
    aliases: dict[str, str]  # a public re-export's name -> the entry's name
    skipped: dict[str, str]  # modules that could not be imported -> why
    build_seconds: float = 0.0
    built_at: float = 0.0
    format: int = FORMAT
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "complete": self.complete,
            "oumi_version": self.oumi_version,
            "build_seconds": self.build_seconds,
            "built_at": self.built_at,
            "modules": [asdict(module) for module in self.modules],
            "aliases": self.aliases,
            "skipped": self.skipped,
            "entries": [_compact(entry) for entry in self.entries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiIndex:
        return cls(
            format=int(data["format"]),
            complete=bool(data["complete"]),
            oumi_version=str(data["oumi_version"]),
            build_seconds=float(data.get("build_seconds", 0.0)),
            built_at=float(data.get("built_at", 0.0)),
            modules=[ModuleInfo(**module) for module in data["modules"]],
            aliases=dict(data["aliases"]),
            skipped=dict(data.get("skipped", {})),
            entries=[ApiEntry(**entry) for entry in data["entries"]],
        )


def _compact(entry: ApiEntry) -> dict[str, Any]:
    """The entry without its empty fields (the cache file stays small)."""
    return {key: value for key, value in asdict(entry).items() if value}
