"""Jobs we run ourselves: ``oumi <command>`` in its own process group, surviving restarts.

Kept import-light: the wrapper module runs as ``python -m`` inside every job.
"""
