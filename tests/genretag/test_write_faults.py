"""One file's failure never stops a tag run nor leaves the journal unsettled.

Real copies of real audio: an append-only file (chattr +a, on a file system that allows it), a sparse
WAV just under RIFF's 4 GiB limit, an RF64 file made by FFmpeg.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import VIBE_ACE, build, excerpt, write_audio
from typer.testing import CliRunner

from genretag import journal, store, tags
from genretag.cli import app
from genretag.tags import Action, TagPlan


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("pristine"), VIBE_ACE)


@pytest.fixture
def connection():
    connection = store.connect()
    yield connection
    connection.close()


def plan_for(path: Path, genres=("Jazz",)) -> TagPlan:
    """A write of ``genres`` into ``path`` as `tag --write` plans it for a file without a genre."""
    current = tags.read_genre_tags(path)
    return TagPlan(
        str(path), Action.WRITE, current.values, new_values=genres, stamp=store.stamp_of(path), id3_version=None
    )


def unsettled(connection) -> list:
    return journal.journal_entries(connection, states=("pending", "writing"))


@pytest.fixture
def append_only(pristine, tmp_path):
    """A FLAC copy with the append-only attribute; removed after the test."""
    path = tmp_path / "library" / "append-only.flac"
    path.parent.mkdir()
    shutil.copyfile(pristine["flac"], path)
    if subprocess.run(["chattr", "+a", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not allow chattr +a")
    yield path
    subprocess.run(["chattr", "-a", str(path)], check=True)


def test_append_only_file_is_reported_and_never_blocks_the_library(append_only, pristine, tmp_path, connection):
    other = append_only.parent / "other.flac"
    shutil.copyfile(pristine["flac"], other)
    before = append_only.read_bytes()

    blocked, written = tags.write_planned(connection, [plan_for(append_only), plan_for(other)], "run-1")

    assert not blocked.written and "append-only" in blocked.reason and "not written" in blocked.reason
    assert "could not be restored" not in blocked.reason  # the file was never touched
    assert written.written and tags.read_genres(other) == ("Jazz",)
    assert append_only.read_bytes() == before
    assert unsettled(connection) == []
    assert os.listdir(journal.write_area()) == []
    # The next runs are not blocked: a second tag write and an undo both work on the other file.
    [again] = tags.write_planned(connection, [plan_for(other, ("Blues",))], "run-2")
    assert again.written, again.reason
    result = CliRunner().invoke(app, ["undo", "--all"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert tags.read_genres(other) == () and append_only.read_bytes() == before


def sparse_wav(path: Path, size: int) -> Path:
    """A 16-bit mono WAV of ``size`` bytes whose samples are a hole of zeros (silence) on disk.

    Over 4 GiB its 32-bit sizes wrap, as some writers leave them.
    """
    data_size = (size - 44) & 0xFFFF_FFFF
    header = b"RIFF" + struct.pack("<I", (size - 8) & 0xFFFF_FFFF) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22_050, 44_100, 2, 16)
    header += b"data" + struct.pack("<I", data_size)
    with open(path, "wb") as writer:
        writer.write(header)
        writer.truncate(size)
    return path


def test_wav_just_under_4_gib_is_skipped_and_the_rest_of_the_run_written(pristine, tmp_path, connection):
    library = tmp_path / "library"
    library.mkdir()
    huge = sparse_wav(library / "huge.wav", (1 << 32) - 1024)
    small = library / "small.wav"
    shutil.copyfile(pristine["wav"], small)

    refused, written = tags.write_planned(connection, [plan_for(huge), plan_for(small)], "run-1")

    assert not refused.written and "cannot write tags to RF64/over-4 GiB WAV" in refused.reason
    assert written.written and tags.read_genres(small) == ("Jazz",)
    assert os.stat(huge).st_size == (1 << 32) - 1024 and tags.read_genres(huge) == ()
    assert unsettled(connection) == []
    assert os.listdir(journal.write_area()) == []
    # Past the limit (a writer that let the 32-bit sizes wrap): refused when read, so planned as an error.
    over = sparse_wav(library / "over.wav", (1 << 32) + (1 << 20))
    with pytest.raises(tags.TagError, match="cannot write tags to RF64/over-4 GiB WAV"):
        tags.read_genre_tags(over)


def test_rf64_made_by_ffmpeg_is_refused_with_a_clear_reason(tmp_path, connection):
    source = write_audio(tmp_path / "source.wav", excerpt(VIBE_ACE, 0, 2))
    rf64 = tmp_path / "library" / "long take.wav"
    rf64.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), "-rf64", "always", str(rf64)], check=True
    )  # fmt: skip
    assert rf64.read_bytes()[:4] == b"RF64"
    before = rf64.read_bytes()

    with pytest.raises(tags.TagError, match="cannot write tags to RF64/over-4 GiB WAV"):
        tags.read_genre_tags(rf64)
    [refused] = tags.write_planned(
        connection, [TagPlan(str(rf64), Action.WRITE, new_values=("Jazz",), stamp=store.stamp_of(rf64))], "run-1"
    )

    assert not refused.written and "RF64" in refused.reason and "Root chunk" not in refused.reason
    assert rf64.read_bytes() == before and unsettled(connection) == []


def test_an_entry_left_writing_on_an_append_only_file_is_settled_as_not_written(append_only, connection):
    # What an older genretag left behind: the journal says 'writing', the file was never touched.
    before = append_only.read_bytes()
    temp, backup = (journal.write_area() / f"left-behind.{kind}.flac" for kind in ("new", "old"))
    entry_id = journal.journal_begin(
        connection, "old-run", "tag", str(append_only), (), ("Jazz",), None, store.stamp_of(append_only),
        str(temp), str(backup),
    )  # fmt: skip
    temp.write_bytes(before + b"the new content, never copied in")
    shutil.copyfile(append_only, backup)
    journal.journal_writing(connection, entry_id, len(before), "0" * 64, "1" * 64, None)

    result = CliRunner().invoke(app, ["undo", "--all"], env={"COLUMNS": "300"})

    assert result.exit_code == 0, result.output
    assert "an interrupted run did not write it; left as it was" in result.output
    entry = journal.journal_entry(connection, entry_id)
    assert entry.state == "failed" and "not written" in entry.error
    assert append_only.read_bytes() == before and os.listdir(journal.write_area()) == []
