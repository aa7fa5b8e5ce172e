"""Fitting ``mel-stats`` (``genretag.models.MelStatistics``): multinomial logistic regression on mel statistics.

The fit is deterministic: full-batch L-BFGS on the weighted cross-entropy of every
segment (the corpus's sampling weights, so sources stay balanced inside each genre)
plus an L2 penalty on the linear layer's weights, the statistics standardised first.
``INVERSE_PENALTY`` is the usual ``C`` of logistic regression (the penalty is
``|W|² / (2 C)`` against the summed, mean-1 weighted losses); 0.01, 0.1 and 1 scored
within 0.02 of each other in the study (training/README.md).

The shipped mel-stats is fitted on the windows the default reads (``reading_windows``):
statistics over 3 s, the length of the real snippets it learns from, so that on a
full-length recording they measure the same span as in training.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional

from genretag.learn import FeatureSet
from genretag.models import MelStatistics, window_starts

INVERSE_PENALTY = 0.1
FIT_DESCRIPTION = (
    "multinomial logistic regression on standardised band and onset statistics, "
    f"L2 with C = {INVERSE_PENALTY}, full-batch L-BFGS (training/mel_stats.py)"
)
BATCH = 256  # segments per statistics pass (keeps float32 copies of the mels small)


def statistics(data: FeatureSet) -> torch.Tensor:
    """``MelStatistics.statistics`` of every segment of ``data``."""
    return torch.cat(
        [MelStatistics.statistics(data.mels[start : start + BATCH]) for start in range(0, len(data), BATCH)]
    )


def reading_windows(data: FeatureSet, frames: int, hop: int) -> FeatureSet:
    """Every segment's windows as ``models.WindowAverage`` reads them (``frames`` long, at most ``hop`` apart),
    each window a segment of its own with the segment's label, track and a share of its weight."""
    starts = window_starts(data.mels.shape[-1], frames, hop)
    width = min(frames, data.mels.shape[-1])

    def tile(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.repeat(len(starts))

    return FeatureSet(
        mels=torch.cat([data.mels[..., start : start + width] for start in starts]),
        labels=tile(data.labels),
        tracks=tile(data.tracks),
        weights=tile(data.weights) / len(starts),
        original=tile(data.original),
        genres=data.genres,
        track_names=data.track_names,
    )


class LinearFit(NamedTuple):
    """A multinomial logistic regression on standardised features: ``scores`` are its logits."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor  # (genres, features)
    bias: torch.Tensor

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        return ((features - self.mean) / self.scale) @ self.weight.T + self.bias


def fit_logistic(
    features: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, genres: int, inverse_penalty: float
) -> LinearFit:
    """Weighted cross-entropy plus ``|W|² / (2 C)`` on the standardised ``features`` (float64, full-batch
    L-BFGS, so the fit is deterministic); ``weights`` are rescaled to a mean of 1."""
    features = features.double()
    mean, scale = features.mean(dim=0), features.std(dim=0, correction=0).clamp_min(1e-6)
    standardised = (features - mean) / scale
    weights = weights.double() * len(weights) / weights.sum()
    linear = torch.zeros(features.shape[1], genres, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(genres, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [linear, bias], max_iter=1000, tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        losses = functional.cross_entropy(standardised @ linear + bias, labels, reduction="none")
        loss = (weights * losses).sum() + linear.square().sum() / (2 * inverse_penalty)
        loss.backward()
        return loss

    optimizer.step(objective)
    return LinearFit(mean, scale, linear.detach().T, bias.detach())


def fit_mel_statistics(data: FeatureSet, inverse_penalty: float = INVERSE_PENALTY) -> MelStatistics:
    """A ``MelStatistics`` fitted to ``data``'s segments, labels and sampling weights."""
    fit = fit_logistic(statistics(data), data.labels, data.weights, len(data.genres), inverse_penalty)
    network = MelStatistics(len(data.genres))
    with torch.no_grad():
        network.feature_mean.copy_(fit.mean)
        network.feature_scale.copy_(fit.scale)
        network.classifier.weight.copy_(fit.weight)
        network.classifier.bias.copy_(fit.bias)
    return network.eval()
