"""One synthetic clip as a pure function of (seed, genre, index), and a cached,
parallel folder-per-genre corpus of them.

Layout: ``OUT/<genre>/<genre>.s<seed>.<index:05d>.flac``, 10 s at 22 050 Hz mono,
16-bit FLAC — the folder-per-genre layout ``python -m training.train --folders``
reads. A clip already on disk is not rendered again, so a larger corpus with the
same seed extends a smaller one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from genretag.audio import SAMPLE_RATE, SEGMENT_SECONDS
from training.synth.production import produce
from training.synth.render import play_instruments, play_recorded_drums
from training.synth.styles import GENRES, arrange

GENERATOR_VERSION = 1
PRE_ROLL_MAX_S = 2.0  # clips start anywhere in the first bars, not on the downbeat


def clip_rng(seed: int, genre: str, index: int) -> np.random.Generator:
    """The random generator of one clip; independent of every other clip's."""
    return np.random.default_rng([GENERATOR_VERSION, seed, GENRES.index(genre), index])


def render_clip(seed: int, genre: str, index: int) -> np.ndarray:
    """Clip ``index`` of ``genre`` under ``seed``: float32, ``SEGMENT_SECONDS`` at ``SAMPLE_RATE``."""
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; expected one of {', '.join(GENRES)}")
    rng = clip_rng(seed, genre, index)
    pre_roll = float(rng.uniform(0, PRE_ROLL_MAX_S))
    seconds = SEGMENT_SECONDS + pre_roll
    arrangement = arrange(genre, seconds, rng)
    music = play_instruments(arrangement, seconds, rng)
    drums = play_recorded_drums(arrangement, seconds, rng)
    start = int(pre_roll * SAMPLE_RATE)
    length = int(SEGMENT_SECONDS * SAMPLE_RATE)
    music = music[start : start + length]
    drums = drums[start : start + length] if drums is not None else None
    return produce(music, drums, rng)


def clip_path(out: Path, seed: int, genre: str, index: int) -> Path:
    """Where clip ``index`` of ``genre`` under ``seed`` lives in a corpus folder."""
    return Path(out) / genre / f"{genre}.s{seed}.{index:05d}.flac"


def write_clip(out: Path, seed: int, genre: str, index: int) -> Path:
    """Render one clip into the corpus unless it is there already; returns its path."""
    path = clip_path(out, seed, genre, index)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = render_clip(seed, genre, index)
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    soundfile.write(partial, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(partial, path)  # a killed run never leaves a truncated clip behind
    return path


def _write_batch(out: Path, seed: int, jobs: list[tuple[str, int]]) -> list[Path]:
    return [write_clip(out, seed, genre, index) for genre, index in jobs]


@dataclass
class CorpusReport:
    """What ``build_corpus`` did: clip paths, how many were newly rendered, wall time."""

    paths: list[Path]
    rendered: int
    seconds: float


def build_corpus(
    out: Path, per_genre: int, seed: int, jobs: int = 1, genres: tuple[str, ...] = GENRES, start: int = 0
) -> CorpusReport:
    """Render clips ``start .. start+per_genre-1`` of every genre into ``out`` with ``jobs`` processes."""
    from joblib import Parallel, delayed

    out = Path(out)
    todo = [(g, i) for i in range(start, start + per_genre) for g in genres]
    missing = [(g, i) for g, i in todo if not clip_path(out, seed, g, i).exists()]
    began = time.perf_counter()
    if missing:
        batch = max(1, min(25, len(missing) // max(1, jobs * 4)))
        batches = [missing[k : k + batch] for k in range(0, len(missing), batch)]
        Parallel(n_jobs=jobs)(delayed(_write_batch)(out, seed, b) for b in batches)
    return CorpusReport([clip_path(out, seed, g, i) for g, i in todo], len(missing), time.perf_counter() - began)
