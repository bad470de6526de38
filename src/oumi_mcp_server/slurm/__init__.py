"""Remote access to a Slurm cluster's login node: ssh, the remote log dir, the probe.

A leaf below ``preflight/`` (which checks, and never writes) and ``jobs/launcher/``
(which launches): it imports nothing of ours but the leaf modules. What writes on
the cluster (``remote_dirs``) is apart from what only reads, so a boundary test
can keep ``preflight/`` read-only.
"""
