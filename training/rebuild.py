"""Rebuild every shipped weight file in one command: synthetic corpus, pre-training, fine-tuning, cards.

    python -m training.rebuild [--models v-kernel crnn ...] [--jobs 2] [--out weights] [--hold-out-test]

Each network is trained by the recipe the cross-validated study chose for it
(``CHOSEN``; the study and its table: training/README.md), with the study's
settings (``training.experiments.recipes`` defaults), on every real clip of
../shared/data (the study picked the recipe; the shipped model then learns from all
the real audio there is). ``--hold-out-test`` keeps GTZAN tracks 00041-00050 out as
a test split instead:

1. for a ``synth-*`` recipe, render the synthetic corpus (``training.synth``; clips
   already on disk are kept) and pre-train on it (cached in training/cache/experiments);
2. train (or fine-tune) on the real clips, sources balanced inside each genre;
3. write ``<out>/<model>.pt`` + ``.json``: data by source and genre, recipe, seed,
   the study's cross-validated metrics for that recipe and architecture, and with
   ``--hold-out-test`` the test split's (its confusion matrix and per-track
   predictions: training/reports/<model>-test/).

``crnn-ensemble``, the default model, is three crnns trained by the same recipe with
seeds 0, 1 and 2 (``genretag.models.Ensemble``: the mean of their predictions); its
members are cached in training/cache/experiments like the study's. Every network's card
also says how to read a segment (``inference``): as windows of the training length plus
a genre bias fitted on the study's held-out predictions of the same recipe and model,
seed 0 (training/experiments/calibration.py), and its figures for that reading cover seeds
0-2, so a rebuild also trains (or takes from the cache) the study's held-out networks:
5 folds × 3 seeds per model, for the ensemble 5 folds × 5 crnns (seeds 0-4).

``mel-stats`` (``genretag.models.MelStatistics``, a logistic regression on timbre and
rhythm statistics of the same windows, ``training/mel_stats.py``) is fitted first, in
seconds; the default's reading averages its log-probabilities with mel-stats' (its card's
``inference.companion`` names it with its sha256), so its bias is fitted on the blend.
A rebuild of ``crnn-ensemble`` alone takes the ``mel-stats`` already in ``--out``. The
networks train in parallel, one per ``--jobs`` worker, one torch thread each.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas
from joblib import Parallel, delayed

from genretag import learn
from genretag.models import GTZAN_GENRES
from genretag.weights import load_model_card, save_model, scoring_network
from training.corpus import Clip, balanced_weights
from training.distil import training_seconds
from training.evaluate import write_evaluation
from training.experiments import calibration, recipes
from training.features import build_feature_set
from training.mel_stats import FIT_DESCRIPTION, fit_mel_statistics, reading_windows
from training.synth.corpus import build_corpus
from training.synth.styles import GENRES as SYNTH_GENRES
from training.train import REBUILD_NOTE, source_counts

log = logging.getLogger("training")

REPO = Path(__file__).resolve().parents[1]
SEED = 0
# GTZAN track numbers ``--hold-out-test`` keeps out of training, as the cards' test split.
HELD_OUT_TRACKS = range(41, 51)
TEST_SPLIT = "test (GTZAN tracks 00041-00050: snippets and classical excerpts)"
REPORTS = REPO / "training" / "reports"
# Recipe and settings per architecture, chosen by the study's mean snippet accuracy over
# folds and seeds (training/README.md); settings not named take the study's defaults.
CHOSEN = {
    "v-kernel": {"recipe": "real-ps"},
    "v-kernel-l2": {"recipe": "real"},
    "crnn": {"recipe": "real", "steps": 600, "average_from": 0.5},
    "bicrnn": {"recipe": "real"},
    # The default model: the mean prediction of three crnns trained by ``real`` with seeds 0, 1, 2,
    # in a geometric mean with mel-stats'.
    "crnn-ensemble": {"architecture": "crnn", "recipe": "real", "ensemble": 3, "companion": "mel-stats"},
    "mel-stats": {"recipe": "real"},
}
MEL_STATS = "mel-stats"
# Seeds of the study's held-out networks that the cards' figures for their reading cover.
READING_SEEDS = 3


def study_metrics(
    recipe: str, model: str, study: Path = recipes.RESULTS, variant: str = "", steps: int | None = None
) -> dict:
    """Mean ± standard deviation over the study's folds and seeds for one recipe, its variant
    (``recipes.variant_label``) and architecture."""
    table = pandas.read_csv(study)
    rows = table[(table["recipe"] == recipe) & (table["model"] == model) & (recipes.variant(table) == variant)]
    if steps is not None:
        rows = rows[rows["steps"] == steps]
    if rows.empty:
        return {"note": f"no study runs of {recipe}{variant} with {model} in {study.name}"}
    seeds = sorted(map(int, rows["seed"].unique()))
    metrics = {"runs": len(rows), "folds": int(rows["fold"].nunique()), "seeds": seeds}
    for column, label in (
        ("snippet_acc", "gtzan_snippets_track_accuracy"),
        ("prototype_acc", "heldout_generator_accuracy"),
    ):
        spread = float(rows[column].std(ddof=1)) if len(rows) > 1 else 0.0
        metrics[label] = {"mean": round(float(rows[column].mean()), 4), "std": round(spread, 4)}
    return metrics


def shipped_split(clips: list[Clip], hold_out: bool = True) -> tuple[list[Clip], list[Clip]]:
    """(train, test): with ``hold_out``, every snippet and classical excerpt of the ``HELD_OUT_TRACKS`` is test."""
    if not hold_out:
        return list(clips), []
    train, test = [], []
    for clip in clips:
        (test if recipes.track_number(clip) in HELD_OUT_TRACKS else train).append(clip)
    return train, test


def outside_test_split(hold_out: bool):
    """Whether a held-out snippet is scored: with ``hold_out``, the test split's are not."""
    return lambda clip: not hold_out or recipes.track_number(clip) not in HELD_OUT_TRACKS


