"""Pre-flight checks: will this config run, here or on the VM? One small check per module."""
