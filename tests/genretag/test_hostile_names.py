"""Names and tags are data: never rich markup on the terminal, never a formula in a CSV.

A library of real audio whose file names and genre tags look like markup, emoji codes and formulas
(a "/" in a name is a folder: `x[/bold]y.ogg` is the file `bold]y.ogg` in the folder `x[`).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas
import pytest
from conftest import VIBE_ACE, add_tags, excerpt, write_audio
from typer.testing import CliRunner

from genretag import tags
from genretag.cli import app

MARKUP_NAMES = ["x[/bold]y.ogg", "[bold red]MARKUP[/bold red].ogg", ":thumbs_up: song.ogg"]
FORMULA_NAMES = ["=cmd|' /C calc'!A0.ogg", "+SUM(1+1).ogg", "@x.ogg", "-2+3.ogg"]
MARKUP_GENRE = "Rock [/x] Pop"


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def hostile_library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    samples = excerpt(VIBE_ACE, 5, 11)
    for name in MARKUP_NAMES + FORMULA_NAMES:
        write_audio(root / name, samples)
    add_tags(write_audio(root / "tagged [i]by hand[/i].flac", samples), (MARKUP_GENRE,))
    return root


@pytest.fixture
def library(hostile_library, tmp_path, monkeypatch) -> Path:
    """A copy of the hostile library, the working directory (so reports name files relative to it)."""
    root = tmp_path / "library"
    shutil.copytree(hostile_library, root)
    monkeypatch.chdir(root)
    return root


def test_names_and_genres_are_shown_as_they_are_never_as_markup(library):
    scanned = invoke("scan", ".", "--format", "table", "--csv", "tracks.csv", "--model", "v-kernel", "--jobs", "1")

    assert scanned.exit_code == 0, scanned.output
    for name in MARKUP_NAMES:
        assert name in scanned.output  # brackets and colons kept: not styled, not an emoji
    assert "👍" not in scanned.output
    assert Path("tracks.csv").is_file()  # written after the table

    tagged = invoke("tag", ".", "--write", "--format", "table", "--min-confidence", "0", "--jobs", "1")

    assert tagged.exit_code == 0, tagged.output
    assert MARKUP_GENRE in tagged.output and "undo with `genretag undo --last`" in tagged.output
    assert tags.read_genres(library / "tagged [i]by hand[/i].flac") == (MARKUP_GENRE,)
    assert all(tags.read_genres(library / name) for name in MARKUP_NAMES)


def test_csv_cells_that_look_like_formulas_are_neutralised(library):
    scanned = invoke(
        "scan", ".", "--csv", "tracks.csv", "--segments-csv", "segments.csv", "--model", "v-kernel", "--jobs", "1"
    )
    assert scanned.exit_code == 0, scanned.output
    exported = invoke("export")
    assert exported.exit_code == 0, exported.output

    for csv in (Path("tracks.csv").read_text(), Path("segments.csv").read_text(), exported.stdout):
        paths = set(pandas.read_csv(io.StringIO(csv))["path"])
        for name in FORMULA_NAMES:
            assert "'" + name in paths and name not in paths
        assert set(MARKUP_NAMES) <= paths  # other names stay as they are
