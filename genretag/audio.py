"""Audio front end: decoding, resampling, segmenting and the log-mel input.

This module is the one home of every audio and mel parameter. They are written
into each model card, and inference refuses a card whose parameters differ, so a
model can never run on a front end it was not trained on.

Segmenting policy (applies to training and inference alike):

* a track is cut into contiguous 10 s segments starting at 0 s;
* a final partial segment of at least ``MIN_TAIL_SECONDS`` becomes one more
  segment made of the *last* 10 s of the track (it overlaps its predecessor),
  so the end of a track is classified from real audio, never from padding;
  a shorter tail is dropped (it is covered by the previous segment's neighbourhood);
* a track shorter than 10 s but at least ``MIN_TRACK_SECONDS`` long gives one
  segment, filled by repeating (looping) the track; shorter tracks are an error.

Long files are decoded block by block and segments are yielded as they fill, so
memory does not grow with track length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22_050
SEGMENT_SECONDS = 10.0
SEGMENT_SAMPLES = int(SAMPLE_RATE * SEGMENT_SECONDS)
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
F_MIN = 0.0
F_MAX = SAMPLE_RATE / 2
TOP_DB = 80.0
MIN_TAIL_SECONDS = 3.0
MIN_TRACK_SECONDS = 1.0
SEGMENT_FRAMES = 1 + SEGMENT_SAMPLES // HOP_LENGTH

# Containers libsndfile decodes natively; anything else goes through PyAV (FFmpeg).
SOUNDFILE_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au"})
DECODE_BLOCK_SECONDS = 30.0


def audio_parameters() -> dict:
    """The front-end parameters that a model card records and inference checks."""
    return {
        "sample_rate": SAMPLE_RATE,
        "segment_seconds": SEGMENT_SECONDS,
        "n_fft": N_FFT,
        "hop_length": HOP_LENGTH,
        "n_mels": N_MELS,
        "f_min": F_MIN,
        "f_max": F_MAX,
        "top_db": TOP_DB,
        "mel_scale": "slaney",
        "log_scaling": "power_to_db(ref=max, top_db) / 40 + 1",
        "min_tail_seconds": MIN_TAIL_SECONDS,
        "min_track_seconds": MIN_TRACK_SECONDS,
    }


class AudioDecodeError(Exception):
    """A file could not be decoded; the message names the reason in one line."""


@dataclass
class Segment:
    """One classification window: ``SEGMENT_SAMPLES`` samples at ``SAMPLE_RATE``."""

    index: int
    start_s: float
    end_s: float
    samples: np.ndarray


@dataclass
class DecodeReport:
    """What decoding found out about a file, filled in while segments stream."""

    duration_s: float = 0.0
    warning: str | None = None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _soundfile_blocks(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    import soundfile

    try:
        handle = soundfile.SoundFile(str(path))
    except Exception as error:  # libsndfile raises its own error types and RuntimeError
        raise AudioDecodeError(_one_line(error)) from None
    with handle:
        if handle.frames == 0 and handle.format not in {"MPEG", "OGG"}:
            raise AudioDecodeError("file holds no audio frames")
        block = max(1, int(handle.samplerate * DECODE_BLOCK_SECONDS))
        while True:
            data = handle.read(block, dtype="float32", always_2d=True)
            if len(data) == 0:
                return
            yield data.mean(axis=1), handle.samplerate


def _pyav_blocks(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    import av

    av.logging.set_level(av.logging.PANIC)
    try:
        container = av.open(str(path))
        stream = next(s for s in container.streams if s.type == "audio")
    except StopIteration:
        raise AudioDecodeError("no audio stream") from None
    except Exception as error:
        raise AudioDecodeError(_one_line(error)) from None
    with container:
        rate = stream.codec_context.sample_rate or SAMPLE_RATE
        # Downmix in FFmpeg, at the source rate: resampling happens once, in soxr.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        pending: list[np.ndarray] = []
        pending_len = 0
        block = int(rate * DECODE_BLOCK_SECONDS)
        for frame in container.decode(stream):
            for mono in resampler.resample(frame):
                pending.append(mono.to_ndarray().reshape(-1))
                pending_len += pending[-1].size
            if pending_len >= block:
                yield np.concatenate(pending), rate
                pending, pending_len = [], 0
        for mono in resampler.resample(None):
            pending.append(mono.to_ndarray().reshape(-1))
        if pending:
            yield np.concatenate(pending), rate


def _decoded_blocks(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            first = None
            blocks = _soundfile_blocks(path)
            first = next(blocks, None)
        except AudioDecodeError:
            first = None
        if first is not None:
            yield first
            yield from blocks
            return
    yield from _pyav_blocks(path)


def stream_mono(path: str | Path, report: DecodeReport | None = None) -> Iterator[np.ndarray]:
    """Yield the file's audio as mono float32 blocks at ``SAMPLE_RATE``.

    Decoding stops at the first error after some audio was read; the audio read so
    far is kept and ``report.warning`` says what happened (a truncated MP3, say).
    """
    import soxr

    path = Path(path)
    report = report if report is not None else DecodeReport()
    resampler = None
    produced = 0
    blocks = _decoded_blocks(path)
    while True:
        try:
            item = next(blocks, None)
        except AudioDecodeError:
            if produced == 0:
                raise
            item = None
        except Exception as error:  # native decoders raise many types mid-stream
            if produced == 0:
                raise AudioDecodeError(_one_line(error)) from None
            report.warning = f"decoding stopped after {produced / SAMPLE_RATE:.1f} s: {_one_line(error)}"
            item = None
        if item is None:
            break
        block, rate = item
        if rate == SAMPLE_RATE:
            out = block.astype(np.float32, copy=False)
        else:
            if resampler is None:
                resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            out = resampler.resample_chunk(block.astype(np.float32, copy=False))
        produced += out.size
        report.duration_s = produced / SAMPLE_RATE
        if out.size:
            yield out
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        produced += tail.size
        report.duration_s = produced / SAMPLE_RATE
        if tail.size:
            yield tail
    if produced == 0:
        raise AudioDecodeError("no audio could be decoded")


def load(path: str | Path) -> np.ndarray:
    """Decode a whole file to one mono float32 array at ``SAMPLE_RATE``."""
    blocks = list(stream_mono(path))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)


def segments_from_blocks(blocks: Iterator[np.ndarray]) -> Iterator[Segment]:
    """Cut a stream of sample blocks into segments, following the module's policy."""
    buffer = np.zeros(0, dtype=np.float32)
    previous: np.ndarray | None = None
    index = 0
    for block in blocks:
        buffer = np.concatenate([buffer, block]) if buffer.size else block
        while buffer.size >= SEGMENT_SAMPLES:
            previous = buffer[:SEGMENT_SAMPLES]
            buffer = buffer[SEGMENT_SAMPLES:]
            start = index * SEGMENT_SECONDS
            yield Segment(index, start, start + SEGMENT_SECONDS, previous)
            index += 1
    total = index * SEGMENT_SAMPLES + buffer.size
    if previous is None:
        if buffer.size < MIN_TRACK_SECONDS * SAMPLE_RATE:
            raise AudioDecodeError(f"too short: {buffer.size / SAMPLE_RATE:.2f} s of audio")
        looped = np.resize(buffer, SEGMENT_SAMPLES).astype(np.float32)
        yield Segment(0, 0.0, buffer.size / SAMPLE_RATE, looped)
    elif buffer.size >= MIN_TAIL_SECONDS * SAMPLE_RATE:
        last = np.concatenate([previous[buffer.size :], buffer])
        end = total / SAMPLE_RATE
        yield Segment(index, end - SEGMENT_SECONDS, end, last)


