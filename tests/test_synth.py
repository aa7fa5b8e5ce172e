"""The synthetic corpus generator: real soundfont/drum-kit rendering, layout, determinism.

Needs the Debian packages fluidsynth, fluid-soundfont-gm (and optionally
timgm6mb-soundfont, musescore-general-soundfont, hydrogen-drumkits) and pyfluidsynth.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from genretag.audio import SAMPLE_RATE, SEGMENT_SAMPLES
from training.synth.corpus import build_corpus, clip_path, render_clip
from training.synth.styles import GENRES, arrange

REPO = Path(__file__).resolve().parents[1]
SAMPLE_GENRES = ("classical", "metal", "reggae")


def test_corpus_is_folder_per_genre_of_ten_second_mono_flac(tmp_path):
    report = build_corpus(tmp_path, per_genre=2, seed=7, jobs=1, genres=SAMPLE_GENRES)
    assert report.rendered == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SAMPLE_GENRES)
    for path in report.paths:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.frames, info.format) == (SAMPLE_RATE, 1, SEGMENT_SAMPLES, "FLAC")
        samples, _ = soundfile.read(path, dtype="float32")
        assert np.sqrt(np.mean(samples**2)) > 1e-3, f"{path.name} is silent"
    first, second = (soundfile.read(clip_path(tmp_path, 7, "metal", i))[0] for i in range(2))
    assert not np.allclose(first, second)
    again = build_corpus(tmp_path, per_genre=2, seed=7, jobs=1, genres=SAMPLE_GENRES)
    assert again.rendered == 0  # cached clips are not rendered twice


def test_clip_is_a_pure_function_of_seed_genre_and_index(tmp_path):
    alone = render_clip(3, "reggae", 5)
    render_clip(3, "metal", 0)  # other work in between must not change the clip
    assert np.array_equal(alone, render_clip(3, "reggae", 5))
    assert not np.allclose(alone, render_clip(4, "reggae", 5))
    # a fresh process writing the same clip gives the same samples
    code = (
        "import numpy as np, sys; from training.synth.corpus import render_clip;"
        "np.save(sys.argv[1], render_clip(3, 'reggae', 5))"
    )
    out = tmp_path / "clip.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO, check=True)
    assert np.array_equal(alone, np.load(out))


def test_recipes_keep_the_genre_defining_parts():
    for index in range(20):
        rng = np.random.default_rng(index)
        assert arrange("classical", 12.0, rng).drum_hits == []
        disco = arrange("disco", 12.0, np.random.default_rng(index))
        kicks = {hit.beat for hit in disco.drum_hits if hit.role == "kick"}
        on_every_beat = sum(float(beat) in kicks for beat in range(disco.beats))
        assert on_every_beat >= 0.75 * disco.beats  # four on the floor, less a fill and dropped hits
        blues = arrange("blues", 12.0, np.random.default_rng(index))
        assert blues.feel.swing > 0.6  # shuffle
    assert set(GENRES) == {"blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"}


def test_command_line_reports_usage_errors():
    result = subprocess.run(
        [sys.executable, "-m", "training.synth", "--genres", "polka", "--out", "unused"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "polka" in result.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "training.synth", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert help_text.returncode == 0 and "--per-genre" in help_text.stdout
