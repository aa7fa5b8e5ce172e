"""Training-batch augmentation on log-mel input: production-like EQ tilt and SpecAugment masks.

``spec_augment`` is passed to ``genretag.fit.fit(augment=...)``. The input is
``audio.log_mel``'s scale (0 dB peak → 1, ``-TOP_DB`` floor → -1), so decibels
become ``dB / (TOP_DB / 2)``. Per example, drawn from the fit's generator:

* a spectral tilt of up to ±``MAX_TILT_DB`` from the lowest to the highest mel band
  (brighter or duller production), floored again at -1;
* ``BAND_MASKS`` bands of up to ``MAX_BAND`` mel bins and ``TIME_MASKS`` spans of up
  to ``MAX_SPAN_FRACTION`` of the frames set to the floor (SpecAugment, Park et al. 2019).
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
