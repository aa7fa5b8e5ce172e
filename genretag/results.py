"""The result types every other module passes on: a track's segment timeline and its genre."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SegmentPrediction:
    """One 10 s segment's genre probabilities."""

    index: int
    start_s: float
    end_s: float
    probabilities: dict[str, float]

    @property
    def genre(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.genre]


@dataclass
class TrackResult:
    """A track's segment timeline and its aggregated genre probabilities.

    ``probabilities`` is the mean of the segment probabilities, or, with
    ``whole_track``, the recurrent network's single pass over the whole track.
    """

    path: str
    model: str
    genres: tuple[str, ...]
    duration_s: float = 0.0
    segment_bounds: list[tuple[float, float]] = field(default_factory=list)
    segment_probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    warning: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def top_k(self, k: int = 2) -> list[tuple[str, float]]:
        """The ``k`` most probable genres with their probabilities, best first."""
        if not self.ok or self.probabilities.size == 0:
            return []
        order = np.argsort(-self.probabilities)[:k]
        return [(self.genres[i], float(self.probabilities[i])) for i in order]

    @property
    def genre(self) -> str | None:
        best = self.top_k(1)
        return best[0][0] if best else None

    @property
    def confidence(self) -> float | None:
        best = self.top_k(1)
        return best[0][1] if best else None

    @property
    def segments(self) -> list[SegmentPrediction]:
        return [
            SegmentPrediction(i, start, end, dict(zip(self.genres, map(float, row), strict=True)))
            for i, ((start, end), row) in enumerate(zip(self.segment_bounds, self.segment_probabilities, strict=True))
        ]


@dataclass
class ModelChoice:
    """The model a command uses and why: ``named`` (on the command line or in the config file), ``stored``
    (the latest stored results for the paths came from it) or ``default`` (``weights.DEFAULT_MODEL``)."""

    name: str
    why: str
