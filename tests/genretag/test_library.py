"""Walking music folders: extensions, hidden entries, symlink loops, order."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mutagen
import pytest
from conftest import VIBE_ACE
from typer.testing import CliRunner

from genretag.cli import app
from genretag.library import AUDIO_SUFFIXES, LibraryPathError, walk_audio_files


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_walk_finds_audio_by_extension_in_sorted_order(tmp_path):
    for name in ["b/02.flac", "b/01.MP3", "a.ogg", "c/d/e.opus", "cover.jpg", "notes.txt", "b/10.m4a", "song.WMA"]:
        touch(tmp_path / name)
    found = walk_audio_files([tmp_path]).files
    assert [path.relative_to(tmp_path).as_posix() for path in found] == [
        "a.ogg",
        "b/01.MP3",
        "b/02.flac",
        "b/10.m4a",
        "c/d/e.opus",
        "song.WMA",
    ]
    assert all(path.is_absolute() for path in found)


def test_every_listed_extension_counts_as_audio(tmp_path):
    for suffix in AUDIO_SUFFIXES:
        touch(tmp_path / f"track{suffix}")
    assert len(walk_audio_files([tmp_path]).files) == len(AUDIO_SUFFIXES) == 18


def test_hidden_files_and_folders_are_skipped_unless_given(tmp_path):
    touch(tmp_path / "visible.flac")
    touch(tmp_path / ".hidden.flac")
    touch(tmp_path / ".cache" / "inside.flac")
    assert [path.name for path in walk_audio_files([tmp_path]).files] == ["visible.flac"]
    given = walk_audio_files([tmp_path / ".cache", tmp_path / ".hidden.flac"]).files
    assert [path.name for path in given] == ["inside.flac", ".hidden.flac"]


def test_a_file_given_directly_is_taken_whatever_its_extension(tmp_path):
    odd = touch(tmp_path / "recording.dat")
    assert walk_audio_files([odd]).files == [odd]


def test_symlink_loops_end_and_linked_folders_are_followed_once(tmp_path):
    music = tmp_path / "music"
    touch(music / "album" / "one.flac")
    os.symlink(music, music / "album" / "loop")  # album/loop -> music: a cycle
    os.symlink(music / "album", tmp_path / "also-album")
    found = walk_audio_files([tmp_path]).files
    names = [path.relative_to(tmp_path).as_posix() for path in found]
    # The album is reached through its link first (sorted order) and never entered twice.
    assert names == ["also-album/one.flac"]


def test_the_same_file_given_twice_is_listed_once_in_given_order(tmp_path):
    first = touch(tmp_path / "z.flac")
    second = touch(tmp_path / "a.flac")
    assert walk_audio_files([first, tmp_path, second]).files == [first, second]


def test_missing_path_is_an_error_naming_it(tmp_path):
    with pytest.raises(LibraryPathError, match="nowhere"):
        walk_audio_files([tmp_path / "nowhere"])


def test_a_dangling_link_is_listed_so_the_scan_reports_it(tmp_path):
    os.symlink(tmp_path / "gone.flac", tmp_path / "broken.flac")
    assert [path.name for path in walk_audio_files([tmp_path]).files] == ["broken.flac"]


def test_a_wavpack_file_in_a_folder_is_found_classified_and_tagged(tmp_path, genretag_home):
    track = tmp_path / "music" / "vibe-ace.wv"
    track.parent.mkdir()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(VIBE_ACE), "-c:a", "wavpack", str(track)], check=True)
    assert walk_audio_files([tmp_path / "music"]).files == [track]
    scanned = CliRunner().invoke(app, ["scan", str(tmp_path / "music"), "--jobs", "1", "--format", "json"])
    assert scanned.exit_code == 0, scanned.output
    tagged = CliRunner().invoke(app, ["tag", str(tmp_path / "music"), "--write", "--min-confidence", "0"])
    assert tagged.exit_code == 0, tagged.output
    assert mutagen.File(track)["genre"][0]  # an APEv2 genre item, written into the WavPack file
