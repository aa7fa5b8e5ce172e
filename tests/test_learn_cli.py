"""`genretag learn` end to end on a small tagged library of real recordings.

The library is built from the real GTZAN snippets in ../shared: tracks 00011-00040
of four genres, copied into four containers and tagged by mutagen with messy
spellings, multi-value fields, a synonym for the mapping file, a genre under the
threshold, untagged files, an unreadable file and one that cannot be decoded.
Tracks 00041-00050 are the held-out set: the new model never trains on them
(the shipped base model did: it learns from every real clip in ../shared, so its
features flatter this check a little; its cross-validated figures are the honest
ones).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import soundfile
from conftest import SNIPPETS
from tagged_library import write_audio
from typer.testing import CliRunner

from genretag import models
from genretag.cli import app

CONTAINERS = (".mp3", ".m4a", ".opus", ".flac")
# Genre folder → the genre values written into its tracks, in turn: spellings
# to merge, multi-value fields, and synonyms that the mapping file merges.
SPELLINGS = {
    "classical": [["Classical"], ["classical  "], ["CLASSICAL"], ["Classical; Orchestral"]],
    "hiphop": [["Hip-Hop"], ["hip hop"], ["HipHop"], ["Rap"]],
    "metal": [["Metal"], ["Heavy Metal"], ["metal", "Heavy Metal"]],
    "reggae": [["Reggae"], ["Reggae/Dub"], ["reggae"]],
}
GENRE_MAP = "# synonyms\nrap = Hip-Hop\nheavy metal = Metal\n"
LEARNT = ["Classical", "Hip-Hop", "Metal", "Reggae"]
HELD_OUT_FIRST_TRACK = 41


def tag(path: Path, genres: list[str], album: str, artist: str) -> None:
    """Write genre (one value per item), album and artist the way each container stores them."""
    import mutagen
    from mutagen.id3 import TALB, TCON, TPE1

    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    kind = type(audio).__name__
    if kind == "MP3":
        audio.tags.add(TALB(encoding=3, text=album))
        audio.tags.add(TPE1(encoding=3, text=artist))
        if genres:
            audio.tags.add(TCON(encoding=3, text=genres))
    elif kind == "MP4":
        audio.tags["\xa9alb"], audio.tags["\xa9ART"] = album, artist
        if genres:
            audio.tags["\xa9gen"] = genres
    else:
        audio.tags["album"], audio.tags["artist"] = album, artist
        if genres:
            audio.tags["genre"] = genres
    audio.save()


def track_number(snippet: Path) -> int:
    return int(snippet.name.split(".")[1])


def copy_snippet(snippet: Path, folder: Path, suffix: str) -> Path:
    samples, rate = soundfile.read(snippet, dtype="float32")
    assert rate == 22_050
    return write_audio(folder / (snippet.stem.replace(".", "-") + suffix), samples)


def build_tagged_library(root: Path) -> tuple[Path, Path, Path]:
    """``(library, held-out folder, mapping file)`` under ``root``: real audio, tagged like a real user's library."""
    library, held_out = root / "library", root / "held-out"
    for genre, spellings in SPELLINGS.items():
        snippets = sorted(SNIPPETS.glob(f"{genre}.*.flac"))
        train = [s for s in snippets if track_number(s) < HELD_OUT_FIRST_TRACK]
        for index, snippet in enumerate(train):
            path = copy_snippet(snippet, library / genre, CONTAINERS[index % len(CONTAINERS)])
            # GTZAN numbers neighbouring tracks of one artist together: five tracks make an album.
            album = track_number(snippet) // 5
            tag(path, spellings[index % len(spellings)], f"{genre} volume {album}", f"{genre} artist {album}")
        for snippet in snippets:
            if track_number(snippet) >= HELD_OUT_FIRST_TRACK:
                copy_snippet(snippet, held_out / genre, ".flac")
    jazz = sorted(SNIPPETS.glob("jazz.*.flac"))
    for snippet in jazz[:3]:  # a genre under --min-tracks
        tag(copy_snippet(snippet, library / "jazz", ".flac"), ["Jazz"], "jazz volume", "jazz artist")
    for snippet in sorted(SNIPPETS.glob("blues.*.flac"))[:3]:  # tracks without a genre
        tag(copy_snippet(snippet, library / "untagged", ".mp3"), [], "blues volume", "blues artist")
    (library / "broken.mp3").write_bytes(b"\x00not an mp3 at all" * 200)
    cut = copy_snippet(jazz[3], library, ".flac").rename(library / "cut-off.flac")
    tag(cut, ["Metal"], "metal volume", "metal artist")
    cut.write_bytes(cut.read_bytes()[:6000])  # tags intact, almost no audio left
    mapping = root / "genres.map"
    mapping.write_text(GENRE_MAP, encoding="utf-8")
    return library, held_out, mapping


