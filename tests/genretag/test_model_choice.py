"""One rule for the model a command uses when none is named: the configured one, else the model of the stored
results for the paths, else the default; scan, tag, timeline and export follow it alike and say which and why.
Real audio, a real store, the real CLI in a subprocess."""

from __future__ import annotations

import sqlite3

import soundfile
from conftest import VIBE_ACE, excerpt
from test_cli_output import MODEL, RATE, run_cli

from genretag import config

STORED = f"model: {MODEL} (the model of the stored results for these paths)"


def test_a_plain_scan_after_scan_model_uses_the_same_model_as_tag_and_timeline(tmp_path):
    track = tmp_path / "lib" / "a.flac"
    track.parent.mkdir()
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    first = run_cli("scan", str(track.parent), "--model", MODEL)
    assert first.returncode == 0, first.stderr
    assert f"model: {MODEL}\n" in first.stderr

    again = run_cli("scan", str(track.parent))  # no model named: the stored results' model, not another
    assert again.returncode == 0, again.stderr
    assert STORED in again.stderr and "0 analysed, 1 from the store" in again.stderr
    for command in (("tag", str(track.parent)), ("timeline", str(track)), ("export", str(track.parent))):
        done = run_cli(*command)
        assert done.returncode == 0, done.stderr
        assert STORED in done.stderr, command
    with sqlite3.connect(config.database_path()) as connection:
        assert {row[0] for row in connection.execute("SELECT model FROM track_results")} == {MODEL}
