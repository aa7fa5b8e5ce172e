"""Track-level figures for choosing and describing a model on held-out real tracks.

A track's probabilities are the mean of its segments' (the rule of
``genretag.classify``). Every figure is over tracks, never segments: accuracy,
macro recall (the mean of the per-genre recalls, over the genres that have held-out
tracks), a percentile bootstrap interval for both (tracks resampled with
replacement), and the expected calibration error of the top probability.
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
CALIBRATION_BINS = 10
TEMPERATURES = np.round(np.arange(0.5, 4.01, 0.05), 2)


def track_probabilities(segment_log_probabilities: np.ndarray, tracks: np.ndarray, temperature: float = 1.0):
    """(track ids, ``(n_tracks, n_genres)``): the mean over each track's segments of softmax(log p / T)."""
    scaled = segment_log_probabilities / temperature
    scaled = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    scaled /= scaled.sum(axis=1, keepdims=True)
    ids = np.unique(tracks)
    return ids, np.stack([scaled[tracks == track].mean(axis=0) for track in ids])


def macro_recall(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The mean over the genres present in ``labels`` of the share of their tracks predicted right."""
    return float(np.mean([(predictions[labels == genre] == genre).mean() for genre in np.unique(labels)]))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |accuracy − confidence| of the top genre over equal-width confidence bins, weighted by their tracks."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            error += members.mean() * abs(right[members].mean() - confidence[members].mean())
    return float(error)


def track_figures(labels: np.ndarray, probabilities: np.ndarray, genres: tuple[str, ...], seed: int = 0) -> dict:
    """Accuracy, macro recall (each with a 95 % bootstrap interval), per-genre counts and calibration error."""
    predictions = probabilities.argmax(axis=1)
    rng = np.random.default_rng(seed)
    accuracies, recalls = [], []
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = rng.integers(0, len(labels), len(labels))
        accuracies.append((predictions[sample] == labels[sample]).mean())
        recalls.append(macro_recall(labels[sample], predictions[sample]))
    return {
        "tracks": int(len(labels)),
        "right": int((predictions == labels).sum()),
        "accuracy": round(float((predictions == labels).mean()), 4),
        "accuracy_95": [round(float(v), 4) for v in np.percentile(accuracies, [2.5, 97.5])],
        "macro_recall": round(macro_recall(labels, predictions), 4),
        "macro_recall_95": [round(float(v), 4) for v in np.percentile(recalls, [2.5, 97.5])],
        "expected_calibration_error": round(expected_calibration_error(labels, probabilities), 4),
        "per_genre_right_of": {
            genres[genre]: [int((predictions[labels == genre] == genre).sum()), int((labels == genre).sum())]
            for genre in np.unique(labels)
        },
        "predicted": {genres[genre]: int((predictions == genre).sum()) for genre in np.unique(predictions)},
    }


def fit_temperature(segment_log_probabilities: np.ndarray, tracks: np.ndarray, track_labels: np.ndarray) -> float:
    """The temperature (grid ``TEMPERATURES``) that minimises the track-level log loss on held-out tracks.

    ``track_labels`` follow the order of ``np.unique(tracks)``.
    """

    def log_loss(temperature: float) -> float:
        _, probabilities = track_probabilities(segment_log_probabilities, tracks, temperature)
        chosen = probabilities[np.arange(len(track_labels)), track_labels]
        return float(-np.log(np.clip(chosen, 1e-7, None)).mean())

    return float(min(TEMPERATURES, key=log_loss))
