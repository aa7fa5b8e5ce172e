"""Making one network of an ensemble (``genretag.models.Ensemble``): distillation (Hinton, Vinyals & Dean 2015) or,
for networks spawned from one trunk, the mean of their weights (``average_weights``).

The study measured an ensemble of three crnns above its members (training/README.md),
but genretag runs one network of the poster's size per model. Distillation trains one
such network on a mix of the hard labels and the ensemble's predictions for the very
windows the network sees, softened by a temperature so the teachers' second choices
(which genres a clip is close to) carry information too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

from genretag import models
from genretag.weights import inference_network


class DistillationLoss:
    """``learn.fit``'s batch loss: (1 − ``weight``) × cross-entropy with the labels plus ``weight`` ×
    T² × KL(teachers' mean prediction at temperature T ‖ the student's at T)."""

    def __init__(self, teachers: list[nn.Module], weight: float, temperature: float):
        if not 0 <= weight <= 1 or temperature <= 0:
            raise ValueError(f"distillation needs 0 <= weight <= 1 and temperature > 0, not {weight}, {temperature}")
        self.teachers = [inference_network(teacher) for teacher in teachers]
        self.weight, self.temperature = weight, temperature

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            softened = [torch.softmax(teacher(mels) / self.temperature, dim=1) for teacher in self.teachers]
            teacher_log_probabilities = torch.stack(softened).mean(dim=0).log()
        student_log_probabilities = functional.log_softmax(scores / self.temperature, dim=1)
        soft = functional.kl_div(
            student_log_probabilities, teacher_log_probabilities, reduction="batchmean", log_target=True
        )
        hard = functional.cross_entropy(scores, labels)
        return (1 - self.weight) * hard + self.weight * self.temperature**2 * soft


def cached_network(path: Path, architecture: str, train: Callable[[], nn.Module]) -> nn.Module:
    """The network saved at ``path``, or ``train()``'s, saved there for next time with the seconds its
    training took beside it (``training_seconds``)."""
    if path.is_file():
        network = models.build(architecture)
        network.load_state_dict(torch.load(path, weights_only=True))
        return network.eval()
    began = time.perf_counter()
    network = train()
    seconds = time.perf_counter() - began
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save(network.state_dict(), partial)
    partial.replace(path)
    path.with_suffix(".seconds").write_text(f"{seconds:.1f}\n")
    return network


def training_seconds(path: Path) -> float | None:
    """The seconds the network cached at ``path`` took to train; None when the cache did not record them."""
    record = path.with_suffix(".seconds")
    return float(record.read_text()) if record.is_file() else None


def average_weights(networks: list[nn.Module]) -> dict[str, torch.Tensor]:
    """The mean of the networks' floating-point state (weights and BatchNorm statistics)."""
    states = [network.state_dict() for network in networks]
    return {
        name: torch.stack([state[name].float() for state in states]).mean(dim=0)
        for name, value in states[0].items()
        if value.is_floating_point()
    }
