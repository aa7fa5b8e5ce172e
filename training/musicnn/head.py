"""The genre head of the ``musicnn`` model: chosen on the valid split's full tracks, refitted, shipped.

    python -m training.musicnn.head select   # candidates on train, measured on the 84 valid tracks
    python -m training.musicnn.head ship     # the chosen one refitted on train + valid → weights/musicnn.pt

Reads the per-patch embeddings of ``training.musicnn.embed`` (run it first) and the
converted trunk (``convert.py``). Declared before measuring, and not changed after:

* candidates (``CANDIDATES``): the head's input (the penultimate layer, or it and the 50
  tag probabilities), linear or one hidden layer, and the weight decay;
* training rows: every patch of every segment of GTZAN's train split (30 s excerpts,
  snippets, classical excerpts) and of real-extra, weighted so that each genre weighs the
  same and, within a genre, each track the same; no pitch-shifted copies;
* the rule: the best mean of valid accuracy and macro recall (tracks: the mean over a
  track's segments of the mean over each segment's patches); then, for that candidate,
  1, 2 and 3 patches per segment, shipping the fewest within one valid track of the best;
* calibration: one temperature, fitted on the valid tracks' log loss with the train-only head.

``ship`` refits the chosen head on train + valid (the valid split's snippets and classical
excerpts included) and writes ``weights/musicnn.pt`` with its card, and the selection
table to ``training/reports/musicnn-head.{md,json}``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from genretag import audio
from genretag.genres import GTZAN_GENRES
from training import selection
from training.musicnn.embed import CACHE, CORPORA, TRUNK

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "training" / "reports"
WEIGHTS = REPO / "weights"
MODEL_NAME = "musicnn"
SEED = 0
EPOCHS = 400


@dataclass(frozen=True)
class Candidate:
    """One head recipe."""

    head_inputs: str  # "penultimate" or "penultimate+tags"
    hidden: int  # 0: linear
    weight_decay: float

    @property
    def label(self) -> str:
        shape = f"MLP {self.hidden}" if self.hidden else "linear"
        return f"{shape} on {self.head_inputs}, weight decay {self.weight_decay:g}"


CANDIDATES = (
    Candidate("penultimate", 0, 1e-3),
    Candidate("penultimate", 0, 1e-2),
    Candidate("penultimate+tags", 0, 1e-3),
    Candidate("penultimate+tags", 128, 1e-3),
)


@dataclass
class Rows:
    """Per-patch rows: features (n, 250) and their keys."""

    features: np.ndarray
    labels: np.ndarray
    track: np.ndarray
    source: np.ndarray
    split: np.ndarray
    segment: np.ndarray
    start: np.ndarray

    def where(self, mask: np.ndarray) -> Rows:
        return Rows(**{key: value[mask] for key, value in self.__dict__.items()})


def load_rows() -> Rows:
    parts = [np.load(CACHE / f"embeddings-{name}.npz") for name in CORPORA]
    genre_index = {genre: i for i, genre in enumerate(GTZAN_GENRES)}
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0].files}
    return Rows(
        features=joined["features"].astype(np.float32),
        labels=np.array([genre_index[genre] for genre in joined["genre"]]),
        track=joined["track"],
        source=joined["source"],
        split=joined["split"],
        segment=joined["segment"],
        start=joined["start"],
    )


def balanced_weights(rows: Rows) -> np.ndarray:
    """Each genre the same total weight; within a genre each track the same."""
    weights = np.zeros(len(rows.labels), dtype=np.float64)
    for genre in np.unique(rows.labels):
        in_genre = rows.labels == genre
        tracks, counts = np.unique(rows.track[in_genre], return_counts=True)
        per_track = dict(zip(tracks, counts, strict=True))
        weights[in_genre] = [1.0 / (len(tracks) * per_track[track]) for track in rows.track[in_genre]]
    return weights / weights.sum()


def columns(features: np.ndarray, head_inputs: str) -> np.ndarray:
    from genretag.musicnn import HEAD_INPUTS

    return features[:, : HEAD_INPUTS[head_inputs]]


def fit_head(rows: Rows, candidate: Candidate):
    """A ``GenreHead`` fitted on ``rows`` with the balanced weights (``genretag.musicnn.fit_genre_head``)."""
    import torch

    from genretag.musicnn import fit_genre_head

    return fit_genre_head(
        torch.from_numpy(columns(rows.features, candidate.head_inputs)),
        torch.from_numpy(rows.labels),
        torch.from_numpy(balanced_weights(rows)).float(),
        len(GTZAN_GENRES),
        hidden=candidate.hidden,
        weight_decay=candidate.weight_decay,
        epochs=EPOCHS,
        seed=SEED,
    )


def patch_logits(head, rows: Rows, head_inputs: str) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return head(torch.from_numpy(columns(rows.features, head_inputs))).numpy()


def valid_tracks(rows: Rows, patches: int) -> Rows:
    """The valid split's full tracks, each segment read through its ``patches`` centred patches."""
    mask = (rows.split == "valid") & (rows.source == "gtzan-full")
    return rows.where(mask & np.isin(rows.start, audio.musicnn_patch_starts(patches)))


