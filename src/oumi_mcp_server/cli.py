"""Command line: ``oumi-mcp-server [serve] [--transport stdio|http] ...``, ``sync-configs``,
``doctor [--json]``."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

from oumi_mcp_server import __version__

DEFAULT_HTTP_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oumi-mcp-server",
        description="MCP server for the Oumi fine-tuning workflow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="Serve MCP (the default command).")
    _add_serve_arguments(serve)
    sync = commands.add_parser(
        "sync-configs",
        help="Download the installed oumi version's config library into the cache (needs network).",
    )
    sync.add_argument(
        "--if-missing",
        action="store_true",
        help="Only sync when the cache has no library for this oumi version (default: refresh).",
    )
    doctor = commands.add_parser(
        "doctor",
        help="Check this installation (read-only, a few seconds) and print the client config.",
    )
    doctor.add_argument("--json", action="store_true", help="Print one JSON object.")
    return parser


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument(
        "--host", default="127.0.0.1", help="HTTP bind address (default: loopback only)."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="HTTP port.")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="HTTP without the bearer token (only with a loopback --host).",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="HTTP: also accept this Host header (repeatable).",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="HTTP: also accept requests from this Origin, e.g. https://app.example (repeatable).",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="Only tools that change nothing (same as OUMI_MCP_READ_ONLY=1).",
    )


def _configure_logging(level: str) -> None:
    from oumi_mcp_server.masking import MaskSecretsInLogs

    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # secrets never reach the log
        handler.addFilter(MaskSecretsInLogs())


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (
        args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version")
    ):
        args_list.insert(0, "serve")
    args = _parser().parse_args(args_list)
    if args.command in (None, "serve"):
        return _serve(args)
    if args.command == "sync-configs":
        return _sync_configs(force=not args.if_missing)
    if args.command == "doctor":
        return _doctor(as_json=args.json)
    return 2


def _doctor(*, as_json: bool) -> int:
    import json

    from oumi_mcp_server.doctor import render_text, run_doctor
    from oumi_mcp_server.settings import Settings

    settings = Settings.from_env()
    _configure_logging("WARNING")
    report = run_doctor(settings)
    print(json.dumps(report.to_json(), indent=2) if as_json else render_text(report))
    return 1 if report.blocked else 0


def _sync_configs(*, force: bool) -> int:
    from oumi_mcp_server.environment.versions import installed_version
    from oumi_mcp_server.errors import LibrarySyncError
    from oumi_mcp_server.library.fetch import default_providers
    from oumi_mcp_server.library.sync import sync_library
    from oumi_mcp_server.settings import Settings

    settings = Settings.from_env()
    _configure_logging(settings.log_level)
    version = installed_version("oumi")
    if version is None:
        print("oumi is not installed here: install oumi first (pip install 'oumi==0.9.*').")
        return 1
    print(f"Syncing the config library for oumi {version} (PyPI sdist, then GitHub)...")
    try:
        result = sync_library(
            settings.cache_dir,
            version,
            providers=default_providers(github_timeout_s=settings.github_timeout_s),
            timeout_s=settings.library_sync_timeout_s,
            force=force,
        )
    except LibrarySyncError as exc:
        print(exc.describe())
        return 1
    print(result.describe())
    if settings.configs_dir is not None:
        print(f"Note: OUMI_MCP_CONFIGS_DIR={settings.configs_dir} is set and takes precedence.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    # Start-up allocates many long-lived objects (the MCP SDK's pydantic models);
    # collecting garbage in the middle of it only costs time. Collection resumes
    # once the server is built, with the start-up objects frozen out of its way.
    gc.disable()
    streams = None
    if args.transport == "stdio":
        # First of all: from here on only MCP messages reach the client's stdout.
        from oumi_mcp_server.protocol_stdio import claim_protocol_streams

        streams = claim_protocol_streams()

    from dataclasses import replace

    from oumi_mcp_server.server.app import build_server
    from oumi_mcp_server.server.http import HttpSetupError, http_access
    from oumi_mcp_server.server.runner import run_http, run_stdio
    from oumi_mcp_server.settings import Settings, strip_overriding_env

    settings = Settings.from_env()
    if args.read_only:
        settings = replace(settings, read_only=True)
    _configure_logging(settings.log_level)
    removed = strip_overriding_env()
    if removed:
        logging.getLogger(__name__).warning(
            "Ignoring %s: they would silently override tool parameters.", ", ".join(removed)
        )
    access = None
    if streams is None:
        try:
            access = http_access(
                args.host,
                settings.state_dir,
                no_auth=args.no_auth,
                allowed_hosts=args.allowed_host,
                allowed_origins=args.allowed_origin,
            )
        except HttpSetupError as exc:
            print(f"oumi-mcp-server: {exc}", file=sys.stderr)
            return 2
    server = build_server(settings, transport=args.transport)
    gc.freeze()
    gc.enable()
    if streams is not None:
        run_stdio(server, streams)
    elif access is not None:
        run_http(server, host=args.host, port=args.port, access=access)
    return 0
