"""Rebuild the shipped weights from the real audio beside the repository.

    python -m training.rebuild select   # train each candidate on the train split, measure it on the valid split
    python -m training.rebuild ship     # save the four networks' measured fits (--refit: fit again on train + valid)

Data: ``../shared/data`` (GTZAN's 30 s excerpts, snippets and classical excerpts of
the fault-filtered train and valid splits; the test split is never read) and,
unlabelled, the Debian soundtracks whose musicnn embeddings are stored in
``training/data/teacher``. Selection is on the valid split's full-length tracks
(artist-disjoint from train), at track level: accuracy, macro recall, bootstrap
intervals (``training.selection``). The candidates are declared in ``CANDIDATES``
before any is measured; ``select`` writes ``training/reports/selection.json`` and
``ship`` reads it, so the shipped cards carry the figures measured on the valid split
(of the very weights shipped, or with ``--refit`` of the same recipe fitted without
the valid split) and the temperature measured there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed

from genretag import audio, fit, models
from genretag.fit import FitSettings
from genretag.genres import GTZAN_GENRES
from genretag.weights import save_model
from training.augment import spec_augment
from training.corpus import Clip, balanced_weights, folder_corpus, shared_gtzan_corpus, source_counts, split_of
from training.features import DEFAULT_CACHE, at_front_end, build_feature_set, clip_mels, shift_range
from training.selection import fit_temperature, track_figures, track_probabilities
from training.teacher.probe import LinearFit, fit_logistic, load_embeddings, window_key

log = logging.getLogger("training")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEBIAN_MUSIC = REPO.parent / "debian-music"
REPORTS = REPO / "training" / "reports"
SELECTION = REPORTS / "selection.json"
CANDIDATE_CACHE = REPO / "training" / "cache" / "candidates"
NETWORKS = ("crnn", "bicrnn", "v-kernel-l2", "v-kernel")
REAL_EXTRA = "real-extra"
UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run; recorded in the model card."""

    architecture: str
    teacher: bool  # soft labels from the musicnn probe, and the unlabelled soundtracks with them
    settings: FitSettings = field(default_factory=lambda: FitSettings(samples_per_epoch=1024))
    pitch_shift: int = 2  # C_ps: copies at ±1, ±2 semitones
    label_share: float = 0.5  # a labelled window's target: this much one-hot label, the rest teacher
    unlabelled_share: float = 0.25  # of the sampling weight, for windows with no label (teacher only)
    probe_inverse_penalty: float = 0.1
    front_end: str = audio.LOG_MEL  # audio.LOG_MEL_HALF: the half-rate log-mel, the first layer's stride 1


# Declared before any was measured. The selection rule: the mean of valid accuracy and macro recall.
# Issue 30's first round (6 Dec, training/reports/fast-networks-round1.md): 60 epochs × 2048 windows at
# a constant learning rate, on the PyTorch teacher's targets with real-extra and the unlabelled
# recordings, gave v-kernel 50 and crnn 51 of 84, with a valid curve that jumped ±0.1 from epoch
# to epoch. The second round, declared before it ran: the same windows and epochs, the learning
# rate decayed to 0 along a cosine (the last epochs settle instead of jumping), and the half-rate
# log-mel; all four networks.
SECOND_ROUND = FitSettings(epochs=60, samples_per_epoch=2048, schedule="cosine")


def _half_rate_round(targets: str, networks: tuple[str, ...], **recipe) -> dict[str, Recipe]:
    """One declared round from the second on: ``networks`` with the teacher, the half-rate log-mel and
    ``SECOND_ROUND``'s settings unless ``recipe`` gives others; ``targets`` names what ``recipe`` changes, as
    the candidates' names say."""
    return {
        f"{network}, {targets}, half rate, cosine 60 x 2048": Recipe(
            network, teacher=True, front_end=audio.LOG_MEL_HALF, **({"settings": SECOND_ROUND} | recipe)
        )
        for network in networks
    }


