"""The teacher: a linear probe on musicnn's embedding of every 10 s window.

``embed.py`` (``python -m training.teacher.embed``) stores, per corpus, the mean of
musicnn's penultimate-layer embedding over each window's 3 s patches in
``training/data/teacher/musicnn-<corpus>.npz``, keyed
``"<path relative to the corpus root>|<semitones>|<segment index>"``: the windows
``training.features`` cuts from the same file. Here a multinomial logistic
regression is fitted to the windows of labelled tracks; its probabilities for
any stored window are the teacher's soft labels. No TensorFlow is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional

TEACHER_DIR = Path(__file__).resolve().parents[1] / "data" / "teacher"
# Embeddings of research-use audio (real-extra, unlabelled): regenerated, never committed.
RESEARCH_TEACHER_DIR = Path(__file__).resolve().parents[1] / "cache" / "teacher"
EMBEDDING = "penultimate"


def window_key(relative_path: str, semitones: int, segment: int) -> str:
    """The key of one stored window."""
    return f"{relative_path}|{semitones}|{segment}"


def load_embeddings(corpus: str, directory: Path = TEACHER_DIR) -> dict[str, np.ndarray]:
    """Window key → embedding (float32) for every window stored for ``corpus`` (all its npz files)."""
    table: dict[str, np.ndarray] = {}
    paths = [
        path for folder in (directory, RESEARCH_TEACHER_DIR) for path in sorted(folder.glob(f"musicnn-{corpus}.npz"))
    ]
    if not paths:
        raise FileNotFoundError(f"{directory}: no stored musicnn embeddings for {corpus!r}")
    for path in paths:
        with np.load(path, allow_pickle=False) as stored:
            vectors = stored[EMBEDDING].astype(np.float32)
            table.update(zip(stored["keys"].tolist(), vectors, strict=True))
    return table


class LinearFit(NamedTuple):
    """A multinomial logistic regression on standardised features: ``scores`` are its logits."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor  # (genres, features)
    bias: torch.Tensor

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        return ((features - self.mean) / self.scale) @ self.weight.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Softmax probabilities ``(n, genres)`` for features ``(n, dims)``."""
        return torch.softmax(self.scores(torch.as_tensor(features, dtype=torch.float64)), dim=1).numpy()


def fit_logistic(
    features: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, genres: int, inverse_penalty: float
) -> LinearFit:
    """Weighted cross-entropy plus ``|W|² / (2 C)`` on the standardised ``features`` (float64, full-batch
    L-BFGS, so the fit is deterministic); ``weights`` are rescaled to a mean of 1."""
    features = torch.as_tensor(features).double()
    mean, scale = features.mean(dim=0), features.std(dim=0, correction=0).clamp_min(1e-6)
    standardised = (features - mean) / scale
    weights = torch.as_tensor(weights).double()
    weights = weights * len(weights) / weights.sum()
    labels = torch.as_tensor(labels)
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
