"""The engine worker: one process per user, state dir and engine environment that runs
everything importing oumi, torch, transformers or SkyPilot.

MCP servers reach it over a unix socket in their private state dir (client.py),
start it on demand, and replace it when a call outlives its deadline or it dies.
The worker (host.py) serves a fixed set of operations on its engines (engines.py)
and exits after a while with no client. The server process never imports oumi.
"""
