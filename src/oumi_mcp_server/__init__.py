"""oumi-mcp-server: an MCP server for the Oumi fine-tuning workflow.

Importing this package is cheap: it never imports oumi, torch, transformers,
SkyPilot or huggingface_hub. Those load lazily, in worker threads.
"""

__version__ = "0.1.0"
