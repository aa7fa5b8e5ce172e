"""Genres where players also look: APEv2 in MP3, freeform GENRE in M4A, ID3 before FLAC, APEv2 in WavPack.

Real audio, tagged with mutagen (and encoded by FFmpeg for WavPack); `fill` sees these genres and a
write keeps every tag of the file in agreement.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import VIBE_ACE, add_tags, excerpt, write_audio
from typer.testing import CliRunner

from genretag import tags
from genretag.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


def mp3_with_ape(path: Path, genre: str) -> Path:
    from mutagen.apev2 import APEv2

    add_tags(write_audio(path, excerpt(VIBE_ACE, 5, 11)))  # ID3 with title, cover...; no genre
    ape = APEv2()
    ape["Title"], ape["Genre"] = "Vibe Ace", genre
    ape.save(path)
    return path


def m4a_with_freeform(path: Path, genre: str) -> Path:
    from mutagen.mp4 import MP4, MP4FreeForm

    add_tags(write_audio(path, excerpt(VIBE_ACE, 5, 11)))
    audio = MP4(path)
    audio["----:com.apple.iTunes:GENRE"] = [MP4FreeForm(genre.encode())]
    audio.save()
    return path


def flac_with_id3(path: Path, genre: str) -> Path:
    from mutagen.id3 import ID3, TCON, TIT2

    add_tags(write_audio(path, excerpt(VIBE_ACE, 5, 11)))  # Vorbis comments without a genre
    id3 = ID3()
    id3.add(TIT2(encoding=3, text="Vibe Ace"))
    id3.add(TCON(encoding=3, text=genre))
    id3.save(path)  # before the fLaC marker, as some rippers leave it
    return path


MAKERS = {"mp3": mp3_with_ape, "m4a": m4a_with_freeform, "flac": flac_with_id3}


@pytest.fixture
def library(tmp_path) -> Path:
    root = tmp_path / "library"
    for container, make in MAKERS.items():
        make(root / f"second tag.{container}", "Acid Jazz")
    return root


def test_fill_sees_the_genre_of_a_second_tag_and_adds_no_conflicting_one(library):
    before = {path: path.read_bytes() for path in library.iterdir()}
    assert {path.suffix: tags.read_genres(path) for path in before} == {
        ".mp3": ("Acid Jazz",),
        ".m4a": ("Acid Jazz",),
        ".flac": ("Acid Jazz",),
    }

    result = invoke("tag", library, "--write", "--min-confidence", "0", "--jobs", "1", "--model", "v-kernel")

    assert result.exit_code == 0, result.output
    assert "0 files written, 3 skipped (has genre 3)" in result.output
    assert {path: path.read_bytes() for path in library.iterdir()} == before


@pytest.mark.parametrize("container", list(MAKERS))
def test_a_write_sets_every_tag_players_read(container, library):
    from mutagen.apev2 import APEv2
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4

    path = library / f"second tag.{container}"

    tags.write_genres(path, ["Jazz", "Swing"])

    assert tags.read_genre_tags(path) == tags.GenreTags(("Jazz", "Swing"), tags.read_genre_tags(path).id3_version)
    if container == "mp3":
        assert list(APEv2(path)["Genre"]) == ["Jazz", "Swing"] and str(APEv2(path)["Title"]) == "Vibe Ace"
        assert ID3(path).getall("TCON")[0].text == ["Jazz", "Swing"]
    elif container == "m4a":
        audio = MP4(path)
        assert audio["\xa9gen"] == ["Jazz", "Swing"]
        assert [bytes(value) for value in audio["----:com.apple.iTunes:GENRE"]] == [b"Jazz", b"Swing"]
    else:
        assert FLAC(path)["genre"] == ["Jazz", "Swing"]
        assert ID3(path).getall("TCON")[0].text == ["Jazz", "Swing"] and str(ID3(path)["TIT2"]) == "Vibe Ace"
    tags.write_genres(path, [])  # and removing the genre removes it everywhere
    assert tags.read_genres(path) == ()


def test_wavpack_genre_lives_in_its_apev2_tag(tmp_path):
    from mutagen.wavpack import WavPack

    source = write_audio(tmp_path / "source.wav", excerpt(VIBE_ACE, 5, 4))
    path = tmp_path / "track.wv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(source), "-c:a", "wavpack", str(path)], check=True)
    audio = WavPack(path)
    assert audio.tags is not None  # FFmpeg's APEv2 tag (its encoder)
    audio.tags["Genre"] = "Blues"
    audio.save()
    assert tags.read_genres(path) == ("Blues",)

    tags.write_genres(path, ["Jazz", "Swing"])

    assert tags.read_genres(path) == ("Jazz", "Swing") and list(WavPack(path).tags["Genre"]) == ["Jazz", "Swing"]
