"""The config index: every YAML parsed once, persisted, loaded in milliseconds.

Building reads and parses every file of the library (blocking: call it from a
worker thread). The result is saved as JSON in the cache, keyed on a
fingerprint of the library's paths, mtimes and sizes, so a later start with an
unchanged library only reads that file. Search structures (an inverted index of
lowercase tokens per field, a sorted vocabulary for prefix matches) are built
at load time, so a search touches nothing but dictionaries.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oumi_mcp_server import __version__
from oumi_mcp_server.library.classify import ConfigEntry, classify, inherit_from_references
from oumi_mcp_server.library.fields import (
    FIELD_WEIGHTS,
    bonus_tokens,
    field_tokens,
    model_atoms,
    order_key,
)

logger = logging.getLogger(__name__)

# Bump when classification or tokens change: old persisted indexes are rebuilt.
INDEX_FORMAT = 4


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class LibraryFile:
    path: str
    mtime_ns: int
    size: int


def scan(root: Path) -> list[LibraryFile]:
    """Every ``*.yaml``/``*.yml`` below ``root`` (hidden folders skipped), sorted."""
    found: list[LibraryFile] = []
    pending = [(str(root), "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for item in entries:
            if item.name.startswith("."):
                continue
            rel = f"{prefix}{item.name}"
            try:
                if item.is_dir(follow_symlinks=True):
                    pending.append((item.path, rel + "/"))
                elif item.name.endswith((".yaml", ".yml")):
                    stat = item.stat()
                    found.append(LibraryFile(rel, stat.st_mtime_ns, stat.st_size))
            except OSError:
                continue
    found.sort(key=lambda f: f.path)
    return found


def fingerprint(files: list[LibraryFile]) -> str:
    digest = hashlib.sha256(f"format={INDEX_FORMAT} server={__version__}\n".encode())
    for item in files:
        digest.update(f"{item.path}\t{item.mtime_ns}\t{item.size}\n".encode())
    return digest.hexdigest()


def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def build_entries(
    root: Path, files: list[LibraryFile]
) -> tuple[list[ConfigEntry], list[dict[str, list[str]]], list[SkippedFile]]:
    """Parse and classify every file; malformed ones are skipped with a warning."""
    import yaml

    loader = _yaml_loader()
    entries: dict[str, ConfigEntry] = {}
    skipped: list[SkippedFile] = []
    for item in files:
        try:
            text = (root / item.path).read_text(encoding="utf-8")
            data = yaml.load(text, Loader=loader)  # a safe loader (CSafeLoader/SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logger.warning("Skipping config %s: %s", item.path, reason)
            skipped.append(SkippedFile(item.path, f"{type(exc).__name__}: {reason}"))
            continue
        entries[item.path] = classify(item.path, data, text)
    inherit_from_references(entries)
    ordered = list(entries.values())
    tokens = [field_tokens(entry) for entry in ordered]
    for entry in ordered:
        entry.content = []
    return ordered, tokens, skipped


@dataclass
class ConfigIndex:
    """The searchable library: entries plus an inverted index of their tokens."""

    root: Path
    entries: list[ConfigEntry]
    tokens: list[dict[str, list[str]]]
    skipped: list[SkippedFile] = field(default_factory=list)
    origin: str = "built"
    by_path: dict[str, int] = field(init=False)
    postings: dict[str, dict[int, float]] = field(init=False)
    vocab: list[str] = field(init=False)
    bonus: list[dict[str, float]] = field(init=False)
    model_atoms: list[frozenset[str]] = field(init=False)
    order: list[tuple[int, int, int, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_path = {entry.path: i for i, entry in enumerate(self.entries)}
        postings: dict[str, dict[int, float]] = {}
        # Lightest field first: a token in several fields keeps its best weight.
        by_weight = sorted(FIELD_WEIGHTS.items(), key=lambda item: item[1])
        for i, fields in enumerate(self.tokens):
            for name, weight in by_weight:
                for token in fields.get(name, ()):
                    slot = postings.get(token)
                    if slot is None:
                        postings[token] = {i: weight}
                    else:
                        slot[i] = weight
        self.postings = postings
        self.vocab = sorted(postings)
        self.bonus = [bonus_tokens(entry) for entry in self.entries]
        self.model_atoms = [model_atoms(entry) for entry in self.entries]
        self.order = [order_key(entry) for entry in self.entries]

    def prefixed(self, term: str) -> list[str]:
        """Vocabulary tokens that start with ``term`` (``term`` itself included)."""
        start = bisect.bisect_left(self.vocab, term)
        end = bisect.bisect_left(self.vocab, term + "\uffff", lo=start)
        return self.vocab[start:end]

    def to_json(self, fingerprint_: str) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "root": str(self.root),
            "fingerprint": fingerprint_,
            "entries": [dataclasses.asdict(entry) for entry in self.entries],
            "tokens": self.tokens,
            "skipped": [dataclasses.asdict(item) for item in self.skipped],
        }

    @classmethod
    def from_json(cls, root: Path, data: dict[str, Any]) -> ConfigIndex:
        return cls(
            root=root,
            entries=[ConfigEntry(**entry) for entry in data["entries"]],
            tokens=data["tokens"],
            skipped=[SkippedFile(**item) for item in data["skipped"]],
            origin="persisted",
        )


def index_file(index_dir: Path, root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return index_dir / f"library-{key}.json"


def _read_persisted(path: Path, fingerprint_: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("format") != INDEX_FORMAT or data.get("fingerprint") != fingerprint_:
        return None
    return data


def _write_persisted(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("Could not save the config index to %s: %s", path, exc)


def load_index(root: Path, index_dir: Path) -> ConfigIndex:
    """The persisted index when the library is unchanged, else a fresh build (saved)."""
    files = scan(root)
    fingerprint_ = fingerprint(files)
    persisted_path = index_file(index_dir, root)
    data = _read_persisted(persisted_path, fingerprint_)
    if data is not None:
        try:
            return ConfigIndex.from_json(root, data)
        except (KeyError, TypeError) as exc:
            logger.warning("Ignoring a damaged config index %s: %s", persisted_path, exc)
    entries, tokens, skipped = build_entries(root, files)
    index = ConfigIndex(root=root, entries=entries, tokens=tokens, skipped=skipped)
    _write_persisted(persisted_path, index.to_json(fingerprint_))
    return index