def segments(path: str | Path, report: DecodeReport | None = None) -> Iterator[Segment]:
    """Stream a file's segments; ``report`` receives its duration and any warning."""
    return segments_from_blocks(stream_mono(path, report))


def segment_array(samples: np.ndarray) -> np.ndarray:
    """All segments of an in-memory signal, stacked as ``(n_segments, SEGMENT_SAMPLES)``."""
    return np.stack([s.samples for s in segments_from_blocks(iter([samples.astype(np.float32)]))])


@lru_cache(maxsize=1)
def _mel_filterbank():
    import librosa
    import torch

    bank = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX)
    return torch.from_numpy(bank.astype(np.float32))


@lru_cache(maxsize=1)
def _window():
    import torch

    return torch.hann_window(N_FFT)


def log_mel(samples) -> torch.Tensor:  # noqa: F821 - torch is imported lazily
    """Log-mel spectrogram(s) of ``(..., n_samples)`` audio as a ``(..., N_MELS, frames)`` tensor.

    Each spectrogram is scaled to its own peak (0 dB), floored at ``-TOP_DB`` and
    mapped to about [-1, 1], so the model sees the same input whatever the gain.
    """
    import torch

    audio = torch.as_tensor(samples, dtype=torch.float32)
    flat = audio.reshape(-1, audio.shape[-1])
    spectrum = torch.stft(flat, N_FFT, HOP_LENGTH, window=_window(), center=True, return_complex=True)
    power = spectrum.real.square() + spectrum.imag.square()
    mel = torch.matmul(_mel_filterbank(), power)
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    peak = db.amax(dim=(-2, -1), keepdim=True)
    db = torch.maximum(db - peak, torch.tensor(-TOP_DB))
    scaled = db / (TOP_DB / 2) + 1.0
    return scaled.reshape(*audio.shape[:-1], N_MELS, scaled.shape[-1])


def count_segments(n_samples: int) -> int:
    """How many segments a signal of ``n_samples`` yields under the policy above."""
    if n_samples < MIN_TRACK_SECONDS * SAMPLE_RATE:
        return 0
    full, tail = divmod(n_samples, SEGMENT_SAMPLES)
    if full == 0:
        return 1
    return full + (1 if tail >= MIN_TAIL_SECONDS * SAMPLE_RATE else 0)
