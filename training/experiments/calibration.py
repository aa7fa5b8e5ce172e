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

With ``--mel-stats``, also ``mel-stats`` (``genretag.models.MelStatistics`` fitted on the
windows of the fold's training clips, ``training/mel_stats.py``, reading the same windows),
``windows + mel-stats`` (the mean of the two windowed log-probabilities, renormalised) and
``windows + mel-stats + bias`` (its bias fitted on the other folds' blended predictions):
how the default model reads a segment.

Prints, as Markdown, each way's snippet track accuracy (mean ± standard deviation over
the runs) and its paired difference from ``whole`` (per run and per fold), then each
way's recall per genre and how often it predicted each genre, summed over the runs.
"""

from __future__ import annotations

import sys
from functools import cache

import numpy as np
import torch
from torch import nn

from genretag import learn
from genretag.models import GTZAN_GENRES, MelStatistics, WindowAverage
from training.corpus import balanced_weights
from training.experiments import recipes
from training.experiments.held_out import held_out_arguments, held_out_networks
from training.features import build_feature_set
from training.mel_stats import fit_mel_statistics, reading_windows

WINDOW_HOP = 152  # frames: a 431-frame segment is read as 3 windows of 128, at its start, middle and end


def windowed(network: nn.Module, frames: int) -> WindowAverage:
    """``network`` reading windows of ``frames`` at most ``WINDOW_HOP`` apart, with no genre bias."""
    return WindowAverage(network, frames, WINDOW_HOP, torch.zeros(len(GTZAN_GENRES))).eval()


def balanced_genre_bias(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Minus the log of the mean predicted probabilities, every true genre weighted equally, centred on 0.

    Added to a model's log-probabilities it evens out the genres the model over- and
    under-predicts on held-out music.
    """
    genres = np.unique(labels)
    mean = np.mean([probabilities[labels == genre].mean(axis=0) for genre in genres], axis=0)
    bias = -np.log(mean)
    return bias - bias.mean()


def fold_training_windows(fold: int, folds: int, frames: int) -> learn.FeatureSet:
    """The reading windows (``frames`` long) of one study fold's training clips, sources balanced inside
    each genre: what that fold's mel-stats is fitted on."""
    train, _, _ = recipes.split(recipes.real_clips(), fold, folds)
    data = build_feature_set(train, GTZAN_GENRES, weights=balanced_weights(train))
    return reading_windows(data, frames, WINDOW_HOP)


@cache
def fold_mel_stats(fold: int, folds: int, frames: int) -> MelStatistics:
    """mel-stats fitted on ``fold_training_windows`` (deterministic)."""
    return fit_mel_statistics(fold_training_windows(fold, folds, frames))


def held_out_windowed(
    recipe: str, model: str, seed: int, args, keep=lambda clip: True, mel_stats: bool = False
) -> list[tuple]:
    """``(fold, whole probabilities, windowed probabilities, labels, mel-stats probabilities or None)`` of
    every fold's held-out snippets for which ``keep(clip)`` holds (a fold where it holds for none is left
    out); mel-stats' only with ``mel_stats``."""
    out = []
    for fold, network, snippets in held_out_networks(recipe, model, seed, args):
        kept = [clip for clip in snippets if keep(clip)]
        if not kept:
            continue
        data = build_feature_set(kept, GTZAN_GENRES)
        whole = learn.predict_probabilities(network, data)
        windows = learn.predict_probabilities(windowed(network, args.crop_frames), data)
        statistics = None
        if mel_stats:
            reader = windowed(fold_mel_stats(fold, args.folds, args.crop_frames), args.crop_frames)
            statistics = learn.predict_probabilities(reader, data)
        out.append((fold, whole, windows, data.labels.numpy(), statistics))
    return out


def blended(windows: np.ndarray, statistics: np.ndarray) -> np.ndarray:
    """The geometric mean of two models' probabilities, renormalised (the mean of their log-probabilities)."""
    mean = np.sqrt(windows * statistics)
    return mean / mean.sum(axis=1, keepdims=True)


def pooled_bias(folds: list[tuple], mel_stats: bool = False) -> np.ndarray:
    """``balanced_genre_bias`` over the windowed predictions (``blended`` with mel-stats' with
    ``mel_stats``) of every fold of ``held_out_windowed``."""
    predictions = [blended(f[2], f[4]) if mel_stats else f[2] for f in folds]
    return balanced_genre_bias(np.concatenate(predictions), np.concatenate([f[3] for f in folds]))


def nested_scores(folds: list[tuple]) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """``(scores, labels)`` per way and fold of ``held_out_windowed``'s folds; each fold's bias is
    fitted on the other folds. The mel-stats ways only for folds that have mel-stats' predictions."""
    ways = {"whole": {}, "windows": {}, "windows + bias": {}}
    for fold, whole, windows, labels, statistics in folds:
        others = [f for f in folds if f[0] != fold]
        ways["whole"][fold] = whole, labels
        ways["windows"][fold] = windows, labels
        ways["windows + bias"][fold] = np.log(windows) + pooled_bias(others), labels
        if statistics is not None:
            blend = np.log(blended(windows, statistics))
            ways.setdefault("mel-stats", {})[fold] = statistics, labels
            ways.setdefault("windows + mel-stats", {})[fold] = blend, labels
            ways.setdefault("windows + mel-stats + bias", {})[fold] = blend + pooled_bias(others, True), labels
    return ways


def nested_accuracies(folds: list[tuple]) -> dict[str, dict[int, float]]:
    """Snippet accuracy per way and fold of ``nested_scores``."""
    return {
        way: {fold: accuracy(*scored) for fold, scored in per_fold.items()}
        for way, per_fold in nested_scores(folds).items()
    }


def scored_runs(args) -> tuple[dict[str, dict[tuple[int, int], float]], dict[str, np.ndarray]]:
    """(accuracy per way and (seed, fold), the summed confusion per way) for every seed of ``args.seeds``."""
    accuracies, confusions = {}, {}
    for seed in args.seed_list:
        folds = held_out_windowed(args.recipes, args.models, seed, args, mel_stats=args.mel_stats)
        for way, per_fold in nested_scores(folds).items():
            for fold, (scores, labels) in per_fold.items():
                accuracies.setdefault(way, {})[seed, fold] = accuracy(scores, labels)
                total = confusions.setdefault(way, np.zeros((len(GTZAN_GENRES),) * 2, dtype=np.int64))
                np.add.at(total, (labels, scores.argmax(axis=1)), 1)
    return accuracies, confusions


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == labels).mean())


