"""File → TrackResult with the shipped models, on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from conftest import BRAHMS, TRUMPET

import genretag
from genretag import audio
from genretag.classify import classify_file
from genretag.genres import GTZAN_GENRES
from genretag.weights import DEFAULT_MODEL, load_model


@pytest.fixture(scope="module")
def brahms_clip(tmp_path_factory):
    """The first 24 s of the Brahms recording: two full segments and a 4 s tail."""
    samples = audio.load(BRAHMS)[: 24 * audio.SAMPLE_RATE]
    path = tmp_path_factory.mktemp("clips") / "brahms-24s.flac"
    soundfile.write(path, samples, audio.SAMPLE_RATE)
    return path


def test_track_probabilities_are_the_mean_of_segment_probabilities(brahms_clip):
    result = classify_file(brahms_clip, load_model("v-kernel"))
    assert result.ok and result.model == "v-kernel"
    assert result.genres == GTZAN_GENRES
    assert result.segment_bounds == [(0.0, 10.0), (10.0, 20.0), (14.0, 24.0)]
    assert result.segment_probabilities.shape == (3, len(GTZAN_GENRES))
    np.testing.assert_allclose(result.segment_probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(result.probabilities, result.segment_probabilities.mean(axis=0), rtol=1e-6)
    assert result.duration_s == pytest.approx(24.0, abs=0.01)


# The 16 kHz resampler of musicnn's front end meets the gap at another block offset: the same
# probabilities to float rounding (below 1e-6), which a relative bound alone cannot allow for tiny ones.
@pytest.mark.parametrize(("model_name", "atol"), [("v-kernel", 0.0), ("musicnn", 1e-6)])
def test_silence_inside_a_track_changes_its_timeline_and_nothing_else(tmp_path, model_name, atol):
    music = audio.load(BRAHMS)[: 20 * audio.SAMPLE_RATE]
    gap = np.zeros(10 * audio.SAMPLE_RATE, dtype=np.float32)
    plain, gapped = tmp_path / "music.flac", tmp_path / "with-silence.flac"
    soundfile.write(plain, music, audio.SAMPLE_RATE)
    soundfile.write(
        gapped,
        np.concatenate([music[: 10 * audio.SAMPLE_RATE], gap, music[10 * audio.SAMPLE_RATE :]]),
        audio.SAMPLE_RATE,
    )
    model = load_model(model_name)
    without, with_silence = classify_file(plain, model), classify_file(gapped, model)
    assert with_silence.segment_bounds == [(0.0, 10.0), (20.0, 30.0)]
    assert with_silence.duration_s == pytest.approx(30.0, abs=0.01)
    np.testing.assert_allclose(with_silence.segment_probabilities, without.segment_probabilities, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(with_silence.probabilities, without.probabilities, rtol=1e-5, atol=atol)


def test_top_k_is_sorted_and_names_the_track_genre(brahms_clip):
    result = classify_file(brahms_clip, load_model("crnn"))
    top = result.top_k(3)
    assert [genre for genre, _ in top][0] == result.genre
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert result.confidence == pytest.approx(top[0][1])
    segments = result.segments
    assert [s.index for s in segments] == [0, 1, 2]
    assert segments[2].start_s == 14.0 and segments[2].genre in GTZAN_GENRES
    assert segments[0].confidence == max(segments[0].probabilities.values())


def test_public_api_classifies_a_short_real_recording():
    result = genretag.classify(TRUMPET)
    assert result.model == DEFAULT_MODEL
    assert len(result.segment_bounds) == 1  # under 10 s: one looped segment
    assert result.genre in GTZAN_GENRES


def test_whole_track_pass_of_the_bicrnn(brahms_clip):
    model = load_model("bicrnn")
    whole = classify_file(brahms_clip, model, whole_track=True)
    per_segment = classify_file(brahms_clip, model)
    assert whole.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(whole.segment_probabilities, per_segment.segment_probabilities, rtol=1e-5)
    assert not np.allclose(whole.probabilities, per_segment.probabilities)


def test_whole_track_needs_the_bicrnn(brahms_clip):
    with pytest.raises(ValueError, match="needs the bicrnn"):
        classify_file(brahms_clip, load_model("v-kernel"), whole_track=True)
