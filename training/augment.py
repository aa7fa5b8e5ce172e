"""Training-batch augmentation on log-mel input: production-like EQ tilt and SpecAugment masks.

``spec_augment`` is passed to ``genretag.learn.fit(augment=...)``. The input is
``audio.log_mel``'s scale (0 dB peak → 1, ``-TOP_DB`` floor → -1), so decibels
become ``dB / (TOP_DB / 2)``. Per example, drawn from the fit's generator:

* a spectral tilt of up to ±``MAX_TILT_DB`` from the lowest to the highest mel band
  (brighter or duller production), floored again at -1;
* ``BAND_MASKS`` bands of up to ``MAX_BAND`` mel bins and ``TIME_MASKS`` spans of up
  to ``MAX_SPAN_FRACTION`` of the frames set to the floor (SpecAugment, Park et al. 2019).

``random_windows(frames)`` draws a fresh random window of every segment in every batch
(the study's ``--fresh-windows``, instead of two windows per segment fixed before training).
``mixed_windows(frames)`` makes the views a distilled network learns from (training/distil.py):
a fresh random window of every segment in every batch, mixed with another example's
window in the power domain (mixup, Zhang et al. 2018, as if two recordings played at
once), scaled to its own peak again like ``audio.log_mel``. Its labels are meaningless, so
only a teacher's predictions for the same views can train on it.
"""

from __future__ import annotations

import torch

from genretag.audio import TOP_DB

MAX_TILT_DB = 6.0
BAND_MASKS, MAX_BAND = 2, 12
TIME_MASKS, MAX_SPAN_FRACTION = 2, 0.1
FLOOR = -1.0


def _masks(batch: int, length: int, count: int, widest: int, generator: torch.Generator) -> torch.Tensor:
    """``(batch, length)`` booleans: ``count`` random spans of 0..``widest`` positions per row."""
    positions = torch.arange(length)
    masked = torch.zeros(batch, length, dtype=torch.bool)
    for _ in range(count):
        widths = torch.randint(0, widest + 1, (batch, 1), generator=generator)
        starts = (torch.rand(batch, 1, generator=generator) * (length - widths + 1)).long()
        masked |= (positions >= starts) & (positions < starts + widths)
    return masked


def spec_augment(mels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of a training batch ``(batch, 1, n_mels, frames)``."""
    batch, _, n_mels, frames = mels.shape
    tilt_db = (torch.rand(batch, 1, 1, 1, generator=generator) * 2 - 1) * MAX_TILT_DB
    ramp = torch.linspace(-0.5, 0.5, n_mels).view(1, 1, n_mels, 1)
    out = (mels + tilt_db * ramp / (TOP_DB / 2)).clamp(FLOOR, 1.0)
    bands = _masks(batch, n_mels, BAND_MASKS, MAX_BAND, generator).view(batch, 1, n_mels, 1)
    spans = _masks(batch, frames, TIME_MASKS, max(1, int(frames * MAX_SPAN_FRACTION)), generator)
    return out.masked_fill(bands | spans.view(batch, 1, 1, frames), FLOOR)


def _to_decibels(mels: torch.Tensor) -> torch.Tensor:
    return (mels - 1.0) * (TOP_DB / 2)


def _from_decibels(decibels: torch.Tensor) -> torch.Tensor:
    peak = decibels.amax(dim=(-2, -1), keepdim=True)
    return ((decibels - peak).clamp(min=-TOP_DB) / (TOP_DB / 2) + 1.0).clamp(FLOOR, 1.0)


def random_windows(frames: int):
    """A ``fit`` augmentation: a fresh random ``frames``-frame window of every segment in every batch."""

    def augment(mels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        batch, _, n_mels, length = mels.shape
        starts = torch.randint(0, max(1, length - frames + 1), (batch, 1), generator=generator)
        columns = (starts + torch.arange(min(frames, length))).view(batch, 1, 1, -1).expand(-1, 1, n_mels, -1)
        return mels.gather(3, columns)

    return augment


def mixed_windows(frames: int):
    """A ``fit`` augmentation: random ``frames``-frame windows, each mixed with another one (see above)."""
    window = random_windows(frames)

    def augment(mels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        windows = window(mels, generator)
        batch = windows.shape[0]
        partners = windows[torch.randperm(batch, generator=generator)]
        share = torch.rand(batch, 1, 1, 1, generator=generator)
        power = share * 10 ** (_to_decibels(windows) / 10) + (1 - share) * 10 ** (_to_decibels(partners) / 10)
        return _from_decibels(10 * torch.log10(power))

    return augment
