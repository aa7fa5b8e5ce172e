"""The one fit/evaluate loop, shared by ``training/`` and ``genretag learn``.

Features are computed once (``genretag.audio.log_mel``) and held as tensors in a
``FeatureSet``; every epoch then costs only the network's forward and backward
passes, which is what makes training feasible on two CPU cores.

Evaluation reports accuracy per segment and per track, where a track's genre is
the argmax of the mean of its segments' probabilities (the same rule as
``genretag.classify``).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional


@dataclass
class FeatureSet:
    """Log-mel segments with their labels, tracks and sampling weights.

    ``mels`` is ``(n, N_MELS, frames)`` (float16 keeps a corpus in memory);
    ``tracks`` indexes ``track_names``; ``original`` is False for augmented
    (pitch-shifted) copies, which evaluation and validation leave out.
    ``targets``, when set, is ``(n, n_genres)``: the distribution each segment is
    trained towards (e.g. a teacher's probabilities mixed with the label) instead
    of its label alone; a segment without a known genre has the label -1.
    """

    mels: torch.Tensor
    labels: torch.Tensor
    tracks: torch.Tensor
    weights: torch.Tensor
    original: torch.Tensor
    genres: tuple[str, ...]
    track_names: list[str]
    targets: torch.Tensor | None = None

    @classmethod
    def from_segments(
        cls,
        mels: list[torch.Tensor],
        labels: list[int],
        tracks: list[int],
        weights: list[float],
        original: list[bool],
        genres: tuple[str, ...],
        track_names: list[str],
        targets: list[np.ndarray] | None = None,
    ) -> FeatureSet:
        """A set from per-segment lists, as corpus builders collect them (``mels``: one tensor per group)."""
        return cls(
            mels=torch.cat(mels),
            labels=torch.tensor(labels, dtype=torch.int64),
            tracks=torch.tensor(tracks, dtype=torch.int64),
            weights=torch.tensor(weights, dtype=torch.float64),
            original=torch.tensor(original, dtype=torch.bool),
            genres=genres,
            track_names=track_names,
            targets=None if targets is None else torch.tensor(np.stack(targets), dtype=torch.float32),
        )

    def __len__(self) -> int:
        return int(self.labels.numel())

    def subset(self, mask: torch.Tensor) -> FeatureSet:
        """The segments where ``mask`` is True (track names are kept whole)."""
        return FeatureSet(
            self.mels[mask],
            self.labels[mask],
            self.tracks[mask],
            self.weights[mask],
            self.original[mask],
            self.genres,
            self.track_names,
            None if self.targets is None else self.targets[mask],
        )

    def originals(self) -> FeatureSet:
        """Only the un-augmented segments (the set C of the poster)."""
        return self.subset(self.original)


@dataclass
class FitProgress:
    """What a progress display needs; ``valid_accuracy`` is set at the end of an epoch."""

    epoch: int
    epochs: int
    step: int
    steps: int
    train_loss: float
    train_accuracy: float
    epoch_done: bool = False
    valid_accuracy: float | None = None
    valid_log_loss: float | None = None
    epoch_seconds: float | None = None


@dataclass
class FitHistory:
    """Per-epoch figures of one ``fit`` call and the epoch whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    valid_track_accuracy: list[float] = field(default_factory=list)
    valid_segment_accuracy: list[float] = field(default_factory=list)
    valid_track_log_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False  # patience ended it before its last epoch


@dataclass
class Evaluation:
    """Accuracy at segment and track level and the track-level confusion matrix.

    ``confusion[i, j]`` counts tracks of true genre ``genres[i]`` predicted as ``genres[j]``.
    """

    genres: tuple[str, ...]
    segment_accuracy: float
    track_accuracy: float
    n_segments: int
    n_tracks: int
    confusion: np.ndarray
    track_names: list[str]
    track_labels: np.ndarray
    track_probabilities: np.ndarray

    @property
    def track_log_loss(self) -> float:
        """Mean cross-entropy of the track probabilities against the true genres."""
        if not self.n_tracks:
            return 0.0
        true_genre = self.track_probabilities[np.arange(self.n_tracks), self.track_labels]
        return float(-np.log(np.clip(true_genre, 1e-7, None)).mean())

    def summary(self) -> dict:
        """The figures a model card records."""
        return {
            "segment_accuracy": round(self.segment_accuracy, 4),
            "track_accuracy": round(self.track_accuracy, 4),
            "n_segments": self.n_segments,
            "n_tracks": self.n_tracks,
        }


def use_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to ``threads`` or to the CPUs this process may use."""
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def final_layer(network: nn.Module) -> nn.Linear:
    """The network's last ``nn.Linear``: the layer that outputs genre scores."""
    linears = [module for module in network.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError("network has no linear output layer")
    return linears[-1]


def replace_final_layer(network: nn.Module, n_genres: int, seed: int = 0) -> nn.Module:
    """Give ``network`` a fresh output layer for ``n_genres`` genres (fine-tuning on new labels)."""
    old = final_layer(network)
    torch.manual_seed(seed)
    new = nn.Linear(old.in_features, n_genres)
    for parent in network.modules():
        for child_name, child in parent.named_children():
            if child is old:
                setattr(parent, child_name, new)
                return network
    raise ValueError("output layer not found among the network's children")


def _batches(data: FeatureSet, batch_size: int):
    for start in range(0, len(data), batch_size):
        stop = start + batch_size
        features = data.mels[start:stop].float()
        # Spectrograms (n, mels, frames) gain a channel axis; embeddings (n, features) go in as they are.
        yield (features.unsqueeze(1) if features.dim() == 3 else features), data.labels[start:stop]


def predict_probabilities(network: nn.Module, data: FeatureSet, batch_size: int = 64) -> np.ndarray:
    """Softmax genre probabilities ``(n_segments, n_genres)`` in eval mode."""
    network.eval()
    rows = []
    with torch.inference_mode():
        for mels, _ in _batches(data, batch_size):
            rows.append(torch.softmax(network(mels), dim=1))
    return torch.cat(rows).numpy() if rows else np.zeros((0, len(data.genres)), dtype=np.float32)


def _confusion(true: np.ndarray, predicted: np.ndarray, size: int) -> np.ndarray:
    matrix = np.zeros((size, size), dtype=np.int64)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def evaluate(network: nn.Module, data: FeatureSet, batch_size: int = 64) -> Evaluation:
    """Segment- and track-level accuracy of ``network`` on ``data`` (pass originals only)."""
    probabilities = predict_probabilities(network, data, batch_size)
    labels = data.labels.numpy()
    tracks = data.tracks.numpy()
    size = len(data.genres)
    segment_predictions = probabilities.argmax(axis=1)
    track_ids = np.unique(tracks)
    track_probabilities = (
        np.stack([probabilities[tracks == t].mean(axis=0) for t in track_ids]) if len(tracks) else np.zeros((0, size))
    )
    track_labels = np.array([labels[tracks == t][0] for t in track_ids], dtype=np.int64)
    track_predictions = track_probabilities.argmax(axis=1) if len(track_ids) else np.zeros(0, dtype=np.int64)
    return Evaluation(
        genres=data.genres,
        segment_accuracy=float((segment_predictions == labels).mean()) if len(labels) else 0.0,
        track_accuracy=float((track_predictions == track_labels).mean()) if len(track_ids) else 0.0,
        n_segments=len(labels),
        n_tracks=len(track_ids),
        confusion=_confusion(track_labels, track_predictions, size),
        track_names=[data.track_names[t] for t in track_ids],
        track_labels=track_labels,
        track_probabilities=track_probabilities.astype(np.float32),
    )


def _epoch_order(train: FeatureSet, samples: int, generator: torch.Generator) -> torch.Tensor:
    # Sampling by weight (with replacement) is how sources are balanced inside a
    # class; uniform weights fall back to a plain shuffle of the whole set.
    weights = train.weights.double()
    if torch.allclose(weights, weights[0].expand_as(weights)) and samples == len(train):
        return torch.randperm(len(train), generator=generator)
    return torch.multinomial(weights, samples, replacement=True, generator=generator)


def recalibrate_batch_norm(network: nn.Module, data: FeatureSet, seed: int = 0, batch_size: int = 64) -> None:
    """Recompute every BatchNorm's running statistics as exact averages over ``data``.

    During training they are moving averages of batches from weights that kept
    changing; on a small corpus (few steps) they lag far behind the final weights,
    and eval-mode predictions suffer. One pass in shuffled batches fixes that.
    """
    norms = [module for module in network.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms or not len(data):
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the pass
    network.train()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            index = order[start : start + batch_size]
            network(data.mels[index].float().unsqueeze(1).contiguous(memory_format=torch.channels_last))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    network.eval()


@dataclass(frozen=True)
class FitSettings:
    """How ``fit`` trains a network; every recipe (``learn.FineTuneRecipe``, ``training.train.Recipe``,
    ``training.rebuild.Recipe``) embeds one, and model cards record it.

    Each epoch draws ``samples_per_epoch`` segments (None: the number of original segments,
    so pitch-shifted copies add variety, not cost). With a validation set, the epoch with the
    best ``select_on`` ("accuracy": track-level accuracy; "log_loss": the track-level
    validation cross-entropy, smoother on a small set) is kept, and ``patience`` epochs
    without improvement stop early.
    """

    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 32
    weight_decay: float = 1e-4
    seed: int = 0
    samples_per_epoch: int | None = None
    patience: int | None = None
    select_on: str = "accuracy"
    restore_best: bool = True  # False: validation only draws the learning curve; the last epoch is kept
    schedule: str = "constant"  # "cosine": the learning rate falls from lr to 0 along a half cosine, step by step
    mixup: float = 0.0  # α > 0: each window is mixed with another of its batch, by λ ~ Beta(α, α), as are targets

    def __post_init__(self) -> None:
        if self.select_on not in ("accuracy", "log_loss"):
            raise ValueError(f"select_on must be 'accuracy' or 'log_loss', not {self.select_on!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be 'constant' or 'cosine', not {self.schedule!r}")


@dataclass
class _Epoch:
    """One training epoch's inputs that do not change between epochs."""

    network: nn.Module
    train: FeatureSet
    settings: FitSettings
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    progress: Callable[[FitProgress], None] | None

    @property
    def samples(self) -> int:
        return _samples_per_epoch(self.train, self.settings)

    @property
    def steps(self) -> int:
        return _steps_per_epoch(self.train, self.settings)


def _samples_per_epoch(train: FeatureSet, settings: FitSettings) -> int:
    return settings.samples_per_epoch or int(train.original.sum()) or len(train)


def _steps_per_epoch(train: FeatureSet, settings: FitSettings) -> int:
    return (_samples_per_epoch(train, settings) + settings.batch_size - 1) // settings.batch_size


def _targets_of(train: FeatureSet, index: torch.Tensor) -> torch.Tensor:
    """The target distributions of ``index``'s windows: stored soft targets, else one-hot labels."""
    if train.targets is not None:
        return train.targets[index].float()
    return functional.one_hot(train.labels[index], len(train.genres)).float()


def _mixed_up(
    mels: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix-up (Zhang et al. 2018): each window and its target, mixed with another window of the batch."""
    seed = int(torch.randint(2**31, (1,), generator=generator))
    share = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, len(mels))).float()
    partner = torch.randperm(len(mels), generator=generator)
    mixed = share.view(-1, 1, 1, 1) * mels + (1 - share.view(-1, 1, 1, 1)) * mels[partner]
    return mixed, share.view(-1, 1) * targets + (1 - share.view(-1, 1)) * targets[partner]


def train_one_epoch(epoch: _Epoch, number: int) -> tuple[float, float]:
    """Run epoch ``number`` in place; returns (mean training loss, training accuracy)."""
    network, train, batch_size = epoch.network, epoch.train, epoch.settings.batch_size
    network.train()
    order = _epoch_order(train, epoch.samples, epoch.generator)
    loss_sum, correct, seen = 0.0, 0, 0
    for step in range(epoch.steps):
        index = order[step * batch_size : (step + 1) * batch_size]
        mels = train.mels[index].float().unsqueeze(1)
        if epoch.augment is not None:
            mels = epoch.augment(mels, epoch.generator)
        labels = train.labels[index]
        mixup = epoch.settings.mixup
        targets = _targets_of(train, index) if train.targets is not None or mixup > 0 else None
        if mixup > 0:
            mels, targets = _mixed_up(mels, targets, mixup, epoch.generator)
        mels = mels.contiguous(memory_format=torch.channels_last)
        epoch.optimiser.zero_grad(set_to_none=True)
        scores = network(mels)
        if targets is not None:
            batch_loss = -(targets * functional.log_softmax(scores, dim=1)).sum(dim=1).mean()
        else:
            batch_loss = functional.cross_entropy(scores, labels)
        batch_loss.backward()
        epoch.optimiser.step()
        epoch.scheduler.step()
        loss_sum += batch_loss.item() * len(index)
        correct += int((scores.argmax(dim=1) == labels).sum())
        seen += len(index)
        if epoch.progress:
            epoch.progress(
                FitProgress(number, epoch.settings.epochs, step + 1, epoch.steps, loss_sum / seen, correct / seen)
            )
    return loss_sum / seen, correct / seen


class KeepBest:
    """The weights of the best epoch so far by ``settings.select_on``, and when patience has run out."""

    def __init__(self, settings: FitSettings, validating: bool):
        self.settings = settings
        self.validating = validating
        self.state: dict | None = None
        self.score = -float("inf")
        self.since_best = 0

    def update(self, network: nn.Module, history: FitHistory, epoch: int, score: float) -> None:
        """Record epoch ``epoch``'s ``score``; keep a copy of the weights when it is the best."""
        if not self.validating or score > self.score:
            self.score, self.since_best, history.best_epoch = score, 0, epoch
            self.state = copy.deepcopy(network.state_dict()) if self.validating else None
        else:
            self.since_best += 1

    @property
    def out_of_patience(self) -> bool:
        return self.validating and self.settings.patience is not None and self.since_best >= self.settings.patience

    def restore(self, network: nn.Module) -> None:
        """Put the best epoch's weights back (unless ``restore_best`` is off, or without validation:
        the last epoch is kept)."""
        if self.state is not None and self.settings.restore_best:
            network.load_state_dict(self.state)


def _validation_score(network: nn.Module, valid: FeatureSet, history: FitHistory, select_on: str) -> float:
    result = evaluate(network, valid)
    history.valid_track_accuracy.append(result.track_accuracy)
    history.valid_segment_accuracy.append(result.segment_accuracy)
    history.valid_track_log_loss.append(result.track_log_loss)
    if select_on == "log_loss":
        return -result.track_log_loss
    return result.track_accuracy + 1e-3 * result.segment_accuracy


def _scheduler(optimiser, settings: FitSettings, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    total = max(1, settings.epochs * steps_per_epoch)  # optimiser steps in all
    if settings.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + np.cos(np.pi * step / total)))
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)


def fit(
    network: nn.Module,
    train: FeatureSet,
    valid: FeatureSet | None = None,
    settings: FitSettings = FitSettings(),
    *,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    progress: Callable[[FitProgress], None] | None = None,
) -> FitHistory:
    """Train ``network`` in place with Adam and cross-entropy as ``settings`` say; returns the per-epoch history.

    Segments are drawn by ``train.weights``; with ``valid``, the best epoch's weights are
    restored at the end (``KeepBest``). BatchNorm statistics are then recomputed over the
    original training segments (``recalibrate_batch_norm``). ``augment(mels, generator)``,
    if given, transforms every training batch ``(batch, 1, mels, frames)`` (never
    validation). A ``train.targets`` distribution is learnt by soft cross-entropy.
    Runs are deterministic for a given seed and thread count.
    """
    torch.manual_seed(settings.seed)
    # Channels-last convolutions train about 1.5 times faster on a CPU; the state
    # dict is converted back before it is returned, so saved weights do not change form.
    network.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(network.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = _scheduler(optimiser, settings, _steps_per_epoch(train, settings))
    generator = torch.Generator().manual_seed(settings.seed)
    epoch = _Epoch(network, train, settings, optimiser, scheduler, generator, augment, progress)
    validating = valid is not None and len(valid) > 0
    history, best = FitHistory(), KeepBest(settings, validating)
    for number in range(1, settings.epochs + 1):
        started = time.perf_counter()
        train_loss, train_accuracy = train_one_epoch(epoch, number)
        history.train_loss.append(train_loss)
        history.train_accuracy.append(train_accuracy)
        score = _validation_score(network, valid, history, settings.select_on) if validating else train_accuracy
        history.epoch_seconds.append(time.perf_counter() - started)
        best.update(network, history, number, score)
        if progress:
            progress(
                FitProgress(
                    number,
                    settings.epochs,
                    epoch.steps,
                    epoch.steps,
                    train_loss,
                    train_accuracy,
                    epoch_done=True,
                    valid_accuracy=history.valid_track_accuracy[-1] if history.valid_track_accuracy else None,
                    valid_log_loss=history.valid_track_log_loss[-1] if history.valid_track_log_loss else None,
                    epoch_seconds=history.epoch_seconds[-1],
                )
            )
        if best.out_of_patience:
            history.stopped_early = number < settings.epochs
            break
    best.restore(network)
    recalibrate_batch_norm(network, train.originals(), settings.seed)
    network.to(memory_format=torch.contiguous_format)
    network.eval()
    return history