def genres_table(confusions: dict[str, np.ndarray], genres: tuple[str, ...] = GTZAN_GENRES) -> str:
    """Markdown: each way's recall per genre, and how often it predicted the genre (true count alongside)."""
    lines = ["| reading | " + " | ".join(genres) + " |", "| --- |" + " ---: |" * len(genres)]
    for way, confusion in confusions.items():
        recall = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
        lines.append(f"| {way}: recall | " + " | ".join(f"{value:.2f}" for value in recall) + " |")
        lines.append(f"| {way}: times predicted | " + " | ".join(map(str, confusion.sum(axis=0))) + " |")
    true = next(iter(confusions.values())).sum(axis=1)
    return "\n".join([*lines, "| true | " + " | ".join(map(str, true)) + " |"])


def spread(values: np.ndarray) -> str:
    """``mean ± standard deviation`` of runs' accuracies."""
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def paired(differences: np.ndarray) -> str:
    """Paired differences as two table cells: ``mean ± sd`` and how many runs are better / equal / worse."""
    signs = f"{(differences > 0).sum()} / {(differences == 0).sum()} / {(differences < 0).sum()}"
    return f"{differences.mean():+.3f} ± {differences.std(ddof=1):.3f} | {signs}"


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
            f"| {name} | {spread(values)} | {paired(differences)} | {' '.join(f'{d:+.3f}' for d in per_fold)} |"
        )
    return "\n".join(lines + ["", f"{len(whole)} runs (seed × fold)."])


def main(argv: list[str] | None = None) -> int:
    parser = recipes.settings_parser()
    parser.add_argument("--mel-stats", action="store_true", help="also score mel-stats and the default's blend")
    args = held_out_arguments(argv, parser)
    if args is None:
        return 2
    accuracies, confusions = scored_runs(args)
    print(ways_table(accuracies) + "\n\n" + genres_table(confusions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