CANDIDATES = _half_rate_round("labels + teacher", ("v-kernel", "crnn", "bicrnn", "v-kernel-l2"))
# The third round, declared after the second (crnn 47, bicrnn 51 of 84; v-kernel 57) and before it ran:
# the two recurrent networks, whose valid accuracy stopped rising from epoch 20 while their training
# loss kept falling, learn more from the teacher, which generalises across artists (74 of 84): a
# labelled window's target is a quarter one-hot label and three quarters teacher.
CANDIDATES |= _half_rate_round("a quarter label + teacher", ("crnn", "bicrnn"), label_share=0.25)
# The fourth round, declared after the third (crnn 52, bicrnn 53 of 84: a quarter label raised them by 5
# and 2) and before it ran: the same two networks learn a labelled window's target from the teacher alone.
CANDIDATES |= _half_rate_round("teacher only", ("crnn", "bicrnn"), label_share=0.0)
# The fifth round, declared after the fourth (crnn 49, bicrnn 53 of 84: the teacher alone did not help) and
# before it ran: the third round's targets, and mix-up (α = 0.4) against the recurrent networks' overfitting
# (their training loss keeps falling while valid accuracy stops rising from epoch 20).
CANDIDATES |= _half_rate_round(
    "a quarter label + teacher, mix-up 0.4",
    ("crnn", "bicrnn"),
    label_share=0.25,
    settings=replace(SECOND_ROUND, mixup=0.4),
)
PROBE_PENALTIES = (0.001, 0.01, 0.1)
TEACHER_DESCRIPTION = (
    "musicnn MSD_musicnn (Pons & Serra 2019, ISC licence) as genretag's PyTorch port (weights/musicnn.pt's trunk):"
    " the mean of its 200-d penultimate layer over three 3 s patches of each window (training.teacher.embed),"
    " then a logistic regression fitted on the labelled windows"
)


def selection_score(figures: dict) -> float:
    """What candidates are ranked by: the mean of track accuracy and macro recall."""
    return (figures["accuracy"] + figures["macro_recall"]) / 2


@dataclass
class Corpus:
    """The labelled clips by split and the unlabelled ones, each with its teacher-embedding key prefix."""

    labelled: dict[str, list[Clip]]
    unlabelled: list[Clip]
    keys: dict[Path, str]  # clip path → its key's path part in the stored embeddings
    embeddings: dict[str, np.ndarray]

    def stored_windows(self, clip: Clip, semitones: int) -> list[np.ndarray]:
        """The teacher embeddings of ``clip``'s windows at ``semitones``, in order (none when not stored)."""
        found = []
        while (key := window_key(self.keys[clip.path], semitones, len(found))) in self.embeddings:
            found.append(self.embeddings[key])
        return found


def load_corpus(data_dir: Path = SHARED_DATA, debian_dir: Path = DEBIAN_MUSIC) -> Corpus:
    """The labelled clips (GTZAN's train and valid splits, and real-extra for training only) and the
    unlabelled ones (``../shared/data/unlabelled`` and the Debian soundtracks) that have stored embeddings."""
    labelled: dict[str, list[Clip]] = {"train": [], "valid": []}
    keys: dict[Path, str] = {}
    embeddings: dict[str, np.ndarray] = {}
    for clip in shared_gtzan_corpus(data_dir):
        part = split_of(clip.track)
        if part == "test":
            raise ValueError(f"{clip.path}: a GTZAN test-split track; the project holds those back")
        if part in labelled:
            labelled[part].append(clip)
            keys[clip.path] = f"{clip.source[0]}/{clip.path.relative_to(data_dir / clip.source[0]).as_posix()}"
    for part in ("gtzan-full", "gtzan-snippets", "gtzan-classical"):
        embeddings.update({f"{part}/{key}": value for key, value in load_embeddings(part).items()})
    # Real recordings outside GTZAN train only: selection stays on GTZAN's artist-disjoint valid split.
    extra_root = data_dir / REAL_EXTRA
    if extra_root.is_dir() and _has_embeddings(REAL_EXTRA):
        for clip in folder_corpus(extra_root):
            labelled["train"].append(Clip(clip.path, clip.genre, f"{REAL_EXTRA}/{clip.track}", (REAL_EXTRA,)))
            keys[clip.path] = f"{REAL_EXTRA}/{clip.path.relative_to(extra_root).as_posix()}"
        embeddings.update({f"{REAL_EXTRA}/{key}": value for key, value in load_embeddings(REAL_EXTRA).items()})
    roots = [(UNLABELLED, data_dir / UNLABELLED, ("unlabelled",))]
    roots += [(f"debian-{p.name}", p, ("debian", p.name)) for p in sorted(debian_dir.glob("*")) if p.is_dir()]
    unlabelled = []
    for corpus_name, root, source in roots:
        if not _has_embeddings(corpus_name):
            continue
        stored = load_embeddings(corpus_name)
        for key in {key.split("|")[0] for key in stored}:
            path = root / key
            if path.is_file():
                unlabelled.append(Clip(path, "", key, source))
                keys[path] = f"{corpus_name}/{key}"
        embeddings.update({f"{corpus_name}/{key}": value for key, value in stored.items()})
    return Corpus(labelled, sorted(unlabelled, key=lambda clip: str(clip.path)), keys, embeddings)