def calibrated_reading(
    recipe: str, architecture: str, settings, hold_out: bool, companion: dict | None = None
) -> tuple[dict, dict]:
    """(the card's ``inference`` section, its cross-validated figures): windows of the training length and
    the genre bias fitted on the study's seed-``SEED`` held-out predictions (training/experiments/calibration.py),
    leaving out the test split's snippets with ``hold_out``; with a ``companion`` (``{"model": "mel-stats",
    "sha256": ...}``) the bias is fitted on the predictions blended with each fold's mel-stats. The figures
    cover ``READING_SEEDS`` seeds from ``SEED``, each fold's bias fitted on the other folds."""
    keep = outside_test_split(hold_out)
    runs = {
        seed: calibration.held_out_windowed(recipe, architecture, seed, settings, keep, mel_stats=bool(companion))
        for seed in range(SEED, SEED + READING_SEEDS)
    }
    command = "python -m training.experiments.calibration" + (" --mel-stats" if companion else "")
    return reading_section(runs, settings, f"the study's seed-{SEED} networks", command, companion)


def reading_section(
    runs: dict[int, list[tuple]], settings, fitted_on: str, command: str, companion: dict | None = None
) -> tuple[dict, dict]:
    """(``inference`` section, cross-validated figures) from held-out predictions per seed
    (``calibration.held_out_windowed``'s folds) of ``fitted_on``, made by ``command``; the bias is
    fitted on the first seed's."""
    first = runs[min(runs)]
    bias = calibration.pooled_bias(first, mel_stats=bool(companion))
    reading = (
        "the log of that mean is averaged with the log of mel-stats' mean over the same windows, "
        "and the genre bias is added. The bias"
        if companion
        else "the genre bias is added to the log of that mean. It"
    )
    inference = {
        "window_frames": settings.crop_frames,
        "window_hop": calibration.WINDOW_HOP,
        "genre_bias": {genre: round(float(value), 4) for genre, value in zip(GTZAN_GENRES, bias, strict=True)},
        **({"companion": companion} if companion else {}),
        "how": "each segment is read as windows of the training length, their genre probabilities averaged; "
        f"{reading} is minus the log of the mean held-out probabilities (every genre weighted equally) "
        f"of {fitted_on}"
        + (" blended with mel-stats" if companion else "")
        + f" over all {settings.folds} folds' snippets: {command}",
    }
    by_reading = {}
    for folds in runs.values():
        for way, per_fold in calibration.nested_accuracies(folds).items():
            by_reading.setdefault(way, []).extend(per_fold.values())
    figures = {
        way: {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values, ddof=1)), 4)}
        for way, values in by_reading.items()
    }
    metrics = {
        "split": f"the study's {settings.folds} folds; each fold's genre bias fitted on the other folds",
        "runs": len(by_reading["whole"]),
        "folds": len(first),
        "seeds": sorted(runs),
        "gtzan_snippets_track_accuracy": figures["windows + mel-stats + bias" if companion else "windows + bias"],
        "by_reading": figures,
    }
    return inference, metrics


