"""The data folders: ``$GENRETAG_HOME`` when set, else the user data folder (platformdirs).

Everything genretag keeps lives in one data home: the store (``genretag.sqlite``), user
models (``models/``), ``genretag learn``'s feature cache (``features/``) and the temporary
files of tag writes in progress. Worker processes are handed the home as an argument
(``weights.ModelIdentity.home``), never through the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_NAME = "genretag.sqlite"
MODELS_FOLDER = "models"
FEATURES_FOLDER = "features"
WRITE_AREA = "tag-writes"


def data_home() -> Path:
    """``$GENRETAG_HOME`` when set, else the user data folder (platformdirs)."""
    override = os.environ.get("GENRETAG_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("genretag", appauthor=False)


def database_path(home: str | Path | None = None) -> Path:
    """Where the store lives: ``<data home>/genretag.sqlite``."""
    return Path(home or data_home()) / DATABASE_NAME


def user_models_dir(home: str | Path | None = None) -> Path:
    """Where ``genretag learn`` saves user models: ``<data home>/models``."""
    return Path(home or data_home()) / MODELS_FOLDER


def feature_cache_dir(home: str | Path | None = None) -> Path:
    """Where ``genretag learn`` caches log-mel features: ``<data home>/features``."""
    return Path(home or data_home()) / FEATURES_FOLDER


def write_area_dir(home: str | Path | None = None) -> Path:
    """Where tag writes keep their temporary copies and backups: ``<data home>/tag-writes``."""
    return Path(home or data_home()) / WRITE_AREA
