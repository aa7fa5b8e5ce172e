"""`genretag timeline`'s strip tells genres apart without colour (a pipe, NO_COLOR: one letter per genre, with
a legend) and fits 80 columns however long the track. Real recordings, the real CLI in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import soundfile
from conftest import BRAHMS, VIBE_ACE, excerpt
from test_cli_output import RATE, run_cli

# The accurate model: the strip needs a model that tells the string orchestra from the jazz.
MODEL = "musicnn"


def strip_and_legend(stdout: str) -> tuple[str, str]:
    lines = stdout.splitlines()
    at = next(index for index, line in enumerate(lines) if re.fullmatch(r"[A-Z0-9?█]+", line))  # letters or blocks
    return lines[at], lines[at + 1]


def test_the_strip_has_a_letter_per_genre_and_a_legend_and_fits_80_columns(tmp_path):
    # 66 segments: 10 s of strings and 10 s of jazz in turn, 11 minutes.
    pieces = [excerpt(BRAHMS if index % 2 else VIBE_ACE, 0, 10) for index in range(66)]
    track = tmp_path / "long.flac"
    soundfile.write(track, np.concatenate(pieces), RATE)
    piped = run_cli("timeline", str(track), "--model", MODEL)
    assert piped.returncode == 0, piped.stderr
    assert "66 segments of 10 s" in piped.stdout
    strip, legend = strip_and_legend(piped.stdout)
    assert len(strip) <= 80 and len(strip) == 66  # one character a segment: 132 would wrap
    assert "█" not in strip and len(set(strip)) >= 2, strip  # genres told apart without colour
    for letter in set(strip):
        assert f"{letter} " in legend, (letter, legend)  # each letter explained

    environment = {**os.environ, "NO_COLOR": "1", "COLUMNS": "40", "OMP_NUM_THREADS": "1"}
    narrow = subprocess.run(
        [sys.executable, "-m", "genretag", "timeline", str(track), "--model", MODEL],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    strip, legend = strip_and_legend(narrow.stdout)
    assert len(strip) <= 40 and "segments)" in legend  # several segments to a character
