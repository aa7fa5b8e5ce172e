"""The audio front end: decoding containers, the segmenting policy, streaming, log-mel."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from conftest import (
    BRAHMS,
    FISHIN,
    SEGMENT_FRAMES,
    SUGAR_PLUM,
    TRUMPET,
    VIBE_ACE,
    count_segments,
    excerpt,
    write_audio,
)

from genretag import audio

RATE = audio.SAMPLE_RATE


def tone(seconds: float, frequency: float = 440.0, rate: int = RATE, channels: int = 1) -> np.ndarray:
    """A sine with a slow amplitude ramp, so every segment's content is distinguishable."""
    t = np.arange(int(seconds * rate)) / rate
    signal = (0.2 + 0.6 * t / max(seconds, 1)) * np.sin(2 * np.pi * frequency * t)
    signal = signal.astype(np.float32)
    return np.stack([signal] * channels, axis=1) if channels > 1 else signal


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


def test_tail_of_three_seconds_or_more_adds_an_overlapping_last_segment():
    signal = tone(25.0)
    found = list(audio.segments_from_blocks(iter([signal])))
    assert [(s.start_s, s.end_s) for s in found] == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]
    np.testing.assert_array_equal(found[-1].samples, signal[-audio.SEGMENT_SAMPLES :])
    assert count_segments(signal.size) == 3


def test_short_tail_is_dropped():
    signal = tone(21.0)
    found = audio.segment_array(signal)
    assert found.shape == (2, audio.SEGMENT_SAMPLES)
    np.testing.assert_array_equal(found[1], signal[audio.SEGMENT_SAMPLES : 2 * audio.SEGMENT_SAMPLES])
    assert count_segments(signal.size) == 2


def test_track_shorter_than_a_segment_is_looped():
    signal = tone(4.0)
    (only,) = list(audio.segments_from_blocks(iter([signal])))
    assert only.samples.shape == (audio.SEGMENT_SAMPLES,)
    np.testing.assert_array_equal(only.samples[: signal.size], signal)
    np.testing.assert_array_equal(only.samples[signal.size : 2 * signal.size], signal)
    assert (only.start_s, only.end_s) == (0.0, 4.0)


def test_track_under_one_second_is_an_error():
    with pytest.raises(audio.AudioDecodeError, match="too short"):
        audio.segment_array(tone(0.5))
    assert count_segments(int(0.5 * RATE)) == 0


def test_silent_segments_are_left_out_and_the_others_keep_their_times():
    music = audio.load(BRAHMS)[: 20 * RATE]
    hiss = np.random.default_rng(0).standard_normal(10 * RATE).astype(np.float32) * 10 ** (-70 / 20)
    signal = np.concatenate([music[: 10 * RATE], np.zeros(10 * RATE, dtype=np.float32), hiss, music[10 * RATE :]])
    found = list(audio.segments_from_blocks(iter([signal])))
    assert [(s.start_s, s.end_s) for s in found] == [(0.0, 10.0), (30.0, 40.0)]
    np.testing.assert_array_equal(found[1].samples, music[10 * RATE :])
    assert count_segments(signal.size) == 4


def test_quiet_music_is_audible_and_a_silent_track_is_an_error():
    music = audio.load(BRAHMS)[: 10 * RATE].astype(np.float64)
    quiet = (music * 10 ** ((-55 - 10 * np.log10(np.mean(music**2))) / 20)).astype(np.float32)  # -55 dBFS RMS
    assert not audio.is_silent(quiet) and audio.is_silent(quiet * 10 ** (-10 / 20))
    assert len(audio.segment_array(quiet)) == 1
    for silent in (np.zeros(15 * RATE, dtype=np.float32), quiet[: 5 * RATE] / 10):  # the second one looped
        with pytest.raises(audio.AudioDecodeError, match="^silent: no 10 s segment is louder than -60 dBFS RMS$"):
            audio.segment_array(silent)


