"""Map domain errors to MCP tool errors, once, in one place."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError

from oumi_mcp_server.errors import OumiMcpError

logger = logging.getLogger(__name__)


@contextmanager
def reported_as_tool_errors(tool: str) -> Iterator[None]:
    """Turn any failure inside a tool into an ``isError`` result that says what to do.

    Anticipated failures carry their own advice. Anything else is a bug: it is
    logged with its traceback on stderr, and the caller still learns what
    failed instead of a bare "Error executing tool".
    """
    try:
        yield
    except ToolError:
        raise
    except OumiMcpError as exc:
        raise ToolError(exc.describe()) from exc
    except Exception as exc:
        logger.exception("Tool %s failed unexpectedly", tool)
        raise ToolError(
            f"{tool} failed unexpectedly: {type(exc).__name__}: {exc}\n"
            "Next step: the server is still running; retry once, and if it fails again "
            "check the server log (stderr) and report the error."
        ) from exc
