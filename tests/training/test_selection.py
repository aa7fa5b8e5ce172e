"""training.selection: the track-level figures models are chosen and described by."""

from __future__ import annotations

import numpy as np
import pytest

from training.selection import (
    expected_calibration_error,
    fit_temperature,
    macro_recall,
    track_figures,
    track_probabilities,
)

pytestmark = pytest.mark.training

GENRES = ("blues", "classical", "country")


def test_a_track_is_the_mean_of_its_segments_probabilities():
    log_probabilities = np.log(np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]))
    ids, probabilities = track_probabilities(log_probabilities, np.array([5, 5, 9]))
    assert ids.tolist() == [5, 9]
    assert np.allclose(probabilities, [[0.5, 0.4, 0.1], [0.1, 0.1, 0.8]])


def test_macro_recall_weighs_every_genre_alike_whatever_its_track_count():
    labels = np.array([0] * 8 + [1, 1])
    predictions = np.array([0] * 8 + [0, 0])  # every blues right, no classical
    assert (predictions == labels).mean() == 0.8
    assert macro_recall(labels, predictions) == 0.5


def test_figures_carry_bootstrap_intervals_around_the_point_estimates():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 60)
    probabilities = np.full((60, 3), 0.1)
    probabilities[np.arange(60), np.where(rng.random(60) < 0.7, labels, (labels + 1) % 3)] = 0.8
    figures = track_figures(labels, probabilities, GENRES)
    assert figures["tracks"] == 60 and figures["right"] == round(figures["accuracy"] * 60)
    low, high = figures["accuracy_95"]
    assert low < figures["accuracy"] < high and high - low > 0.1  # 60 tracks cannot pin it down closely
    low, high = figures["macro_recall_95"]
    assert low < figures["macro_recall"] < high
    assert sum(right for right, _ in figures["per_genre_right_of"].values()) == figures["right"]
    assert sum(figures["predicted"].values()) == 60


def test_calibration_error_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    labels = np.array([0, 0, 0, 0, 1])
    honest = np.tile([0.8, 0.1, 0.1], (5, 1))  # 80 % confident, 4 of 5 right
    assert expected_calibration_error(labels, honest) < 1e-9
    overconfident = np.tile([0.99, 0.005, 0.005], (5, 1))
    assert abs(expected_calibration_error(labels, overconfident) - 0.19) < 1e-9


def test_the_temperature_softens_an_overconfident_model_and_sharpens_a_timid_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    right = rng.random(200) < 0.6
    predicted = np.where(right, labels, (labels + 1) % 3)
    tracks = np.arange(200)

    def logits(margin):
        scores = np.zeros((200, 3))
        scores[np.arange(200), predicted] = margin
        return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))

    assert fit_temperature(logits(8.0), tracks, labels) > 2  # 99.9 % sure, 60 % right
    assert fit_temperature(logits(0.5), tracks, labels) < 1  # 45 % sure, 60 % right