def trained_network(model: str, settings: argparse.Namespace, train: list[Clip], test: list[Clip], out: Path):
    """(network, its companion network or None, its card less the evaluations): one shipped network
    trained by its chosen recipe on ``train``; with ``test``, the test split is held out."""
    hold_out = bool(test)
    recipe = CHOSEN[model]["recipe"]
    architecture = CHOSEN[model].get("architecture", model)
    settings = argparse.Namespace(**{**vars(settings), **CHOSEN[model]})
    variant = recipes.variant_label(
        settings.augment,
        1.0,
        settings.prototype_share,
        settings.average_from,
        settings.crop_frames,
        settings.ensemble,
    )
    began = time.perf_counter()
    seeds = [SEED + k for k in range(settings.ensemble)]
    if settings.ensemble > 1:
        network = recipes.cached_ensemble(recipe, [architecture] * settings.ensemble, train, SEED, settings)
        paths = [recipes.recipe_network_path(recipe, architecture, train, seed, settings) for seed in seeds]
        members = [training_seconds(path) for path in paths]
        seconds = None if None in members else round(sum(members), 1)  # the members' training, cached or not
    else:
        network = recipes.train_recipe(recipe, architecture, train, SEED, settings)
        seconds = round(time.perf_counter() - began, 1)
    companion, companion_network = None, None
    companion_name = CHOSEN[model].get("companion")
    if companion_name:
        companion_card = out / f"{companion_name}.json"
        if not companion_card.is_file():
            raise FileNotFoundError(f"{companion_card}: rebuild {companion_name} first (--models {companion_name})")
        loaded = load_model_card(companion_card)  # checks the weights' sha256 against their card
        companion_network, companion = loaded.network, {"model": companion_name, "sha256": loaded.sha256}
    inference, as_shipped = calibrated_reading(recipe, architecture, settings, hold_out, companion)
    card = {
        "architecture": architecture,
        **({"members": settings.ensemble} if settings.ensemble > 1 else {}),
        "inference": inference,
        "genres": list(GTZAN_GENRES),
        "provisional": False,
        "training": {
            **training_data(recipe + variant, train, test),
            "recipe": {
                "name": recipe,
                "pitch_shift": recipes.pitch_shift_of(recipe),
                "synthetic_clips_per_genre": settings.synth_per_genre if recipe.startswith("synth") else 0,
                "pretrain_steps": settings.pretrain_steps if recipe.startswith("synth") else 0,
                "steps": settings.steps,
                "batch_size": settings.batch,
                "crop_frames": settings.crop_frames,
                "batch_augmentation": "EQ tilt + SpecAugment masks (training/augment.py)" if settings.augment else None,
                "prototype_share": (
                    settings.prototype_share
                    if settings.prototype_share is not None
                    else "sources balanced inside each genre"
                ),
                "weight_averaging": (
                    f"mean of the weights at the end of every epoch after the first {settings.average_from:.0%} "
                    "of training, BatchNorm statistics re-measured for it"
                    if settings.average_from is not None
                    else None
                ),
                "optimizer": "Adam, lr 1e-3, weight decay 1e-4",
                "loss": "cross-entropy",
            },
            "seed": seeds if settings.ensemble > 1 else SEED,
            "teacher": None,
            "seconds": seconds,
            "rebuild": "python -m training.rebuild",
        },
        "metrics": {
            "cross-validated": {
                "split": "training/experiments/study.csv: 5 folds of GTZAN snippet track-number blocks, "
                "one prototype generator held out per fold",
                **study_metrics(recipe, architecture, variant=variant, steps=settings.steps),
            },
            "cross-validated, as shipped": as_shipped,
        },
    }
    return network, companion_network, card


