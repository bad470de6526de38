"""Job control plane: identity-only registry, live status, runtimes, logs, backends.

Kept import-light: the wrapper module runs as ``python -m`` inside every job.
"""
