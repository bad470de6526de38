"""Read a YAML config file with one clear message for each way it can be unusable.

Reading is bounded: a regular file only (never a pipe or device), at most
``MAX_CONFIG_BYTES``, nesting at most ``MAX_DEPTH`` deep, and at most
``MAX_NODES`` values once YAML aliases are expanded (a few hundred bytes of
aliases can stand for billions of values). Parsing stops at the caller's
deadline, so no worker keeps parsing after its caller has answered. Each limit,
when hit, is its own error that names it. Messages quote no value from the file: positions, and key
names only once the file has parsed as a mapping.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.paths import resolve_client_cwd, resolve_config_file

MAX_CONFIG_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_ALIASES = 10_000
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# A key that looks like a field name may be quoted back; any other key (``root:x:0:0``,
# a host name, a line of some other file) might be a line of a file that is not a config.
_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
HIDDEN_KEY = "<a key that is not a field name>"


def shown_key(key: object) -> str:
    """``key`` as an answer may quote it: a name-like key as it is, any other hidden."""
    text = str(key)
    return text if _NAME_LIKE.fullmatch(text) else HIDDEN_KEY


# A worker stops parsing this long after its caller's time limit: the caller's own
# time-out is what gets reported, and nothing keeps parsing for long after it.
STOP_GRACE_S = 1.0


def deadline_after(timeout_s: float) -> float:
    """The ``deadline`` for a read whose caller waits ``timeout_s``."""
    return time.monotonic() + timeout_s + STOP_GRACE_S


class ConfigFileError(OumiMcpError):
    """The file cannot be read as a YAML mapping."""


class ConfigLimitError(ConfigFileError):
    """The file goes past a limit that keeps reading it bounded."""


@dataclass(frozen=True)
class ConfigDocument:
    path: Path
    text: str
    data: dict[str, Any]


def read_project_config(
    config: str,
    client_cwd: str,
    extra_roots: Sequence[Path] = (),
    deadline: float | None = None,
) -> tuple[Path, ConfigDocument]:
    """Blocking: the resolved ``client_cwd`` and the config it names, read and parsed
    (inside the project or ``extra_roots`` only; see paths.resolve_config_file) before
    ``deadline`` (``time.monotonic()``)."""
    cwd = resolve_client_cwd(client_cwd)
    return cwd, load_config_document(resolve_config_file(config, cwd, extra_roots), deadline)


def read_config_text(path: Path) -> str:
    """The file's text: a regular file, at most ``MAX_CONFIG_BYTES``, UTF-8. Blocking."""
    try:
        # O_NONBLOCK: should the path have become a FIFO since it was checked, open
        # returns at once instead of waiting for a writer; fstat then refuses it.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigFileError(
            f"{path} cannot be opened: {exc.strerror or type(exc).__name__}.",
            next_step="Check that the file exists and is readable.",
        ) from exc
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ConfigFileError(
                f"{path} is not a regular file (a pipe, device or socket).",
                next_step="Pass the path of a YAML config file.",
            )
        raw = handle.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigLimitError(
            f"{path} is larger than {MAX_CONFIG_BYTES:,} bytes, the limit for a config.",
            next_step="Check that this is an Oumi YAML config (data belongs in dataset files).",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            next_step="Save the config as UTF-8 YAML.",
        ) from exc


def load_config_document(path: Path, deadline: float | None = None) -> ConfigDocument:
    """Parse ``path`` as a YAML mapping, within the limits. Blocking: call from a worker thread."""
    text = read_config_text(path)
    if not text.strip():
        raise ConfigFileError(f"{path} is empty.", next_step="Write the config, then try again.")
    data = parse_bounded_yaml(text, path, deadline)
    if data is None:
        raise ConfigFileError(
            f"{path} has only comments.", next_step="Write the config, then try again."
        )
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"The top level of {path} is a {type(data).__name__}, not a mapping of fields.",
            next_step="An Oumi config starts with top-level keys such as model:, data:, training:.",
        )
    return ConfigDocument(path=path, text=text, data=data)


def parse_bounded_yaml(text: str, path: Path, deadline: float | None = None) -> Any:
    """YAML (safe tags only) within MAX_DEPTH, MAX_ALIASES and MAX_NODES, by ``deadline``."""
    import yaml

    loader = _bounded_loader(yaml)(text)
    loader.deadline = deadline
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded = _expanded_size(node, {})
        if expanded > MAX_NODES:
            raise ConfigLimitError(
                f"{path} stands for more than {MAX_NODES:,} values once its YAML aliases "
                "(*name) are expanded (or an alias contains itself).",
                next_step="Write the config without chains of aliases; an Oumi config has a "
                "few hundred values.",
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, path) from exc
    finally:
        loader.dispose()


def _bounded_loader(yaml: Any) -> Any:
    class BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
        """SafeLoader that stops at MAX_DEPTH nesting and MAX_ALIASES alias uses."""

        depth = 0
        aliases = 0
        nodes = 0
        deadline: float | None = None

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.nodes += 1
            deadline = self.deadline if self.nodes % 1000 == 0 else None
            if deadline is not None and time.monotonic() > deadline:
                raise ConfigLimitError(
                    "Reading the config took longer than its time limit; it was stopped.",
                    next_step="Check that this is an Oumi YAML config (a few KB).",
                )
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise ConfigLimitError(
                        f"The config uses more than {MAX_ALIASES:,} YAML aliases (*name).",
                        next_step="Write the values out; an Oumi config needs few aliases.",
                    )
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ConfigLimitError(
                    f"The config nests deeper than {MAX_DEPTH} levels.",
                    next_step="An Oumi config is a few levels deep; check the indentation "
                    "and brackets.",
                )
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """Values under ``node`` with aliases expanded, each shared node counted once per use
    (computed once per node, so a bomb is measured without being expanded)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_NODES + 1  # a node inside itself (a recursive alias) is too big
    total = 1
    if isinstance(node.value, list):
        for item in node.value:
            parts = item if isinstance(item, tuple) else (item,)
            total += sum(_expanded_size(part, sizes) for part in parts)
            if total > MAX_NODES:
                break
    sizes[id(node)] = total
    return total


def _syntax_error(exc: Exception, path: Path) -> ConfigFileError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = str(getattr(exc, "problem", None) or type(exc).__name__)
    # The parser's words only: what it quotes is the file's content.
    problem = _QUOTED.sub("'...'", problem)
    return ConfigFileError(
        f"YAML syntax error in {path}{where}: {problem}.",
        next_step="Fix the YAML at that position (indentation, quotes, colons).",
    )
