"""Allow ``python -m oumi_mcp_server``."""

from oumi_mcp_server.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
