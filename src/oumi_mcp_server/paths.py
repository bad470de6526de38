"""Paths are the client's: resolve them against ``client_cwd``, never the server's cwd."""

from __future__ import annotations

import os
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError

CLIENT_CWD_HINT = (
    "Pass client_cwd as the absolute path of the user's project directory "
    "(for example the directory the user works in)."
)


def resolve_client_cwd(client_cwd: str) -> Path:
    """Check that ``client_cwd`` is an absolute, existing directory; return it resolved."""
    if not client_cwd or not client_cwd.strip():
        raise InvalidArgumentError("client_cwd", "it is empty.", next_step=CLIENT_CWD_HINT)
    if "\x00" in client_cwd:
        raise InvalidArgumentError(
            "client_cwd", "it contains a NUL byte.", next_step=CLIENT_CWD_HINT
        )
    raw = Path(client_cwd)
    if not raw.is_absolute():
        raise InvalidArgumentError(
            "client_cwd",
            f"'{client_cwd}' is relative; it must be absolute.",
            next_step=CLIENT_CWD_HINT,
        )
    if not raw.exists():
        raise InvalidArgumentError(
            "client_cwd", f"'{client_cwd}' does not exist.", next_step=CLIENT_CWD_HINT
        )
    if not raw.is_dir():
        raise InvalidArgumentError(
            "client_cwd", f"'{client_cwd}' is not a directory.", next_step=CLIENT_CWD_HINT
        )
    return raw.resolve()


def expand_user_path(raw: str, client_cwd: Path) -> Path:
    """Resolve a path as the user means it: ``~`` expanded, relative to ``client_cwd``.

    The result is normalised (``..`` collapsed) but symlinks are kept, so the
    caller can still tell where a link points (see ``is_inside``).
    """
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = client_cwd / path
    return Path(os.path.normpath(path))


def is_inside(path: Path, directory: Path) -> bool:
    """True when ``path`` (after following symlinks) lies in ``directory``."""
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def resolve_config_file(config: str, client_cwd: Path) -> Path:
    """The config file the user means, with a precise error for each way it can be wrong."""
    if not config or not config.strip():
        raise InvalidArgumentError(
            "config", "it is empty.", next_step="Pass the path of a YAML config file."
        )
    path = expand_user_path(config, client_cwd)
    if not path.exists():
        raise NotFoundError(
            f"Config file not found: {path} (from '{config}' relative to client_cwd {client_cwd}).",
            next_step="Check the path; relative paths resolve against client_cwd, not the server.",
        )
    if path.is_dir():
        raise InvalidArgumentError(
            "config",
            f"{path} is a directory, not a YAML file.",
            next_step="Pass the path of the YAML file inside it.",
        )
    return path
