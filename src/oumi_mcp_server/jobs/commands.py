"""What a job runs: the command allow-list, override and env checks, the argv.

Nothing here goes through a shell: the argv is passed to the OS as a list.
Overrides use the form the Oumi 0.9 CLI parses (``oumi train -c f.yaml
--training.max_steps=10``): the caller writes ``training.max_steps=10`` and we
pass ``--training.max_steps=10`` as one argument.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import COMMAND_ALIASES, COMMAND_ARGV, OUTPUT_FIELDS
from oumi_mcp_server.masking import shown

MAX_OVERRIDES = 64
MAX_OVERRIDE_LENGTH = 1000
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$")
# Characters a shell would interpret; never needed in an Oumi override value.
SHELL_METACHARACTERS = frozenset(";&|$`<>\\'\"(){}*?\n\r\x00")
# Top-level names that the CLI itself parses as options, not config fields.
RESERVED_KEYS = frozenset({"config", "list", "help", "verbose", "interactive", "image", "raw"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIX = "OUMI_MCP_"
OVERRIDE_HINT = (
    "Write each override as key.path=value, e.g. training.max_steps=10 or "
    "data.train.datasets[0].dataset_path=data/train.jsonl (no leading dashes, no quotes, "
    "no shell characters; values are passed as-is, never through a shell)."
)


def check_command(command: str) -> str:
    name = command.strip().lower()
    name = COMMAND_ALIASES.get(name, name)
    if name not in COMMAND_ARGV:
        raise InvalidArgumentError(
            "command",
            f"{shown(command)} is not a command this server runs.",
            next_step=f"Use one of: {', '.join(COMMAND_ARGV)}.",
        )
    return name


@dataclass(frozen=True)
class Override:
    key: str
    value: str

    @property
    def argument(self) -> str:
        return f"--{self.key}={self.value}"


def parse_overrides(overrides: Sequence[str]) -> list[Override]:
    if len(overrides) > MAX_OVERRIDES:
        raise InvalidArgumentError(
            "overrides", f"{len(overrides)} given; at most {MAX_OVERRIDES}.", next_step=""
        )
    return [_parse_override(raw) for raw in overrides]


def _parse_override(raw: str) -> Override:
    text = raw.strip()

    def bad(problem: str) -> InvalidArgumentError:
        return InvalidArgumentError("overrides", f"{shown(raw)} {problem}", next_step=OVERRIDE_HINT)

    if len(text) > MAX_OVERRIDE_LENGTH:
        raise bad(f"is longer than {MAX_OVERRIDE_LENGTH} characters.")
    if text.startswith("-"):
        raise bad("starts with a dash; write key.path=value without leading dashes.")
    found = sorted({char for char in text if char in SHELL_METACHARACTERS})
    if found:
        listed = " ".join(repr(char) for char in found)
        raise bad(f"contains shell metacharacters ({listed}).")
    if "=" not in text:
        raise bad("is not of the form key.path=value.")
    key, value = (part.strip() for part in text.split("=", 1))
    if not _KEY.match(key):
        raise bad(f"has an invalid key '{key}'.")
    if key in RESERVED_KEYS:
        raise bad(f"sets '{key}', an option of the oumi command itself, not a config field.")
    if value.startswith("--"):
        raise bad("has a value starting with '--'.")
    return Override(key, value)


def check_envs(envs: Mapping[str, str]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in envs.items():
        if not _ENV_NAME.match(name):
            raise InvalidArgumentError(
                "envs",
                f"{shown(name)} is not a valid environment variable name.",
                next_step="Use names made of letters, digits and '_' (not starting with a digit).",
            )
        if name.startswith(RESERVED_ENV_PREFIX):
            raise InvalidArgumentError(
                "envs", f"{shown(name)} is reserved for the server.", next_step="Use another name."
            )
        if "\x00" in str(value):
            raise InvalidArgumentError("envs", f"the value of '{name}' contains NUL.")
        checked[name] = str(value)
    return checked


def oumi_argv(
    oumi_executable: str, command: str, staged_config: str, overrides: Sequence[Override]
) -> list[str]:
    return [
        oumi_executable,
        *COMMAND_ARGV[command],
        "-c",
        staged_config,
        *(override.argument for override in overrides),
    ]


def dotted_get(data: object, dotted: str) -> object:
    current = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def output_location(command: str, data: object, overrides: Sequence[Override]) -> str:
    """Where the job writes its results, as written (relative to the working dir)."""
    by_key = {override.key: override.value for override in overrides}
    for field in OUTPUT_FIELDS.get(command, ()):
        if field in by_key:
            return by_key[field]
        value = dotted_get(data, field)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def model_name(data: object, overrides: Sequence[Override]) -> str:
    for override in overrides:
        if override.key == "model.model_name":
            return override.value
    value = dotted_get(data, "model.model_name")
    return value if isinstance(value, str) else ""
