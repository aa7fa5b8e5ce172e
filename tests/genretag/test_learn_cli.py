"""`genretag learn` end to end on a small tagged library of real recordings.

The library is built from real GTZAN recordings in ../shared of the fault-filtered
*train* split: the first 10 s of the first 28 tracks of four genres, copied into four containers and
tagged by mutagen with messy spellings, multi-value fields, synonyms for the mapping
file, genres under the threshold, untagged files, an unreadable file and one that
cannot be decoded. The held-out set is 7 tracks per genre of the *valid* split, whose
artists are not in the train split: the new model never trains on them (the shipped
base model was fitted on train and valid alike, so its features flatter this check a
little; its card's selection figures are the honest ones). The usage errors need no library.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import FISHIN, GTZAN_CLASSICAL, GTZAN_FULL, SHARED, SNIPPETS, requires_shared, write_audio
from typer.testing import CliRunner

from genretag import audio, weights
from genretag.classify import classify_file
from genretag.cli import app
from genretag.weights import DEFAULT_MODEL, resolve_model

CONTAINERS = (".mp3", ".m4a", ".opus", ".flac")
# Genre folder → the genre values written into its tracks, in turn: spellings
# to merge, multi-value fields, and synonyms that the mapping file merges.
SPELLINGS = {
    "blues": [["Blues"], ["Blues/Boogie"], ["blues"]],
    "classical": [["Classical"], ["classical  "], ["CLASSICAL"], ["Classical; Orchestral"]],
    "disco": [["Disco"], ["disco"], ["DISCO"], ["Euro-Disco"]],
    "jazz": [["Jazz"], ["BeBop"], ["jazz", "Be-Bop"], ["Jazz", "Be-Bop"]],
}
GENRE_MAP = "# synonyms\neurodisco = Disco\nbebop = Jazz\n"
LEARNT = ["Blues", "Classical", "Disco", "Jazz"]
LIBRARY_TRACKS = 28  # per genre, from the train split
# The library's tracks are the first 10 s of their recordings: one segment each, which is all an epoch
# draws per track; held-out tracks are whole.
LIBRARY_SECONDS = 10
HELD_OUT_TRACKS = 7  # per genre, from the valid split


def gtzan_recordings(genre: str, split: str) -> list[Path]:
    """One real recording per GTZAN track of ``genre`` in the fault-filtered ``split``, by track number.

    Each track's longest recording in ../shared: its 30 s excerpt, else its 15 s
    classical excerpt, else its 2-3 s snippet. Only "train" and "valid" are in
    ../shared; the test split is held back.
    """
    tracks = (SHARED / "data" / "gtzan-splits" / f"{split}.txt").read_text().split()
    recordings = []
    for track in (t for t in tracks if t.startswith(f"{genre}.")):
        longest_first = (
            GTZAN_FULL / genre / f"{track}.opus",
            GTZAN_CLASSICAL / f"{track}.flac",
            SNIPPETS / f"{track}.flac",
        )
        recordings += [path for path in longest_first if path.is_file()][:1]
    return recordings


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


def track_number(recording: Path) -> int:
    return int(recording.name.split(".")[1])


def copy_recording(recording: Path, folder: Path, suffix: str, seconds: float | None = LIBRARY_SECONDS) -> Path:
    """``recording`` decoded (22.05 kHz mono), cut to its first ``seconds`` (None: whole) and written into
    ``folder`` in the container ``suffix`` names."""
    samples = audio.load(recording)
    if seconds is not None:
        samples = samples[: int(seconds * audio.SAMPLE_RATE)]
    return write_audio(folder / (recording.stem.replace(".", "-") + suffix), samples)


def build_tagged_library(root: Path) -> tuple[Path, Path, Path]:
    """``(library, held-out folder, mapping file)`` under ``root``: real audio, tagged like a real user's library."""
    library, held_out = root / "library", root / "held-out"
    for genre, spellings in SPELLINGS.items():
        train = gtzan_recordings(genre, "train")[:LIBRARY_TRACKS]
        assert len(train) == LIBRARY_TRACKS, genre
        for index, recording in enumerate(train):
            path = copy_recording(recording, library / genre, CONTAINERS[index % len(CONTAINERS)])
            # GTZAN numbers neighbouring tracks of one artist together: five tracks make an album.
            album = track_number(recording) // 5
            tag(path, spellings[index % len(spellings)], f"{genre} volume {album}", f"{genre} artist {album}")
        valid = gtzan_recordings(genre, "valid")
        # Spread over the split's track numbers, so over its artists (GTZAN numbers an artist's tracks together).
        valid = [valid[i * len(valid) // HELD_OUT_TRACKS] for i in range(HELD_OUT_TRACKS)]
        for recording in valid:
            copy_recording(recording, held_out / genre, ".flac", seconds=None)
    pop = gtzan_recordings("pop", "train")
    for recording in pop[:3]:  # a genre under --min-tracks
        tag(copy_recording(recording, library / "pop", ".flac"), ["Pop"], "pop volume", "pop artist")
    for recording in gtzan_recordings("reggae", "train")[:3]:  # tracks without a genre
        tag(copy_recording(recording, library / "untagged", ".mp3"), [], "reggae volume", "reggae artist")
    (library / "broken.mp3").write_bytes(b"\x00not an mp3 at all" * 200)
    cut = copy_recording(pop[3], library, ".flac").rename(library / "cut-off.flac")
    tag(cut, ["Jazz"], "jazz volume", "jazz artist")
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


@requires_shared
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
        "fewer than 10 tracks (--min-tracks): Boogie (9, 0 as first genre), Orchestral (7, 0 as first genre), Pop (3)"
        in output
    )
    assert "3 tagged tracks not used: all their genres were dropped" in output
    card = json.loads((home / "models" / "my-genres.json").read_text())
    assert card["genres"] == LEARNT
    assert card["base_model"]["name"] == DEFAULT_MODEL
    assert card["training"]["source_library"] == [str(library.resolve())]
    counts = card["training"]["tracks_per_genre"]
    # The cut-off file is tagged Jazz but cannot be decoded: 28 of the 29 Jazz tracks are used.
    assert {genre: c["train"] + c["valid"] for genre, c in counts.items()} == dict.fromkeys(LEARNT, LIBRARY_TRACKS)
    assert all(c["valid"] >= 1 for c in counts.values())
    # Euro-Disco and Be-Bop were mapped (by keys that ignore punctuation), so they are no spellings of their own.
    assert sorted(card["training"]["merged_spellings"]["Disco"]) == ["DISCO", "Disco", "disco"]
    assert sorted(card["training"]["merged_spellings"]["Jazz"]) == ["Jazz", "jazz"]
    matrix = card["confusion_matrix"]["tracks"]
    assert len(matrix) == 4 and sum(map(sum, matrix)) == sum(c["valid"] for c in counts.values())
    ((held_out, figures),) = card["metrics"].items()
    assert held_out == "valid (held out by album or artist)"
    validation = figures["track_accuracy"]
    assert f"validation accuracy {validation:.2f}" in output
    assert (home / "models" / "my-genres.pt").is_file()


@requires_shared
def test_learnt_model_classifies_held_out_tracks_well_above_chance(learnt, tagged_library, monkeypatch):
    _, home = learnt
    held_out = tagged_library[1]
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    result = CliRunner().invoke(app, ["scan", str(held_out), "--model", "my-genres", "--jobs", "2", "--csv", "-"])
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = dict(zip(SPELLINGS, LEARNT, strict=True))
    right = sum(expected[Path(row["path"]).parent.name] == row["genre"] for row in rows)
    assert len(rows) == len(SPELLINGS) * HELD_OUT_TRACKS
    # Chance is 1/4; a clear margin is twice that.
    assert right / len(rows) >= 2 * 0.25, f"{right}/{len(rows)} held-out tracks right"


@requires_shared
def test_models_lists_the_user_model(learnt, monkeypatch):
    _, home = learnt
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    result = CliRunner().invoke(app, ["models"])  # not a terminal: TSV, one line per model
    assert result.exit_code == 0
    row = next(line.split("\t") for line in result.stdout.splitlines() if line.startswith("my-genres\t"))
    assert row[-1] == "user" and " validation tracks, held out by " in row[-2]
    card = CliRunner().invoke(app, ["models", "my-genres"])  # the whole card names its genres
    assert card.exit_code == 0 and json.loads(card.stdout)["genres"][:2] == ["Blues", "Classical"]


@requires_shared
def test_second_run_reuses_cached_features(learnt, tagged_library, monkeypatch):
    _, home = learnt
    cached = sorted((home / "features").glob("*.npy"))
    assert len(cached) == len(LEARNT) * LIBRARY_TRACKS
    stamps = [path.stat().st_mtime_ns for path in cached]
    from genretag import learn

    monkeypatch.setenv("GENRETAG_HOME", str(home))
    tracks = learn.read_library([tagged_library[0] / "jazz"]).tracks
    features, failures = learn.extract_features([t.path for t in tracks], resolve_model(DEFAULT_MODEL), jobs=1)
    assert len(features) == LIBRARY_TRACKS and not failures
    assert [path.stat().st_mtime_ns for path in cached] == stamps


@requires_shared
def test_fine_tuning_a_poster_network_keeps_its_front_end(tagged_library, genretag_home):
    library, _, mapping = tagged_library
    arguments = ["learn", str(library), "--name", "tuned", "--base", "v-kernel", "--min-tracks", "10"]
    result = CliRunner().invoke(app, [*arguments, "--map", str(mapping), "--epochs", "1", "--jobs", "2"])
    assert result.exit_code == 1, result.stdout + result.stderr  # the unreadable files, as above
    base = weights.load_model("v-kernel")
    tuned = weights.load_model("tuned")
    assert tuned.card["audio"] == base.card["audio"] and tuned.front_end == base.front_end
    assert tuned.network.features[1].stride == base.network.features[1].stride
    assert classify_file(FISHIN, tuned).segment_probabilities.shape == (4, len(LEARNT))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--name", "v-kernel"], "is a shipped model"),
        (["--name", "../evil"], "use letters, digits"),
        (["--name", "ok", "--base", "no-such-model"], "unknown model 'no-such-model'"),
        (["--name", "ok", "--map", "MISSING"], "MISSING: cannot read the mapping file"),
    ],
)
def test_usage_errors_exit_2(arguments, message, tmp_path):
    result = CliRunner().invoke(app, ["learn", str(tmp_path), *arguments])
    assert result.exit_code == 2
    assert message in result.stderr