def _has_embeddings(corpus_name: str) -> bool:
    try:
        load_embeddings(corpus_name)
    except FileNotFoundError:
        return False
    return True


def fit_probe(corpus: Corpus, clips: list[Clip], shifts: list[int], inverse_penalty: float) -> LinearFit:
    """The teacher's linear probe on every stored window of ``clips`` (genres balanced as in training)."""
    vectors, labels, weights = [], [], []
    for clip, weight in zip(clips, balanced_weights(clips), strict=True):
        found = [window for semitones in shifts for window in corpus.stored_windows(clip, semitones)]
        vectors += found
        labels += [GTZAN_GENRES.index(clip.genre)] * len(found)
        weights += [weight / max(1, len(found))] * len(found)
    return fit_logistic(
        torch.tensor(np.stack(vectors)), torch.tensor(labels), torch.tensor(weights), len(GTZAN_GENRES), inverse_penalty
    )


def teacher_figures(corpus: Corpus, probe: LinearFit, clips: list[Clip]) -> dict:
    """The probe's track-level figures on ``clips`` (their unshifted windows)."""
    labels, probabilities = [], []
    for clip in clips:
        found = corpus.stored_windows(clip, 0)
        labels.append(GTZAN_GENRES.index(clip.genre))
        probabilities.append(probe.probabilities(np.stack(found)).mean(axis=0))
    return track_figures(np.array(labels), np.stack(probabilities), GTZAN_GENRES)


def feature_set(
    corpus: Corpus, labelled: list[Clip], recipe: Recipe, probe: LinearFit | None, shifts: list[int]
) -> fit.FeatureSet:
    """Training windows with their targets: the one-hot label, mixed with the probe's probabilities when
    ``probe`` is given, plus (with a probe) the unlabelled windows the probe has an embedding for."""
    unlabelled = corpus.unlabelled if probe is not None else []
    weights = balanced_weights(labelled)
    if unlabelled:
        weights = [w * (1 - recipe.unlabelled_share) for w in weights]
        weights += [recipe.unlabelled_share / len(unlabelled)] * len(unlabelled)
    parts, labels, tracks, segment_weights, original, targets = [], [], [], [], [], []
    for track_index, (clip, weight) in enumerate(zip(labelled + unlabelled, weights, strict=True)):
        kept_mels, kept_targets, kept_original = [], [], []
        for semitones in shifts if clip.genre else [0]:
            mels = at_front_end(clip_mels(clip, semitones, DEFAULT_CACHE), recipe.front_end)
            for segment in range(len(mels)):
                key = window_key(corpus.keys[clip.path], semitones, segment)
                target = np.zeros(len(GTZAN_GENRES), dtype=np.float32)
                if clip.genre:
                    target[GTZAN_GENRES.index(clip.genre)] = 1.0
                if probe is not None and key in corpus.embeddings:
                    taught = probe.probabilities(corpus.embeddings[key][None])[0]
                    target = recipe.label_share * target + (1 - recipe.label_share) * taught if clip.genre else taught
                elif not clip.genre:
                    continue  # a silent window of an unlabelled file: nothing to learn from
                kept_mels.append(mels[segment])
                kept_targets.append(target)
                kept_original.append(semitones == 0)
        if not kept_mels:
            continue
        parts.append(torch.stack(kept_mels))
        targets += kept_targets
        original += kept_original
        labels += [GTZAN_GENRES.index(clip.genre) if clip.genre else -1] * len(kept_mels)
        tracks += [track_index] * len(kept_mels)
        segment_weights += [weight / len(kept_mels)] * len(kept_mels)
    track_names = [clip.track for clip in labelled + unlabelled]
    return fit.FeatureSet.from_segments(
        parts, labels, tracks, segment_weights, original, GTZAN_GENRES, track_names, targets
    )


