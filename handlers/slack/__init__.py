"""Slack I/O that listeners share; nothing here registers a listener."""
