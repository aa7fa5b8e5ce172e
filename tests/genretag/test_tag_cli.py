"""`genretag tag` end to end on a real library: preview, writes, the store, bad files, a killed writer."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import CONTAINERS, VIBE_ACE, add_tags, build, journal
from typer.testing import CliRunner

from genretag import audio, config, tags
from genretag.cli import app
from genretag.journal import write_area as journal_write_area

WIDE = {"COLUMNS": "300"}  # rich tables keep whole paths


def invoke(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args], env=WIDE)


@pytest.fixture
def library(tmp_path) -> Path:
    """Seven containers without a genre, and one FLAC that already has one."""
    root = tmp_path / "lib"
    build(root, VIBE_ACE)
    has_genre = root / "tagged" / "has.flac"
    has_genre.parent.mkdir()
    has_genre.write_bytes((root / "flac" / "track.flac").read_bytes())
    add_tags(has_genre, ("Rock",))
    return root


def audio_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def snapshots(root: Path) -> dict[Path, tuple[bytes, int]]:
    return {path: (path.read_bytes(), os.stat(path).st_mtime_ns) for path in root.rglob("*") if path.is_file()}


def test_preview_from_the_last_scan_changes_nothing(library):
    assert invoke("scan", library, "--jobs", "1").exit_code == 0
    before = snapshots(library)

    preview = invoke("tag", "--min-confidence", "0")  # no PATH: the last scan's

    assert preview.exit_code == 0, preview.output
    # Not a terminal: TSV with a header, one line per file, the summary on stderr.
    header, *lines = preview.stdout.splitlines()
    assert header == "path\tcurrent_genres\tproposed_genres\tproposed_probabilities\tnew_genres\taction\treason"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert len(rows) == 8
    assert rows[str(library / "tagged" / "has.flac")][5:] == ["skip", "has genre"]
    assert all(row[5] == "write" for path, row in rows.items() if "has.flac" not in path)
    assert "preview: 7 files to write, 1 skipped (has genre 1), 0 errors; nothing written" in preview.stderr
    assert snapshots(library) == before  # every byte and every mtime
    assert journal() == []


def test_write_tags_every_container_and_keeps_results_fresh(library):
    assert invoke("scan", library, "--jobs", "1").exit_code == 0

    written = invoke("tag", library, "--write", "--min-confidence", "0", "--top-k", "2")

    assert written.exit_code == 0, written.output
    assert "7 files written, 1 skipped (has genre 1), 0 errors; run " in written.output
    for container in CONTAINERS:
        assert len(tags.read_genres(library / container / f"track.{container}")) == 2
    assert tags.read_genres(library / "tagged" / "has.flac") == ("Rock",)
    assert {entry.state for entry in journal()} == {"done"} and len(journal()) == 7

    rescan = invoke("scan", library, "--jobs", "1")  # tag writes change mtimes; the store follows them
    assert "0 analysed, 8 from the store" in rescan.output
    with sqlite3.connect(config.database_path()) as database:
        assert {count for (count,) in database.execute("SELECT analyses FROM track_results")} == {1}


def test_tag_analyses_files_the_store_lacks_and_applies_a_name_map(library, tmp_path):
    names = tmp_path / "names.txt"
    labels = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
    names.write_text("".join(f"{label} = My {label.title()}\n" for label in labels), encoding="utf-8")

    written = invoke(
        "tag", library / "mp3", library / "opus", "--write", "--map", names, "--min-confidence", "0", "-j", "1"
    )

    assert written.exit_code == 0, written.output
    for path in (library / "mp3" / "track.mp3", library / "opus" / "track.opus"):
        [genre] = tags.read_genres(path)
        assert genre.startswith("My ")


def test_policy_replace_and_append_through_the_cli(library):
    has_genre = library / "tagged" / "has.flac"
    appended = invoke("tag", has_genre, "--write", "--policy", "append", "--min-confidence", "0")
    assert appended.exit_code == 0, appended.output
    first, added = tags.read_genres(has_genre)
    assert first == "Rock" and added != "Rock"
    replaced = invoke("tag", has_genre, "--write", "--policy", "replace", "--min-confidence", "0")
    assert replaced.exit_code == 0 and tags.read_genres(has_genre) == (added,)


def test_bad_files_are_reported_each_on_one_line_and_exit_1(library):
    corrupt = library / "corrupt.mp3"
    corrupt.write_bytes(b"ID3\x04\x00\x00\x00\x00\x10\x00" + os.urandom(3000))
    silent = library / "silent.flac"
    soundfile.write(silent, np.zeros(12 * audio.SAMPLE_RATE, dtype=np.float32), audio.SAMPLE_RATE)
    read_only = library / "wav" / "track.wav"
    os.chmod(read_only, 0o444)
    before = snapshots(library)

    result = invoke("tag", library, "--write", "--min-confidence", "0")

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3
    assert any(line.startswith(f"error: {corrupt}: ") for line in errors)
    assert f"error: {silent}: silent: no 10 s segment is louder than -60 dBFS RMS" in errors
    assert f"error: {read_only}: read-only file; not written" in errors
    for untouched in (corrupt, silent, read_only):
        assert snapshots(library)[untouched] == before[untouched]
    assert "6 files written, 1 skipped (has genre 1), 3 errors" in result.output
    entries = journal()
    assert len(entries) == 6 and {entry.state for entry in entries} == {"done"}
    assert {corrupt, silent, read_only}.isdisjoint(Path(entry.path) for entry in entries)


def test_file_edited_after_the_scan_is_analysed_again_then_tagged_keeping_the_edit(library):
    from mutagen.oggopus import OggOpus

    assert invoke("scan", library, "--jobs", "1").exit_code == 0
    opus = library / "opus" / "track.opus"
    edited = OggOpus(opus)
    edited["title"] = "Edited after the scan"
    edited.save()

    result = invoke("tag", opus, "--write", "--min-confidence", "0")

    assert result.exit_code == 0, result.output
    assert len(tags.read_genres(opus)) == 1 and OggOpus(opus)["title"] == ["Edited after the scan"]
    with sqlite3.connect(config.database_path()) as database:
        [(analyses,)] = database.execute("SELECT analyses FROM track_results WHERE path = ?", (str(opus),))
    assert analyses == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["tag"], "no PATH given and no earlier scan"),
        (["tag", "{lib}", "--policy", "overwrite"], "--policy 'overwrite': choose one of fill, replace, append"),
        (["tag", "{lib}/nowhere"], "nowhere: no such file or folder"),
        (["tag", "{lib}", "--map", "{lib}/missing-names.txt"], "missing-names.txt: No such file or directory"),
        (["tag", "{lib}", "--map", "{lib}/wav/track.wav"], "track.wav: not a UTF-8 text file"),
        (["tag", "{lib}", "--min-confidence", "1.5"], "Invalid value for '--min-confidence'"),
        (["undo"], "say what to undo"),
        (["undo", "--last", "--all"], "say what to undo"),
    ],
)
def test_usage_errors_exit_2(library, arguments, message):
    result = invoke(*[argument.format(lib=library) for argument in arguments])
    assert result.exit_code == 2
    assert message in result.stderr


# ---------------------------------------------------------------- a writer killed at each step of the write

KILLED_WRITER = """
import os, shutil, signal, sys
from genretag import journal
moment, real_copyfile, real_copy_into = sys.argv[1], shutil.copyfile, journal._copy_into_descriptor
def die():
    os.kill(os.getpid(), signal.SIGKILL)