def full_tracks(clips: list[Clip]) -> list[Clip]:
    """The full-length 30 s excerpts among ``clips``: what selection is measured on."""
    return [clip for clip in clips if clip.source == ("gtzan-full",)]


def held_out_set(clips: list[Clip], front_end: str) -> fit.FeatureSet:
    """The full-length tracks of ``clips``, unshifted, at ``front_end``, for track-level figures."""
    held_out = build_feature_set(full_tracks(clips), GTZAN_GENRES)
    held_out.mels = at_front_end(held_out.mels, front_end)
    return held_out


def train_network(
    recipe: Recipe, data: fit.FeatureSet, curve: fit.FeatureSet | None = None
) -> tuple[torch.nn.Module, dict]:
    """A network of ``recipe.architecture`` trained for exactly ``recipe.settings.epochs`` (no early stopping).

    With ``curve`` (held-out tracks), each epoch is also measured on it for the learning
    curve; the last epoch's weights are kept all the same, so the curve chooses nothing.
    """
    torch.manual_seed(recipe.settings.seed)
    network = models.build(recipe.architecture, len(GTZAN_GENRES), recipe.front_end)
    began = time.perf_counter()
    history = fit.fit(
        network,
        data,
        curve,
        settings=replace(recipe.settings, patience=None, restore_best=False),
        augment=spec_augment,
        progress=lambda event: (
            event.epoch_done
            and log.info(
                "%s: epoch %d loss %.3f%s",
                recipe.architecture,
                event.epoch,
                event.train_loss,
                "" if event.valid_accuracy is None else f" valid track accuracy {event.valid_accuracy:.3f}",
            )
        ),
    )
    fitting = {
        "train_loss_by_epoch": [round(v, 4) for v in history.train_loss],
        "seconds": round(time.perf_counter() - began),
    }
    if curve is not None:
        fitting["valid_track_accuracy_by_epoch"] = [round(v, 4) for v in history.valid_track_accuracy]
    return network, fitting


