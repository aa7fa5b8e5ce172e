"""Clips → cached log-mel segments (the set C, and C_ps with pitch shifts) → ``FeatureSet``.

Every clip goes through the product's own front end: ``audio.load``, the
segmenting policy of ``audio.segment_array`` (clips shorter than a segment are
looped) and ``audio.log_mel``. Pitch-shifted copies are made from the decoded
clip with librosa's phase vocoder and soxr resampling (``res_type="soxr_hq"``),
then segmented the same way. Each (clip, shift) result is cached on disk as
float16, keyed by the file's content (its SHA-1), the shift and the audio
parameters, so a second run or a second model costs no decoding, and neither
does a fresh copy of ``../shared`` (new modification times, the same bytes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import torch

from genretag import audio
from genretag.fit import FeatureSet
from training.corpus import Clip

log = logging.getLogger("training")

DEFAULT_CACHE = Path(__file__).resolve().parent / "cache" / "features"


def shift_range(pitch_shift: int) -> list[int]:
    """The semitone shifts of C_ps for ``--pitch-shift N``: 0 and ±1..±N."""
    return [0] + [sign * step for step in range(1, pitch_shift + 1) for sign in (1, -1)]


@cache
def _content_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _cache_key(clip: Clip, semitones: int) -> str:
    identity = json.dumps([_content_digest(clip.path), semitones, audio.audio_parameters()], sort_keys=True)
    return hashlib.sha1(identity.encode()).hexdigest()


def clip_segments(path: Path, semitones: int = 0) -> np.ndarray:
    """The clip's segments ``(n, SEGMENT_SAMPLES)``, pitch-shifted by ``semitones``."""
    return shifted_segments(audio.load(path), semitones)


def shifted_segments(samples: np.ndarray, semitones: int) -> np.ndarray:
    """Decoded samples (``audio.SAMPLE_RATE``) pitch-shifted by ``semitones``, cut into segments."""
    if semitones:
        import librosa

        samples = librosa.effects.pitch_shift(
            samples, sr=audio.SAMPLE_RATE, n_steps=semitones, res_type="soxr_hq"
        ).astype(np.float32)
    return audio.segment_array(samples)


def clip_mels(clip: Clip, semitones: int, cache_dir: Path) -> torch.Tensor:
    """Log-mels ``(n, N_MELS, frames)`` float16 of one clip at one shift, from the cache when there."""
    cached = cache_dir / f"{_cache_key(clip, semitones)}.pt"
    if cached.is_file():
        return torch.load(cached, weights_only=True)
    mels = audio.log_mel(clip_segments(clip.path, semitones)).to(torch.float16)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")  # processes filling one cache never share a file
    torch.save(mels, partial)
    partial.replace(cached)
    return mels


def at_front_end(mels: torch.Tensor, front_end: str) -> torch.Tensor:
    """Cached full-rate log-mels ``(..., N_MELS, frames)`` as ``front_end`` computes them.

    The half-rate front end's frames are the full rate's even ones, scaled to their own
    peak; values within ``TOP_DB`` of it are exact (up to float16), only the floor
    can differ, by as much as the even frames' peak lies below the full one's (up to
    1.2 dB on three valid excerpts).
    """
    if front_end == audio.LOG_MEL:
        return mels
    if front_end != audio.LOG_MEL_HALF:
        raise ValueError(f"{front_end!r} is not a log-mel front end")
    even = mels[..., ::2].float()
    peak = even.amax(dim=(-2, -1), keepdim=True)
    return (even - peak + 1.0).clamp_min(-1.0).to(mels.dtype)


def build_feature_set(
    clips: list[Clip],
    genres: tuple[str, ...],
    pitch_shift: int = 0,
    weights: list[float] | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureSet:
    """Segments of every clip (plus pitch-shifted copies) as one ``FeatureSet``.

    Clips that cannot be decoded are skipped with a warning naming the file.
    ``weights`` are per clip; each clip's weight is shared by its segments and
    copies, so long clips and augmentation do not change the balance.
    """
    weights = weights or [1.0] * len(clips)
    shifts = shift_range(pitch_shift)
    parts, labels, tracks, segment_weights, original, names = [], [], [], [], [], []
    for position, (clip, weight) in enumerate(zip(clips, weights, strict=True)):
        try:
            per_shift = [clip_mels(clip, semitones, cache_dir) for semitones in shifts]
        except audio.AudioDecodeError as error:
            log.warning("%s: skipped, cannot decode (%s)", clip.path, error)
            continue
        track_index = len(names)
        names.append(clip.track)
        copies = sum(len(m) for m in per_shift)
        for semitones, mels in zip(shifts, per_shift, strict=True):
            parts.append(mels)
            count = len(mels)
            labels += [genres.index(clip.genre)] * count
            tracks += [track_index] * count
            segment_weights += [weight / copies] * count
            original += [semitones == 0] * count
        if progress:
            progress(position + 1, len(clips))
    if not parts:
        raise ValueError("no clip could be decoded")
    return FeatureSet.from_segments(parts, labels, tracks, segment_weights, original, genres, names)
