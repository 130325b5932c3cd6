"""The one state directory: everything ledctl writes at run time goes under it."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STATE_DIR = Path("var")


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--state DIR`, else `$LEDCTL_STATE`, else `./var`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LEDCTL_STATE")
    if env:
        return Path(env)
    return DEFAULT_STATE_DIR
