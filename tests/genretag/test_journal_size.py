"""The tag journal keeps only the bytes a write changed, undo stays byte-exact, and `undo --prune` forgets.

Real files: a 30 MB WAV of real audio with tags and a cover, an MP3 with ID3v1 and ID3v2, a FLAC
whose 2 MB cover comes before its Vorbis comment; real tag writes, real undo.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import BRAHMS, VIBE_ACE, add_tags, excerpt, write_audio
from typer.testing import CliRunner

from genretag import journal, store, tags
from genretag.cli import app
from genretag.tags import journalled_write

# A 1 KB genre change: a second genre value of about 1000 characters.
LONG_GENRE = "Live recording, " * 62


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


@pytest.fixture
def connection():
    connection = store.connect()
    yield connection
    connection.close()


def write(connection, path: Path, values: tuple[str, ...], run_id: str):
    before = tags.read_genre_tags(path)
    outcome = journalled_write(
        connection, run_id, "tag", str(path), before.values, values, before.id3_version, store.stamp_of(path), None
    )
    assert outcome.written, outcome.reason
    return journal.journal_entry(connection, outcome.entry_id)


def kept(entry) -> int:
    assert entry.restore is not None, "no exact undo kept"
    return entry.restore.kept


def test_a_1_kb_change_to_a_30_mb_wav_keeps_bytes_not_the_file_and_undo_is_exact(tmp_path, connection):
    samples = np.tile(excerpt(VIBE_ACE, 0, 25), 28)  # 700 s of real audio: 30 MB of 16-bit PCM
    path = add_tags(write_audio(tmp_path / "library" / "long.wav", samples))
    assert 30e6 < os.path.getsize(path) < 32e6
    original = path.read_bytes()

    first = write(connection, path, ("Jazz",), "run-1")
    second = write(connection, path, ("Jazz", LONG_GENRE), "run-2")
    size = store.journal_size(connection)
    print(f"30 MB WAV: kept {kept(first)} B for the first write, {kept(second)} B for the 1 KB change")

    assert kept(first) < 64 << 10 and kept(second) < 64 << 10
    assert size.kept_bytes < 128 << 10  # well under 1 MB for both writes
    result = invoke("undo", "--last")
    assert result.exit_code == 0, result.output
    assert tags.read_genres(path) == ("Jazz",)
    result = invoke("undo", "--all")
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == original  # byte-exact: no ID3 chunk, no INFO chunk left behind


def test_mp3_with_id3v1_keeps_only_its_tags_and_undo_is_exact(tmp_path, connection):
    from mutagen.id3 import ID3

    path = add_tags(write_audio(tmp_path / "song.mp3", excerpt(BRAHMS, 0, 20)))
    id3 = ID3(path)
    id3.save(path, v1=2)  # an ID3v1 trailer too, as many old rips have
    assert path.read_bytes()[-128:-125] == b"TAG"
    original = path.read_bytes()

    entry = write(connection, path, ("Classical", LONG_GENRE), "run-1")

    assert kept(entry) < 8 << 10, kept(entry)
    assert invoke("undo", "--all").exit_code == 0
    assert path.read_bytes() == original


@pytest.mark.parametrize("comment_first", [True, False])
def test_flac_with_a_big_cover_keeps_only_its_comment(comment_first, tmp_path, connection):
    from mutagen.flac import FLAC, Picture, VCFLACDict

    path = add_tags(write_audio(tmp_path / "cover.flac", excerpt(BRAHMS, 0, 20)))
    audio = FLAC(path)
    picture = Picture()
    picture.type, picture.mime, picture.desc = 3, "image/png", "scan of the booklet"
    picture.data = np.random.default_rng(0).bytes(2 << 20)
    audio.add_picture(picture)
    comment = next(block for block in audio.metadata_blocks if isinstance(block, VCFLACDict))
    audio.metadata_blocks.remove(comment)
    # The comment before the pictures (a growing genre moves them) or after them, as taggers differ.
    audio.metadata_blocks.insert(1, comment) if comment_first else audio.metadata_blocks.append(comment)
    audio.save()
    kinds = [type(block).__name__ for block in FLAC(path).metadata_blocks]
    pictures = [index for index, kind in enumerate(kinds) if kind == "Picture"]
    assert (kinds.index("VCFLACDict") < min(pictures)) == comment_first, kinds
    original = path.read_bytes()

    first = write(connection, path, ("Classical",), "run-1")
    second = write(connection, path, ("Classical", LONG_GENRE * 8), "run-2")  # past the padding

    assert kept(first) < 64 << 10 and kept(second) < 64 << 10, (kept(first), kept(second))
    assert invoke("undo", "--all").exit_code == 0
    assert path.read_bytes() == original


def test_mp3_with_a_big_cover_after_its_genre_frame_keeps_only_the_tag_changes(tmp_path, connection):
    from mutagen.id3 import APIC, ID3, PictureType

    path = add_tags(write_audio(tmp_path / "cover.mp3", excerpt(BRAHMS, 0, 20)))
    id3 = ID3(path)
    cover = np.random.default_rng(1).bytes(2 << 20)
    id3.add(APIC(encoding=3, mime="image/png", type=PictureType.LEAFLET_PAGE, desc="booklet", data=cover))
    id3.save(path)
    original = path.read_bytes()

    first = write(connection, path, ("Classical",), "run-1")  # in the padding: the cover moves by the frame's size
    second = write(connection, path, ("Classical", LONG_GENRE * 4), "run-2")  # past it: the tag is rewritten

    assert kept(first) < 64 << 10 and kept(second) < 64 << 10, (kept(first), kept(second))
    assert invoke("undo", "--all").exit_code == 0
    assert path.read_bytes() == original


def test_prune_forgets_what_no_undo_needs_and_older_than_forgets_the_rest(tmp_path, connection):
    library = tmp_path / "library"
    first, second = (write_audio(library / name, excerpt(VIBE_ACE, 0, 12)) for name in ("a.flac", "b.flac"))
    original = {path: path.read_bytes() for path in (first, second)}
    write(connection, first, ("Jazz",), "run-1")
    write(connection, second, ("Jazz",), "run-1")
    write(connection, first, ("Jazz", "Blues"), "run-2")
    assert invoke("undo", first).exit_code == 0  # first: both writes undone
    write(connection, second, ("Jazz", "Swing"), "run-3")
    assert store.journal_size(connection).entries == 5  # the undo of `first` is one entry

    pruned = invoke("undo", "--prune")

    assert pruned.exit_code == 0, pruned.output
    assert "pruned 3 journal entries; the journal keeps 2 journal entries (2 undoable)" in pruned.output
    assert {entry.path for entry in journal.journal_entries(connection)} == {str(second)}
    result = invoke("undo", "--last")  # the writes kept still undo exactly
    assert result.exit_code == 0, result.output
    assert tags.read_genres(second) == ("Jazz",)

    assert invoke("undo", "--prune", "--older-than", "0").exit_code == 0
    assert journal.journal_entries(connection) == []
    assert "nothing to undo" in invoke("undo", "--all").output
    assert first.read_bytes() == original[first]
    assert invoke("undo", "--older-than", "3").exit_code == 2
