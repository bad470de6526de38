"""Search tokens: one normalisation for config text and for queries.

Paths spell versions and sizes with underscores (``llama3_1``, ``1_5b``),
people type dots and spaces ("llama 3.1", "1.5b"). Documents therefore get
every plausible reading of their text (over-generating is cheap and harmless),
queries get the single most natural one, and both meet on the same atoms:
``llama3.1``, ``llama``, ``3.1``, ``llama3``, ``8b``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_DECIMAL_DOT = re.compile(r"(?<!\d)\.|\.(?!\d)")
_SPLIT = re.compile(r"[^a-z0-9.]+")
_VERSION_JOIN = re.compile(r"(\d+)_(\d+)")
_SIZE_JOIN = re.compile(r"(?<![\d.])(\d{1,3})_(\d)([bm])(?![a-z0-9])")
_PIECES = re.compile(r"[a-z]+|\d+(?:\.\d+)?[a-z]*")
_NAME_VERSION = re.compile(r"^([a-z]+)(\d+)(?:\.\d+)?$")
_SIZE = re.compile(r"^\d+(?:\.\d+)?[bm]$")

# Words that say nothing about which config is meant.
STOP_WORDS = frozenset(
    {
        "a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with", "using",
        "config", "configs", "configuration", "recipe", "recipes", "yaml", "yml", "file",
        "oumi", "example", "model",
    }
)  # fmt: skip
_FINE_TUNE = re.compile(r"fine[\s_-]?tun(?:e|ed|ing)")


def _split(text: str) -> list[str]:
    text = _NON_DECIMAL_DOT.sub(" ", text)
    return [atom.strip(".") for atom in _SPLIT.split(text) if atom.strip(".")]


def whole_atoms(text: str) -> list[str]:
    """The atoms of a query or a model name: ``Llama-3.1-8B`` -> llama, 3.1, 8b."""
    text = _FINE_TUNE.sub("finetune", text.lower())
    return _split(_VERSION_JOIN.sub(r"\1.\2", text))


def query_terms(text: str) -> list[str]:
    """Search terms from what a person typed, without stop words or repeats."""
    terms: list[str] = []
    for atom in whole_atoms(text):
        if atom not in STOP_WORDS and atom not in terms:
            terms.append(atom)
    return terms


def _expand(atom: str) -> Iterable[str]:
    yield atom
    pieces = _PIECES.findall(atom)
    if len(pieces) > 1:
        yield from pieces
    match = _NAME_VERSION.match(atom)
    if match and "." in atom:
        yield match.group(1) + match.group(2)
    for piece in pieces:
        if piece[:1].isdigit() and "." in piece and not _SIZE.match(piece):
            yield piece.split(".", 1)[0]


def document_tokens(text: str) -> set[str]:
    """Every token a document's text can be found by (all readings, all pieces)."""
    text = _FINE_TUNE.sub("finetune", text.lower())
    atoms = set(_split(text))
    atoms.update(_split(_VERSION_JOIN.sub(r"\1.\2", text)))
    atoms.update(_split(_SIZE_JOIN.sub(r"\1.\2\3", text)))
    tokens: set[str] = set()
    for atom in atoms:
        tokens.update(_expand(atom))
    return tokens


def size_tokens(text: str) -> list[str]:
    """Model sizes spelled in ``text`` (``1_5b`` and ``1.5B`` both give ``1.5b``)."""
    found: list[str] = []
    lowered = _SIZE_JOIN.sub(r"\1.\2\3", text.lower())
    for atom in _split(lowered):
        for piece in _PIECES.findall(atom):
            if _SIZE.match(piece) and piece not in found:
                found.append(piece)
    return found


def compact(text: str) -> str:
    """``Llama 3.1`` / ``llama3_1`` / ``LLaMA-3.1`` -> ``llama31`` (for loose equality)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def pieces(atom: str) -> list[str]:
    """``llama3.1`` -> llama, 3.1; ``a3b`` -> a, 3b."""
    return list(_PIECES.findall(atom))
