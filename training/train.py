"""Train one of the four networks on a GTZAN folder or a folder-per-genre corpus.

    python -m training.train --gtzan PATH [--split filtered|random] [--model v-kernel] [--pitch-shift 2]
    python -m training.train --folders PATH [--model crnn] [--epochs 30] [--seed 0] [--out DIR]

Writes ``<out>/<model>.pt`` + ``<model>.json`` (a model card that
``genretag`` can load) and an evaluation of the held-out test split
(``training.evaluate`` output: metrics JSON, confusion matrix CSV + PNG).
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from genretag import fit, models
from genretag.fit import FitSettings
from genretag.weights import save_model
from training.corpus import (
    Clip,
    balanced_weights,
    fault_filtered_split,
    folder_corpus,
    genre_order,
    gtzan_block,
    gtzan_corpus,
    source_counts,
    stratified_split,
)
from training.evaluate import write_evaluation
from training.features import DEFAULT_CACHE, build_feature_set

log = logging.getLogger("training")


@dataclass
class Recipe:
    """Everything that decides a training run, recorded in the model card."""

    architecture: str = models.DEFAULT_ARCHITECTURE
    settings: FitSettings = field(default_factory=lambda: FitSettings(patience=8))
    optimizer: str = "Adam"
    pitch_shift: int = 0
    threads: int | None = None


def _log_progress(event: fit.FitProgress) -> None:
    if event.epoch_done:
        valid = f" valid track acc {event.valid_accuracy:.3f}" if event.valid_accuracy is not None else ""
        log.info(
            "epoch %d/%d: loss %.4f train acc %.3f%s (%.1f s)",
            event.epoch,
            event.epochs,
            event.train_loss,
            event.train_accuracy,
            valid,
            event.epoch_seconds,
        )


def train_model(
    split: dict[str, list[Clip]],
    genres: tuple[str, ...],
    recipe: Recipe,
    out_dir: Path,
    card: dict,
    cache_dir: Path = DEFAULT_CACHE,
    report_dir: Path | None = None,
) -> dict:
    """Train ``recipe.architecture`` on ``split['train']``, select on ``valid``, evaluate ``test``; save weights + card.

    Returns the card as written. Sampling balances genres and source folders. The
    test evaluation goes to ``report_dir`` (default ``out_dir``).
    """
    threads = fit.use_threads(recipe.threads)
    train_clips = split["train"]
    log.info("features: %d train clips (pitch shift ±%d)", len(train_clips), recipe.pitch_shift)
    train_set = build_feature_set(
        train_clips, genres, recipe.pitch_shift, balanced_weights(train_clips), cache_dir=cache_dir
    )
    valid_set = build_feature_set(split["valid"], genres, 0, cache_dir=cache_dir) if split.get("valid") else None
    test_set = build_feature_set(split["test"], genres, 0, cache_dir=cache_dir) if split.get("test") else None
    network, fitting = trained_network(recipe, genres, train_set, valid_set)
    metrics = {"train (own training clips, original segments)": fit.evaluate(network, train_set.originals()).summary()}
    if valid_set is not None:
        label = "valid (used to pick the epoch)" if "best_epoch" in fitting else "valid (not used by the fit)"
        metrics[label] = fit.evaluate(network, valid_set).summary()
    if test_set is not None:
        test_result = fit.evaluate(network, test_set)
        metrics["test (held out)"] = test_result.summary()
        write_evaluation(
            test_result,
            (report_dir or out_dir) / f"{recipe.architecture}-test",
            f"{recipe.architecture} on the held-out test split",
        )
    training = card.setdefault("training", {})
    training.update(
        {
            "data": {part: source_counts(clips) for part, clips in split.items() if clips},
            "segments": {
                "train (with pitch-shifted copies)": len(train_set),
                "train originals": int(train_set.original.sum()),
            },
            "recipe": {**asdict(recipe), "threads": threads, "loss": "cross-entropy", "sampling": "balanced_weights"},
            "seed": recipe.settings.seed,
            **fitting,
            "machine": f"{platform.machine()}, torch {torch.__version__}, {threads} threads",
        }
    )
    full_card = {"architecture": recipe.architecture, "genres": list(genres), **card, "metrics": metrics}
    save_model(network, recipe.architecture, out_dir, full_card)
    return full_card


def trained_network(
    recipe: Recipe, genres: tuple[str, ...], train_set: fit.FeatureSet, valid_set: fit.FeatureSet | None
) -> tuple[torch.nn.Module, dict]:
    """(a network trained by ``recipe``, its training history for the card)."""
    torch.manual_seed(recipe.settings.seed)
    network = models.build(recipe.architecture, len(genres))
    history = fit.fit(network, train_set, valid_set, recipe.settings, progress=_log_progress)
    return network, {
        "epochs_run": len(history.train_loss),
        "best_epoch": history.best_epoch,
        "train_loss_by_epoch": [round(v, 4) for v in history.train_loss],
        "seconds_per_epoch": round(float(np.median(history.epoch_seconds)), 1),
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument(
        "--gtzan", type=Path, help="GTZAN folder (genres/<g>/<g>.000NN.au|wav or Kaggle genres_original/)"
    )
    corpus.add_argument("--folders", type=Path, help="folder-per-genre corpus: PATH/<genre>/[sources/]*.audio")
    parser.add_argument(
        "--split", choices=["filtered", "random"], default="filtered", help="GTZAN split (default: fault-filtered)"
    )
    parser.add_argument(
        "--valid-fraction", type=float, default=0.15, help="random split: share of tracks for validation"
    )
    parser.add_argument("--test-fraction", type=float, default=0.15, help="random split: share of tracks for test")
    parser.add_argument("--model", choices=list(models.ARCHITECTURES), default=models.DEFAULT_ARCHITECTURE)
    parser.add_argument(
        "--pitch-shift", type=int, default=0, metavar="N", help="add copies shifted by ±1..N semitones (C_ps)"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--patience", type=int, default=8, help="stop after this many epochs without validation gain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: all CPUs this process may use)"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache folder")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder for weights, card and evaluation")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.gtzan:
            clips = gtzan_corpus(args.gtzan)
            if args.split == "filtered":
                split = fault_filtered_split(clips)
            else:
                split = stratified_split(clips, args.valid_fraction, args.test_fraction, args.seed, gtzan_block)
            summary = f"GTZAN at {args.gtzan}, {args.split} split"
        else:
            clips = folder_corpus(args.folders)
            split = stratified_split(clips, args.valid_fraction, args.test_fraction, args.seed)
            summary = f"folder-per-genre corpus at {args.folders}, random stratified split by track"
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    genres = genre_order(clip.genre for clip in clips)
    settings = FitSettings(
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, patience=args.patience
    )
    recipe = Recipe(architecture=args.model, settings=settings, pitch_shift=args.pitch_shift, threads=args.threads)
    card = {"provisional": False, "training": {"summary": summary}}
    written = train_model(split, genres, recipe, args.out, card, args.cache)
    for split_name, figures in written["metrics"].items():
        print(f"{split_name}: segment acc {figures['segment_accuracy']:.3f}, track acc {figures['track_accuracy']:.3f}")
    print(f"wrote {args.out / (args.model + '.pt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
