"""training/experiments/full_recordings: stems mixed from real audio, and the table on the cc clips."""

from __future__ import annotations

import shutil

import numpy as np
import soundfile
from conftest import BRAHMS, SUGAR_PLUM

from training.experiments import full_recordings


def test_stems_are_summed_to_the_shortest_and_scaled_down_only_where_they_would_clip(tmp_path):
    song = tmp_path / "songs" / "one"
    song.mkdir(parents=True)
    shutil.copyfile(SUGAR_PLUM, song / "song.ogg")
    shutil.copyfile(BRAHMS, song / "guitar.ogg")
    (song / "notes.mid").write_bytes(b"MThd")  # not a stem
    mixed, rate = soundfile.read(str(full_recordings.mixed_stems(song, tmp_path)), dtype="float32")
    brahms, _ = soundfile.read(str(BRAHMS), dtype="float32")
    sugar_plum, _ = soundfile.read(str(SUGAR_PLUM), dtype="float32")
    total = brahms + sugar_plum[: len(brahms)]
    assert rate == 22050 and len(mixed) == len(brahms)
    assert np.allclose(mixed, total / max(1.0, np.abs(total).max()), atol=1e-4)  # FLAC's 16 bits


def test_the_table_scores_the_cc_clips_and_names_each_package_not_unpacked(tmp_path, capsys):
    assert full_recordings.main(["--debian", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    cc = [line for line in lines if "../shared/audio/cc" in line]
    assert len(cc) == 4
    for line in cc:
        _, _, expected, tracks, right, share, answers = line.strip("| ").split(" | ")
        assert tracks == "1" and 0 <= float(share) <= 1
        assert right == ("1" if answers.startswith(expected) else "0")
    assert [line.split(" | ")[2] for line in cc] == ["classical", "country", "classical", "jazz"]
    missing = [line for line in lines if "not unpacked under" in line]
    assert [line.split(" | ")[0] for line in missing] == [f"| {source.package}" for source in full_recordings.SOURCES]