def plot_learning_curve(name: str, fitting: dict) -> Path:
    """``training/reports/curves/<name>.png``: training loss and valid track accuracy by epoch."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, loss_axis = pyplot.subplots(figsize=(6, 3.5))
    epochs = range(1, len(fitting["train_loss_by_epoch"]) + 1)
    loss_axis.plot(epochs, fitting["train_loss_by_epoch"], color="#1f77b4", label="training loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss")
    accuracy_axis = loss_axis.twinx()
    accuracy_axis.plot(epochs, fitting["valid_track_accuracy_by_epoch"], color="#d62728", label="valid accuracy")
    accuracy_axis.set_ylabel("valid track accuracy (84 full tracks)")
    accuracy_axis.set_ylim(0, 1)
    figure.suptitle(name)
    figure.tight_layout()
    target = REPORTS / "curves" / f"{name.replace(', ', '-').replace(' ', '-')}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    pyplot.close(figure)
    return target


def measured(network: torch.nn.Module, held_out: fit.FeatureSet) -> dict:
    """Track figures on ``held_out`` as shipped (temperature 1) and the temperature that calibrates them."""
    log_probabilities = np.log(np.clip(fit.predict_probabilities(network, held_out), 1e-12, None))
    tracks = held_out.tracks.numpy()
    ids, _ = track_probabilities(log_probabilities, tracks)
    labels = np.array([held_out.labels.numpy()[tracks == track][0] for track in ids])
    temperature = fit_temperature(log_probabilities, tracks, labels)
    _, raw = track_probabilities(log_probabilities, tracks)
    _, calibrated = track_probabilities(log_probabilities, tracks, temperature)
    figures = track_figures(labels, raw, GTZAN_GENRES)
    figures["temperature"] = temperature
    figures["expected_calibration_error_at_temperature"] = track_figures(labels, calibrated, GTZAN_GENRES)[
        "expected_calibration_error"
    ]
    return figures


def run_candidate(name: str, recipe: Recipe, corpus: Corpus, probe: LinearFit | None) -> dict:
    """Train ``recipe`` on the train split, measure it on the valid split's full tracks (or the stored
    result of that same recipe from an earlier run: ``CANDIDATE_CACHE``)."""
    stored = _stored_candidate(recipe)
    if stored.is_file():
        return json.loads(stored.read_text(encoding="utf-8"))
    fit.use_threads(1)
    _log_progress()
    shifts = shift_range(recipe.pitch_shift)
    data = feature_set(corpus, corpus.labelled["train"], recipe, probe if recipe.teacher else None, shifts)
    log.info("%s: %d training windows, training", name, len(data))
    held_out = held_out_set(corpus.labelled["valid"], recipe.front_end)
    network, fitting = train_network(recipe, data, held_out)
    plot_learning_curve(name, fitting)
    figures = measured(network, held_out)
    log.info("%s: valid %s", name, figures)
    result = {"recipe": asdict(recipe), "valid": figures, "training": fitting, "windows": len(data)}
    CANDIDATE_CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), stored.with_suffix(".pt"))  # what `ship` saves unless it refits
    stored.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def warm_feature_cache(corpus: Corpus, shifts: list[int], jobs: int) -> None:
    """Every clip's log-mels at every shift it trains with, into the feature cache, ``jobs`` clips at a time,
    so candidates trained side by side read them instead of each decoding and shifting every clip."""
    units = [(clip, semitones) for clip in corpus.labelled["train"] + corpus.labelled["valid"] for semitones in shifts]
    units += [(clip, 0) for clip in corpus.unlabelled]
    Parallel(n_jobs=jobs)(delayed(_cache_mels)(clip, semitones) for clip, semitones in units)


def _cache_mels(clip: Clip, semitones: int) -> None:
    fit.use_threads(1)
    clip_mels(clip, semitones, DEFAULT_CACHE)  # kept in the cache; nothing sent back


def network_choices(candidates: dict[str, Recipe], results: dict) -> dict[str, str]:
    """The candidate each network ships: its best declared one by ``selection_score``; a network without
    any gets the name of the best candidate's recipe on it (``select`` then trains that)."""
    best = max(candidates, key=lambda name: selection_score(results[name]["valid"]))
    kind = best.split(", ", 1)[1]
    return {
        architecture: max(
            (name for name, recipe in candidates.items() if recipe.architecture == architecture),
            key=lambda name: selection_score(results[name]["valid"]),
            default=f"{architecture}, {kind}",
        )
        for architecture in NETWORKS
    }


