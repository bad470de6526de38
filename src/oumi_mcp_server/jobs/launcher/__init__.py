"""Jobs through oumi.launcher: any cloud, Kubernetes, Slurm/HPC, and its own ``local`` cloud.

engine.py (oumi.launcher behind a Protocol) <- jobspec.py, plan.py, sync.py (what
to launch) <- launch.py (up in the background) <- backend.py (the JobBackend:
status, cancel, logs, listing) and clusters.py (stop and delete clusters).
"""
