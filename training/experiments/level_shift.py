"""What the default's reading loses when a window sits below its segment's maximum, with and
without raising each window towards its own maximum.

    python -m training.experiments.level_shift --recipes real --models crnn --seeds 0,1,2 --ensemble 3

The front end scales each 10 s segment to its own maximum (``audio.log_mel``). Every window
of a looped training snippet holds that maximum; a window of a full-length recording may
sit some dB below it. Snippet cross-validation cannot see this, so for every seed and fold
(the study's options for one recipe and model, like ``training.experiments.calibration``)
this lowers the held-out snippets' log-mels by each of ``--shifts`` dB, floored where the
front end floors, and reads them as the default does: the network's windows, the fold's
mel-stats on the same windows, and their blend plus the genre bias fitted on the *other*
folds' unshifted blends (a bias does not know the shift either). Each shift is read two
ways: windows as the front end scales them, as the shipped cards read them, and each window
raised towards its own maximum by at most ``MAX_GAIN_DB`` (``Raised``), the remedy weighed
and not shipped in training/README.md.

Then the fold's held-out GTZAN classical excerpts (15 s real recordings, tracks 11-50,
never trained on by that fold), both ways, and how often each row predicted each genre.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import torch
from torch import nn

from genretag import learn
from genretag.audio import TOP_DB
from genretag.models import GTZAN_GENRES
from training.experiments import recipes
from training.experiments.calibration import (
    accuracy,
    blended,
    fold_mel_stats,
    genres_table,
    paired,
    pooled_bias,
    spread,
    windowed,
)
from training.experiments.held_out import held_out_arguments, held_out_networks
from training.features import build_feature_set

DB_PER_UNIT = TOP_DB / 2  # audio.log_mel maps [-TOP_DB, 0] dB onto [-1, 1]
CLASSICAL = GTZAN_GENRES.index("classical")


def lowered(data: learn.FeatureSet, decibels: float) -> learn.FeatureSet:
    """``data`` with every log-mel value ``decibels`` lower, floored at -1 where ``audio.log_mel`` floors."""
    mels = (data.mels.float() - decibels / DB_PER_UNIT).clamp_min(-1.0).to(data.mels.dtype)
    return dataclasses.replace(data, mels=mels)


MAX_GAIN_DB = 20.0  # a window more than this below its segment's maximum is rare (1 %) and mostly a pause


class Raised(nn.Module):
    """``network`` reading each window raised towards its own maximum (the top of ``audio.log_mel``'s
    scale) by at most ``max_gain_db``."""

    def __init__(self, network: nn.Module, max_gain_db: float):
        super().__init__()
        self.network, self.max_gain = network, max_gain_db / DB_PER_UNIT

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        top = windows.amax(dim=tuple(range(1, windows.dim())), keepdim=True)
        return self.network(windows + (1 - top).clamp(0, self.max_gain))


READINGS = {"front end's scaling": 0.0, f"raised ≤ {MAX_GAIN_DB:g} dB": MAX_GAIN_DB}


def read(network: nn.Module, statistics: nn.Module, data: learn.FeatureSet, frames: int, gain: float):
    """(network's, mel-stats') windowed probabilities of ``data``, windows raised by at most ``gain`` dB."""
    if gain:
        network, statistics = Raised(network, gain), Raised(statistics, gain)
    return tuple(learn.predict_probabilities(windowed(model, frames), data) for model in (network, statistics))


def held_out_classical(fold: int, folds: int) -> list:
    """The GTZAN classical excerpts that ``recipes.split`` keeps out of this fold's training."""
    return [clip for clip in recipes.real_clips() if recipes.is_held_out_excerpt(clip, fold, folds)]


