"""The job control plane: ``service.py`` (the job API) over two engines.

``process/`` runs ``oumi`` as our own process group; ``launcher/`` goes through
oumi.launcher. The modules beside them are shared by both. Kept import-light:
the process wrapper runs as ``python -m`` inside every job.
"""