def select(jobs: int) -> dict:
    """Every declared candidate (and the teacher itself) on the valid split; written to ``SELECTION``."""
    corpus = load_corpus()
    shifts = shift_range(max(recipe.pitch_shift for recipe in CANDIDATES.values()))
    warm_feature_cache(corpus, shifts, jobs)
    train, valid = corpus.labelled["train"], corpus.labelled["valid"]
    teachers = {
        penalty: teacher_figures(corpus, fit_probe(corpus, train, shifts, penalty), full_tracks(valid))
        for penalty in PROBE_PENALTIES
    }
    penalty = max(PROBE_PENALTIES, key=lambda c: selection_score(teachers[c]))
    probe = fit_probe(corpus, train, shifts, penalty)
    results = {
        f"teacher (musicnn + probe, C={c})": {"valid": figures, "inverse_penalty": c} for c, figures in teachers.items()
    }
    candidates = {
        name: replace(recipe, probe_inverse_penalty=penalty) if recipe.teacher else recipe
        for name, recipe in CANDIDATES.items()
    }
    runs = Parallel(n_jobs=jobs)(
        delayed(run_candidate)(name, recipe, corpus, probe) for name, recipe in candidates.items()
    )
    results.update(dict(zip(candidates, runs, strict=True)))
    best = max(candidates, key=lambda name: selection_score(results[name]["valid"]))
    networks = network_choices(candidates, results)
    others = {
        networks[architecture]: replace(candidates[best], architecture=architecture)
        for architecture in NETWORKS
        if networks[architecture] not in results
    }
    runs = Parallel(n_jobs=jobs)(delayed(run_candidate)(name, recipe, corpus, probe) for name, recipe in others.items())
    results.update(dict(zip(others, runs, strict=True)))
    default = max(NETWORKS, key=lambda architecture: selection_score(results[networks[architecture]]["valid"]))
    summary = {
        "rule": "mean of valid-split track accuracy and macro recall; candidates declared in training/rebuild.py",
        "valid_split": f"the {len(full_tracks(valid))} full 30 s tracks of the fault-filtered valid split",
        "chosen_recipe": best,
        "networks": networks,
        "default": default,
        "candidates": results,
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    SELECTION.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    SELECTION.with_suffix(".md").write_text(selection_table(summary), encoding="utf-8")
    return summary


def selection_table(summary: dict) -> str:
    """The candidates' valid-split figures as a Markdown table."""
    rows = [
        f"Selection on {summary['valid_split']}; rule: {summary['rule']}.",
        f"Chosen recipe: {summary['chosen_recipe']}; default: {summary['default']}.",
        "",
        "| candidate | right | accuracy [95 %] | macro recall [95 %] | ECE | ECE at T | T |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for name, result in summary["candidates"].items():
        v = result["valid"]
        at_temperature = v.get("expected_calibration_error_at_temperature", "")
        rows.append(
            f"| {name} | {v['right']} of {v['tracks']} | {v['accuracy']:.3f} [{v['accuracy_95'][0]:.2f}, "
            f"{v['accuracy_95'][1]:.2f}] | {v['macro_recall']:.3f} [{v['macro_recall_95'][0]:.2f}, "
            f"{v['macro_recall_95'][1]:.2f}] | {v['expected_calibration_error']:.3f} | {at_temperature} | "
            f"{v.get('temperature', '')} |"
        )
    return "\n".join(rows) + "\n"


def fold_temperature(network: torch.nn.Module, temperature: float) -> None:
    """Divide the output layer by ``temperature``: softmax(z / T) without any change at inference."""
    output = fit.final_layer(network)
    with torch.no_grad():
        output.weight /= temperature
        output.bias /= temperature


def _stored_candidate(recipe: Recipe) -> Path:
    """Where ``run_candidate`` keeps a recipe's result (``.json``) and its weights (``.pt``)."""
    described = asdict(recipe)
    if not recipe.settings.mixup:  # a setting added after earlier candidates were stored: off, it keeps their key
        del described["settings"]["mixup"]
    return CANDIDATE_CACHE / f"{hashlib.sha1(json.dumps(described, sort_keys=True).encode()).hexdigest()}.json"


def ship_one(architecture: str, selection: dict, corpus: Corpus, out: Path, refit: bool) -> dict:
    """Save ``architecture`` as ``SELECTION`` chose it, with its selection figures: the very fit that was
    measured on the valid split, or (``refit``) the chosen recipe fitted again on train + valid."""
    fit.use_threads(1)
    _log_progress()
    chosen = selection["candidates"][selection["networks"][architecture]]
    recipe = Recipe(**{**chosen["recipe"], "settings": FitSettings(**chosen["recipe"]["settings"])})
    labelled = corpus.labelled["train"] + corpus.labelled["valid"] if refit else corpus.labelled["train"]
    if refit:
        shifts = shift_range(recipe.pitch_shift)
        probe = fit_probe(corpus, labelled, shifts, recipe.probe_inverse_penalty) if recipe.teacher else None
        data = feature_set(corpus, labelled, recipe, probe, shifts)
        network, fitting = train_network(recipe, data)
        fitting["windows"] = len(data)
    else:
        network = models.build(architecture, len(GTZAN_GENRES), recipe.front_end)
        network.load_state_dict(torch.load(_stored_candidate(recipe).with_suffix(".pt"), weights_only=True))
        fitting = {**chosen["training"], "windows": chosen["windows"]}
        fitting.pop("valid_track_accuracy_by_epoch", None)  # the learning curve is in training/reports/curves
    temperature = chosen["valid"]["temperature"]
    fold_temperature(network, temperature)
    split = "train + valid" if refit else "train"
    card = {
        "architecture": architecture,
        "genres": list(GTZAN_GENRES),
        "provisional": False,
        "front_end": recipe.front_end,
        # Measured by benchmarks/precision.py: the same top genre in 0.5-0.65 of the time (benchmarks/README.md).
        "inference_precision": models.BFLOAT16,
        "training": {
            "summary": (
                f"Real GTZAN excerpts, snippets and classical excerpts of the fault-filtered {split} split"
                + ("s" if refit else "")
                + (", and real-extra's real recordings" if any(c.source == (REAL_EXTRA,) for c in labelled) else "")
                + (
                    ", distilled from musicnn + a linear probe (with unlabelled real recordings and soundtracks)"
                    if recipe.teacher
                    else ""
                )
                + "; no test-split track."
            ),
            "data": {
                split: source_counts(labelled),
                "unlabelled": source_counts(corpus.unlabelled if recipe.teacher else []),
            },
            "recipe": asdict(recipe),
            "teacher": TEACHER_DESCRIPTION if recipe.teacher else None,
            **fitting,
            "machine": f"{platform.machine()}, torch {torch.__version__}, 1 thread",
            "temperature": {
                "value": temperature,
                "how": "fitted on the valid split by the selection fit; folded into the output layer",
            },
            "rebuild": "python -m training.rebuild select && python -m training.rebuild ship" + (" --refit" * refit),
        },
        "metrics": {
            "selection": {
                "what": (
                    f"measured on {selection['valid_split']} (artist-disjoint from train); "
                    + (
                        "the shipped weights are the same recipe refitted on train + valid"
                        if refit
                        else "the shipped weights are the very fit measured (trained on the train split only)"
                    )
                ),
                **chosen["valid"],
            }
        },
    }
    save_model(network, architecture, out, card)
    return card


def ship(jobs: int, out: Path, refit: bool, networks: tuple[str, ...] = NETWORKS) -> None:
    """Save ``networks`` as ``SELECTION`` chose them to ``out`` (``refit``: fitted again on train + valid)."""
    selection = json.loads(SELECTION.read_text(encoding="utf-8"))
    corpus = load_corpus()
    Parallel(n_jobs=jobs)(delayed(ship_one)(architecture, selection, corpus, out, refit) for architecture in networks)
    log.info("shipped %s to %s; best of the four by selection: %s", ", ".join(networks), out, selection["default"])


def _log_progress() -> None:
    """Progress lines to standard error, in the main process and in joblib's workers alike."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training.rebuild", description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["select", "ship"])
    parser.add_argument("--jobs", type=int, default=2, help="networks trained at once (one core each)")
    parser.add_argument("--out", type=Path, default=REPO / "weights")
    parser.add_argument("--refit", action="store_true", help="ship: fit the chosen recipes again on train + valid")
    parser.add_argument(
        "--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS), help="ship: only these networks"
    )
    args = parser.parse_args(argv)
    _log_progress()
    if args.step == "select":
        select(args.jobs)
    else:
        ship(args.jobs, args.out, args.refit, tuple(args.networks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