def track_labels(rows: Rows) -> np.ndarray:
    ids = np.unique(rows.track)
    return np.array([rows.labels[rows.track == track][0] for track in ids])


def measure(head, rows: Rows, head_inputs: str, temperature: float = 1.0) -> dict:
    """Track figures on ``rows`` (a segment's patches weigh equally, so a track's mean over patches is the rule)."""
    _, probabilities = selection.track_probabilities(patch_logits(head, rows, head_inputs), rows.track, temperature)
    return selection.track_figures(track_labels(rows), probabilities, GTZAN_GENRES)


def _score(figures: dict) -> float:
    return (figures["accuracy"] + figures["macro_recall"]) / 2


def select() -> dict:
    rows = load_rows()
    train = rows.where(rows.split != "valid")
    table = []
    for candidate in CANDIDATES:
        head = fit_head(train, candidate)
        figures = measure(head, valid_tracks(rows, audio.MUSICNN_PATCHES_PER_SEGMENT), candidate.head_inputs)
        table.append({"candidate": asdict(candidate), "label": candidate.label, "patches": 1, **figures})
        print(f"{candidate.label}: {figures['right']}/{figures['tracks']}", file=sys.stderr, flush=True)
    chosen = CANDIDATES[max(range(len(CANDIDATES)), key=lambda i: _score(table[i]))]
    head = fit_head(train, chosen)
    by_patches = {}
    for patches in (1, 2, 3):
        by_patches[patches] = measure(head, valid_tracks(rows, patches), chosen.head_inputs)
    best = max(figures["right"] for figures in by_patches.values())
    patches = min(k for k, figures in by_patches.items() if figures["right"] >= best - 1)
    valid = valid_tracks(rows, patches)
    temperature = selection.fit_temperature(
        patch_logits(head, valid, chosen.head_inputs), valid.track, track_labels(valid)
    )
    return {
        "candidates": table,
        "chosen": asdict(chosen),
        "chosen_label": chosen.label,
        "by_patches": by_patches,
        "patches_per_segment": patches,
        "temperature": temperature,
        "valid": measure(head, valid, chosen.head_inputs),
        "valid_at_temperature": measure(head, valid, chosen.head_inputs, temperature),
        "training_rows": _counts(train),
    }


def _counts(rows: Rows) -> dict:
    """Tracks per source and genre."""
    counts: dict[str, dict[str, int]] = {}
    for _, source, label in sorted(set(zip(rows.track, rows.source, rows.labels, strict=True))):
        genre = GTZAN_GENRES[label]
        counts.setdefault(str(source), {}).setdefault(genre, 0)
        counts[str(source)][genre] += 1
    return counts


def _interval(figures: dict, key: str) -> str:
    low, high = figures[f"{key}_95"]
    return f"{figures[key]:.3f} [{low:.2f}, {high:.2f}]"


