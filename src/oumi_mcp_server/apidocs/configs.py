"""Where a class sits among Oumi's configs: reached from a top-level config
(TrainingConfig, InferenceConfig, ...) through the types of dataclass fields, how many
fields down, and the names on the way there (GenerationParams is reached through
InferenceConfig.generation, DatasetParams through TrainingConfig.data.train.datasets)."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from oumi_mcp_server.apidocs.model import ApiEntry

CONFIG_MODULES = "oumi.core.configs"
_QUALIFIED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


@dataclass(frozen=True)
class ConfigPlace:
    depth: int  # 0 for a top-level config, 1 for a class one of its fields holds, ...
    path: frozenset[str]  # short names of the configs and fields above it, on every path


def is_top_level(entry: ApiEntry) -> bool:
    """A config a user writes as a file: a dataclass of oumi.core.configs named *Config."""
    return (
        entry.kind == "dataclass"
        and entry.module.startswith(CONFIG_MODULES)
        and entry.short_name.endswith("Config")
    )


def config_places(entries: Iterable[ApiEntry]) -> dict[str, ConfigPlace]:
    """Each class reachable from a top-level config, by qualified name."""
    entries = list(entries)
    classes = {entry.name for entry in entries if entry.kind in ("class", "dataclass")}
    # holder class -> (field name, class the field holds), from type strings such as
    # 'list[oumi.core.configs.params.data_params.DatasetParams] | None'.
    held: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entry in entries:
        if entry.kind == "field" and entry.parent:
            for name in dict.fromkeys(_QUALIFIED.findall(entry.type)):
                if name in classes and name != entry.parent:
                    held[entry.parent].append((entry.short_name, name))
    roots = [entry.name for entry in entries if is_top_level(entry)]
    depth = dict.fromkeys(roots, 0)
    path: dict[str, set[str]] = {root: set() for root in roots}
    queue = deque(roots)
    while queue:
        holder = queue.popleft()
        for _, name in held.get(holder, ()):
            if name not in depth:
                depth[name] = depth[holder] + 1
                path[name] = set()
                queue.append(name)
    # The names above a class on every path to it (a fixpoint: paths may share classes).
    changed = True
    while changed:
        changed = False
        for holder in depth:
            above = {holder.rsplit(".", 1)[-1], *path[holder]}
            for field_name, name in held.get(holder, ()):
                new = (above | {field_name}) - path[name]
                if new:
                    path[name] |= new
                    changed = True
    return {name: ConfigPlace(depth[name], frozenset(path[name])) for name in depth}
