"""Reading a segment as training-length windows, and a genre bias fitted on held-out predictions.

    python -m training.experiments.calibration --recipes real --models crnn --seeds 0,1,2 --ensemble 3

Takes the study's options for one recipe and model (like ``training.experiments.confusion``).
For every seed and fold, the held-out snippets are tagged by the network their fold
trained without them, three ways:

* ``whole``: each 10 s segment read at once, as the study scores it;
* ``windows``: ``genretag.models.WindowAverage`` over windows of the training length
  (``--crop-frames``), at most ``WINDOW_HOP`` frames apart;
* ``windows + bias``: the same plus the genre bias (``balanced_genre_bias``) fitted on the
  *other* folds' held-out windowed predictions of the same seed, so no snippet helps fit
  the bias it is scored with.

Prints, as Markdown, each way's snippet track accuracy (mean ± standard deviation over
the runs) and its paired difference from ``whole`` (per run and per fold).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from genretag import learn
from genretag.models import GTZAN_GENRES, WindowAverage
from training.experiments import recipes
from training.experiments.held_out import held_out_networks, unsupported_options
from training.features import build_feature_set

WINDOW_HOP = 80  # frames: a 431-frame segment is read as 5 windows of 128


def windowed(network: nn.Module, frames: int, bias: np.ndarray | None = None) -> WindowAverage:
    """``network`` reading windows of ``frames`` at most ``WINDOW_HOP`` apart, plus ``bias`` (default none)."""
    bias = np.zeros(len(GTZAN_GENRES)) if bias is None else bias
    return WindowAverage(network, frames, WINDOW_HOP, torch.as_tensor(bias, dtype=torch.float32)).eval()


def balanced_genre_bias(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Minus the log of the mean predicted probabilities, every true genre weighted equally, centred on 0.

    Added to a model's log-probabilities it evens out the genres the model over- and
    under-predicts on held-out music.
    """
    genres = np.unique(labels)
    mean = np.mean([probabilities[labels == genre].mean(axis=0) for genre in genres], axis=0)
    bias = -np.log(mean)
    return bias - bias.mean()


def held_out_windowed(recipe: str, model: str, seed: int, args, keep=lambda clip: True) -> list[tuple]:
    """``(fold, whole probabilities, windowed probabilities, labels)`` of every fold's held-out snippets
    for which ``keep(clip)`` holds."""
    out = []
    for fold, network, snippets in held_out_networks(recipe, model, seed, args):
        data = build_feature_set([clip for clip in snippets if keep(clip)], GTZAN_GENRES)
        whole = learn.predict_probabilities(network, data)
        windows = learn.predict_probabilities(windowed(network, args.crop_frames), data)
        out.append((fold, whole, windows, data.labels.numpy()))
    return out


def pooled_bias(folds: list[tuple]) -> np.ndarray:
    """``balanced_genre_bias`` over the windowed predictions of every fold of ``held_out_windowed``."""
    return balanced_genre_bias(np.concatenate([f[2] for f in folds]), np.concatenate([f[3] for f in folds]))


def nested_accuracies(folds: list[tuple]) -> dict[str, dict[int, float]]:
    """Snippet accuracy per way and fold of ``held_out_windowed``'s folds; each fold's bias is fitted
    on the other folds."""
    ways = {"whole": {}, "windows": {}, "windows + bias": {}}
    for fold, whole, windows, labels in folds:
        bias = pooled_bias([f for f in folds if f[0] != fold])
        ways["whole"][fold] = accuracy(whole, labels)
        ways["windows"][fold] = accuracy(windows, labels)
        ways["windows + bias"][fold] = accuracy(np.log(windows) + bias, labels)
    return ways


def scored_runs(args) -> dict[str, dict[tuple[int, int], float]]:
    """``nested_accuracies`` per way and (seed, fold) for every seed of ``args.seeds``."""
    ways = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for way, per_fold in nested_accuracies(held_out_windowed(args.recipes, args.models, seed, args)).items():
            ways.setdefault(way, {}).update({(seed, fold): value for fold, value in per_fold.items()})
    return ways


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == labels).mean())


def ways_table(ways: dict[str, dict[tuple[int, int], float]]) -> str:
    """Markdown: each way's accuracy and its paired difference from ``whole``."""
    whole = ways["whole"]
    folds = sorted({fold for _, fold in whole})
    lines = [
        "| reading | snippet acc | vs whole (paired) | better / equal / worse | per fold |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, runs in ways.items():
        values = np.array([runs[key] for key in whole])
        differences = values - np.array(list(whole.values()))
        per_fold = [np.mean([d for (_, f), d in zip(whole, differences, strict=True) if f == fold]) for fold in folds]
        lines.append(
            f"| {name} | {values.mean():.3f} ± {values.std(ddof=1):.3f} "
            f"| {differences.mean():+.3f} ± {differences.std(ddof=1):.3f} "
            f"| {(differences > 0).sum()} / {(differences == 0).sum()} / {(differences < 0).sum()} "
            f"| {' '.join(f'{d:+.3f}' for d in per_fold)} |"
        )
    return "\n".join(lines + ["", f"{len(whole)} runs (seed × fold)."])


def main(argv: list[str] | None = None) -> int:
    args = recipes.settings_parser().parse_args(argv)
    refusal = unsupported_options(args)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    learn.use_threads(args.threads)
    print(ways_table(scored_runs(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
