"""Urgent notices and their governance: users and roles, the notice lifecycle with the
two-person rule, templates, CAP 1.2 import and export, the hash-chained audit log, and
the disclosure report."""
