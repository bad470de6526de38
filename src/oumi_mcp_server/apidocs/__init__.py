"""The installed Oumi's API documentation: built in a child process, cached per version."""
