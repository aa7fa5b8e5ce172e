"""Which statistics, penalty and training sources make mel-stats most useful to the default's blend.

    python -m training.experiments.mel_stats_variants --recipes real --models crnn --seeds 0,1,2 --ensemble 3

Takes the study's options for one recipe and model (like ``training.experiments.calibration``),
whose held-out windowed predictions are the crnn side of the blend. For every fold, each
variant below refits mel-stats on that fold's training windows (``training/mel_stats.py``,
the shipped statistics plus the variant's own) and reads the held-out snippets' windows;
the blend and its nested bias are ``calibration.nested_scores``' "windows + mel-stats + bias".

Prints, as Markdown, each variant's snippet accuracy alone and in the blend (mean ±
standard deviation over seed × fold), and the blend's paired difference from the shipped
fit (``shipped``) on the same runs. ``--variants`` picks some by name.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from genretag.learn import FeatureSet
from genretag.models import GTZAN_GENRES, N_MELS, log_mean_probability, window_starts
from training.corpus import folder_corpus
from training.experiments import recipes
from training.experiments.calibration import (
    WINDOW_HOP,
    fold_training_windows,
    held_out_windowed,
    nested_accuracies,
    paired,
    spread,
)
from training.experiments.held_out import held_out_arguments
from training.features import build_feature_set
from training.mel_stats import BATCH, INVERSE_PENALTY, fit_logistic, reading_windows, statistics
from training.synth.corpus import build_corpus
from training.synth.styles import GENRES as SYNTH_GENRES

SYNTH_PER_GENRE = 60  # rendered clips per genre for the synthetic-share variants (about 80 s on 2 cores)
BLEND = "windows + mel-stats + bias"


def _bands(spectrogram: torch.Tensor, groups: int = N_MELS) -> torch.Tensor:
    """``(batch, groups, frames)``: the mel bands averaged in ``groups`` equal groups of neighbours."""
    bands = spectrogram.reshape(spectrogram.shape[0], N_MELS, -1).float()
    return bands.view(bands.shape[0], groups, N_MELS // groups, -1).mean(dim=2)


def _correlations(series: torch.Tensor) -> torch.Tensor:
    """``(batch, k (k - 1) / 2)``: the correlation over time of every pair of the ``k`` series."""
    centred = series - series.mean(dim=2, keepdim=True)
    unit = centred / (centred.norm(dim=2, keepdim=True) + 1e-6)
    pairs = torch.triu_indices(series.shape[1], series.shape[1], 1)
    return (unit @ unit.transpose(1, 2))[:, pairs[0], pairs[1]]


def band_correlations(spectrogram: torch.Tensor) -> torch.Tensor:
    """Correlations between 16 groups of 8 bands."""
    return _correlations(_bands(spectrogram, 16))


def change_correlations(spectrogram: torch.Tensor) -> torch.Tensor:
    """Correlations between the frame-to-frame changes of 16 groups of 8 bands."""
    return _correlations(_bands(spectrogram, 16).diff(dim=2))


def band_contrast(spectrogram: torch.Tensor) -> torch.Tensor:
    """In 8 groups of 16 bands, each frame's loudest band above the group mean: its mean and spread."""
    bands = spectrogram.reshape(spectrogram.shape[0], 8, N_MELS // 8, -1).float()
    contrast = bands.amax(dim=2) - bands.mean(dim=2)
    return torch.cat([contrast.mean(dim=2), contrast.std(dim=2, correction=0)], dim=1)


def band_skewness(spectrogram: torch.Tensor) -> torch.Tensor:
    """Each band's skewness over time."""
    bands = _bands(spectrogram)
    centred = bands - bands.mean(dim=2, keepdim=True)
    return (centred**3).mean(dim=2) / (centred.square().mean(dim=2) + 1e-6) ** 1.5


def band_percentiles(spectrogram: torch.Tensor) -> torch.Tensor:
    """Every band's 10th percentile over time, then every band's median, then every band's 90th percentile."""
    quantiles = torch.tensor([0.1, 0.5, 0.9])
    return torch.quantile(_bands(spectrogram), quantiles, dim=2).permute(1, 0, 2).flatten(1)


def quarter_rhythm(spectrogram: torch.Tensor) -> torch.Tensor:
    """The onset envelope of each quarter of the bands, autocorrelated at every second lag of 2-64 frames."""
    onsets = _bands(spectrogram, 4).diff(dim=2).clamp_min(0)
    onsets = onsets - onsets.mean(dim=2, keepdim=True)
    lags = range(2, 65, 2)
    products = torch.stack([(onsets[..., :-lag] * onsets[..., lag:]).mean(dim=2) for lag in lags], dim=2)
    return (products / (onsets.var(dim=2, correction=0, keepdim=True) + 1e-6)).flatten(1)


@dataclass(frozen=True)
class Variant:
    """One way of fitting mel-stats: extra statistics, penalty, and the training sources' shares."""

    name: str
    extra: Callable[[torch.Tensor], torch.Tensor] | None = None
    inverse_penalty: float = INVERSE_PENALTY
    prototype_factor: float = 1.0  # prototypes' weight against the balanced share, each genre's total kept
    synth_share: float = 0.0  # share of each genre's weight given to rendered synthetic clips

    def statistics(self, data: FeatureSet) -> torch.Tensor:
        shipped = statistics(data)
        if self.extra is None:
            return shipped
        extra = torch.cat([self.extra(data.mels[start : start + BATCH]) for start in range(0, len(data), BATCH)])
        return torch.cat([shipped, extra], dim=1)


VARIANTS = (
    Variant("shipped"),
    Variant("C = 0.01", inverse_penalty=0.01),
    Variant("C = 1", inverse_penalty=1.0),
    Variant("+ band correlations", band_correlations),
    Variant("+ change correlations", change_correlations),
    Variant("+ band contrast", band_contrast),
    Variant("+ band skewness", band_skewness),
    Variant("+ band percentiles", band_percentiles),
    Variant("+ rhythm per band quarter", quarter_rhythm),
    Variant("no prototypes", prototype_factor=0.0),
    Variant("prototypes × 2", prototype_factor=2.0),
    Variant("synthetic share 0.1", synth_share=0.1),
    Variant("synthetic share 0.25", synth_share=0.25),
)


def reweighted(data: FeatureSet, is_prototype: torch.Tensor, factor: float) -> FeatureSet:
    """``data`` with its prototype segments' weights times ``factor``, each genre's total weight kept."""
    weights = data.weights * torch.where(is_prototype, factor, 1.0)
    for genre in data.labels.unique():
        rows = data.labels == genre
        weights[rows] *= data.weights[rows].sum() / weights[rows].sum()
    return dataclasses.replace(data, weights=weights)


def with_share(data: FeatureSet, extra: FeatureSet, share: float) -> FeatureSet:
    """``data`` and ``extra`` together, ``extra`` given ``share`` of each genre's total weight."""
    weights, extra_weights = data.weights.clone(), extra.weights.clone()
    for genre in data.labels.unique():
        rows, extra_rows = data.labels == genre, extra.labels == genre
        total = weights[rows].sum()
        weights[rows] *= 1 - share
        extra_weights[extra_rows] *= share * total / extra_weights[extra_rows].sum()
    offset = int(data.tracks.max()) + 1
    return FeatureSet(
        mels=torch.cat([data.mels, extra.mels]),
        labels=torch.cat([data.labels, extra.labels]),
        tracks=torch.cat([data.tracks, extra.tracks + offset]),
        weights=torch.cat([weights, extra_weights]),
        original=torch.cat([data.original, extra.original]),
        genres=data.genres,
        track_names=[*data.track_names, *extra.track_names],
    )


@cache
def fold_windows(fold: int, folds: int, frames: int) -> tuple[FeatureSet, FeatureSet, int]:
    """(``calibration.fold_training_windows``, held-out snippet windows, windows per snippet) of one study
    fold."""
    _, snippets, _ = recipes.split(recipes.real_clips(), fold, folds)
    held_out = build_feature_set(snippets, GTZAN_GENRES)
    count = len(window_starts(held_out.mels.shape[-1], frames, WINDOW_HOP))
    return fold_training_windows(fold, folds, frames), reading_windows(held_out, frames, WINDOW_HOP), count


@cache
def synthetic_windows(synth: Path, frames: int) -> FeatureSet:
    """Windows of ``SYNTH_PER_GENRE`` rendered clips per genre (rendered into ``synth`` when missing)."""
    build_corpus(synth, SYNTH_PER_GENRE, 0, 2, SYNTH_GENRES, 0)
    clips = [
        dataclasses.replace(clip, source=("synthetic",))
        for clip in folder_corpus(synth)
        if int(clip.path.stem.rsplit(".", 1)[1]) < SYNTH_PER_GENRE
    ]
    return reading_windows(build_feature_set(clips, GTZAN_GENRES), frames, WINDOW_HOP)


def training_windows(variant: Variant, fold: int, args) -> FeatureSet:
    """The fold's training windows, reweighted or joined by synthetic clips as the variant says."""
    data, _, _ = fold_windows(fold, args.folds, args.crop_frames)
    if variant.prototype_factor != 1.0:
        names = [data.track_names[track] for track in data.tracks.tolist()]
        is_prototype = torch.tensor([name.split("/")[0] in recipes.GENERATORS for name in names])
        data = reweighted(data, is_prototype, variant.prototype_factor)
    if variant.synth_share:
        data = with_share(data, synthetic_windows(args.synth, args.crop_frames), variant.synth_share)
    return data


def held_out_probabilities(variant: Variant, fold: int, args) -> np.ndarray:
    """Each held-out snippet's probabilities from the variant's mel-stats, fitted without its fold."""
    train = training_windows(variant, fold, args)
    fit = fit_logistic(
        variant.statistics(train), train.labels, train.weights, len(GTZAN_GENRES), variant.inverse_penalty
    )
    _, held_out, count = fold_windows(fold, args.folds, args.crop_frames)
    return log_mean_probability(fit.scores(variant.statistics(held_out).double()), count).exp().numpy()


def scored_variants(variants: list[Variant], args) -> dict[str, dict[str, list[float]]]:
    """Per variant: snippet accuracy alone (``mel-stats``) and in the blend (``BLEND``), one per seed × fold."""
    crnn = {seed: held_out_windowed(args.recipes, args.models, seed, args) for seed in args.seed_list}
    out = {}
    for variant in variants:
        probabilities = {fold: held_out_probabilities(variant, fold, args) for fold in range(args.folds)}
        runs = out[variant.name] = {"mel-stats": [], BLEND: []}
        for folds in crnn.values():
            with_statistics = [(*fold[:4], probabilities[fold[0]]) for fold in folds]
            accuracies = nested_accuracies(with_statistics)
            for way, per_fold in runs.items():
                per_fold.extend(accuracies[way].values())
    return out


def variants_table(scored: dict[str, dict[str, list[float]]]) -> str:
    """Markdown: each variant alone and in the blend, and the blend's paired difference from ``shipped``."""
    shipped = np.array(scored["shipped"][BLEND])
    lines = [
        "| mel-stats fit | alone | default blend | vs shipped (paired) | better / equal / worse |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in scored.items():
        alone, blend = np.array(runs["mel-stats"]), np.array(runs[BLEND])
        lines.append(f"| {name} | {spread(alone)} | {spread(blend)} | {paired(blend - shipped)} |")
    return "\n".join(lines + ["", f"{len(shipped)} runs (seed × fold)."])


def main(argv: list[str] | None = None) -> int:
    parser = recipes.settings_parser()
    names = ", ".join(variant.name for variant in VARIANTS)
    parser.add_argument("--variants", default="", help=f"semicolon list of these (default all): {names}")
    args = held_out_arguments(argv, parser)
    if args is None:
        return 2
    wanted = [name.strip() for name in args.variants.split(";") if name.strip()]
    unknown = sorted(set(wanted) - {variant.name for variant in VARIANTS})
    if unknown:
        print(f"error: unknown variant(s) {', '.join(unknown)} (known: {names})", file=sys.stderr)
        return 2
    chosen = [v for v in VARIANTS if v.name == "shipped" or not wanted or v.name in wanted]
    print(variants_table(scored_variants(chosen, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
