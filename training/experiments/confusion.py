"""Where a study variant's cross-validated errors go: its pooled out-of-fold confusion.

    python -m training.experiments.confusion --recipes real --models crnn --seeds 0,1,2 --ensemble 3

Takes the study's options (training/experiments/recipes.py) for one recipe and model,
except those that change more than how each network trains (``--members``, ``--distil``,
``--soup``, ``--snippet-share``).
Every held-out snippet is tagged, for each seed, by the network (or ensemble of
``--ensemble`` networks with consecutive seeds) its fold trained without it; the
track-level confusions are summed over folds and seeds and printed as Markdown with
each genre's recall and how often it was predicted. Networks come from, and go to, the
study's cache (training/cache/experiments), so a variant the study ran costs no training.
"""

from __future__ import annotations

import sys

import numpy as np

from genretag import learn
from genretag.models import GTZAN_GENRES
from training.experiments.held_out import held_out_arguments, held_out_networks
from training.features import build_feature_set


def out_of_fold_confusion(args) -> np.ndarray:
    """The summed held-out snippet confusion (rows true, columns predicted) of ``args``'s variant."""
    total = np.zeros((len(GTZAN_GENRES), len(GTZAN_GENRES)), dtype=np.int64)
    for seed in args.seed_list:
        for _, network, snippets in held_out_networks(args.recipes, args.models, seed, args):
            total += learn.evaluate(network, build_feature_set(snippets, GTZAN_GENRES)).confusion
    return total


def confusion_table(confusion: np.ndarray, genres: tuple[str, ...] = GTZAN_GENRES) -> str:
    """Markdown: one row per true genre with its counts, recall and how often the genre was predicted."""
    predicted = confusion.sum(axis=0)
    lines = [
        "| true \\ predicted | " + " | ".join(genres) + " | recall | times predicted |",
        "| --- |" + " ---: |" * (len(genres) + 2),
    ]
    for i, genre in enumerate(genres):
        cells = " | ".join(str(count) for count in confusion[i])
        recall = confusion[i, i] / confusion[i].sum() if confusion[i].sum() else 0.0
        lines.append(f"| {genre} | {cells} | {recall:.2f} | {predicted[i]} |")
    accuracy = np.trace(confusion) / confusion.sum() if confusion.sum() else 0.0
    return "\n".join(lines + ["", f"{confusion.sum()} predictions, {accuracy:.3f} right."])


def main(argv: list[str] | None = None) -> int:
    args = held_out_arguments(argv)
    if args is None:
        return 2
    print(confusion_table(out_of_fold_confusion(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
