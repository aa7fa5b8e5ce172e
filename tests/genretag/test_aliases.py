"""One file under several names: hard links, paths differing only in case; names that hold tabs or newlines.

Real audio on the test machine's file system: real hard links, real names with control characters.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import VIBE_ACE, excerpt, write_audio

from genretag import tags


def run_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genretag", *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_a_hard_link_is_not_changed_since_it_was_analysed_after_a_write_through_its_other_name(tmp_path):
    library = tmp_path / "library"
    first = write_audio(library / "albums" / "song.flac", excerpt(VIBE_ACE, 5, 11))
    second = library / "by genre" / "song.flac"
    second.parent.mkdir()
    os.link(first, second)
    assert run_cli("scan", library, "--model", "v-kernel", "--jobs", "1").returncode == 0

    written = run_cli("tag", library, "--write", "--min-confidence", "0", "--jobs", "1")

    assert written.returncode == 0, written.stderr
    assert "changed since" not in written.stderr
    assert "2 files written" in written.stdout + written.stderr
    assert tags.read_genres(first) == tags.read_genres(second) != ()
    rescan = run_cli("scan", library, "--model", "v-kernel", "--jobs", "1")
    assert rescan.returncode == 0, rescan.stderr
    assert "0 analysed, 2 from the store" in rescan.stdout + rescan.stderr


def test_one_file_through_paths_differing_in_case_is_listed_once(tmp_path):
    # What a case-insensitive mount shows: one inode under names that differ only in case.
    track = write_audio(tmp_path / "Music" / "Track.flac", excerpt(VIBE_ACE, 5, 11))
    for name in ("TRACK.flac", "track.FLAC"):
        os.link(track, track.parent / name)

    done = run_cli(
        "scan",
        track,
        track.parent / "TRACK.flac",
        track.parent / "track.FLAC",
        "--format",
        "tsv",
        "--model",
        "v-kernel",
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Track.flac") == 1 and len(done.stdout.splitlines()) == 2  # header and one track
    assert "1 track: 1 classified" in done.stderr


def unescape(cell: str) -> str:
    return re.sub(r"\\(.)", lambda match: {"t": "\t", "n": "\n", "r": "\r"}.get(match[1], match[1]), cell)


def test_tsv_escapes_tabs_and_newlines_in_names_reversibly(tmp_path):
    library = tmp_path / "library"
    names = ["tab\there.flac", "two\nlines.flac", "back\\slash.flac"]
    for name in names:
        write_audio(library / name, excerpt(VIBE_ACE, 5, 11))

    done = run_cli("scan", ".", "--format", "tsv", "--model", "v-kernel", cwd=library)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 + len(names)  # one line per track: nothing split a row
    shown = [unescape(line.split("\t")[0]) for line in lines[1:]]
    assert sorted(shown) == sorted(names) and all((library / name).is_file() for name in shown)
