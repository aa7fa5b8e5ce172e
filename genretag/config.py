"""The data folders and the config file: ``$GENRETAG_HOME`` when set, else the user data and config
folders (platformdirs).

Everything genretag keeps lives in one data home: the store (``genretag.sqlite``), user
models (``models/``), ``genretag learn``'s feature cache (``features/``) and the temporary
files of tag writes in progress. Worker processes are handed the home as an argument
(``weights.ModelIdentity.home``), never through the environment.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from genretag.tagrules import POLICIES

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


@dataclass(frozen=True)
class DataPath:
    """One place genretag keeps something (``genretag config show``): ``size`` in bytes, None when absent."""

    name: str
    path: Path
    size: int | None
    note: str | None = None


def _size_of(path: Path) -> int | None:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return None


def _journal_note(database: Path) -> str | None:
    if not database.is_file():
        return None
    import sqlite3

    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            tracks = connection.execute("SELECT COUNT(*) FROM track_results").fetchone()[0]
            writes = connection.execute("SELECT COUNT(*) FROM tag_journal").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"cannot read: {error}"
    return f"{tracks} results; the tag journal inside: {writes} writes"


def data_paths() -> list[DataPath]:
    """The config file, the data home, the store (which holds the tag journal), the tag writes' temporary
    area, user models and the feature cache, each with its size on disk (None: not there yet)."""
    home, database = data_home(), database_path()
    models = user_models_dir()
    model_count = len(list(models.glob("*.json"))) if models.is_dir() else 0
    return [
        DataPath("config", config_path(), _size_of(config_path()), None if config_path().exists() else "none yet"),
        DataPath("data home", home, _size_of(home), "$GENRETAG_HOME" if os.environ.get("GENRETAG_HOME") else None),
        DataPath("store", database, _size_of(database), _journal_note(database)),
        DataPath("tag writes", write_area_dir(), _size_of(write_area_dir()), "temporary files of writes in progress"),
        DataPath("user models", models, _size_of(models), f"{model_count} models"),
        DataPath("feature cache", feature_cache_dir(), _size_of(feature_cache_dir()), "genretag learn's"),
    ]


# ---------------------------------------------------------------- the config file
#
# TOML whose keys are the long option names, without the dashes: at the top level they apply to
# every command that has the option, in a [command] table to that command only, e.g.
#
#     model = "crnn"
#     id3-version = 3
#     [tag]
#     min-confidence = 0.7
#
# Options given on the command line override the file.

CONFIG_NAME = "config.toml"
COMMANDS = ("scan", "export", "timeline", "learn", "tag", "undo", "models")
FORMATS = ("table", "tsv", "json")


def _positive_int(value) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else "a whole number ≥ 1"


def _jobs(value) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "a whole number ≥ 0 (0: all cores)"


def _did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _probability(value) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return None if ok else "a number from 0 to 1"


def _text(value) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _one_of(*choices):
    def check(value) -> str | None:
        return None if value in choices else "one of " + ", ".join(map(repr, choices))

    return check


# key -> what a valid value is (None when valid, else what is expected)
KEYS = {
    "model": _text,
    "jobs": _jobs,
    "policy": _one_of(*POLICIES),
    "min-confidence": _probability,
    "top-k": _positive_int,
    "id3-version": _one_of(3, 4),
    "map": _text,
    "format": _one_of(*FORMATS),
    "backend": _one_of("local", "dask"),
    "scheduler": _text,
    "base": _text,
    "min-tracks": _positive_int,
    "epochs": _positive_int,
}


class ConfigError(Exception):
    """The config file cannot be read or holds an unknown key or a bad value; the message names file and line."""


@dataclass(frozen=True)
class Setting:
    """One value from the config file: for ``command`` (None: every command), where it was written."""

    command: str | None
    key: str
    value: object
    path: Path
    line: int

    @property
    def origin(self) -> str:
        """``FILE:LINE``."""
        return f"{self.path}:{self.line}"


def config_dir() -> Path:
    """``$GENRETAG_HOME`` when set, else the user config folder (platformdirs)."""
    override = os.environ.get("GENRETAG_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path("genretag", appauthor=False)


def config_path() -> Path:
    """Where the config file is read from (it need not exist)."""
    return config_dir() / CONFIG_NAME


def _line_of(lines: list[str], section: str | None, key: str) -> int:
    """The 1-based line where ``key`` is set in ``section`` (None: the top level); 0 when not found."""
    current = None
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"'")
        elif current == section and pattern.match(line):
            return number
    return 0


def _tomllib():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def read_config(path: Path | None = None) -> list[Setting]:
    """Every setting of the config file (none when it does not exist); raises ``ConfigError``."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config file ({error})") from None
    tomllib = _tomllib()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    lines = text.splitlines()
    settings = []

    def add(section: str | None, table: dict) -> None:
        for key, value in table.items():
            line = _line_of(lines, section, key)
            where = f"{path}:{line}" if line else str(path)
            if key not in KEYS:
                known = ", ".join(KEYS)
                hint = _did_you_mean(key, KEYS)
                raise ConfigError(f"{where}: unknown key {key!r} ({hint}keys are long option names: {known})")
            expected = KEYS[key](value)
            if expected:
                raise ConfigError(f"{where}: {key} = {value!r}: expected {expected}")
            settings.append(Setting(section, key, value, path, line))

    top = {key: value for key, value in document.items() if not isinstance(value, dict)}
    add(None, top)
    for section, table in document.items():
        if not isinstance(table, dict):
            continue
        if section not in COMMANDS:
            line = _line_of(lines, None, section) or next(
                (n for n, text in enumerate(lines, 1) if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", text)), 0
            )
            raise ConfigError(
                f"{path}:{line}: unknown table [{section}] "
                f"({_did_you_mean(section, COMMANDS)}tables are command names: {', '.join(COMMANDS)})"
            )
        add(section, table)
    return settings


def settings_for(settings: list[Setting], command: str, keys: set[str]) -> dict[str, Setting]:
    """The settings that apply to ``command`` among its option ``keys``: its own table's over the top level's."""
    chosen: dict[str, Setting] = {}
    for setting in settings:
        if setting.key in keys and setting.command is None:
            chosen[setting.key] = setting
    for setting in settings:
        if setting.key in keys and setting.command == command:
            chosen[setting.key] = setting
    return chosen


@dataclass
class EffectiveSetting:
    """What ``genretag config show`` lists: a command's option, its value and where that came from."""

    command: str
    key: str
    value: object
    source: str  # "FILE:LINE" or "default"


def effective_settings(defaults: dict[str, dict[str, object]]) -> list[EffectiveSetting]:
    """For every command's configurable options (``defaults``: command → key → default), the value in effect
    without command-line options, and its source. Raises ``ConfigError``."""
    settings = read_config()
    effective = []
    for command, options in defaults.items():
        chosen = settings_for(settings, command, set(options))
        for key, default in options.items():
            if key in chosen:
                effective.append(EffectiveSetting(command, key, chosen[key].value, chosen[key].origin))
            else:
                effective.append(EffectiveSetting(command, key, default, "default"))
    return effective
