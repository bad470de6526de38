"""The build child: ``python -m oumi_mcp_server.apidocs.build --out FILE``.

Imports all of oumi (seconds, and a gigabyte) in its own process, so the server
never carries it. Progress goes to the parent as JSON lines on the original
stdout; anything oumi prints goes to stderr. The index is written whole, through
a temporary file, or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from pathlib import Path

from oumi_mcp_server.apidocs.cache import save
from oumi_mcp_server.apidocs.introspect import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oumi_mcp_server.apidocs.build")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    progress_stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what oumi and its imports print must not mix with progress
    sys.stdout = sys.stderr

    def progress(done: int, total: int, module: str) -> None:
        progress_stream.write(json.dumps({"done": done, "total": total, "module": module}) + "\n")

    index = build(metadata.version("oumi"), progress)
    save(index, args.out)
    progress_stream.write(json.dumps({"finished": True, "entries": len(index.entries)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
