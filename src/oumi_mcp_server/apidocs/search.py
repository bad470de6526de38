"""Look names up in an API index: exact qualified name (or a public re-export of
it), then exact short name, then keywords ranked over names, the class a member
belongs to, and docstrings. Everything is precomputed when the index loads, so
a query touches only the entries that share a word with it."""

from __future__ import annotations

import bisect
import difflib
import functools
import heapq
import itertools
import math
import re
from array import array
from collections import defaultdict
from dataclasses import dataclass

from oumi_mcp_server.apidocs.configs import CONFIG_MODULES, ConfigPlace, config_places
from oumi_mcp_server.apidocs.model import ApiEntry, ApiIndex
from oumi_mcp_server.apidocs.vocabulary import ABBREVIATIONS, STOP, SYNONYMS, words

_CLASS_NAME = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+")
_IDENTIFIER = re.compile(r"\w*(?:_\w*|[a-z][A-Z])\w*")  # a name in code: snake_case or camelCase
NAME_WEIGHT = 3.0
PARENT_WEIGHT = 1.0
DOC_WEIGHT = 1.0
FIELD_WEIGHT = 0.5  # a word in the name of one of a dataclass's fields
PREFIX_FACTOR = 0.5
CONFIG_BOOST = 1.5
DEPTH_DECAY = 0.9  # per field below the classes a top-level config holds itself
UNREACHED_DEPTH = 4  # a config class no top-level config holds
OWNER_BOOST = 2.0  # the query names a member and its class: 'inference engine'
SYNONYM_FACTOR = 0.5  # a synonym's match, against the word's own
TERM_CACHE_SIZE = 4096
Postings = tuple["array[int]", "array[float]"]  # entries, and the word's score in each
_NOTHING: Postings = (array("l"), array("d"))
_GENERIC = frozenset({"config", "param"})  # words in every config class's name
KIND_ORDER = {"dataclass": 0, "class": 1, "field": 2, "function": 3, "method": 4, "registry": 5}


@functools.lru_cache(maxsize=1 << 14)
def name_words(name: str) -> frozenset[str]:
    """The words of a name, and neighbours run together: 'q_lora' is also 'qlora',
    'DeepSpeedParams' also 'deepspeed'."""
    found = words(name)
    pairs = {first + second for first, second in itertools.pairwise(found)}
    for short in found:
        long = ABBREVIATIONS.get(short, ())
        pairs.update(first + second for first, second in itertools.pairwise(long))
        pairs.update(long)
    return frozenset({*found, *pairs, "".join(found)})


@dataclass(frozen=True)
class Found:
    match: str  # exact, short_name, search, none
    entries: list[ApiEntry]
    did_you_mean: list[str]


