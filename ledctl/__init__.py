"""ledctl — controller service for public LED boards."""

__version__ = "0.1.0"
