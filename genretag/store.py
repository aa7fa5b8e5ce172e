"""SQLite store: cached track results (incremental rescans) and the tag journal."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """``$GENRETAG_HOME`` when set, else the user data folder (platformdirs)."""
    override = os.environ.get("GENRETAG_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("genretag", appauthor=False)