def training_data(recipe: str, train: list[Clip], test: list[Clip]) -> dict:
    """A card's training summary, GTZAN note and data by source and genre."""
    return {
        "summary": (
            f"Not GTZAN's full recordings: the real clips of ../shared/data (GTZAN 2-3 s snippets, "
            f"classical excerpts, genre-prototype clips), recipe {recipe}; "
            + (
                "GTZAN tracks 00041-00050 held out as the test split."
                if test
                else "every one of them, with no test split: the cross-validated figures are the held-out estimate."
            )
        ),
        "on_gtzan": REBUILD_NOTE,
        "data": {"train": source_counts(train), "test": source_counts(test) if test else None},
    }


def fitted_mel_stats(train: list[Clip], test: list[Clip], settings):
    """(mel-stats fitted on the reading windows of ``train``, None, its card less the evaluations, with its
    reading and figures on the study's folds)."""
    began = time.perf_counter()
    data = build_feature_set(train, GTZAN_GENRES, weights=balanced_weights(train))
    network = fit_mel_statistics(reading_windows(data, settings.crop_frames, calibration.WINDOW_HOP))
    seconds = round(time.perf_counter() - began, 1)
    cross_validated, inference, as_shipped = mel_stats_reading(settings, bool(test))
    card = {
        "architecture": MEL_STATS,
        "inference": inference,
        "genres": list(GTZAN_GENRES),
        "provisional": False,
        "training": {
            **training_data("real", train, test),
            "recipe": {
                "name": "real",
                "pitch_shift": 0,
                "crop_frames": settings.crop_frames,
                "windows": f"fitted on the {settings.crop_frames}-frame windows inference reads, "
                f"at most {calibration.WINDOW_HOP} frames apart, each with a share of its segment's weight",
                "prototype_share": "sources balanced inside each genre",
                "fit": FIT_DESCRIPTION,
                "loss": "cross-entropy weighted by the sampling weights",
            },
            "seed": None,
            "teacher": None,
            "seconds": seconds,
            "rebuild": "python -m training.rebuild --models mel-stats",
        },
        "metrics": {"cross-validated": cross_validated, "cross-validated, as shipped": as_shipped},
    }
    return network, None, card


