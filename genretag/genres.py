"""Genre labels and how they are shown: the one table of the shipped models' genres, and ``--map`` files.

The shipped models know GTZAN's ten genres. Each has a label (what a model card and the
store hold), a display name (what ``genretag tag`` writes into files) and a colour (the
terminal timeline and the plot). A user model's labels are its library's own spellings:
they are written as they are and coloured by position.

Genre values (what files hold) are compared ignoring case and surrounding space
(``genre_key``); a list of them is kept without repeats (``distinct_genres``).

``--map`` files come in one line format, ``left = right`` with ``#`` comments, read by
``read_map_lines``; ``tag --map`` also takes JSON (``load_display_names``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Genre:
    """A shipped model's genre: its label, the name written into files, its colour (matplotlib's tab10)."""

    label: str
    name: str
    colour: str


GTZAN = (
    Genre("blues", "Blues", "#1f77b4"),
    Genre("classical", "Classical", "#ff7f0e"),
    Genre("country", "Country", "#2ca02c"),
    Genre("disco", "Disco", "#d62728"),
    Genre("hiphop", "Hip-Hop", "#9467bd"),
    Genre("jazz", "Jazz", "#8c564b"),
    Genre("metal", "Metal", "#e377c2"),
    Genre("pop", "Pop", "#7f7f7f"),
    Genre("reggae", "Reggae", "#bcbd22"),
    Genre("rock", "Rock", "#17becf"),
)
GTZAN_GENRES = tuple(genre.label for genre in GTZAN)
DISPLAY_NAMES = {genre.label: genre.name for genre in GTZAN}
COLOURS = {genre.label: genre.colour for genre in GTZAN}
# Genres outside the table (a user model's) are coloured by their position among the model's genres.
OTHER_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def genre_colour(genre: str, genres: Sequence[str]) -> str:
    """A stable hex colour for ``genre``; genres outside the table get one by their position in ``genres``."""
    if genre in COLOURS:
        return COLOURS[genre]
    return OTHER_COLOURS[list(genres).index(genre) % len(OTHER_COLOURS)]


def read_map_lines(path: str | Path, expected: str) -> list[tuple[int, str, str]]:
    """``(line number, left, right)`` of every ``left = right`` line of a ``--map`` file, both sides stripped.

    Blank lines and ``#`` comments are skipped. A line without ``=``, or a file that is
    not UTF-8, raises ``ValueError`` naming the file and line; ``expected`` says what the
    line should look like (``'label = Name'``). ``OSError`` from reading is left to the caller.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        left, equals, right = content.partition("=")
        if not equals:
            raise ValueError(f"{path}:{number}: expected {expected!r}, got {content!r}")
        pairs.append((number, left.strip(), right.strip()))
    return pairs


# ---------------------------------------------------------------- genre values


def genre_key(value: str) -> str:
    """How two genre values are compared: ignoring case and surrounding space."""
    return value.strip().casefold()


def distinct_genres(values: Iterable[str]) -> tuple[str, ...]:
    """``values`` stripped, without empty ones and without repeats (the first spelling kept)."""
    seen, kept = set(), []
    for value in values:
        value = value.strip()
        if value and genre_key(value) not in seen:
            seen.add(genre_key(value))
            kept.append(value)
    return tuple(kept)


def same_genres(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether two lists of genre values hold the same genres (as sets, compared by ``genre_key``)."""
    return {genre_key(value) for value in first if value.strip()} == {
        genre_key(value) for value in second if value.strip()
    }


# ---------------------------------------------------------------- display names


def display_name(label: str, names: dict[str, str] | None = None) -> str:
    """How a model genre label is written into files: ``names`` first, then the defaults, else as it is.

    A user model's labels are already the spellings its library used (``Drum & Bass``).
    """
    return (names or {}).get(label) or DISPLAY_NAMES.get(label, label)


def load_display_names(path: str | Path, genres: Iterable[str]) -> dict[str, str]:
    """Display names for ``genres``: the defaults, overridden by a mapping file.

    The file is JSON (``{"hiphop": "Hip Hop"}``) when its name ends in ``.json``,
    else lines ``label = Name`` (blank lines and ``#`` comments ignored). Labels
    are the model's genre labels. Raises ``ValueError`` naming the file and line.
    """
    genres = tuple(genres)
    names = {genre: display_name(genre) for genre in genres}
    is_json = str(path).lower().endswith(".json")
    if is_json:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a UTF-8 text file") from None
        try:
            pairs = [(str(label), value, 1) for label, value in json.loads(text).items()]
        except (json.JSONDecodeError, AttributeError) as error:
            raise ValueError(f"{path}: not a JSON object of label: name ({error})") from None
    else:
        pairs = [(label, value, number) for number, label, value in read_map_lines(path, "label = Name")]
    for label, value, number in pairs:
        where = str(path) if is_json else f"{path}:{number}"
        if label not in names:
            raise ValueError(f"{where}: unknown genre label {label!r} (labels: {', '.join(genres)})")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: empty display name for {label!r}")
        names[label] = value.strip()
    return names
