"""The one error tree of oumi-mcp-server.

Every failure we expect (bad arguments, missing files, an engine that is
unavailable or too slow) is an ``OumiMcpError``: it says what went wrong and,
in ``next_step``, what the caller can do about it. The MCP layer turns these
into ``isError`` tool results; nothing else in the code base knows about MCP.
"""

from __future__ import annotations


class OumiMcpError(Exception):
    """Base class: a failure we anticipated, with advice on what to do next."""

    def __init__(self, message: str, *, next_step: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.next_step = next_step

    def describe(self) -> str:
        """The message a person (or an assistant) should read."""
        if not self.next_step:
            return self.message
        return f"{self.message}\nNext step: {self.next_step}"


class InvalidArgumentError(OumiMcpError):
    """A tool argument is malformed or out of range."""

    def __init__(self, field: str, message: str, *, next_step: str = "") -> None:
        super().__init__(f"Invalid argument '{field}': {message}", next_step=next_step)
        self.field = field


class NotFoundError(OumiMcpError):
    """Something the caller named (a file, a job, a topic) does not exist."""


class EngineUnavailableError(OumiMcpError):
    """An engine (oumi, SkyPilot, a cloud) is not installed or not reachable."""


class EngineTimeoutError(OumiMcpError):
    """An engine call did not answer within its time limit."""


class LibraryUnavailableError(OumiMcpError):
    """No source of the config library works (override, cache, sync, checkout)."""


class LibraryNotReadyError(OumiMcpError):
    """The config library is still being fetched or indexed; try again shortly."""


class LibrarySyncError(OumiMcpError):
    """Fetching the version-matched config library failed (offline, timeout, bad archive)."""
