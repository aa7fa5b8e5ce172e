"""A tag write keeps the file what it was (inode, links, xattrs, owner, mode), and genres are sets in every format.

Real copies of real audio, real mutagen and FFmpeg (PyAV) reads, real hard links,
xattrs, FIFOs and long names on the test machine's file system.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import (
    BRAHMS,
    VIBE_ACE,
    add_tags,
    build,
    decoded,
    excerpt,
    ffmpeg_genre,
    other_tags,
    write_audio,
)
from typer.testing import CliRunner

from genretag import config, journal, store, tags
from genretag.cli import app
from genretag.library import walk_audio_files


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


def tag(*args):
    result = invoke("tag", *args, "--min-confidence", "0", "--jobs", "1", "--model", "v-kernel")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("pristine"), VIBE_ACE)


def copy(pristine, container: str, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or pristine[container].name)
    path.write_bytes(pristine[container].read_bytes())
    return path


def state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), os.stat(path).st_mtime_ns


# ---------------------------------------------------------------- the file stays the same file


@pytest.mark.parametrize("container", ["flac", "mp3", "wav"])
def test_write_keeps_inode_hard_links_xattrs_owner_and_setgid(pristine, container, tmp_path):
    path = copy(pristine, container, tmp_path / "library")
    seeding = tmp_path / "seeding" / path.name
    seeding.parent.mkdir()
    os.link(path, seeding)  # a second name of the same file, as a torrent or "by genre" tree keeps it
    os.setxattr(path, "user.origin", b"bandcamp")
    os.setxattr(path, "user.checksum", b"\x00\x01binary")
    if os.geteuid() == 0:
        os.chown(path, 4321, 8765)  # another user's file, written by root
    os.chmod(path, 0o2750)
    before = os.stat(path)
    audio_before = decoded(path)

    tag(path, "--write")

    after = os.stat(path)
    assert (after.st_ino, after.st_dev, after.st_nlink) == (before.st_ino, before.st_dev, 2)
    assert os.stat(seeding).st_ino == before.st_ino and len(tags.read_genres(seeding)) == 1
    assert os.getxattr(path, "user.origin") == b"bandcamp"
    assert os.getxattr(path, "user.checksum") == b"\x00\x01binary"
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert stat.S_IMODE(after.st_mode) == 0o2750
    assert (decoded(path) == audio_before).all()
    assert sorted(os.listdir(path.parent)) == [path.name] and os.listdir(journal.write_area()) == []


def test_open_handle_sees_the_new_tag(pristine, tmp_path):
    path = copy(pristine, "flac", tmp_path)
    with open(path, "rb") as handle:  # a player holding the file open
        tag(path, "--write")
        handle.seek(0)
        assert handle.read() == path.read_bytes()


def test_name_of_255_bytes_can_be_tagged(pristine, tmp_path):
    name = "ü" * 125 + ".flac"  # 250 + 5 bytes in UTF-8: the longest name most file systems allow
    assert len(name.encode("utf-8")) == 255
    path = copy(pristine, "flac", tmp_path, name)

    tag(path, "--write")

    assert len(tags.read_genres(path)) == 1 and os.listdir(tmp_path) == [name]


def test_a_write_of_what_the_file_holds_writes_nothing(pristine, tmp_path):
    path = copy(pristine, "ogg", tmp_path)
    tag(path, "--write")
    [genre] = tags.read_genres(path)
    written = state(path)

    again = tag(path, "--write", "--policy", "replace")

    assert "\tskip\tunchanged\n" in again.stdout and "0 files written" in again.output
    assert state(path) == written
    # the writer compares too: the same content gives no new bytes and keeps the mtime
    assert tags.write_genres(path, [f" {genre} "]) == store.stamp_of(path)
    assert state(path) == written and os.listdir(journal.write_area()) == []


# ---------------------------------------------------------------- ID3v2.3 genres


def id3v23_file(folder: Path, tcon: str, encoding: int = 3) -> Path:
    """A real MP3 with an ID3v2.3 tag whose TCON text is ``tcon``, as another tagger wrote it."""
    from mutagen.id3 import ID3, TCON

    path = add_tags(write_audio(folder / "old.mp3", excerpt(BRAHMS, 5, 3)))
    id3 = ID3(path)
    id3.delall("TCON")
    id3.add(TCON(encoding=encoding, text=[tcon]))
    id3.save(v2_version=3)
    return path


@pytest.mark.parametrize(
    ("tcon", "genres"),
    [("Rock/Pop", ("Rock", "Pop")), ("(17)(13)", ("Rock", "Pop")), ("(17)Rock/Pop/pop", ("Rock", "Pop"))],
)
def test_id3v23_genre_strings_read_as_several_genres(tmp_path, tcon, genres):
    assert tags.read_genres(id3v23_file(tmp_path, tcon, encoding=0)) == genres


def test_id3v23_append_never_duplicates_and_reruns_change_nothing(tmp_path):
    from mutagen.id3 import ID3

    path = id3v23_file(tmp_path, "Rock/Pop")
    tag(path, "--write", "--policy", "append", "--top-k", "2")
    first = tags.read_genres(path)
    assert first[:2] == ("Rock", "Pop") and len(first) == len({genre.casefold() for genre in first})
    assert ID3(path).version == (2, 3, 0)  # kept without being asked
    assert ID3(path).getall("TCON")[0].text == ["/".join(first)]
    after_first = state(path)

    again = tag(path, "--write", "--policy", "append", "--top-k", "2", "--id3v23")

    assert "0 files written" in again.output and state(path) == after_first


def test_id3_version_is_kept_unless_asked(tmp_path):
    from mutagen.id3 import ID3

    path = id3v23_file(tmp_path, "Jazz")
    tag(path, "--write", "--policy", "replace")
    assert ID3(path).version == (2, 3, 0)
    tag(path, "--write", "--policy", "append", "--top-k", "3", "--id3-version", "4")
    assert ID3(path).version == (2, 4, 0)


def test_undo_restores_the_exact_bytes_of_a_numeric_id3v23_genre(tmp_path):
    from mutagen.id3 import ID3

    path = id3v23_file(tmp_path, "(17)(13)", encoding=0)
    original = path.read_bytes()
    tag(path, "--write", "--policy", "replace")
    tag(path, "--write", "--policy", "append", "--top-k", "3", "--id3-version", "4")
    assert path.read_bytes() != original

    result = invoke("undo", "--all")

    assert result.exit_code == 0, result.output
    assert path.read_bytes() == original
    assert ID3(path).version == (2, 3, 0)


# ---------------------------------------------------------------- WAV: ID3 chunk and RIFF INFO


def ffmpeg_wav(path: Path, metadata: dict[str, str]) -> Path:
    """A WAV written by FFmpeg (PyAV) with these INFO tags: FFmpeg puts an INFO chunk into every WAV it makes."""
    import av
    import numpy as np

    samples = excerpt(BRAHMS, 5, 3)
    with av.open(str(path), "w", format="wav") as container:
        container.metadata.update(metadata)
        stream = container.add_stream("pcm_s16le", rate=22_050)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray((samples[None] * 32767).astype(np.int16), format="s16", layout="mono")
        frame.sample_rate = 22_050
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def riff_info(path: Path) -> dict[str, str]:
    return tags._read_riff_info(path) or {}


def test_wav_info_genre_is_read_and_fill_leaves_it(tmp_path):
    path = ffmpeg_wav(tmp_path / "song.wav", {"genre": "Country", "title": "Let's Go Fishin"})
    assert riff_info(path)["IGNR"] == "Country" and ffmpeg_genre(path) == "Country"
    assert tags.read_genres(path) == ("Country",)
    before = state(path)

    result = tag(path, "--write")  # fill: the file has a genre

    assert "\tskip\thas genre\n" in result.stdout and state(path) == before


def test_wav_replace_writes_both_tags_and_keeps_every_info_field_and_the_title(tmp_path):
    from mutagen.wave import WAVE

    path = ffmpeg_wav(tmp_path / "song.wav", {"genre": "Country", "title": "Let's Go Fishin", "artist": "K. Hobbs"})
    info_before = riff_info(path)
    audio_before = decoded(path)

    tag(path, "--write", "--policy", "replace", "--top-k", "2")

    [first, second] = genres = tags.read_genres(path)
    info = riff_info(path)
    assert info["IGNR"] == f"{first};{second}"
    assert {key: value for key, value in info.items() if key != "IGNR"} == {
        key: value for key, value in info_before.items() if key != "IGNR"
    }  # ISFT (FFmpeg's), INAM, IART stay
    # what ffprobe shows: FFmpeg keeps the chunk it reads last, INFO ("A;B") or ID3v2.4 (its first value)
    assert ffmpeg_genre(path) in (f"{first};{second}", first)
    id3 = WAVE(path).tags
    assert id3.getall("TCON")[0].text == list(genres)
    # readers that prefer the new ID3 tag (TagLib, MediaInfo, beets) still find the title and artist
    assert str(id3["TIT2"]) == "Let's Go Fishin" and str(id3["TPE1"]) == "K. Hobbs"
    assert (decoded(path) == audio_before).all()
    assert invoke("undo", "--all").exit_code == 0
    assert riff_info(path) == info_before and tags.read_genres(path) == ("Country",)


def test_wav_with_only_id3_gets_an_info_genre_ffmpeg_reads_with_its_title(pristine, tmp_path):
    path = copy(pristine, "wav", tmp_path)
    assert tags._read_riff_info(path) is None
    tags_before = other_tags(path)

    tag(path, "--write")

    [genre] = tags.read_genres(path)
    assert riff_info(path)["IGNR"] == genre and riff_info(path)["INAM"] == tags_before["tit2"][0]
    assert ffmpeg_genre(path) == genre
    assert other_tags(path) == tags_before


# ---------------------------------------------------------------- special files


def test_fifo_is_reported_as_not_a_regular_file_and_never_opened(pristine, tmp_path):
    library = tmp_path / "library"
    copy(pristine, "flac", library)
    fifo = library / "x.wav"
    os.mkfifo(fifo)  # opening it for reading would block this test forever

    walk = walk_audio_files([library])
    assert walk.problems == [(fifo, "not a regular file (FIFO)")]
    assert walk_audio_files([fifo]).problems == [(fifo, "not a regular file (FIFO)")]
    with pytest.raises(tags.TagError, match=r"not a regular file \(FIFO\)"):
        tags.write_genres(fifo, ["Jazz"])

    result = invoke("tag", library, "--write", "--min-confidence", "0", "--jobs", "1", "--model", "v-kernel")
    assert result.exit_code == 1
    assert f"error: {fifo}: not a regular file (FIFO)" in result.stderr.splitlines()
    assert "1 file written" in result.output


# ---------------------------------------------------------------- two scans of one library at once


def test_two_concurrent_scans_analyse_each_track_once(tmp_path):
    import re
    import sqlite3
    import subprocess
    import sys
    import time

    from conftest import FISHIN, SUGAR_PLUM

    library = tmp_path / "library"
    for index, source in enumerate((BRAHMS, FISHIN, SUGAR_PLUM, VIBE_ACE)):
        for start in (0, 10):
            write_audio(library / f"{index}-{start}.flac", excerpt(source, start, 10))

    def claims() -> int:
        if not config.database_path().exists():
            return 0
        with sqlite3.connect(config.database_path(), timeout=30) as database:
            try:
                return database.execute("SELECT COUNT(*) FROM scan_claims").fetchone()[0]
            except sqlite3.OperationalError:  # the first scan has not created its tables yet
                return 0

    command = [sys.executable, "-m", "genretag", "scan", str(library), "--jobs", "1", "--model", "v-kernel"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}

    def start():
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)

    first = start()
    deadline = time.monotonic() + 120
    while not claims() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert claims() == 8, "the first scan never claimed its tracks"
    second = start()  # while the first is analysing
    outputs = [scan.communicate(timeout=600) for scan in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    analysed = [int(re.search(r"(\d+) analysed, (\d+) from the store", stderr).group(1)) for _, stderr in outputs]
    assert analysed == [8, 0], outputs  # the second waited for the first's results instead of analysing again
    assert "8 from the store" in outputs[1][1]
    with sqlite3.connect(config.database_path()) as database:
        counts = [count for (count,) in database.execute("SELECT analyses FROM track_results")]
        assert counts == [1] * 8
        assert database.execute("SELECT COUNT(*) FROM scan_claims").fetchone() == (0,)
