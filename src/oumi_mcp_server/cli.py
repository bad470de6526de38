"""Command line: ``oumi-mcp-server [serve] [--transport stdio|http] ...``."""

from __future__ import annotations

import argparse
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
    return parser


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument(
        "--host", default="127.0.0.1", help="HTTP bind address (default: loopback only)."
    )
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="HTTP port.")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if (
        not args_list
        or (args_list[0].startswith("-")
        and args_list[0] not in ("-h", "--help", "--version"))
    ):
        args_list.insert(0, "serve")
    args = _parser().parse_args(args_list)
    if args.command in (None, "serve"):
        return _serve(
            transport=getattr(args, "transport", "stdio"),
            host=getattr(args, "host", "127.0.0.1"),
            port=getattr(args, "port", DEFAULT_HTTP_PORT),
        )
    return 2


def _serve(*, transport: str, host: str, port: int) -> int:
    streams = None
    if transport == "stdio":
        # First of all: from here on only MCP messages reach the client's stdout.
        from oumi_mcp_server.protocol_stdio import claim_protocol_streams

        streams = claim_protocol_streams()

    from oumi_mcp_server.server.app import build_server
    from oumi_mcp_server.server.runner import run_http, run_stdio
    from oumi_mcp_server.settings import Settings

    settings = Settings.from_env()
    _configure_logging(settings.log_level)
    server = build_server(settings)
    if streams is not None:
        run_stdio(server, streams)
    else:
        run_http(server, host=host, port=port)
    return 0
