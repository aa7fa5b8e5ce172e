"""The ``musicnn-msd`` model: the genre tags among musicnn's 50 MSD tags, recalibrated and checked.

    python -m training.musicnn.msd     # after training.musicnn.embed; writes weights/musicnn-msd.*

The MSD model was trained on last.fm tags, which listeners apply sparsely: its raw
probabilities are low even where a genre plainly applies (a median of 0.29 for "rock" on
rock tracks here). One calibration, ``sigmoid(scale * logit + shift)`` shared by every genre
tag, is fitted (logistic regression, one parameter pair) on the seven tags that GTZAN's
labels name (``MAPPED``), over every patch of GTZAN's train split and real-extra: a tag is
right for a patch when the track's genre maps to it. The other tags get the same map.

The check (``training/reports/musicnn-msd.md``), on the valid split's full tracks, which the
calibration never saw: per mapped genre, how often its tag reaches 0.5 (the default
``--min-confidence``) and how often another mapped tag wrongly does; the expected
calibration error of all mapped-tag probabilities; and how often the most probable genre
tag is the track's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from genretag import audio
from genretag.genres import GTZAN_GENRES
from genretag.musicnn import MSD_GENRE_TAGS
from training import selection
from training.musicnn.embed import TRUNK
from training.musicnn.head import REPORTS, WEIGHTS, Rows, load_rows, valid_tracks

MODEL_NAME = "musicnn-msd"
MAPPED = {"blues": 26, "country": 36, "hiphop": 33, "jazz": 9, "metal": 11, "pop": 1, "rock": 0}  # → MSD tag
TAG_PROBABILITIES = slice(200, 250)  # the embeddings' columns after the penultimate layer


def tag_logits(rows: Rows) -> np.ndarray:
    probabilities = np.clip(rows.features[:, TAG_PROBABILITIES].astype(np.float64), 1e-4, 1 - 1e-4)
    return np.log(probabilities / (1 - probabilities))


def targets(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """(logits, 0/1) of every (patch, mapped tag) pair."""
    logits = tag_logits(rows)
    pairs_x, pairs_y = [], []
    for genre, tag in MAPPED.items():
        pairs_x.append(logits[:, tag])
        pairs_y.append(rows.labels == GTZAN_GENRES.index(genre))
    return np.concatenate(pairs_x), np.concatenate(pairs_y).astype(np.float64)


def fit_calibration(rows: Rows) -> tuple[float, float]:
    """The shared (scale, shift) by maximum likelihood (Newton's method on two parameters)."""
    x, y = targets(rows)
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.array([1.0, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ theta))
        gradient = design.T @ (p - y)
        hessian = (design * (p * (1 - p))[:, None]).T @ design
        theta -= np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
    return float(theta[0]), float(theta[1])


def check(rows: Rows, scale: float, shift: float) -> dict:
    """Track-level figures on ``rows`` (the mean of the calibrated patch probabilities)."""
    probabilities = 1 / (1 + np.exp(-(tag_logits(rows) * scale + shift)))
    ids, which = np.unique(rows.track, return_inverse=True)
    tracks = np.zeros((len(ids), probabilities.shape[1]))
    np.add.at(tracks, which, probabilities)
    tracks /= np.bincount(which)[:, None]
    labels = np.array([rows.labels[which == i][0] for i in range(len(ids))])
    genre_tags = [index for index, _ in MSD_GENRE_TAGS]
    per_genre, pooled_p, pooled_y = {}, [], []
    for genre, tag in MAPPED.items():
        own = labels == GTZAN_GENRES.index(genre)
        mapped_elsewhere = np.isin(labels, [GTZAN_GENRES.index(g) for g in MAPPED if g != genre])
        pooled_p.append(tracks[own | mapped_elsewhere, tag])
        pooled_y.append(own[own | mapped_elsewhere])
        if own.any():
            per_genre[genre] = {
                "tracks": int(own.sum()),
                "tag_at_0.5": int((tracks[own, tag] >= 0.5).sum()),
                "top_genre_tag": int((tracks[own][:, genre_tags].argmax(axis=1) == genre_tags.index(tag)).sum()),
                "other_tracks_with_the_tag_at_0.5": f"{int((tracks[~own, tag] >= 0.5).sum())} of {int((~own).sum())}",
            }
    p, y = np.concatenate(pooled_p), np.concatenate(pooled_y)
    binary = np.stack([1 - p, p], axis=1)
    mapped_tracks = sum(figures["tracks"] for figures in per_genre.values())
    top_right = sum(figures["top_genre_tag"] for figures in per_genre.values())
    return {
        "per_genre": per_genre,
        "tracks_of_mapped_genres": mapped_tracks,
        "top_genre_tag_right": top_right,
        "expected_calibration_error_of_mapped_tags": round(
            selection.expected_calibration_error(y.astype(int), binary), 4
        ),
    }


def write_report(result: dict) -> None:
    (REPORTS / "musicnn-msd.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    check_figures = result["valid"]
    raw_error = result["raw_valid"]["expected_calibration_error_of_mapped_tags"]
    error = check_figures["expected_calibration_error_of_mapped_tags"]
    lines = [
        "# musicnn-msd: the MSD genre tags, recalibrated; checked on the 84 valid tracks",
        "",
        f"Calibration fitted on GTZAN's train split and real-extra: scale {result['scale']:.3f}, shift "
        f"{result['shift']:.3f} (one pair for every tag). Expected calibration error of the mapped tags' "
        f"probabilities: raw {raw_error:.3f}, calibrated {error:.3f}.",
        "",
        f"The most probable genre tag is the track's own on {check_figures['top_genre_tag_right']} of "
        f"{check_figures['tracks_of_mapped_genres']} valid tracks whose genre is an MSD tag.",
        "",
        "| genre → tag | valid tracks | tag ≥ 0.5 (raw) | tag ≥ 0.5 (calibrated) | top genre tag "
        "| other tracks with the tag ≥ 0.5 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for genre, figures in check_figures["per_genre"].items():
        raw = result["raw_valid"]["per_genre"][genre]
        tag = dict(MSD_GENRE_TAGS)[MAPPED[genre]]
        lines.append(
            f"| {genre} → {tag} | {figures['tracks']} | {raw['tag_at_0.5']} | {figures['tag_at_0.5']} | "
            f"{figures['top_genre_tag']} | {figures['other_tracks_with_the_tag_at_0.5']} |"
        )
    lines.append("")
    (REPORTS / "musicnn-msd.md").write_text("\n".join(lines), encoding="utf-8")


def ship(scale: float, shift: float, valid: dict) -> Path:
    import torch

    from genretag.models import build
    from genretag.weights import save_model

    network = build("musicnn-tags", len(MSD_GENRE_TAGS))
    network.trunk.load_state_dict({key: torch.from_numpy(value) for key, value in np.load(TRUNK).items()})
    with torch.no_grad():
        network.scale.fill_(scale)
        network.shift.fill_(shift)
    card = {
        "architecture": "musicnn-tags",
        "front_end": audio.MUSICNN,
        "genres": [name for _, name in MSD_GENRE_TAGS],
        "multi_label": True,
        "provisional": False,
        "training": {
            "summary": (
                "musicnn's MSD_musicnn model unchanged (trained by its authors on the Million Song Dataset's "
                "last.fm tags); its 30 genre tags kept, with one recalibration shared by all of them, fitted on "
                "GTZAN's fault-filtered train + valid splits and real-extra through the 7 tags GTZAN's genres name."
            ),
            "calibration": {"scale": scale, "shift": shift, "mapped": MAPPED},
            "check": "training/reports/musicnn-msd.md",
        },
        "metrics": {
            "valid (top genre tag = the track's GTZAN genre, where it is an MSD tag)": {
                "track_accuracy": round(valid["top_genre_tag_right"] / valid["tracks_of_mapped_genres"], 4),
                "n_tracks": valid["tracks_of_mapped_genres"],
                **valid,
            }
        },
        "licence": {
            "trunk": (
                "musicnn (Jordi Pons, Xavier Serra, ISMIR 2019 LBD), ISC licence: Copyright (c) Music Technology "
                "Group, Universitat Pompeu Fabra 2019. Permission to use, copy, modify, and/or distribute this "
                "software for any purpose with or without fee is hereby granted, provided that the above copyright "
                'notice and this permission notice appear in all copies. THE SOFTWARE IS PROVIDED "AS IS" AND '
                "THE AUTHOR DISCLAIMS ALL WARRANTIES."
            )
        },
    }
    return save_model(network, MODEL_NAME, WEIGHTS, card)


def main() -> int:
    rows = load_rows()
    patches = rows.where(np.isin(rows.start, audio.musicnn_patch_starts()))  # the patch a scan reads
    train = patches.where(patches.split != "valid")
    scale, shift = fit_calibration(train)
    valid = valid_tracks(rows, audio.MUSICNN_PATCHES_PER_SEGMENT)
    result = {"scale": scale, "shift": shift, "valid": check(valid, scale, shift), "raw_valid": check(valid, 1.0, 0.0)}
    write_report(result)
    print((REPORTS / "musicnn-msd.md").read_text(encoding="utf-8"))
    shipped_scale, shipped_shift = fit_calibration(patches)  # train + valid, as the genre head
    print(ship(shipped_scale, shipped_shift, result["valid"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