@requires_shared
def test_too_few_genres_is_an_error_naming_the_threshold(tagged_library):
    result = CliRunner().invoke(app, ["learn", str(tagged_library[0] / "jazz"), "--name", "x", "--min-tracks", "10"])
    assert result.exit_code == 1
    assert "two or more genres with at least 10 tagged tracks, found Jazz;" in result.stderr
    # Without the mapping file, BeBop (7 tracks) and Be-Bop (14) are one genre, shown in its commoner spelling.
    assert "dropped, fewer than 10 tracks (--min-tracks): Be-Bop (21, 7 as first genre)" in result.stderr


def test_no_audio_is_a_usage_error_at_once_and_an_existing_model_needs_force(tmp_path, genretag_home):
    import time

    (tmp_path / "notes.txt").write_text("no audio here")
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["learn", str(tmp_path), "--name", "mine"])
    assert result.exit_code == 2 and "no audio files under" in result.stderr  # as `scan` says it
    assert time.perf_counter() - started < 5  # before any model is loaded

    from genretag import config

    models = config.user_models_dir()
    models.mkdir(parents=True)
    (models / "mine.json").write_text((Path(__file__).resolve().parents[2] / "weights" / "crnn.json").read_text())
    again = CliRunner().invoke(app, ["learn", str(tmp_path), "--name", "mine"])
    assert again.exit_code == 2 and "user model 'mine' exists; add --force to replace it" in again.stderr
    forced = CliRunner().invoke(app, ["learn", str(tmp_path), "--name", "mine", "--force"])
    assert forced.exit_code == 2 and "no audio files under" in forced.stderr  # past the check, on to the library
