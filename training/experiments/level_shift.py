"""What the default's reading loses when a window sits below its segment's maximum, and whether
scaling each window to its own maximum wins it back.

    python -m training.experiments.level_shift --recipes real --models crnn --seeds 0,1,2 --ensemble 3

The front end scales each 10 s segment to its own maximum (``audio.log_mel``). Every window
of a looped training snippet holds that maximum; a window of a full-length recording may
sit some dB below it. Snippet cross-validation cannot see this, so for every seed and fold
(the study's options for one recipe and model, like ``training.experiments.calibration``)
this lowers the held-out snippets' log-mels by each of ``--shifts`` dB, floored where the
front end floors, and reads them as the default does: the network's windows, the fold's
mel-stats on the same windows, and their blend plus the genre bias fitted on the *other*
folds' unshifted blends (the shipped bias does not know the shift either); 0 dB is always
read. The last row
reads the largest shift with every window scaled back to its own maximum (``OwnMaximum``).

A second table reads the fold's held-out GTZAN classical excerpts (15 s real recordings,
tracks 11-50, never trained on by that fold) both plainly and with ``OwnMaximum``.
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
from training.experiments.calibration import accuracy, blended, fold_mel_stats, paired, pooled_bias, spread, windowed
from training.experiments.held_out import held_out_arguments, held_out_networks
from training.features import build_feature_set

DB_PER_UNIT = TOP_DB / 2  # audio.log_mel maps [-TOP_DB, 0] dB onto [-1, 1]
CLASSICAL = GTZAN_GENRES.index("classical")


def lowered(data: learn.FeatureSet, decibels: float) -> learn.FeatureSet:
    """``data`` with every log-mel value ``decibels`` lower, floored at -1 where ``audio.log_mel`` floors."""
    mels = (data.mels.float() - decibels / DB_PER_UNIT).clamp_min(-1.0).to(data.mels.dtype)
    return dataclasses.replace(data, mels=mels)


class OwnMaximum(nn.Module):
    """``network`` reading each input raised so that its maximum is 1, as ``audio.log_mel`` scales a segment."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        top = spectrogram.amax(dim=tuple(range(1, spectrogram.dim())), keepdim=True)
        return self.network(spectrogram + (1 - top))


def read(network: nn.Module, statistics: nn.Module, data: learn.FeatureSet, frames: int, own_maximum=False):
    """(network's, mel-stats') windowed probabilities of ``data``, each window at its own maximum if asked."""
    if own_maximum:
        network, statistics = OwnMaximum(network), OwnMaximum(statistics)
    return tuple(learn.predict_probabilities(windowed(model, frames), data) for model in (network, statistics))


def held_out_classical(fold: int, folds: int) -> list:
    """The GTZAN classical excerpts that ``recipes.split`` keeps out of this fold's training."""
    return [
        clip
        for clip in recipes.real_clips()
        if clip.source == ("gtzan-classical",)
        and 11 <= recipes.track_number(clip) <= 50
        and recipes.fold_of(recipes.track_number(clip), folds) == fold
    ]


def readings(seed: int, args) -> list[dict]:
    """Per fold: the labels and every reading (``(shift, own maximum)`` and ``"classical"``/own maximum)."""
    out = []
    for fold, network, snippets in held_out_networks(args.recipes, args.models, seed, args):
        statistics = fold_mel_stats(fold, args.folds, args.crop_frames)
        data = build_feature_set(snippets, GTZAN_GENRES)
        reading = {"fold": fold, "labels": data.labels.numpy()}
        for shift in args.shift_list:
            reading[shift, False] = read(network, statistics, lowered(data, shift), args.crop_frames)
        largest = max(args.shift_list)
        reading[largest, True] = read(network, statistics, lowered(data, largest), args.crop_frames, True)
        classical = build_feature_set(held_out_classical(fold, args.folds), GTZAN_GENRES)
        for own_maximum in (False, True):
            reading["classical", own_maximum] = read(network, statistics, classical, args.crop_frames, own_maximum)
        out.append(reading)
    return out


def default_scores(folds: list[dict], key) -> list[np.ndarray]:
    """Each fold's reading ``key`` as the default scores it: the blend plus the bias fitted on the other
    folds' unshifted blends."""
    unshifted = [(f["fold"], None, f[0, False][0], f["labels"], f[0, False][1]) for f in folds]
    scores = []
    for reading in folds:
        others = [fold for fold in unshifted if fold[0] != reading["fold"]]
        scores.append(np.log(blended(*reading[key])) + pooled_bias(others, mel_stats=True))
    return scores


def scored(args) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[float]]]:
    """(per shift row: accuracy of the network, mel-stats and the default per run; per classical reading:
    the share of excerpt segments the default calls classical per run)."""
    shifts, classical = {}, {}
    for seed in args.seed_list:
        folds = readings(seed, args)
        for key in [k for k in folds[0] if isinstance(k, tuple) and k[0] != "classical"]:
            row = shifts.setdefault(f"{key[0]:g} dB" + (", windows at their own maximum" if key[1] else ""), {})
            for reading, default in zip(folds, default_scores(folds, key), strict=True):
                network, statistics = reading[key]
                for name, scores in (("network", network), ("mel-stats", statistics), ("default", default)):
                    row.setdefault(name, []).append(accuracy(scores, reading["labels"]))
        for own_maximum in (False, True):
            name = "windows at their own maximum" if own_maximum else "as shipped"
            for default in default_scores(folds, ("classical", own_maximum)):
                classical.setdefault(name, []).append(float((default.argmax(axis=1) == CLASSICAL).mean()))
    return shifts, classical


def shifts_table(shifts: dict[str, dict[str, list[float]]], classical: dict[str, list[float]]) -> str:
    """Markdown: each shift's accuracies and the default's paired difference from 0 dB; then the
    classical excerpts' recall both ways."""
    unshifted = np.array(shifts["0 dB"]["default"])
    lines = [
        "| held-out snippets lowered by | network | mel-stats | default | vs 0 dB (paired) | better / equal / worse |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in shifts.items():
        network, statistics, default = (np.array(row[key]) for key in ("network", "mel-stats", "default"))
        lines.append(
            f"| {name} | {spread(network)} | {spread(statistics)} | {spread(default)} | {paired(default - unshifted)} |"
        )
    lines += [
        "",
        f"{len(unshifted)} runs (seed × fold).",
        "",
        "| classical excerpts read | segments called classical |",
    ]
    lines.append("| --- | ---: |")
    lines += [f"| {name} | {spread(np.array(values))} |" for name, values in classical.items()]
    return "\n".join(lines)


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
    args.seed_list = [int(seed) for seed in args.seeds.split(",")]
    print(shifts_table(*scored(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
