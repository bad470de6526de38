"""Ranking, filters, path look-ups and suggestions over a ``ConfigIndex``.

Pure functions on in-memory structures: no I/O, no parsing. A search is a few
dictionary look-ups per term (exact token, then vocabulary prefixes), an AND
over terms, and a sort of the survivors, so it runs inline on the event loop.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.library.classify import ConfigEntry
from oumi_mcp_server.library.index import ConfigIndex
from oumi_mcp_server.library.tokens import compact, query_terms, whole_atoms
from oumi_mcp_server.masking import shown

PREFIX_FACTOR = 0.6  # "eval" finds "evaluation", below an exact token
RELATED_CREDIT = 0.5  # when no config has every term, a near miss counts half
RELATED = {
    "qlora": ("lora",),
    "lora": ("qlora",),
    "full": ("fft",),
    "fft": ("full",),
    "mac": ("macos",),
    "finetune": ("sft",),
}
MAIN_FILES = ("train.yaml", "eval.yaml", "infer.yaml")

# What ``task`` accepts: a task type, or a config class.
TASK_ALIASES: dict[str, tuple[str, str]] = {
    **{name: ("task", name) for name in ("sft", "dpo", "kto", "grpo", "gkd", "gold", "judge")},
    "finetune": ("task", "sft"),
    "supervised": ("task", "sft"),
    "pretrain": ("task", "pretrain"),
    "pretraining": ("task", "pretrain"),
    "eval": ("task", "eval"),
    "evaluate": ("task", "eval"),
    "evaluation": ("task", "eval"),
    "infer": ("task", "infer"),
    "inference": ("task", "infer"),
    "synth": ("task", "synth"),
    "synthesis": ("task", "synth"),
    "analyze": ("task", "analyze"),
    "analysis": ("task", "analyze"),
    "quantize": ("task", "quantize"),
    "quantization": ("task", "quantize"),
    "tune": ("task", "tune"),
    "tuning": ("task", "tune"),
    "deploy": ("task", "deploy"),
    "train": ("class", "training"),
    "training": ("class", "training"),
    "job": ("class", "job"),
    "launch": ("class", "job"),
}


@dataclass
class Ranking:
    """Ranked entry positions, and how the terms fared."""

    hits: list[int]
    terms: list[str]
    matched_all: bool = True
    unmatched: list[str] = field(default_factory=list)


def parse_task(task: str) -> tuple[str, str] | None:
    """``"DPO"`` -> ("task", "dpo"); ``"training"`` -> ("class", "training"); "" -> None."""
    key = compact(task)
    if not key:
        return None
    if key not in TASK_ALIASES:
        raise InvalidArgumentError(
            "task",
            f"unknown task {shown(task)}.",
            next_step="Use one of: " + ", ".join(sorted(TASK_ALIASES)) + " (or leave it empty).",
        )
    return TASK_ALIASES[key]


def _task_matches(entry: ConfigEntry, task: tuple[str, str]) -> bool:
    kind, value = task
    return entry.task_type == value if kind == "task" else entry.config_class == value


def candidates(index: ConfigIndex, *, task: str = "", model: str = "") -> set[int] | None:
    """Entries allowed by the task and model filters (None: no filter)."""
    parsed = parse_task(task)
    atoms = [atom for atom in whole_atoms(model) if atom]
    if parsed is None and not atoms:
        return None
    allowed: set[int] = set()
    for i, entry in enumerate(index.entries):
        if parsed is not None and not _task_matches(entry, parsed):
            continue
        if atoms and not all(atom in index.model_atoms[i] for atom in atoms):
            continue
        allowed.add(i)
    return allowed


def _term_scores(index: ConfigIndex, term: str) -> dict[int, float]:
    scores = dict(index.postings.get(term, {}))
    if len(term) >= 3:
        for token in index.prefixed(term):
            if token == term:
                continue
            for i, weight in index.postings[token].items():
                score = weight * PREFIX_FACTOR
                if score > scores.get(i, 0.0):
                    scores[i] = score
    for i in scores:
        scores[i] += index.bonus[i].get(term, 0.0)
    return scores


def _with_related(
    index: ConfigIndex, term: str, scores: dict[int, float], allowed: set[int] | None
) -> dict[int, float]:
    """A term's scores plus weaker credit for a near miss (qlora ~ lora)."""
    merged = dict(scores)
    for other in RELATED.get(term, ()):
        for i, score in _term_scores(index, other).items():
            if i not in merged and (allowed is None or i in allowed):
                merged[i] = score * RELATED_CREDIT
    return merged


