"""`genretag undo`: genre values restored exactly, per file and per run, by the same safe write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import BRAHMS, CONTAINERS, add_tags, build, decoded, excerpt, journal, other_tags, write_audio
from typer.testing import CliRunner

from genretag import tags
from genretag.cli import app

ORIGINAL = ("Rock", "Ambient")  # a multi-value genre a user had


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("pristine"), BRAHMS, genres=ORIGINAL)


@pytest.fixture
def library(tmp_path, pristine) -> Path:
    """Every container, each with the genres ``ORIGINAL`` and a full set of other tags."""
    root = tmp_path / "lib"
    for container, path in pristine.items():
        (root / container).mkdir(parents=True)
        (root / container / path.name).write_bytes(path.read_bytes())
    return root


def files_of(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def tag(*args) -> None:
    result = invoke("tag", *args, "--min-confidence", "0", "--jobs", "1")
    assert result.exit_code == 0, result.output


def test_undo_one_file_restores_its_values_exactly(library):
    tag(library, "--write", "--policy", "replace")
    mp3 = library / "mp3" / "track.mp3"
    written = {path: tags.read_genres(path) for path in files_of(library)}  # codecs may tip a close call
    assert written[mp3] != ORIGINAL

    result = invoke("undo", mp3)

    assert result.exit_code == 0, result.output
    assert "1 file restored, 0 not" in result.output
    assert tags.read_genres(mp3) == ORIGINAL
    others = [path for path in files_of(library) if path != mp3]
    assert all(tags.read_genres(path) == written[path] != ORIGINAL for path in others)
    undo_entry = journal()[-1]
    assert (
        undo_entry.kind == "undo" and undo_entry.previous_genres == written[mp3] and undo_entry.new_genres == ORIGINAL
    )
    assert {entry.path: entry.undone_by for entry in journal() if entry.kind == "tag"}[str(mp3)] == undo_entry.id


def test_undo_last_run_then_the_one_before(library):
    tags_before = {path: other_tags(path) for path in files_of(library)}
    audio_before = {path: decoded(path) for path in files_of(library)}
    tag(library, "--write", "--policy", "replace")
    after_first = {path: tags.read_genres(path) for path in files_of(library)}
    tag(library, "--write", "--policy", "append", "--top-k", "3")
    assert all(len(tags.read_genres(path)) == 3 for path in files_of(library))

    last = invoke("undo", "--last")

    assert last.exit_code == 0, last.output
    assert {path: tags.read_genres(path) for path in files_of(library)} == after_first
    before_last = invoke("undo", "--last")
    assert before_last.exit_code == 0 and f"{len(CONTAINERS)} files restored" in before_last.output
    for path in files_of(library):
        assert tags.read_genres(path) == ORIGINAL
        assert other_tags(path) == tags_before[path]
        assert (decoded(path) == audio_before[path]).all()
    assert "nothing to undo" in invoke("undo", "--last").stdout


def test_undo_all_restores_through_several_runs_and_dry_run_changes_nothing(library):
    tag(library, "--write", "--policy", "replace")
    tag(library, "--write", "--policy", "append", "--top-k", "2")
    state = {path: (path.read_bytes(), os.stat(path).st_mtime_ns) for path in files_of(library)}

    dry = invoke("undo", "--all", "--dry-run")

    assert dry.exit_code == 0 and f"preview: {len(CONTAINERS)} files to restore" in dry.output
    assert {path: (path.read_bytes(), os.stat(path).st_mtime_ns) for path in files_of(library)} == state
    everything = invoke("undo", "--all")
    assert everything.exit_code == 0, everything.output
    assert all(tags.read_genres(path) == ORIGINAL for path in files_of(library))
    assert all(entry.undone_by for entry in journal() if entry.kind == "tag")


def test_file_changed_since_the_write_is_not_touched_unless_forced(library):
    from mutagen.flac import FLAC

    tag(library, "--write", "--policy", "replace")
    flac = library / "flac" / "track.flac"
    edited = FLAC(flac)  # the user retitles it in another program
    edited["title"] = "Retitled"
    edited.save()
    before = flac.read_bytes()

    result = invoke("undo", "--last")

    assert result.exit_code == 1
    assert f"error: {flac}: changed since genretag wrote it (size or modification time differs); not restored" in (
        result.stderr
    )
    assert flac.read_bytes() == before
    assert all(tags.read_genres(path) == ORIGINAL for path in files_of(library) if path != flac)
    forced = invoke("undo", flac, "--force")
    assert forced.exit_code == 0, forced.output
    assert tags.read_genres(flac) == ORIGINAL and FLAC(flac)["title"] == ["Retitled"]


def test_id3v23_file_gets_its_version_back(tmp_path):
    from mutagen.id3 import ID3

    mp3 = add_tags(write_audio(tmp_path / "old.mp3", excerpt(BRAHMS, 5, 3)), ("Rock",))
    id3 = ID3(mp3)
    id3.save(v2_version=3)
    original = mp3.read_bytes()
    tag(mp3, "--write", "--policy", "replace", "--id3-version", "4")  # asked for: converted
    assert ID3(mp3).version == (2, 4, 0)

    assert invoke("undo", "--last").exit_code == 0
    assert ID3(mp3).version == (2, 3, 0) and tags.read_genres(mp3) == ("Rock",)
    assert mp3.read_bytes() == original


def test_mp3_without_any_tag_comes_back_byte_for_byte(tmp_path):
    mp3 = write_audio(tmp_path / "bare.mp3", excerpt(BRAHMS, 5, 3))
    original = mp3.read_bytes()
    tag(mp3, "--write")
    assert len(tags.read_genres(mp3)) == 1

    assert invoke("undo", "--all").exit_code == 0
    assert mp3.read_bytes() == original


def test_undo_of_a_deleted_file_is_reported(library):
    tag(library / "ogg", "--write", "--policy", "replace")
    (library / "ogg" / "track.ogg").unlink()
    result = invoke("undo", "--all")
    assert result.exit_code == 1
    assert "track.ogg: cannot read: No such file or directory" in result.stderr
