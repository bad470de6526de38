"""Facts about the machine the server runs on: engine versions and clouds."""
