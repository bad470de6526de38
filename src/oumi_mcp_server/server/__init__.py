"""The MCP layer: the only package that imports the MCP SDK."""
