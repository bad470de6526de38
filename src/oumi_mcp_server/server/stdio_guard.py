"""Every request line on stdio gets an answer, even one the MCP SDK cannot parse.

The SDK's stdio transport (mcp 2.3) hands a line it cannot validate to the
session as an exception, and the session drops it: broken JSON, a lone
``\\ud800`` escape, a request without ``method`` or a non-object get no
response and no log line, so the client waits for its own time-out (over HTTP
the same bytes get 400/-32700). We sit between the bytes and the SDK: each line
is checked first; a bad one is answered here with a JSON-RPC error (-32700 parse
error, -32600 invalid request; with the request's id when it can be read) and a
log line, and only good lines reach the SDK. No line can stop the reader: one
nested too deeply for the parser (a RecursionError, not a ValueError) or deeper
than ``MAX_NESTING`` is answered like any other bad line, and so is an ``id``
that is not a string or a number (the SDK would drop that request unanswered).
Our answers and the SDK's go through one writer, a whole line at a time, so they
never interleave.
See docs/sdk-notes.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any, TextIO

import anyio
import mcp_types as types

from oumi_mcp_server.masking import mask_text

logger = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
SHOWN_CHARS = 200
# Deeper lines are refused before they reach the SDK: no MCP message nests anywhere near
# this, and the code that handles a request (validation, masking, the audit log) recurses.
MAX_NESTING = 100


class LineWriter:
    """Writes whole lines, one writer at a time (the SDK's messages and our answers)."""

    def __init__(self, file: anyio.AsyncFile[str]) -> None:
        self._file = file
        self._lock = anyio.Lock()

    async def write(self, text: str) -> int:
        async with self._lock:
            written = await self._file.write(text)
            await self._file.flush()
        return written

    async def flush(self) -> None:
        return None  # every write is flushed under the lock


class AnsweringReader:
    """The lines of ``source`` that are JSON-RPC messages; the others are answered.

    Each line is read in a worker thread that a shutdown abandons: a read blocked on
    a silent client never keeps the server from exiting on a signal.
    """

    def __init__(self, source: TextIO, writer: LineWriter) -> None:
        self._source = source
        self._writer = writer

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        while True:
            line = await anyio.to_thread.run_sync(self._source.readline, abandon_on_cancel=True)
            if not line:
                return  # the client closed the stream
            if not line.strip():
                continue
            try:
                problem = malformed(line)
            except Exception:  # a check that fails must not end the session
                logger.exception("Checking a request line failed")
                problem = PARSE_ERROR, "Parse error: the line could not be read", None
            if problem is None:
                yield line
                continue
            code, reason, request_id = problem
            logger.warning(
                "Answered a malformed request line with %d (%s): %s",
                code,
                reason,
                mask_text(line.strip())[:SHOWN_CHARS],
            )
            answer = {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": code, "message": reason},
            }
            await self._writer.write(json.dumps(answer) + "\n")


def malformed(line: str) -> tuple[int, str, str | int | None] | None:
    """Why a line is not a JSON-RPC message (code, reason, the id if readable), or None."""
    try:
        data: Any = json.loads(line)
    except ValueError as exc:
        return PARSE_ERROR, f"Parse error: the line is not JSON ({exc})", None
    except RecursionError:
        return PARSE_ERROR, "Parse error: the line nests too deeply to be read", None
    request_id = _request_id(data)
    if nesting_exceeds(data, MAX_NESTING):
        what = f"it nests deeper than {MAX_NESTING} levels"
        return INVALID_REQUEST, f"Invalid Request: {what}", request_id
    if isinstance(data, dict) and "id" in data and request_id is None:
        what = "its id must be a string or a number"
        return INVALID_REQUEST, f"Invalid Request: {what}", None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return PARSE_ERROR, "Parse error: a string holds a lone surrogate escape", request_id
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except Exception as exc:  # whatever the SDK would drop, we answer
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        what = "not a JSON-RPC 2.0 request, notification or response"
        return INVALID_REQUEST, f"Invalid Request: {what} ({first[:SHOWN_CHARS]})", request_id
    return None


def nesting_exceeds(data: Any, limit: int) -> bool:
    """True when arrays and objects in ``data`` nest more than ``limit`` deep (no recursion)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if not isinstance(value, dict | list):
            continue
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children)
    return False


def _request_id(data: Any) -> str | int | None:
    if not isinstance(data, dict):
        return None
    found = data.get("id")
    if isinstance(found, bool) or not isinstance(found, str | int):
        return None
    return found
