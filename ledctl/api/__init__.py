"""The HTTP API and the operator console."""
