"""What the server does on its own for a job: restarts (restarts.py), driven by the
service's restart loop (service_restarts.py) and persisted by the registry."""
