"""Check a tool call's arguments before the tool runs, and say plainly what is wrong.

- An argument the tool does not take is refused with a "did you mean" (the SDK
  would ignore it, so a typo such as ``dryrun=false`` would silently fall back
  to a default).
- Oversized arguments are refused before anything reads them, and quoted only
  as a short prefix (a 50 MB job id must not come back as a 50 MB error).
- Type and range errors name the argument, what was wrong and what to send
  instead, without the validation library's own wording and documentation links.
"""

from __future__ import annotations

import difflib
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from oumi_mcp_server.masking import shown
from oumi_mcp_server.server.requests import tool_call_params

MAX_TEXT_CHARS = 64 * 1024  # one string argument
MAX_ITEMS = 1000  # entries of one list or mapping
MAX_DEPTH = 8  # nesting of lists and mappings
MAX_LISTED_ERRORS = 10


class CheckToolArguments:
    def __init__(self, server: MCPServer) -> None:
        self._server = server
        self._accepted: dict[str, tuple[list[str], frozenset[str]]] | None = None

    async def _accepted_arguments(self) -> dict[str, tuple[list[str], frozenset[str]]]:
        """Each tool's argument names, listed once: sorted (for messages) and as a set."""
        if self._accepted is None:
            self._accepted = {}
            for tool in await self._server.list_tools():
                names = sorted((tool.input_schema or {}).get("properties", {}))
                self._accepted[tool.name] = (names, frozenset(names))
        return self._accepted

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = tool_call_params(ctx)
        if params is not None:
            name = str(params.get("name"))
            arguments = params.get("arguments") or {}
            accepted = (await self._accepted_arguments()).get(name)
            if accepted is not None and isinstance(arguments, dict):
                problem = self._problem(name, arguments, *accepted)
                if problem:
                    return _error(problem)
        return await call_next(ctx)

    def _problem(
        self, tool: str, arguments: dict[str, Any], accepted: list[str], names: frozenset[str]
    ) -> str:
        unknown = sorted(arguments.keys() - names)
        if unknown:
            return _unknown_arguments(tool, unknown, accepted)
        for field, value in arguments.items():
            too_big = _oversized(value)
            if too_big:
                return (
                    f"Invalid argument '{field}' for {tool}: {too_big}\n"
                    f"Next step: call {tool} again with a shorter {field}."
                )
        registered = self._server._tool_manager.get_tool(tool)
        if registered is None:
            return ""
        try:
            registered.fn_metadata.validate_arguments(arguments)
        except ValidationError as exc:
            return _type_errors(tool, exc)
        return ""


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _unknown_arguments(tool: str, unknown: list[str], accepted: list[str]) -> str:
    hints = []
    for argument in unknown:
        close = difflib.get_close_matches(argument, accepted, n=1)
        name = shown(argument, 40)
        hints.append(f"{name} (did you mean '{close[0]}'?)" if close else name)
    expected = ", ".join(accepted) if accepted else "no arguments"
    return (
        f"Invalid arguments for {tool}: unknown argument {', '.join(hints)}.\n"
        f"Next step: call {tool} again with only these arguments: {expected}."
    )


def _oversized(value: object, depth: int = 0) -> str:
    """Why ``value`` is too big to look at ('' when it is not)."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            # Its length only: a long value may be a secret (an env value, a token).
            return f"a text of {len(value):,} characters is longer than {MAX_TEXT_CHARS:,}."
        return ""
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH:
            return f"it nests lists or mappings deeper than {MAX_DEPTH} levels."
        if len(value) > MAX_ITEMS:
            return f"it has {len(value):,} entries; the limit is {MAX_ITEMS:,}."
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problem = _oversized(key, depth + 1) or _oversized(item, depth + 1)
            if problem:
                return problem
    return ""


# What each kind of pydantic error means, in words; {expected} and {got} are filled in.
_PHRASES = {
    "missing": "it is required.",
    "string_type": "expected text (a string), got {got}.",
    "bool_type": "expected a boolean (true or false), got {got}.",
    "bool_parsing": "expected a boolean (true or false), got {got}.",
    "int_type": "expected a whole number, got {got}.",
    "int_parsing": "expected a whole number, got {got}.",
    "int_from_float": "expected a whole number, got a number with a fraction.",
    "float_type": "expected a number, got {got}.",
    "float_parsing": "expected a number, got {got}.",
    "list_type": "expected a list, got {got}.",
    "dict_type": "expected an object (a mapping of names to values), got {got}.",
    "greater_than_equal": "it must be at least {ge}.",
    "greater_than": "it must be more than {gt}.",
    "less_than_equal": "it must be at most {le}.",
    "less_than": "it must be less than {lt}.",
    "literal_error": "it must be one of {expected}.",
    "string_too_long": "it is longer than {max_length} characters.",
    "string_too_short": "it is shorter than {min_length} characters.",
}


def _type_errors(tool: str, exc: ValidationError) -> str:
    described = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "arguments"
        context = {str(key): value for key, value in (error.get("ctx") or {}).items()}
        phrase = _PHRASES.get(str(error["type"]), "")
        try:
            text = phrase.format(got=_kind_of(error.get("input")), **context)
        except (KeyError, IndexError):
            text = ""
        described.append(f"- '{field}': {text or _plain(str(error['msg']))}")
    if len(described) > MAX_LISTED_ERRORS:
        more = len(described) - MAX_LISTED_ERRORS
        described = [*described[:MAX_LISTED_ERRORS], f"- ... and {more} more."]
    fields = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
    return "\n".join(
        [
            f"Invalid arguments for {tool}:",
            *described,
            f"Next step: call {tool} again with {', '.join(fields) or 'the arguments'} as the "
            "tool's schema gives them (tools/list shows it).",
        ]
    )


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}" if abs(value) < 1e18 else "a very large number"
    if isinstance(value, str):
        return f"the text {shown(value, 40)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _plain(message: str) -> str:
    text = message.strip().rstrip(".")
    return (text[:1].lower() + text[1:] + ".") if text else "it is not valid."
