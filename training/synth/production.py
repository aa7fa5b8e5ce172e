"""Randomised production: mix balance, EQ, band limits, saturation, compression,
reverb, noise, level and lossy-codec artefacts, all in numpy/scipy/soundfile.

The chain is drawn independently of the genre on purpose: real recordings of every
genre come through every kind of studio, radio and MP3 encoder, so none of these
effects may become a genre cue.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile
from scipy.signal import fftconvolve, lfilter

from genretag.audio import SAMPLE_RATE


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2)) + 1e-9)


def mix(music: np.ndarray, drums: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Sum the pitched instruments and a separately played drum kit at a random balance."""
    out = music / _rms(music)
    if drums is not None and np.any(drums):
        out = out + drums / _rms(drums) * 10 ** (rng.uniform(-9, 2) / 20)
    return out


def equalise(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tilt, a few peaks/dips, and with some probability a band limit (telephone, radio, old tape)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    gain_db = rng.uniform(-3, 3) * octaves
    for _ in range(int(rng.integers(0, 4))):
        centre, width = rng.uniform(-4, 3.3), rng.uniform(0.3, 1.5)
        gain_db += rng.uniform(-8, 8) * np.exp(-0.5 * ((octaves - centre) / width) ** 2)
    gain = 10 ** (gain_db / 20)
    if rng.random() < 0.5:
        corner = rng.uniform(20, 250)
        gain *= 1 / np.sqrt(1 + (corner / np.maximum(freqs, 1.0)) ** (2 * int(rng.integers(1, 4))))
    if rng.random() < 0.35:
        corner = rng.uniform(2500, 10000)
        gain *= 1 / np.sqrt(1 + (freqs / corner) ** (2 * int(rng.integers(1, 5))))
    return np.fft.irfft(spectrum * gain, n=len(signal))


def saturate(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Soft (tanh), hard or asymmetric clipping at a random drive."""
    peak = np.max(np.abs(signal)) + 1e-9
    x = signal / peak * rng.uniform(1.5, 10)
    kind = rng.integers(3)
    if kind == 0:
        y = np.tanh(x)
    elif kind == 1:
        y = np.clip(x, -1, 1)
    else:
        y = np.tanh(x + 0.3) - np.tanh(0.3)
    return y


def compress(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A feed-forward RMS compressor with random threshold, ratio, attack and release."""
    power = signal**2
    attack, release = rng.uniform(0.001, 0.03), rng.uniform(0.05, 0.4)
    # Two one-pole smoothers approximate attack/release without a per-sample Python loop.
    fast = lfilter([1 - np.exp(-1 / (attack * SAMPLE_RATE))], [1, -np.exp(-1 / (attack * SAMPLE_RATE))], power)
    slow = lfilter([1 - np.exp(-1 / (release * SAMPLE_RATE))], [1, -np.exp(-1 / (release * SAMPLE_RATE))], power)
    level_db = 10 * np.log10(np.maximum(fast, slow) + 1e-12)
    threshold = np.percentile(level_db, rng.uniform(30, 80))
    ratio = rng.uniform(2, 10)
    over = np.maximum(level_db - threshold, 0)
    return signal * 10 ** (-over * (1 - 1 / ratio) / 20)


def reverberate(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolution with a synthetic room: decaying noise with a darker tail, random size and mix."""
    rt60 = rng.uniform(0.15, 2.8)
    length = int(min(rt60, 2.0) * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    response = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    damping = rng.uniform(0.2, 0.9)
    response = lfilter([1 - damping], [1, -damping], response)
    response[: int(rng.uniform(0.0, 0.04) * SAMPLE_RATE)] = 0
    wet = fftconvolve(signal, response)[: len(signal)]
    wet *= _rms(signal) / _rms(wet)
    share = rng.uniform(0.05, 0.5)
    return (1 - share) * signal + share * wet


def add_noise(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White, pink or brown noise, or mains hum, at a random signal-to-noise ratio."""
    n = len(signal)
    kind = rng.integers(4)
    if kind == 3:
        t = np.arange(n) / SAMPLE_RATE
        mains = rng.choice([50.0, 60.0])
        noise = sum(np.sin(2 * np.pi * mains * h * t) / h for h in (1, 2, 3, 5))
    else:
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)
        noise = np.fft.irfft(spectrum / freqs ** (0.5 * kind), n=n)
    snr_db = rng.uniform(12, 50)
    return signal + noise / _rms(noise) * _rms(signal) * 10 ** (-snr_db / 20)


def codec_round_trip(signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Encode to MP3 or Ogg Vorbis at a random quality and decode again."""
    buffer = io.BytesIO()
    if rng.random() < 0.6:
        fmt, subtype = "MP3", "MPEG_LAYER_III"
    else:
        fmt, subtype = "OGG", "VORBIS"
    soundfile.write(
        buffer,
        signal.astype(np.float32),
        SAMPLE_RATE,
        format=fmt,
        subtype=subtype,
        compression_level=float(rng.uniform(0.3, 1.0)),
    )
    buffer.seek(0)
    decoded, _ = soundfile.read(buffer, dtype="float32")
    out = np.zeros_like(signal)
    out[: min(len(signal), len(decoded))] = decoded[: len(signal)]
    return out


def produce(music: np.ndarray, drums: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The whole chain; each stage is applied with its own probability. Returns float32 in [-1, 1]."""
    signal = mix(music, drums, rng)
    if rng.random() < 0.9:
        signal = equalise(signal, rng)
    if rng.random() < 0.3:
        signal = saturate(signal, rng)
    if rng.random() < 0.6:
        signal = compress(signal, rng)
    if rng.random() < 0.7:
        signal = reverberate(signal, rng)
    if rng.random() < 0.4:
        signal = add_noise(signal, rng)
    signal = signal / (np.max(np.abs(signal)) + 1e-9) * 10 ** (rng.uniform(-14, -0.5) / 20)
    if rng.random() < 0.35:
        signal = codec_round_trip(signal, rng)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)