def mel_stats_reading(settings, hold_out: bool) -> tuple[dict, dict, dict]:
    """(figures, ``inference`` section, as-shipped figures) of mel-stats on the study's folds: one run per fold,
    as the fit is deterministic; the test split's snippets left out with ``hold_out`` (a fold left with none
    is left out). The figures are of its windowed reading without the bias."""
    keep = outside_test_split(hold_out)
    clips = recipes.real_clips()
    folds, generator = [], []
    for fold in range(settings.folds):
        _, snippets, prototypes = recipes.split(clips, fold, settings.folds)
        snippets = [clip for clip in snippets if keep(clip)]
        if not snippets:
            continue
        network = calibration.fold_mel_stats(fold, settings.folds, settings.crop_frames)
        reader = calibration.windowed(network, settings.crop_frames)
        data = build_feature_set(snippets, GTZAN_GENRES)
        whole, windows = (learn.predict_probabilities(n, data) for n in (network, reader))
        folds.append((fold, whole, windows, data.labels.numpy(), None))
        generator.append(learn.evaluate(reader, build_feature_set(prototypes, GTZAN_GENRES)).track_accuracy)
    inference, as_shipped = reading_section(
        {SEED: folds}, settings, "mel-stats fitted on the other clips of each fold", "python -m training.rebuild"
    )
    snippets = [calibration.accuracy(f[2], f[3]) for f in folds]
    cross_validated = {
        "split": f"the study's {settings.folds} folds of GTZAN snippet track-number blocks, "
        "one prototype generator held out per fold; windows, no bias",
        "runs": len(folds),
        "folds": len(folds),
        "seeds": [],
        **{
            label: {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values, ddof=1)), 4)}
            for label, values in (
                ("gtzan_snippets_track_accuracy", snippets),
                ("heldout_generator_accuracy", generator),
            )
        },
    }
    return cross_validated, inference, as_shipped


def rebuild_one(model: str, settings: argparse.Namespace, out: Path, hold_out: bool = False) -> dict:
    """Train or fit one shipped model on the real clips (outside the test split, with ``hold_out``);
    save it and its card, with its accuracy on its own training clips and on the test split."""
    learn.use_threads(1)
    train, test = shipped_split(recipes.real_clips(), hold_out)
    if model == MEL_STATS:
        network, companion, card = fitted_mel_stats(train, test, settings)
    else:
        network, companion, card = trained_network(model, settings, train, test, out)
    scorer = scoring_network(network, card, companion)
    if test:
        held_out = learn.evaluate(scorer, build_feature_set(test, GTZAN_GENRES))
        write_evaluation(held_out, REPORTS / f"{model}-test", f"{model}: GTZAN tracks 00041-00050")
        card["metrics"][TEST_SPLIT] = held_out.summary()
    card["metrics"]["own training clips (not held out)"] = learn.evaluate(
        scorer, build_feature_set(train, GTZAN_GENRES)
    ).summary()
    save_model(network, model, out, card)
    return card


def main(argv: list[str] | None = None) -> int:
    """Rebuild the chosen models; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training.rebuild", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(CHOSEN), default=list(CHOSEN))
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once (one core each)")
    parser.add_argument("--out", type=Path, default=REPO / "weights")
    parser.add_argument(
        "--hold-out-test",
        action="store_true",
        help="keep GTZAN tracks 00041-00050 out of training and measure each model on them",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    settings = recipes.settings_parser().parse_args([])
    began = time.perf_counter()
    if any(CHOSEN[model]["recipe"].startswith("synth") for model in args.models):
        build_corpus(settings.synth, settings.synth_per_genre, 0, args.jobs, SYNTH_GENRES, 0)
        log.info("synthetic corpus ready (%.0f s)", time.perf_counter() - began)
    models = [model for model in args.models if model != MEL_STATS]
    cards = [rebuild_one(MEL_STATS, settings, args.out, args.hold_out_test)] if MEL_STATS in args.models else []
    cards += Parallel(n_jobs=args.jobs)(
        delayed(rebuild_one)(model, settings, args.out, args.hold_out_test) for model in models
    )
    for model, card in zip([MEL_STATS] * (len(args.models) - len(models)) + models, cards, strict=True):
        log.info("%s: %s", model, card["metrics"])
    log.info("rebuilt %d model(s) in %.0f s", len(cards), time.perf_counter() - began)
    return 0


if __name__ == "__main__":
    sys.exit(main())