def write_report(result: dict) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "musicnn-head.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# musicnn genre head: selection on the 84 full tracks of the fault-filtered valid split",
        "",
        "Candidates and rule declared in `training/musicnn/head.py` before measuring; each head trained on",
        "GTZAN's train split (excerpts, snippets, classical excerpts) and real-extra, one patch per segment.",
        "",
        "| candidate | right | accuracy [95 %] | macro recall [95 %] | ECE |",
        "| --- | ---: | --- | --- | ---: |",
    ]
    for row in result["candidates"]:
        lines.append(
            f"| {row['label']} | {row['right']} of {row['tracks']} | {_interval(row, 'accuracy')} | "
            f"{_interval(row, 'macro_recall')} | {row['expected_calibration_error']:.3f} |"
        )
    lines += [
        "",
        f"Chosen: {result['chosen_label']}.",
        "",
        "| patches per segment | right | accuracy [95 %] | macro recall [95 %] |",
    ]
    lines.append("| ---: | ---: | --- | --- |")
    for patches, figures in result["by_patches"].items():
        lines.append(
            f"| {patches} | {figures['right']} of {figures['tracks']} | {_interval(figures, 'accuracy')} | "
            f"{_interval(figures, 'macro_recall')} |"
        )
    valid, calibrated = result["valid"], result["valid_at_temperature"]
    lines += [
        "",
        f"Shipped: {result['patches_per_segment']} patch(es) per segment"
        " (the fewest within one valid track of the best).",
        f"Temperature {result['temperature']}: expected calibration error {valid['expected_calibration_error']:.3f}"
        f" → {calibrated['expected_calibration_error']:.3f} on the valid tracks.",
        "",
        "Per genre (right of valid tracks): "
        + ", ".join(f"{genre} {right}/{total}" for genre, (right, total) in valid["per_genre_right_of"].items()),
        "",
    ]
    (REPORTS / "musicnn-head.md").write_text("\n".join(lines), encoding="utf-8")


def ship(result: dict) -> Path:
    import torch

    from genretag.models import build
    from genretag.weights import save_model

    if result["patches_per_segment"] != audio.MUSICNN_PATCHES_PER_SEGMENT:
        raise SystemExit(
            f"selection chose {result['patches_per_segment']} patches per segment: set "
            "audio.MUSICNN_PATCHES_PER_SEGMENT to it first"
        )
    chosen = Candidate(**result["chosen"])
    rows = load_rows()
    head = fit_head(rows, chosen)
    with torch.no_grad():
        head.temperature.fill_(result["temperature"])
    network = build("musicnn", len(GTZAN_GENRES), head_inputs=chosen.head_inputs, hidden=chosen.hidden)
    network.trunk.load_state_dict({key: torch.from_numpy(value) for key, value in np.load(TRUNK).items()})
    network.head.load_state_dict(head.state_dict())
    card = {
        "architecture": "musicnn",
        "front_end": audio.MUSICNN,
        "head": {"head_inputs": chosen.head_inputs, "hidden": chosen.hidden},
        "genres": list(GTZAN_GENRES),
        "provisional": False,
        "training": {
            "summary": (
                "musicnn's MSD_musicnn trunk (converted from its published checkpoint, unchanged) with a "
                f"{chosen.label} genre head fitted on GTZAN's fault-filtered train + valid splits (30 s excerpts, "
                "snippets, classical excerpts) and 521 real non-GTZAN recordings (real-extra); no test-split track."
            ),
            "data": _counts(rows),
            "temperature": result["temperature"],
            "recipe": {
                **asdict(chosen),
                "pitch_shift": 0,
                "epochs": EPOCHS,
                "optimiser": "full-batch Adam, lr 0.01, dropout 0.2 before a hidden layer",
                "weights": "each genre the same, each track the same within its genre",
                "seed": SEED,
            },
            "selection": "training/reports/musicnn-head.md",
        },
        "metrics": {
            "selection": {
                "held_out": "the 84 full 30 s tracks of the fault-filtered valid split (artist-disjoint), "
                "with the head fitted on train only",
                **result["valid_at_temperature"],
                "temperature": result["temperature"],
                "uncalibrated_expected_calibration_error": result["valid"]["expected_calibration_error"],
            }
        },
        "licence": {
            "trunk": (
                "musicnn (Jordi Pons, Xavier Serra: 'musicnn: pre-trained convolutional neural networks for music "
                "audio tagging', ISMIR 2019 LBD), ISC licence: Copyright (c) Music Technology Group, Universitat "
                "Pompeu Fabra 2019. Permission to use, copy, modify, and/or distribute this software for any "
                "purpose with or without fee is hereby granted, provided that the above copyright notice and this "
                'permission notice appear in all copies. THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR '
                "DISCLAIMS ALL WARRANTIES."
            ),
            "head": "trained by genretag on research-use audio (see ../shared/README.md); weights only",
        },
    }
    return save_model(network, MODEL_NAME, WEIGHTS, card)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "select"
    if command == "select":
        result = select()
        write_report(result)
        print((REPORTS / "musicnn-head.md").read_text(encoding="utf-8"))
    elif command == "ship":
        result = json.loads((REPORTS / "musicnn-head.json").read_text(encoding="utf-8"))
        print(ship(result))
    else:
        print("usage: python -m training.musicnn.head [select|ship]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