class SearchIndex:
    def __init__(self, index: ApiIndex) -> None:
        self.entries = index.entries
        self.aliases = index.aliases
        self._count = max(len(self.entries), 1)
        self._by_name = {entry.name: entry for entry in self.entries}
        self._positions = {entry.name: position for position, entry in enumerate(self.entries)}
        self._preferences = [_preference(entry) for entry in self.entries]
        self._by_short: dict[str, list[int]] = defaultdict(list)
        self._name_words: dict[str, list[int]] = defaultdict(list)
        parent_postings: dict[str, list[int]] = defaultdict(list)
        doc_postings: dict[str, list[int]] = defaultdict(list)
        field_postings: dict[str, list[int]] = defaultdict(list)
        doc_words: list[set[str]] = []
        self._fields: dict[str, list[int]] = defaultdict(list)
        for position, entry in enumerate(self.entries):
            self._by_short[entry.short_name.lower()].append(position)
            if entry.parent and entry.kind in ("field", "method"):
                member = f"{entry.parent.rsplit('.', 1)[-1]}.{entry.short_name}".lower()
                self._by_short[member].append(position)
            for word in name_words(entry.short_name):
                self._name_words[word].append(position)
            for word in name_words(entry.parent.rsplit(".", 1)[-1]):
                parent_postings[word].append(position)
            # A docstring that repeats the entry's own name says nothing more.
            own = name_words(entry.short_name)
            doc_words.append(set(words(f"{entry.summary} {entry.doc[:300]}")) - STOP - own)
        # A dataclass is described by its fields too: 'lora' finds PeftParams.
        field_words: dict[int, set[str]] = defaultdict(set)
        for entry in self.entries:
            if entry.kind == "field":
                self._fields[entry.parent].append(self._positions[entry.name])
            if entry.kind == "field" and entry.parent in self._positions:
                field_words[self._positions[entry.parent]].update(words(entry.short_name))
        for position, found in field_words.items():
            for word in found - STOP:
                field_postings[word].append(position)
        for position, found in enumerate(doc_words):
            for word in found:
                doc_postings[word].append(position)
        # Each word's score for each entry it appears in, the tables weighted and summed;
        # kept as two arrays (entries, scores) per word, the smallest form to hold.
        combined: dict[str, dict[int, float]] = defaultdict(dict)
        for table, weight in (
            (self._name_words, NAME_WEIGHT),
            (parent_postings, PARENT_WEIGHT),
            (doc_postings, DOC_WEIGHT),
            (field_postings, FIELD_WEIGHT),
        ):
            for word, positions in table.items():
                score, scores = weight * self._rarity(positions), combined[word]
                for position in positions:
                    scores[position] = scores.get(position, 0.0) + score
        self._postings: dict[str, Postings] = {
            word: (array("l", scores), array("d", scores.values()))
            for word, scores in combined.items()
        }
        self._term_cache: dict[tuple[str, frozenset[str]], Postings] = {}
        self._kinds = [entry.kind for entry in self.entries]
        self._places = config_places(self.entries)
        self._factors = [self._factor(entry) for entry in self.entries]
        # A member read through its class: the words of the member's own name, and the
        # words of its class and of the configs and fields above that class.
        member_words: dict[int, frozenset[str]] = {}
        self._owner_words: dict[int, frozenset[str]] = {}
        for position, entry in enumerate(self.entries):
            place = self._places.get(entry.parent) if entry.kind == "field" else None
            if place is None:
                continue
            owner = name_words(entry.parent.rsplit(".", 1)[-1]) - _GENERIC
            context = {word for name in place.path for word in name_words(name)} - _GENERIC
            member_words[position] = frozenset(words(entry.short_name)) - STOP
            self._owner_words[position] = frozenset(owner | context)
        self._members_by_words: dict[frozenset[str], list[int]] = defaultdict(list)
        for position, own in member_words.items():
            if own:
                self._members_by_words[own].append(position)
        self._member_groups: dict[str, list[frozenset[str]]] = defaultdict(list)
        for own in self._members_by_words:
            for word in own:
                self._member_groups[word].append(own)
        # A query that is a class's name ('LoraParams') asks for a class, even one renamed.
        self._class_factors = [
            factor if kind in ("class", "dataclass") else factor * 0.25
            for factor, kind in zip(self._factors, self._kinds, strict=True)
        ]
        self._vocabulary = sorted({word for e in self.entries for word in words(e.short_name)})
        self._short_names = sorted({entry.short_name for entry in self.entries})

    def find(self, query: str, *, kind: str = "", module: str = "", limit: int = 10) -> Found:
        query = query.strip()
        wanted = [e for e in self._exact(query) if _passes(e, kind, module)]
        if wanted:
            return Found("exact", wanted[:limit], [])
        short = [e for e in self._short(query) if _passes(e, kind, module)]
        ranked = self._ranked(query, kind, module, limit + len(short))
        if short:
            # Names that are the query first, then the best keyword hits beside them.
            named = {entry.name for entry in short}
            rest = [entry for entry in ranked if entry.name not in named]
            return Found("short_name", [*short, *rest][:limit], [])
        if ranked:
            # A name that is nowhere may be a typo of one: say which names are close.
            typo = self.suggestions(query) if _IDENTIFIER.fullmatch(query) else []
            return Found("search", ranked[:limit], typo)
        return Found("none", [], self.suggestions(query))

    def fields_of(self, class_name: str) -> list[ApiEntry]:
        """A dataclass's field entries, in declaration order."""
        return [self.entries[position] for position in self._fields.get(class_name, [])]

    def _exact(self, query: str) -> list[ApiEntry]:
        if query in self._by_name:
            return [self._by_name[query]]
        if query in self.aliases:
            return (
                [self._by_name[self.aliases[query]]] if self.aliases[query] in self._by_name else []
            )
        owner, _, member = query.rpartition(".")
        if owner in self.aliases:
            target = f"{self.aliases[owner]}.{member}"
            return [self._by_name[target]] if target in self._by_name else []
        return []

    def _short(self, query: str) -> list[ApiEntry]:
        key = query.lower()
        positions = self._by_short.get(key) or self._by_short.get(re.sub(r"[\s-]+", "_", key), [])
        found = [self.entries[position] for position in positions]
        return sorted(found, key=_preference)

    def _ranked(self, query: str, kind: str, module: str, limit: int) -> list[ApiEntry]:
        terms = [word for word in dict.fromkeys(words(query)) if word not in STOP] or words(query)
        if not terms:
            return []
        postings = [
            self._term_postings(term, alternatives)
            for term, alternatives in zip(terms, _alternatives(terms), strict=True)
        ]
        # A word's share of the query: rarer words say more ('pack' more than 'short').
        shares = [math.log(1 + self._count / max(len(found[0]), 1)) for found in postings]
        total = sum(shares)
        shares = [share / total for share in shares]
        (positions, term_scores), *others = postings
        scores = dict(zip(positions, term_scores, strict=True))
        matched = dict.fromkeys(positions, shares[0])  # the share of the query each entry has
        for share, (positions, term_scores) in zip(shares[1:], others, strict=True):
            for position, score in zip(positions, term_scores, strict=True):
                if position in scores:
                    scores[position] += score
                    matched[position] += share
                else:
                    scores[position] = score
                    matched[position] = share
        if kind or module:
            entries = self.entries
            scores = {p: v for p, v in scores.items() if _passes(entries[p], kind, module)}
        factors = self._class_factors if _CLASS_NAME.fullmatch(query.strip()) else self._factors
        # Every entry's value in one pass; then the fields a query names whole with where
        # they are: 'dataset split' for DatasetParams.split, 'inference batch size' for
        # GenerationParams.batch_size (InferenceConfig.generation holds it).
        values = {p: v * (c := matched[p]) * c * factors[p] for p, v in scores.items()}
        if others:
            asked = frozenset(terms)
            for position in self._named_members(asked):
                if position in values:
                    values[position] = scores[position] * factors[position] * OWNER_BOOST
        if not values:
            return []
        # The best `limit`, ties (and equal values at the cut) in order of preference.
        cut = heapq.nlargest(limit, values.values())[-1]
        preferences = self._preferences
        best = sorted(
            (p for p, v in values.items() if v >= cut),
            key=lambda p: (-values[p], preferences[p], p),
        )
        return [self.entries[position] for position in best[:limit]]

    def _named_members(self, asked: frozenset[str]) -> list[int]:
        """Fields whose own name's words are some of the query's, and whose class, or the
        configs and fields above it, name the rest."""
        found: list[int] = []
        for own in {group for word in asked for group in self._member_groups.get(word, ())}:
            if own < asked:
                rest = asked - own
                found += [p for p in self._members_by_words[own] if rest <= self._owner_words[p]]
        return found

    def _factor(self, entry: ApiEntry) -> float:
        """Oumi's configs first; among them, what a top-level config holds more directly."""
        if not entry.module.startswith(CONFIG_MODULES):
            return 1.0
        place: ConfigPlace | None = self._places.get(
            entry.parent if entry.kind in ("field", "method") else entry.name
        )
        depth = place.depth if place else UNREACHED_DEPTH
        return float(CONFIG_BOOST * DEPTH_DECAY ** max(min(depth, UNREACHED_DEPTH) - 1, 0))

    def _rarity(self, positions: list[int]) -> float:
        return math.log(1 + self._count / len(positions))

    def _term_postings(self, term: str, alternatives: frozenset[str] = frozenset()) -> Postings:
        """A query word's score for each entry: its own postings, plus half for names with
        a word it starts ('accum' -> 'accumulation'); where a synonym scores more than
        that, a fraction of the synonym's score ('context' -> 'max_length'). Kept for the
        words asked again."""
        prefixed = self._prefixed(term)
        if not prefixed and not alternatives:
            return self._postings.get(term, _NOTHING)
        key = (term, alternatives)
        cached = self._term_cache.get(key)
        if cached is not None:
            return cached
        found = dict(zip(*self._postings.get(term, _NOTHING), strict=True))
        for word in prefixed:
            positions = self._name_words[word]
            score = NAME_WEIGHT * PREFIX_FACTOR * self._rarity(positions)
            for position in positions:
                found[position] = found.get(position, 0.0) + score
        for alternative in alternatives:
            for position, value in zip(*self._postings.get(alternative, _NOTHING), strict=True):
                score = SYNONYM_FACTOR * value
                if score > found.get(position, 0.0):
                    found[position] = score
        if len(self._term_cache) >= TERM_CACHE_SIZE:
            self._term_cache.clear()
        postings = self._term_cache[key] = (array("l", found), array("d", found.values()))
        return postings

    def _prefixed(self, term: str) -> list[str]:
        """Single name words that start with a query word that is no word of a name
        itself ('accum' -> 'accumulation')."""
        if len(term) < 4 or term in self._name_words:
            return []  # a whole word is read as itself: 'pack' is not 'package'

        start = bisect.bisect_right(self._vocabulary, term)
        end = bisect.bisect_left(self._vocabulary, term + "\uffff", lo=start)
        return self._vocabulary[start:end]

    def suggestions(self, query: str) -> list[str]:
        key = query.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(key, self._short_names, n=5, cutoff=0.6)
        if not close:
            lowered = {name.lower(): name for name in self._short_names}
            close = [
                lowered[m] for m in difflib.get_close_matches(key.lower(), lowered, n=5, cutoff=0.6)
            ]
        return close


def _alternatives(terms: list[str]) -> list[frozenset[str]]:
    """Each query word's synonyms: its own, and those of the two-word phrases it is in
    ('context window' -> 'max length' for both words)."""
    found = [SYNONYMS.get(term, frozenset()) for term in terms]
    for index, (first, second) in enumerate(itertools.pairwise(terms)):
        phrase = SYNONYMS.get(first + second)
        if phrase:
            found[index] |= phrase
            found[index + 1] |= phrase
    return found


def _passes(entry: ApiEntry, kind: str, module: str) -> bool:
    if kind and entry.kind != kind:
        return False
    return not module or entry.module == module or entry.module.startswith(f"{module}.")


def _preference(entry: ApiEntry) -> tuple[int, int, int]:
    """Among equals: Oumi's configs first, classes before members, shorter names first."""
    return (
        0 if entry.module.startswith(CONFIG_MODULES) else 1,
        KIND_ORDER.get(entry.kind, 9),
        len(entry.name),
    )
