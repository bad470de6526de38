"""oumi.launcher as an engine: job specs for clouds and a blocking engine adapter."""
