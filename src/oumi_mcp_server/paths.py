"""Paths are the client's: resolve them against ``client_cwd``, never the server's cwd.

A config the server reads must lie, after following symlinks, inside the
project (``client_cwd``) or one of the extra roots the settings allow (the
config library, ``OUMI_MCP_ALLOWED_ROOTS``), and be a regular file: the server
never reads, or quotes, a file elsewhere on the machine.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.masking import shown

# Longer paths are refused before the OS is asked (it would fail with "File name too long").
MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255

# Folders that are never a project: client_cwd decides what may be read, so one of these
# would open the machine's own files. The trees below hold no project at any depth.
SYSTEM_FOLDERS = frozenset(
    Path(name)
    for name in (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
        "/Users",
        "/System",
        "/Library",
        "/Applications",
        "/Volumes",
        "/private",
        "/private/etc",
        "/private/var",
        "/private/tmp",
    )
)
SYSTEM_TREES = tuple(Path(name) for name in ("/etc", "/proc", "/sys", "/dev", "/boot", "/run"))

CLIENT_CWD_HINT = (
    "Pass client_cwd as the absolute path of the user's project directory "
    "(for example the directory the user works in)."
)


def check_path_text(field: str, raw: str, next_step: str) -> None:
    """Refuse a path the OS could not even look up: empty, with NUL, or too long."""
    if not raw or not raw.strip():
        raise InvalidArgumentError(field, "it is empty.", next_step=next_step)
    if "\x00" in raw:
        raise InvalidArgumentError(field, "it contains a NUL byte.", next_step=next_step)
    longest = max((len(part) for part in raw.split(os.sep)), default=0)
    if len(raw) > MAX_PATH_CHARS or longest > MAX_NAME_CHARS:
        raise InvalidArgumentError(
            field,
            f"{shown(raw)} is too long for a path (at most {MAX_PATH_CHARS} characters, "
            f"{MAX_NAME_CHARS} per name).",
            next_step=next_step,
        )


def resolve_client_cwd(client_cwd: str) -> Path:
    """Check that ``client_cwd`` is an absolute, existing directory; return it resolved."""
    check_path_text("client_cwd", client_cwd, CLIENT_CWD_HINT)
    raw = Path(client_cwd)
    if not raw.is_absolute():
        raise InvalidArgumentError(
            "client_cwd",
            f"{shown(client_cwd)} is relative; it must be absolute.",
            next_step=CLIENT_CWD_HINT,
        )
    if not raw.exists():
        raise InvalidArgumentError(
            "client_cwd", f"{shown(client_cwd)} does not exist.", next_step=CLIENT_CWD_HINT
        )
    if not raw.is_dir():
        raise InvalidArgumentError(
            "client_cwd", f"{shown(client_cwd)} is not a directory.", next_step=CLIENT_CWD_HINT
        )
    resolved = raw.resolve()
    if is_system_folder(resolved):
        raise InvalidArgumentError(
            "client_cwd",
            f"{shown(client_cwd)} is a system folder, not a project: the server reads configs "
            "only inside client_cwd, so it must be the user's own project directory.",
            next_step=CLIENT_CWD_HINT,
        )
    return resolved


def is_system_folder(path: Path) -> bool:
    """True for the root, a bare top-level folder of the system, the home folder itself (it
    holds the user's credentials, not one project), or a folder in a tree that holds no
    project (/etc, /proc, /sys, /dev, /boot, /run)."""
    if path in SYSTEM_FOLDERS or any(path.is_relative_to(tree) for tree in SYSTEM_TREES):
        return True
    try:
        return path == Path.home().resolve()
    except (OSError, RuntimeError):  # no home folder known
        return False


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


def inside_any(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path`` (after following symlinks) lies in one of ``roots``."""
    return any(is_inside(path, root) for root in roots)


def require_inside(field: str, path: Path, client_cwd: Path, extra_roots: Sequence[Path]) -> Path:
    """``path``, if it lies (after symlinks) in the project or ``extra_roots``; else an error."""
    if inside_any(path, [client_cwd, *extra_roots]):
        return path
    raise InvalidArgumentError(
        field,
        f"{path} is outside the project {client_cwd}: the server reads and lists files only "
        "inside client_cwd or the config library.",
        next_step="Use a folder inside the project, or list it in OUMI_MCP_ALLOWED_ROOTS "
        "(paths separated by ':') for the server.",
    )


@dataclass(frozen=True)
class FileRole:
    """What a file argument is, for its error messages."""

    field: str  # the argument's name
    noun: str  # "Config file", "Log file"
    wanted: str  # what to pass instead: "a YAML config file", "a log file"
    outside_step: str  # the next step when it lies outside the project


CONFIG_ROLE = FileRole(
    "config",
    "Config file",
    "a YAML config file",
    "Copy the config into the project and pass its relative path, or list its folder in "
    "OUMI_MCP_ALLOWED_ROOTS (paths separated by ':') for the server.",
)


def resolve_project_file(
    raw: str, client_cwd: Path, extra_roots: Sequence[Path], role: FileRole
) -> Path:
    """The file the user means, with a precise error for each way it can be wrong.

    It must be a regular file inside ``client_cwd`` or one of ``extra_roots`` once
    symlinks are followed; that is checked before anything else is said about it.
    """
    check_path_text(role.field, raw, f"Pass the path of {role.wanted} in the project.")
    path = expand_user_path(raw, client_cwd)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, or a name the OS refuses
        raise InvalidArgumentError(
            role.field, f"{shown(raw)} cannot be resolved: {type(exc).__name__}."
        ) from exc
    if not inside_any(resolved, [client_cwd, *extra_roots]):
        raise InvalidArgumentError(
            role.field,
            f"{shown(raw)} is outside the project {client_cwd}"
            + (" (it is a symlink that leads out)" if path.is_symlink() else "")
            + ": the server reads files only inside client_cwd or the config library.",
            next_step=role.outside_step,
        )
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise NotFoundError(
            f"{role.noun} not found: {path} (from {shown(raw)} relative to client_cwd "
            f"{client_cwd}).",
            next_step="Check the path; relative paths resolve against client_cwd, not the server.",
        ) from None
    except OSError as exc:
        raise InvalidArgumentError(
            role.field, f"{path} cannot be read: {exc.strerror or type(exc).__name__}."
        ) from exc
    if stat.S_ISDIR(mode):
        raise InvalidArgumentError(
            role.field,
            f"{path} is a directory, not a regular file.",
            next_step=f"Pass the path of {role.wanted} inside it.",
        )
    if not stat.S_ISREG(mode):
        raise InvalidArgumentError(
            role.field,
            f"{path} is not a regular file (a pipe, device or socket).",
            next_step=f"Pass the path of {role.wanted}.",
        )
    return path


def resolve_config_file(config: str, client_cwd: Path, extra_roots: Sequence[Path] = ()) -> Path:
    """The config file the user means (see ``resolve_project_file``)."""
    return resolve_project_file(config, client_cwd, extra_roots, CONFIG_ROLE)