def readings(seed: int, args) -> list[dict]:
    """Per fold: its number, labels, and both models' probabilities for every ``(reading, shift)`` and
    ``(reading, "classical")``."""
    out = []
    for fold, network, snippets in held_out_networks(args.recipes, args.models, seed, args):
        statistics = fold_mel_stats(fold, args.folds, args.crop_frames)
        data = build_feature_set(snippets, GTZAN_GENRES)
        classical = build_feature_set(held_out_classical(fold, args.folds), GTZAN_GENRES)
        reading = {"fold": fold, "labels": data.labels.numpy()}
        for name, gain in READINGS.items():
            for shift in args.shift_list:
                reading[name, shift] = read(network, statistics, lowered(data, shift), args.crop_frames, gain)
            reading[name, "classical"] = read(network, statistics, classical, args.crop_frames, gain)
        out.append(reading)
    return out


def default_scores(folds: list[dict], key: tuple[str, float | str]) -> list[np.ndarray]:
    """Each fold's ``key`` as the default scores it: the blend plus the bias fitted on the other folds'
    unshifted blends of the same reading."""
    unshifted = [(f["fold"], None, f[key[0], 0.0][0], f["labels"], f[key[0], 0.0][1]) for f in folds]
    scores = []
    for reading in folds:
        others = [fold for fold in unshifted if fold[0] != reading["fold"]]
        scores.append(np.log(blended(*reading[key])) + pooled_bias(others, mel_stats=True))
    return scores


def scored(args) -> tuple[dict, dict, dict]:
    """Per ``(reading, shift)``: the network's, mel-stats' and the default's accuracy per run, and the
    default's summed confusion; per reading: the share of classical excerpt segments the default calls
    classical, per run."""
    accuracies, confusions, classical = {}, {}, {}
    for seed in args.seed_list:
        folds = readings(seed, args)
        for name in READINGS:
            for shift in args.shift_list:
                row = accuracies.setdefault((name, shift), {})
                total = confusions.setdefault((name, shift), np.zeros((len(GTZAN_GENRES),) * 2, dtype=np.int64))
                for reading, default in zip(folds, default_scores(folds, (name, shift)), strict=True):
                    network, statistics = reading[name, shift]
                    for model, scores in (("network", network), ("mel-stats", statistics), ("default", default)):
                        row.setdefault(model, []).append(accuracy(scores, reading["labels"]))
                    np.add.at(total, (reading["labels"], default.argmax(axis=1)), 1)
            for default in default_scores(folds, (name, "classical")):
                classical.setdefault(name, []).append(float((default.argmax(axis=1) == CLASSICAL).mean()))
    return accuracies, confusions, classical


def shifts_table(accuracies: dict, confusions: dict, classical: dict[str, list[float]]) -> str:
    """Markdown: each reading and shift's accuracies with the default's paired difference from the same
    reading at 0 dB; the classical excerpts both ways; each row's recall and predictions per genre."""
    lines = [
        "| snippets lowered by | windows | network | mel-stats | default | vs 0 dB (paired) | better / equal / worse |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (name, shift), row in accuracies.items():
        network, statistics, default = (np.array(row[key]) for key in ("network", "mel-stats", "default"))
        unshifted = np.array(accuracies[name, 0.0]["default"])
        lines.append(
            f"| {shift:g} dB | {name} | {spread(network)} | {spread(statistics)} | {spread(default)} "
            f"| {paired(default - unshifted)} |"
        )
    lines += ["", f"{len(unshifted)} runs (seed × fold).", "", "| classical excerpts, windows | called classical |"]
    lines += ["| --- | ---: |", *(f"| {name} | {spread(np.array(values))} |" for name, values in classical.items())]
    by_row = {f"{shift:g} dB, {name}": confusion for (name, shift), confusion in confusions.items()}
    return "\n".join([*lines, "", genres_table(by_row)])


def main(argv: list[str] | None = None) -> int:
    parser = recipes.settings_parser()
    parser.add_argument(
        "--shifts", default="1,2,3,6,10", help="comma list of dB to lower the snippets by (0 is always read)"
    )
    args = held_out_arguments(argv, parser)
    if args is None:
        return 2
    try:
        args.shift_list = sorted({0.0, *(float(value) for value in args.shifts.split(","))})
    except ValueError:
        args.shift_list = []
    if len(args.shift_list) < 2 or min(args.shift_list) < 0:
        refusal = f"--shifts takes a comma list of dB above 0 (0 is always read), not {args.shifts!r}"
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    print(shifts_table(*scored(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
