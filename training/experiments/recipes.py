"""Recipe study: which training recipe tags real music best, measured so recipes can be told apart.

Validation (per fold, repeated over seeds):

* GTZAN snippets (../shared/data/gtzan-snippets, tracks 11-50 of each genre) are split
  into ``--folds`` contiguous blocks of track numbers, the same blocks in every genre,
  so GTZAN's same-artist runs of neighbouring tracks stay on one side; the GTZAN
  classical excerpts of the held-out block's track numbers leave training too (they
  are the same recordings);
* one whole prototype generator (apnet, pecmae-3, pecmae-5-10s, xai-mapped in turn)
  is held out and scored separately;
* every run also tags the clips of ../shared/audio/cc (whole-track mean).

``--snippet-share F`` trains on the first F of every block's snippet tracks only
(the held-out block and everything else unchanged): the learning curve that says
how much more real audio would be worth.

Other knobs, each labelled in the summary: ``--average-from F`` ends on the mean of
the weights of the epochs after the first F of training; ``--prototype-share P``
gives each genre's prototype clips P of its sampling weight; ``--crop-frames`` sets
the training window; ``--ensemble N`` scores the mean prediction of N networks
trained with consecutive seeds (``--members crnn,crnn,bicrnn``: of these architectures);
``--distil N`` trains the network on the mean prediction of
N teachers of the same recipe (training/distil.py) besides the labels, and also scores
the teachers' ensemble (``teacher_acc``); with ``--mixup`` the distilled network
learns from fresh windows mixed in pairs (training/augment.py), on the teachers'
predictions alone; ``--fresh-windows`` trains on a fresh random window of every
segment in every batch instead of two windows per segment drawn once;
``--label-smoothing S`` trains against labels that spread S over all genres; ``--soup N``
ends on the mean weights of N networks spawned from one trunk after ``--spawn-at`` of
the steps.

Recipes: ``real`` trains on snippets + prototypes + GTZAN classical with the sources
balanced inside each class; ``real-ps`` adds ±1 semitone pitch-shifted copies;
``synth-frozen`` / ``synth-full`` first pre-train on the synthetic corpus
(``python -m training.synth``) and then fine-tune on the real set with the
convolutional front frozen / everything trainable; ``synth-full-ps`` is ``synth-full``
with the pitch-shifted copies; ``synth-only`` skips fine-tuning.

To fit two CPU cores, training sees random ``--crop-frames`` windows of each 10 s
segment (the networks pool over time, so they run on any length); validation
always uses whole segments. Results are appended to ``study.csv`` beside this file
(``--out``; the smaller pilot study of training/README.md is ``results.csv``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import fcntl
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import pandas
import torch
from torch import nn
from torch.nn import functional

from genretag import audio, learn, models
from genretag.models import GTZAN_GENRES, Ensemble
from training.augment import mixed_windows, random_windows, spec_augment
from training.corpus import Clip, balanced_weights, folder_corpus
from training.distil import DistillationLoss, average_weights, cached_network
from training.features import build_feature_set

SHARED = Path(__file__).resolve().parents[3] / "shared"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "study.csv"
PRETRAINED = Path(__file__).resolve().parents[1] / "cache" / "experiments"
GENERATORS = ("apnet", "pecmae-3", "pecmae-5-10s", "xai-mapped")
ABBREVIATIONS = {g[:3]: g for g in GTZAN_GENRES} | {"hip-hop": "hiphop"}
RECIPES = ("real", "real-ps", "synth-only", "synth-frozen", "synth-full", "synth-full-ps")
CROP_FRAMES = 128  # the training window the study and the shipped weights use, unless a run says otherwise
CC_EXPECTED = {"Allegro": "classical", "Tchaikovsky": "classical", "Vibe_Ace": "jazz", "Fishin": "country"}


def cc_expected(name: str) -> str | None:
    """The genre the ../shared/audio/cc clip called ``name`` is known to have; None for the trumpet loop."""
    return next((genre for key, genre in CC_EXPECTED.items() if key in name), None)


def _prototype_genre(path: Path) -> str:
    for token in re.split(r"[_.\-]+|__", path.stem.lower()) + [path.stem.split("__")[0]]:
        if token in GTZAN_GENRES:
            return token
        if token in ABBREVIATIONS:
            return ABBREVIATIONS[token]
    if "hip-hop" in path.stem:
        return "hiphop"
    raise ValueError(f"{path}: no genre in the file name")


def real_clips(shared: Path = SHARED) -> list[Clip]:
    """Snippets, prototypes and GTZAN classical excerpts, each with its source as ``Clip.source``."""
    data = shared / "data"
    clips = []
    for path in sorted((data / "gtzan-snippets").glob("*.flac")):
        clips.append(Clip(path, path.stem.split(".")[0], path.stem, ("snippets",)))
    for generator in GENERATORS:
        for path in sorted((data / "prototypes" / generator).glob("*.flac")):
            clips.append(Clip(path, _prototype_genre(path), f"{generator}/{path.stem}", ("prototypes", generator)))
    for path in sorted((data / "gtzan-classical").glob("*.flac")):
        clips.append(Clip(path, "classical", f"gtzan-classical/{path.stem}", ("gtzan-classical",)))
    return clips


def track_number(clip: Clip) -> int | None:
    """The GTZAN track number of a snippet or classical excerpt, else None."""
    match = re.search(r"\.(\d{5})$", clip.track)
    return int(match.group(1)) if match and clip.source[0] != "prototypes" else None


def fold_of(number: int, folds: int) -> int:
    """Contiguous blocks of the snippets' track numbers 11-50."""
    return min(folds - 1, max(0, (number - 11) * folds // 40))


def is_held_out_excerpt(clip: Clip, fold: int, folds: int) -> bool:
    """Whether ``clip`` is a GTZAN classical excerpt of a track whose snippet this fold holds out."""
    number = track_number(clip)
    return clip.source == ("gtzan-classical",) and 11 <= number <= 50 and fold_of(number, folds) == fold


def split(
    clips: list[Clip], fold: int, folds: int, snippet_share: float = 1.0
) -> tuple[list[Clip], list[Clip], list[Clip]]:
    """(train, held-out snippets, held-out generator's prototypes) of one fold.

    Training keeps the first ``snippet_share`` of each block's snippet track numbers.
    """
    held_generator = GENERATORS[fold % len(GENERATORS)]
    train, snippets, prototypes = [], [], []
    for clip in clips:
        number = track_number(clip)
        if clip.source == ("snippets",) and fold_of(number, folds) == fold:
            snippets.append(clip)
        elif clip.source == ("snippets",) and (number - 11) * folds % 40 >= 40 * snippet_share:
            continue  # left out of this learning-curve point
        elif clip.source[0] == "prototypes" and clip.source[1] == held_generator:
            prototypes.append(clip)
        elif is_held_out_excerpt(clip, fold, folds):
            continue  # the same recording as a held-out snippet
        else:
            train.append(clip)
    return train, snippets, prototypes


def cropped(data: learn.FeatureSet, frames: int, copies: int, seed: int) -> learn.FeatureSet:
    """``copies`` random windows of ``frames`` frames from every segment (training only)."""
    if frames >= data.mels.shape[-1]:
        return data
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, data.mels.shape[-1] - frames + 1, (copies, len(data)), generator=generator)
    mels = torch.cat(
        [torch.stack([m[:, s : s + frames] for m, s in zip(data.mels, row, strict=True)]) for row in starts]
    )

    def tile(tensor):
        return tensor.repeat(copies)

    return learn.FeatureSet(
        mels,
        tile(data.labels),
        tile(data.tracks),
        tile(data.weights),
        tile(data.original),
        data.genres,
        data.track_names,
    )


class FrozenModule(nn.Module):
    """Runs a module in eval mode without gradients and hides its parameters from the optimiser."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        object.__setattr__(self, "inner", inner)  # not registered: no parameters, no state

    def forward(self, x):
        self.inner.eval()
        with torch.no_grad():
            return self.inner(x)


def pretrained(model: str, seed: int, synth: Path, per_genre: int, args) -> nn.Module:
    """The network pre-trained on the synthetic corpus (cached on disk per model/seed/size)."""
    augmented = "-aug" if args.augment else ""
    path = PRETRAINED / f"{model}-s{seed}-n{per_genre}-c{args.crop_frames}-st{args.pretrain_steps}{augmented}.pt"
    torch.manual_seed(seed)
    network = models.build(model)
    if path.is_file():
        network.load_state_dict(torch.load(path, weights_only=True))
        return network
    clips = [c for c in folder_corpus(synth) if int(c.path.stem.rsplit(".", 1)[1]) < per_genre]
    data = build_feature_set(clips, GTZAN_GENRES)
    data = cropped(data, args.crop_frames, 1, seed)
    fit_for_steps(network, data, args.pretrain_steps, len(data), seed, args)
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return network


def cc_genres(network: nn.Module, shared: Path = SHARED) -> dict[str, str]:
    """Track genre (mean over segments) of each ../shared/audio/cc clip."""
    out = {}
    network.eval()
    for path in sorted((shared / "audio" / "cc").glob("*.ogg")):
        segments = audio.segment_array(audio.load(path))
        with torch.inference_mode():
            probabilities = torch.softmax(network(audio.log_mel(segments).unsqueeze(1)), dim=1).mean(dim=0)
        out[path.stem.split("_-_")[-1][:24]] = GTZAN_GENRES[int(probabilities.argmax())]
    return out


def train_recipe(recipe: str, model: str, train: list[Clip], seed: int, args, loss=None) -> nn.Module:
    """One network trained by ``recipe`` on ``train`` (synthetic pre-training cached on disk);
    ``loss``: the batch loss instead of cross-entropy (``learn.fit``)."""
    if recipe.startswith("synth"):
        network = pretrained(model, seed, args.synth, args.synth_per_genre, args)
    else:
        torch.manual_seed(seed)
        network = models.build(model)
    if recipe == "synth-only":
        return network
    if loss is None and args.label_smoothing:
        loss = smoothed_cross_entropy(args.label_smoothing)
    weights = prototype_weighted(train, balanced_weights(train), args.prototype_share)
    data = build_feature_set(train, GTZAN_GENRES, pitch_shift=pitch_shift_of(recipe), weights=weights)
    views = None
    if loss and args.mixup:
        views = mixed_windows(args.crop_frames)
    elif args.fresh_windows:
        views = random_windows(args.crop_frames)
    if views is None:
        data = cropped(data, args.crop_frames, 2, seed)
    front = network.features
    if recipe == "synth-frozen":
        network.features = FrozenModule(front)
    if args.soup > 1:
        network = soup(network, data, seed, args, loss, views)
    else:
        fit_for_steps(network, data, args.steps, args.samples_per_epoch, seed, args, args.average_from, loss, views)
    network.features = front
    return network


def smoothed_cross_entropy(smoothing: float):
    """A batch loss for ``learn.fit``: cross-entropy against labels that give ``smoothing``
    of their weight to all genres alike (label smoothing, Szegedy et al. 2016)."""

    def loss(scores: torch.Tensor, labels: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(scores, labels, label_smoothing=smoothing)

    return loss


def soup(network: nn.Module, data: learn.FeatureSet, seed: int, args, loss=None, views=None) -> nn.Module:
    """``args.soup`` networks spawned from one trunk, their weights averaged into ``network``.

    The trunk trains for the first ``args.spawn_at`` of the steps; each child then finishes the
    steps from it with its own seed (batch order, augmentation). Children that share a trunk
    stay in one basin of the loss, so the mean of their weights is itself a good network
    (Frankle et al. 2020; Wortsman et al. 2022): one network of the same size, unlike an ensemble.
    """
    trunk_steps = int(args.steps * args.spawn_at)
    fit_for_steps(network, data, trunk_steps, args.samples_per_epoch, seed, args, None, loss, views)
    steps, children = args.steps - trunk_steps, []
    for k in range(args.soup):
        child = copy.deepcopy(network)
        fit_for_steps(child, data, steps, args.samples_per_epoch, seed + 1 + k, args, args.average_from, loss, views)
        children.append(child)
    load_averaged(network, average_weights(children), data, seed)
    return network


def load_averaged(network: nn.Module, weights: dict, data: learn.FeatureSet, seed: int) -> None:
    """Give ``network`` averaged ``weights``, BatchNorm statistics measured for them, and eval mode."""
    network.load_state_dict(weights, strict=False)
    learn.recalibrate_batch_norm(network, data.originals(), seed)
    network.eval()


# The settings that change what ``train_recipe`` trains (besides recipe, model, clips and seed).
TRAINING_SETTINGS = (
    "steps",
    "samples_per_epoch",
    "batch",
    "crop_frames",
    "augment",
    "prototype_share",
    "average_from",
    "synth_per_genre",
    "pretrain_steps",
)
# Settings added since networks were first cached: they join the cache key only when set,
# so the networks cached before them keep their names.
LATER_TRAINING_SETTINGS = ("fresh_windows", "label_smoothing")


def recipe_network_path(recipe: str, model: str, train: list[Clip], seed: int, args) -> Path:
    """Where ``cached_recipe_network`` keeps a network: named by a hash of all it depends on."""
    settings = {name: getattr(args, name) for name in TRAINING_SETTINGS}
    settings |= {name: getattr(args, name) for name in LATER_TRAINING_SETTINGS if getattr(args, name)}
    key = json.dumps([recipe, model, seed, sorted(str(clip.path) for clip in train), settings], default=str)
    return PRETRAINED / f"network-{model}-{recipe}-s{seed}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def cached_recipe_network(recipe: str, model: str, train: list[Clip], seed: int, args) -> nn.Module:
    """``train_recipe``'s network, cached in training/cache/experiments (an ensemble's members and a
    distilled network's teachers)."""
    path = recipe_network_path(recipe, model, train, seed, args)
    return cached_network(path, model, lambda: train_recipe(recipe, model, train, seed, args))


def cached_ensemble(recipe: str, architectures: list[str], train: list[Clip], seed: int, args) -> Ensemble:
    """An ``Ensemble`` of cached ``recipe`` networks of these architectures, seeds ``seed``, ``seed``+1, …"""
    return Ensemble([cached_recipe_network(recipe, a, train, seed + k, args) for k, a in enumerate(architectures)])


def train_network(recipe: str, model: str, train: list[Clip], seed: int, args) -> tuple[nn.Module, nn.Module | None]:
    """(network, its teachers' ensemble): with ``args.distil`` N, the network is distilled from N
    networks of the same recipe trained with seeds ``seed``+1 … ``seed``+N; otherwise no teachers."""
    if not args.distil:
        return train_recipe(recipe, model, train, seed, args), None
    teachers = [cached_recipe_network(recipe, model, train, seed + 1 + k, args) for k in range(args.distil)]
    loss = DistillationLoss(teachers, args.distil_weight, args.temperature)
    return train_recipe(recipe, model, train, seed, args, loss), Ensemble(teachers)


def prototype_weighted(clips: list[Clip], weights: list[float], share: float | None) -> list[float]:
    """Sampling weights where each genre's prototype clips get ``share`` of its weight (None: unchanged)."""
    if share is None:
        return weights
    out = list(weights)
    for genre in {clip.genre for clip in clips}:
        in_genre = [i for i, clip in enumerate(clips) if clip.genre == genre]
        genre_total = sum(weights[i] for i in in_genre)
        for is_prototype, part in ((True, share), (False, 1 - share)):
            members = [i for i in in_genre if (clips[i].source[0] == "prototypes") == is_prototype]
            total = sum(weights[i] for i in members)
            for i in members:
                out[i] = weights[i] / total * part * genre_total
    return out


class WeightAverage:
    """Running mean of a network's weights at the end of each epoch from ``first_epoch`` on (weight averaging)."""

    def __init__(self, network: nn.Module, first_epoch: int):
        self.network, self.first_epoch, self.count, self.mean = network, first_epoch, 0, {}

    def __call__(self, progress: learn.FitProgress) -> None:
        if not progress.epoch_done or progress.epoch < self.first_epoch:
            return
        self.count += 1
        for name, value in self.network.state_dict().items():
            if value.is_floating_point():
                value = value.detach().float()
                mean = self.mean.setdefault(name, torch.zeros_like(value))
                mean += (value - mean) / self.count

    def load_into_network(self, data: learn.FeatureSet, seed: int) -> None:
        """Give the network the averaged weights and BatchNorm statistics measured for them."""
        load_averaged(self.network, self.mean, data, seed)


def fit_for_steps(
    network: nn.Module,
    data: learn.FeatureSet,
    steps: int,
    samples_per_epoch: int,
    seed: int,
    args,
    average_from: float | None = None,
    loss=None,
    views=None,
):
    """``learn.fit`` for about ``steps`` batches of ``args.batch``, in whole epochs of ``samples_per_epoch``,
    each batch augmented by ``views`` (default: ``augment(args)``).

    ``average_from`` F: the network ends with the mean of its weights at the end of every
    epoch from the first F of training on.
    """
    epochs = max(1, steps * args.batch // samples_per_epoch)
    average = WeightAverage(network, int(epochs * average_from) + 1) if average_from is not None else None
    learn.fit(
        network,
        data,
        epochs=epochs,
        seed=seed,
        batch_size=args.batch,
        samples_per_epoch=samples_per_epoch,
        augment=views or augment(args),
        progress=average,
        loss=loss,
    )
    if average is not None:
        average.load_into_network(data, seed)


def augment(args):
    """The batch augmentation of ``--augment`` (training/augment.py), or None."""
    return spec_augment if args.augment else None


def pitch_shift_of(recipe: str) -> int:
    """Semitones of pitch shift (C_ps) a recipe adds: ±1 for the ``-ps`` recipes, else none."""
    return 1 if recipe.endswith("-ps") else 0


def run(recipe: str, model: str, fold: int, seed: int, clips: list[Clip], args) -> dict:
    """Train one recipe on one fold with one seed and score it."""
    began = time.perf_counter()
    train, snippets, prototypes = split(clips, fold, args.folds, args.snippet_share)
    architectures = args.members.split(",") if args.members else [model] * args.ensemble
    if len(architectures) > 1:
        network, teachers = cached_ensemble(recipe, architectures, train, seed, args), None
    else:
        network, teachers = train_network(recipe, model, train, seed, args)
    snippet_set = build_feature_set(snippets, GTZAN_GENRES)
    snippet_eval = learn.evaluate(network, snippet_set)
    prototype_eval = learn.evaluate(network, build_feature_set(prototypes, GTZAN_GENRES))
    cc = " ".join(f"{name}={genre}" for name, genre in cc_genres(network).items())
    predicted = snippet_eval.confusion.sum(axis=0)
    return {
        "recipe": recipe,
        "model": model,
        "fold": fold,
        "seed": seed,
        "snippet_acc": round(snippet_eval.track_accuracy, 4),
        "n_snippets": snippet_eval.n_tracks,
        "heldout_generator": GENERATORS[fold % len(GENERATORS)],
        "prototype_acc": round(prototype_eval.track_accuracy, 4),
        "n_prototypes": prototype_eval.n_tracks,
        "genres_predicted": int((predicted > 0).sum()),
        "cc_right_of_4": cc_right(cc),
        "cc": cc,
        "augment": bool(args.augment),
        "snippet_share": args.snippet_share,
        "prototype_share": args.prototype_share,
        "average_from": args.average_from,
        "ensemble": len(architectures),
        "members": args.members or None,
        "distil": args.distil,
        "distil_weight": args.distil_weight if args.distil else None,
        "temperature": args.temperature if args.distil else None,
        "mixup": bool(args.mixup),
        "fresh_windows": bool(args.fresh_windows),
        "label_smoothing": args.label_smoothing,
        "soup": args.soup,
        "spawn_at": args.spawn_at if args.soup > 1 else None,
        "teacher_acc": round(learn.evaluate(teachers, snippet_set).track_accuracy, 4) if teachers else None,
        "steps": args.steps,
        "crop_frames": args.crop_frames,
        "synth_per_genre": args.synth_per_genre if recipe.startswith("synth") else 0,
        "seconds": round(time.perf_counter() - began, 1),
    }


def cc_right(cc: str) -> int:
    """How many of the four genre-known cc clips a run's ``cc`` column tags as expected."""
    tagged = dict(item.split("=") for item in cc.split())
    return sum(genre == cc_expected(name) for name, genre in tagged.items())


def summarise(path: Path = RESULTS) -> str:
    """A Markdown table: recipe x steps x model -> mean ± standard deviation over folds and seeds."""
    table = pandas.read_csv(path)
    table["cc_right_of_4"] = table["cc"].map(cc_right)
    table["recipe"] = table["recipe"] + variant(table)
    lines = [
        "| recipe | steps | model | runs | snippet accuracy | held-out generator accuracy | cc clips right (of 4) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (recipe, steps, model), group in table.groupby(["recipe", "steps", "model"], sort=False):
        cells = [
            f"{group[column].mean():.3f} ± {group[column].std(ddof=1) if len(group) > 1 else 0:.3f}"
            for column in ("snippet_acc", "prototype_acc", "cc_right_of_4")
        ]
        lines.append(f"| {recipe} | {steps} | {model} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", *paired_differences(table)])


def _column(table, name: str, default):
    """A study column, with ``default`` for rows written before the column existed (or a file without it)."""
    return table[name].fillna(default) if name in table else pandas.Series(default, index=table.index)


def augmented(table):
    """Per study row, whether it trained with ``--augment`` (rows older than the column: no)."""
    return _column(table, "augment", False).astype(str) == "True"


def variant_label(
    augment: bool = False,
    snippet_share: float = 1.0,
    prototype_share: float | None = None,
    average_from: float | None = None,
    crop_frames: int = CROP_FRAMES,
    ensemble: int = 1,
    members: str | None = None,
    distil: int = 0,
    distil_weight: float | None = None,
    temperature: float | None = None,
    mixup: bool = False,
    fresh_windows: bool = False,
    label_smoothing: float = 0.0,
    soup: int = 1,
    spawn_at: float | None = None,
) -> str:
    """What a run changed from its recipe's defaults, as the summary shows it: e.g. `` +aug avg≥0.5``."""
    parts = [" +aug" if augment else "", "" if crop_frames == CROP_FRAMES else f" crop {crop_frames}"]
    parts.append("" if snippet_share == 1 else f" snippets×{snippet_share:g}")
    parts.append("" if prototype_share is None else f" prototypes×{prototype_share:g}")
    parts.append("" if average_from is None else f" avg≥{average_from:g}")
    parts.append("" if ensemble == 1 or members else f" ensemble of {ensemble}")
    parts.append(f" ensemble {members.replace(',', '+')}" if members else "")
    parts.append(f" distilled from {distil} (α {distil_weight:g}, T {temperature:g})" if distil else "")
    parts.append(" on mixed windows" if mixup else "")
    parts.append(" fresh windows" if fresh_windows else "")
    parts.append(f" label smoothing {label_smoothing:g}" if label_smoothing else "")
    parts.append(f" soup of {soup} spawned at {spawn_at:g}" if soup > 1 else "")
    return "".join(parts)


def variant(table):
    """Per study row, its ``variant_label`` (columns older rows lack take their defaults)."""

    def optional(name: str) -> list[float | None]:
        return [None if pandas.isna(value) else float(value) for value in _column(table, name, None)]

    labels = map(
        variant_label,
        augmented(table),
        _column(table, "snippet_share", 1.0).astype(float),
        optional("prototype_share"),
        optional("average_from"),
        _column(table, "crop_frames", CROP_FRAMES).astype(int),
        _column(table, "ensemble", 1).astype(int),
        [None if pandas.isna(value) else str(value) for value in _column(table, "members", None)],
        _column(table, "distil", 0).astype(int),
        optional("distil_weight"),
        optional("temperature"),
        _column(table, "mixup", False).astype(str) == "True",
        _column(table, "fresh_windows", False).astype(str) == "True",
        _column(table, "label_smoothing", 0.0).astype(float),
        _column(table, "soup", 1).astype(int),
        optional("spawn_at"),
    )
    return pandas.Series(list(labels), table.index)


def paired_differences(table, baseline: str = "real", steps: int = 300) -> list[str]:
    """Markdown rows: each variant's snippet accuracy minus ``baseline``'s on the same model, fold and seed."""
    runs = table[table["steps"] == steps].pivot_table(
        index=["model", "fold", "seed"], columns="recipe", values="snippet_acc"
    )
    lines = [
        f"| model | recipe − {baseline} ({steps} steps) | paired runs | mean difference ± sd | runs better |",
        "| --- | --- | --- | --- | --- |",
    ]
    for model, runs_of_model in runs.groupby(level="model"):
        if baseline not in runs_of_model:
            continue
        for recipe in runs_of_model.columns.drop(baseline):
            difference = (runs_of_model[recipe] - runs_of_model[baseline]).dropna()
            if len(difference) > 1:
                lines.append(
                    f"| {model} | {recipe} | {len(difference)} | {difference.mean():+.3f} ± "
                    f"{difference.std(ddof=1):.3f} | {int((difference > 0).sum())} |"
                )
    return lines


def append_row(path: Path, row: dict) -> None:
    """Append one result row to a CSV; a column the file lacks is added to every earlier row (empty).

    Several study processes may share one file: a lock file serialises them.
    """
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _rewrite_with(path, row)


def _rewrite_with(path: Path, row: dict) -> None:
    rows, fields = [], list(row)
    if path.exists():
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            fields = list(reader.fieldnames or []) + [key for key in row if key not in (reader.fieldnames or [])]
    rows.append(row)
    partial = path.with_suffix(".tmp")
    with partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def settings_parser() -> argparse.ArgumentParser:
    """The study's options; their defaults are the settings ``training.rebuild`` trains the shipped weights with."""
    parser = argparse.ArgumentParser(prog="python -m training.experiments.recipes", description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", default="real,synth-frozen,synth-full", help=f"comma list of {', '.join(RECIPES)}")
    parser.add_argument("--models", default="v-kernel", help="comma list of architectures")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", default="", help="comma list: run only these folds (default all)")
    parser.add_argument("--seeds", default="0,1", help="comma list of seeds")
    parser.add_argument("--synth", type=Path, default=Path(__file__).resolve().parents[1] / "cache" / "synth")
    parser.add_argument("--synth-per-genre", type=int, default=100)
    parser.add_argument("--pretrain-steps", type=int, default=600, help="optimiser steps of synthetic pre-training")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps of (fine-)tuning on the real set")
    parser.add_argument("--samples-per-epoch", type=int, default=480)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--crop-frames", type=int, default=CROP_FRAMES, help="training window in frames (431 = whole segment)"
    )
    parser.add_argument("--augment", action="store_true", help="EQ tilt + SpecAugment masks on training batches")
    parser.add_argument(
        "--snippet-share", type=float, default=1.0, help="train on this share of each block's snippet tracks"
    )
    parser.add_argument(
        "--prototype-share",
        type=float,
        default=None,
        help="each genre's sampling weight on prototypes (default: balanced)",
    )
    parser.add_argument(
        "--average-from", type=float, default=None, help="end with the mean weights of the epochs after this share"
    )
    parser.add_argument(
        "--ensemble", type=int, default=1, help="score the mean prediction of networks trained with seeds S..S+N-1"
    )
    parser.add_argument("--members", default="", help="an ensemble of these architectures instead (comma list)")
    parser.add_argument(
        "--distil", type=int, default=0, help="distil from N teachers of the same recipe (seeds S+1..S+N, cached)"
    )
    parser.add_argument("--distil-weight", type=float, default=0.7, help="share of the distillation term in the loss")
    parser.add_argument("--temperature", type=float, default=2.0, help="softens teacher and student predictions")
    parser.add_argument(
        "--mixup",
        action="store_true",
        help="the distilled network sees fresh windows mixed in pairs (training/augment.py); needs --distil-weight 1",
    )
    parser.add_argument(
        "--fresh-windows",
        action="store_true",
        help="train on a fresh random window of every segment in every batch, not two fixed ones",
    )
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="share of each label spread over all genres")
    parser.add_argument("--soup", type=int, default=1, help="average the weights of N networks spawned from one trunk")
    parser.add_argument("--spawn-at", type=float, default=0.33, help="share of the steps the soup's trunk trains for")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--summarise", action="store_true", help="print the table of --out and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run every (recipe, model, fold, seed) asked for; append one CSV row per run."""
    args = settings_parser().parse_args(argv)
    if args.summarise:
        print(summarise(args.out))
        return 0
    unknown = set(args.recipes.split(",")) - set(RECIPES)
    if unknown:
        print(f"error: unknown recipe(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.mixup and (not args.distil or args.distil_weight != 1):
        print(
            "error: --mixup trains on the teachers' predictions alone: give --distil N --distil-weight 1",
            file=sys.stderr,
        )
        return 2
    learn.use_threads(args.threads)
    clips = real_clips()
    folds = [int(f) for f in args.only_folds.split(",")] if args.only_folds else range(args.folds)
    for model in args.models.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            for fold in folds:
                for recipe in args.recipes.split(","):
                    row = run(recipe, model, fold, seed, clips, args)
                    append_row(args.out, row)
                    print(" ".join(f"{k}={v}" for k, v in row.items()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