def test_streaming_gives_the_same_segments_as_the_whole_array(tmp_path):
    # 65 s: decoded in 30 s blocks, so blocks straddle segment boundaries; 5 s tail.
    path = tmp_path / "long.wav"
    soundfile.write(path, tone(65.0), RATE, subtype="FLOAT")
    report = audio.DecodeReport()
    streamed = list(audio.segments(path, report))
    whole = audio.segment_array(audio.load(path))
    assert len(streamed) == len(whole) == 7
    for segment, expected in zip(streamed, whole, strict=True):
        np.testing.assert_array_equal(segment.samples, expected)
    assert report.duration_s == pytest.approx(65.0, abs=1e-3)


@pytest.mark.parametrize(
    ("suffix", "writer"),
    [
        (".wav", "soundfile"),
        (".flac", "soundfile"),
        (".ogg", "soundfile"),
        (".mp3", "soundfile"),
        (".m4a", "pyav"),
        (".opus", "pyav"),
    ],
)
def test_decodes_containers_to_mono_at_the_model_rate(tmp_path, suffix, writer):
    source_rate = 44_100 if suffix != ".opus" else 48_000
    stereo = tone(3.0, 440.0, source_rate, channels=2)
    path = tmp_path / f"tone{suffix}"
    if writer == "soundfile":
        soundfile.write(path, stereo, source_rate)
    else:
        write_with_pyav(path, stereo, source_rate)
    samples = audio.load(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size / RATE == pytest.approx(3.0, abs=0.1)  # encoder padding stays small
    assert dominant_frequency(samples) == pytest.approx(440.0, abs=3.0)


def write_with_pyav(path, stereo: np.ndarray, rate: int) -> None:
    import av

    codec = {".m4a": "aac", ".opus": "libopus"}[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        planar = np.ascontiguousarray(stereo.T)
        for start in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(planar[:, start : start + 1024], format="fltp", layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_real_recordings_decode_and_segment(tmp_path):
    trumpet = audio.load(TRUMPET)  # AAC in MP4
    assert 5.2 < trumpet.size / RATE < 5.6
    assert len(list(audio.segments(TRUMPET))) == 1  # looped
    snippet = tmp_path / "snippet.flac"  # 2.4 s: looped into one segment
    soundfile.write(snippet, excerpt(FISHIN, 12, 2.4), RATE)
    assert audio.segment_array(audio.load(snippet)).shape == (1, audio.SEGMENT_SAMPLES)
    opus = list(audio.segments(SUGAR_PLUM))  # 20 s of Opus at 48 kHz (with its encoder's pre-skip)
    assert [(s.start_s, s.end_s) for s in opus] == [(0.0, 10.0), (10.0, 20.0)]
    mp3 = list(audio.segments(VIBE_ACE))  # 30 s of MP3 (with its encoder's delay and padding)
    assert [(s.start_s, s.end_s) for s in mp3] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]
    report = audio.DecodeReport()
    brahms_segments = list(audio.segments(BRAHMS, report))
    assert report.duration_s == pytest.approx(30.0, abs=0.05)
    assert len(brahms_segments) == count_segments(round(report.duration_s * RATE)) == 3


def test_a_file_ending_before_its_header_says_is_reported_truncated(tmp_path):
    whole = tmp_path / "whole.mp3"
    write_audio(whole, excerpt(VIBE_ACE, 0, 24))
    report = audio.DecodeReport()
    list(audio.segments(whole, report))
    assert report.declared_s == pytest.approx(24.0, abs=0.1) and report.warning is None
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    report = audio.DecodeReport()
    segments = list(audio.segments(cut, report))
    assert len(segments) == 1 and report.duration_s == pytest.approx(12.0, abs=0.5)
    assert report.warning == f"truncated: decoded {report.duration_s:.1f} s of the 24.0 s its header declares"


def test_undecodable_file_raises_one_line_error(tmp_path):
    path = tmp_path / "not-audio.mp3"
    path.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(audio.AudioDecodeError) as raised:
        audio.load(path)
    assert "\n" not in str(raised.value)


def test_log_mel_shape_and_gain_invariance():
    segment = audio.segment_array(tone(10.0, 1000.0))
    loud = audio.log_mel(segment)
    quiet = audio.log_mel(segment * 0.01)
    assert loud.shape == (1, audio.N_MELS, SEGMENT_FRAMES)
    assert float(loud.max()) == pytest.approx(1.0)
    assert float(loud.min()) >= -1.0 - 1e-6
    assert (loud - quiet).abs().max() < 1e-3