def copyfile_then_die(source, target, **options):  # the temporary copy exists, nothing else happened
    real_copyfile(source, target, **options)
    if moment == "copied" and str(journal.write_area()) in str(target):
        die()
def copy_into_and_die(source, descriptor):  # the original is being rewritten in place
    if moment == "midway":
        with open(source, "rb") as new:
            half = new.read()[: os.path.getsize(source) // 2]
        os.write(descriptor, half)
        os.ftruncate(descriptor, len(half))  # half of the new content and nothing else: neither old nor new
        die()
    real_copy_into(source, descriptor)
    die()
shutil.copyfile, journal._copy_into_descriptor = copyfile_then_die, copy_into_and_die
sys.argv = ["genretag", *sys.argv[2:]]
from genretag.cli import app
from genretag.journal import write_area as journal_write_area
app()
"""


def killed_write(moment: str, path: Path) -> subprocess.CompletedProcess:
    """Run the real `genretag tag --write` in a process the OS kills (SIGKILL) at ``moment`` of the write."""
    command = [sys.executable, "-c", KILLED_WRITER, moment, "tag", str(path), "--write", "--min-confidence", "0"]
    command += ["--jobs", "1", "--model", "v-kernel"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def write_area() -> list[str]:
    return os.listdir(journal_write_area())


def test_killed_after_the_temporary_copy_leaves_the_original_and_the_next_run_removes_the_copy(library):
    track = library / "flac" / "track.flac"
    before = (track.read_bytes(), os.stat(track).st_mtime_ns)

    done = killed_write("copied", track)

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (track.read_bytes(), os.stat(track).st_mtime_ns) == before
    assert os.listdir(track.parent) == [track.name]  # nothing beside the music, for sync tools to pick up
    [entry] = journal()
    assert entry.state == "pending" and write_area() == [Path(entry.temp_path).name]

    undo = invoke("undo", "--all")
    assert f"warning: {track}: an interrupted run did not write it; left as it was" in undo.stderr
    assert "nothing to undo" in undo.stdout
    assert write_area() == [] and (track.read_bytes(), os.stat(track).st_mtime_ns) == before
    [entry] = journal()
    assert entry.state == "failed" and "interrupted before the file was replaced" in entry.error

    again = invoke("tag", track, "--write", "--min-confidence", "0", "--model", "v-kernel")
    assert again.exit_code == 0 and len(tags.read_genres(track)) == 1


def test_killed_halfway_through_the_rewrite_gets_the_original_bytes_back(library):
    track = library / "mp3" / "track.mp3"
    os.link(track, library / "second-name.mp3")
    before = (track.read_bytes(), os.stat(track).st_mtime_ns, os.stat(track).st_ino)

    done = killed_write("midway", track)

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert track.read_bytes() != before[0]  # half written: the state a crash can leave
    [entry] = journal()
    assert entry.state == "writing" and len(write_area()) == 2  # the new content and the backup

    again = invoke("tag", track, "--write", "--min-confidence", "0", "--model", "v-kernel")

    assert f"warning: {track}: an interrupted run did not write it; left as it was" in again.stderr
    first = journal()[0]
    assert first.state == "failed" and "original bytes restored" in first.error
    assert again.exit_code == 0 and len(tags.read_genres(track)) == 1  # then written by this run
    assert os.stat(track).st_ino == before[2] and os.stat(library / "second-name.mp3").st_nlink == 2
    assert invoke("undo", "--all").exit_code == 0
    assert track.read_bytes() == before[0] and write_area() == []


def test_killed_after_the_rewrite_is_completed_in_the_journal_and_can_be_undone(library):
    track = library / "m4a" / "track.m4a"
    original = track.read_bytes()

    done = killed_write("after", track)

    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(tags.read_genres(track)) == 1
    [entry] = journal()
    assert entry.state == "writing"

    undo = invoke("undo", "--last")
    assert f"warning: {track}: an interrupted run had written it; journal completed" in undo.stderr
    assert undo.exit_code == 0 and tags.read_genres(track) == ()
    assert track.read_bytes() == original  # exactly
    assert [entry.state for entry in journal()] == ["done", "done"] and write_area() == []