def rank(index: ConfigIndex, terms: list[str], allowed: set[int] | None = None) -> Ranking:
    """AND over ``terms``; when nothing has them all, the entries that have the most."""
    per_term = [_term_scores(index, term) for term in terms]
    if allowed is not None:
        per_term = [{i: s for i, s in scores.items() if i in allowed} for scores in per_term]
    unmatched = [term for term, scores in zip(terms, per_term, strict=True) if not scores]
    common = set(per_term[0]) if per_term else set()
    for scores in per_term[1:]:
        common &= scores.keys()
    if common:
        total = {i: sum(scores[i] for scores in per_term) for i in common}
        hits = sorted(common, key=lambda i: (-total[i], index.order[i]))
        return Ranking(hits=hits, terms=terms)
    counts: dict[int, float] = {}
    total = {}
    for term, scores in zip(terms, per_term, strict=True):
        for i, score in _with_related(index, term, scores, allowed).items():
            counts[i] = counts.get(i, 0.0) + (1.0 if i in scores else RELATED_CREDIT)
            total[i] = total.get(i, 0.0) + score
    hits = sorted(counts, key=lambda i: (-counts[i], -total[i], index.order[i]))
    return Ranking(hits=hits, terms=terms, matched_all=False, unmatched=unmatched)


def overview(index: ConfigIndex, allowed: set[int] | None) -> list[int]:
    """No query: with filters, everything they allow; without, one recipe per family."""
    pool = range(len(index.entries)) if allowed is None else allowed
    ordered = sorted(pool, key=lambda i: index.order[i])
    if allowed is not None:
        return ordered
    firsts: dict[str, int] = {}
    for i in ordered:
        entry = index.entries[i]
        if entry.category == "recipes" and entry.config_class == "training":
            firsts.setdefault(entry.model_family or entry.path, i)
    chosen = sorted(firsts.values(), key=lambda i: index.entries[i].path)
    seen = set(chosen)
    return chosen + [i for i in ordered if i not in seen]


@dataclass
class PathMatch:
    """How a path the caller gave resolved: one entry, or suggestions."""

    entry: int | None
    how: str  # exact | partial | directory | ambiguous | missing
    suggestions: list[int] = field(default_factory=list)


def _clean(text: str, root: Path) -> str:
    cleaned = text.strip().replace("\\", "/")
    if cleaned.startswith("/"):
        try:
            cleaned = Path(cleaned).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            cleaned = cleaned.lstrip("/")
    for prefix in ("oumi://", "./", "configs/"):
        cleaned = cleaned.removeprefix(prefix)
    return cleaned.strip("/")


def resolve_path(index: ConfigIndex, text: str) -> PathMatch:
    """Exact path, then a unique partial match, then a directory's main file."""
    wanted = _clean(text, index.root)
    lowered = {entry.path.lower(): i for i, entry in enumerate(index.entries)}
    for variant in (wanted, f"{wanted}.yaml"):
        if variant.lower() in lowered:
            return PathMatch(lowered[variant.lower()], "exact")
    needle = "/" + wanted.lower()
    partial = []
    for path, i in lowered.items():
        at = ("/" + path).find(needle)
        if at < 0:
            continue
        after = ("/" + path)[at + len(needle) : at + len(needle) + 1]
        if after in ("", "/", ".", "_") or needle.endswith(("/", "_")):
            partial.append(i)
    if len(partial) == 1:
        return PathMatch(partial[0], "partial")
    folders = {index.entries[i].path.rpartition("/")[0] for i in partial}
    for main in MAIN_FILES if len(folders) == 1 else ():
        for i in partial:
            if ("/" + index.entries[i].path.lower()).endswith(f"{needle}/{main}"):
                others = [j for j in partial if j != i]
                return PathMatch(i, "directory", sorted(others, key=lambda j: index.order[j]))
    if partial:
        return PathMatch(None, "ambiguous", sorted(partial, key=lambda j: index.order[j]))
    return PathMatch(None, "missing", closest(index, wanted))


def closest(index: ConfigIndex, text: str, n: int = 5) -> list[int]:
    """Did-you-mean: the best search hits for the words of ``text``, then spelling."""
    spelled = [
        index.by_path[path]
        for path in difflib.get_close_matches(
            text, [entry.path for entry in index.entries], n=n, cutoff=0.6
        )
    ]
    terms = query_terms(text.replace("/", " "))
    worded = rank(index, terms).hits[:n] if terms else []
    chosen: list[int] = []
    for i in [*spelled, *worded] if "/" in text else [*worded, *spelled]:
        if i not in chosen:
            chosen.append(i)
    return chosen[:n]


def suggest(
    index: ConfigIndex, task_type: str, model_family: str | None = None, n: int = 3
) -> tuple[list[int], bool]:
    """Configs to start from for a task (and family); the flag says if the family matched."""
    task = parse_task(task_type)
    pool = [
        i
        for i, entry in enumerate(index.entries)
        if entry.config_class != "job" and (task is None or _task_matches(entry, task))
    ]
    if model_family:
        wanted = compact(model_family)
        same = [
            i
            for i in pool
            if compact(index.entries[i].model_family or "") == wanted
            or wanted in compact(index.entries[i].model_name or "")
        ]
        if same:
            return sorted(same, key=lambda i: index.order[i])[:n], True
    return sorted(pool, key=lambda i: index.order[i])[:n], not model_family
