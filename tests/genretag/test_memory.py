"""Memory does not grow with track length: a 30-minute file costs what a 1-minute one does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from conftest import BRAHMS, FISHIN, SUGAR_PLUM, VIBE_ACE, recording

SOURCE_RATE = 44_100  # not the model's rate, so the streaming resampler is part of what is measured
LONG_MINUTES = 30
# A whole 30-minute decode held at once would be 300+ MB; streaming keeps the peak where a short file has it.
GROWTH_BOUND_MB = 40

# The peak is read from VmHWM, this process image's own high-water mark: ru_maxrss
# can carry the RSS of the (large) pytest process the child was forked from.
CLASSIFY_AND_REPORT_PEAK = """
import json, sys
from genretag.classify import classify_file
from genretag.weights import load_model
result = classify_file(sys.argv[1], load_model("v-kernel"))
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"duration_s": result.duration_s, "segments": len(result.segment_bounds),
                  "peak_mb": int(status["VmHWM"].split()[0]) / 1024}))
"""


def real_music(seconds: float) -> np.ndarray:
    """Real recordings joined end to end (and repeated) to ``seconds``, at ``SOURCE_RATE``."""
    parts = [recording(path) for path in (BRAHMS, VIBE_ACE, FISHIN, SUGAR_PLUM)]  # 2 minutes at 22.05 kHz
    joined = soxr.resample(np.concatenate(parts), 22_050, SOURCE_RATE)
    return np.resize(joined, int(seconds * SOURCE_RATE))


def write_flac(path: Path, samples: np.ndarray) -> Path:
    with soundfile.SoundFile(path, "w", SOURCE_RATE, 1, format="FLAC") as handle:
        for start in range(0, samples.size, 60 * SOURCE_RATE):
            handle.write(samples[start : start + 60 * SOURCE_RATE])
    return path


@pytest.fixture(scope="session")
def short_and_long(tmp_path_factory) -> tuple[Path, Path]:
    """A 1-minute and a 30-minute FLAC of real music, written once per session."""
    folder = tmp_path_factory.mktemp("memory")
    music = real_music(LONG_MINUTES * 60)
    return write_flac(folder / "short.flac", music[: 60 * SOURCE_RATE]), write_flac(folder / "long.flac", music)


def classify_in_subprocesses(*paths: Path) -> list[dict]:
    """Classify each file in its own fresh process, all at once; each process's result and peak RSS."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CLASSIFY_AND_REPORT_PEAK, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in paths
    ]
    reports = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout))
    return reports


def test_peak_memory_does_not_grow_with_track_length(short_and_long):
    short, long = classify_in_subprocesses(*short_and_long)
    assert long["duration_s"] == pytest.approx(LONG_MINUTES * 60, abs=0.1)
    assert long["segments"] == LONG_MINUTES * 6
    assert short["segments"] == 6
    assert long["peak_mb"] - short["peak_mb"] < GROWTH_BOUND_MB, (short, long)