@pytest.fixture(scope="module")
def tagged_library(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The tagged library, built once for this module."""
    return build_tagged_library(tmp_path_factory.mktemp("user-library"))


@pytest.fixture(scope="module")
def learnt(tagged_library, tmp_path_factory):
    """The result of one `genretag learn` run on the library, with its own genretag home."""
    library, _, mapping = tagged_library
    home = tmp_path_factory.mktemp("learn-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENRETAG_HOME", str(home))
        arguments = ["learn", str(library), "--name", "my-genres", "--min-tracks", "10"]
        result = CliRunner().invoke(app, [*arguments, "--map", str(mapping), "--epochs", "8", "--jobs", "2"])
    return result, home


def test_learn_reports_what_it_dropped_and_saves_a_model(learnt, tagged_library):
    result, home = learnt
    library = tagged_library[0]
    output = result.stdout + result.stderr
    # Unreadable and undecodable files are reported and make the exit code 1, but a model is saved.
    assert result.exit_code == 1, output
    assert f"error: {library / 'broken.mp3'}: cannot read tags" in output
    assert f"error: {library / 'cut-off.flac'}: " in output
    assert "3 without (not used), 1 unreadable" in output
    assert (
        "fewer than 10 tracks (--min-tracks): Dub (9, 0 as first genre), Orchestral (7, 0 as first genre), Jazz (3)"
        in output
    )
    assert "3 tagged tracks not used: all their genres were dropped" in output
    card = json.loads((home / "models" / "my-genres.json").read_text())
    assert card["genres"] == LEARNT
    assert card["base_model"]["name"] == models.DEFAULT_ARCHITECTURE
    assert card["training"]["source_library"] == [str(library.resolve())]
    counts = card["training"]["tracks_per_genre"]
    assert {genre: c["train"] + c["valid"] for genre, c in counts.items()} == {
        "Classical": 30,
        "Hip-Hop": 29,
        "Metal": 28,
        "Reggae": 28,
    }
    assert all(c["valid"] >= 1 for c in counts.values())
    assert sorted(card["training"]["merged_spellings"]["Hip-Hop"]) == ["Hip-Hop", "HipHop", "hip hop"]
    matrix = card["confusion_matrix"]["tracks"]
    assert len(matrix) == 4 and sum(map(sum, matrix)) == sum(c["valid"] for c in counts.values())
    validation = card["metrics"]["valid (used to pick the epoch)"]["track_accuracy"]
    assert f"validation accuracy {validation:.2f}" in output
    assert (home / "models" / "my-genres.pt").is_file()


def test_learnt_model_classifies_held_out_tracks_well_above_chance(learnt, tagged_library, monkeypatch):
    _, home = learnt
    held_out = tagged_library[1]
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    result = CliRunner().invoke(app, ["scan", str(held_out), "--model", "my-genres", "--jobs", "2", "--csv", "-"])
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = dict(zip(SPELLINGS, LEARNT, strict=True))
    right = sum(expected[Path(row["path"]).parent.name] == row["genre"] for row in rows)
    assert len(rows) == 27
    # Chance is 1/4; a clear margin is twice that.
    assert right / len(rows) >= 2 * 0.25, f"{right}/{len(rows)} held-out tracks right"


def test_models_lists_the_user_model(learnt, monkeypatch):
    _, home = learnt
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "300"})  # one line per model
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "my-genres" in line)
    assert "user" in row and "4: Classical," in row and "(valid, " in row


def test_second_run_reuses_cached_features(learnt, tagged_library, monkeypatch):
    _, home = learnt
    cached = sorted((home / "features").glob("*.npy"))
    assert len(cached) == 30 + 29 + 28 + 28
    stamps = [path.stat().st_mtime_ns for path in cached]
    from genretag import user_library

    monkeypatch.setenv("GENRETAG_HOME", str(home))
    tracks = user_library.read_library([tagged_library[0] / "metal"]).tracks
    features, failures = user_library.extract_features([t.path for t in tracks], jobs=1)
    assert len(features) == 28 and not failures
    assert [path.stat().st_mtime_ns for path in cached] == stamps


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--name", "v-kernel"], "is a shipped model"),
        (["--name", "../evil"], "use letters, digits"),
        (["--name", "ok", "--base", "no-such-model"], "unknown model 'no-such-model'"),
        (["--name", "ok", "--map", "MISSING"], "MISSING: cannot read the mapping file"),
        (["--name", "ok", "--base", "crnn-ensemble"], "--base crnn-ensemble: an ensemble of networks cannot be"),
    ],
)
def test_usage_errors_exit_2(arguments, message, tmp_path):
    result = CliRunner().invoke(app, ["learn", str(tmp_path), *arguments])
    assert result.exit_code == 2
    assert message in result.stderr


def test_too_few_genres_is_an_error_naming_the_threshold(tagged_library):
    result = CliRunner().invoke(app, ["learn", str(tagged_library[0] / "metal"), "--name", "x", "--min-tracks", "10"])
    assert result.exit_code == 1
    assert "two or more genres with at least 10 tagged tracks, found Metal;" in result.stderr
    assert "dropped, fewer than 10 tracks (--min-tracks): Heavy Metal (18, 9 as first genre)" in result.stderr
