"""training.rebuild: the shipped weights' corpus, teacher targets and selection, on the real material of ../shared."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from conftest import requires_shared

from genretag.genres import GTZAN_GENRES
from training import rebuild
from training.corpus import Clip, split_of
from training.teacher.probe import window_key

pytestmark = [pytest.mark.training, requires_shared]


@pytest.fixture(scope="module")
def corpus():
    return rebuild.load_corpus()


def test_the_corpus_holds_train_and_valid_tracks_only_and_no_track_on_both_sides(corpus):
    # real-extra's recordings (when their embeddings were made: training/cache/teacher) train, never select.
    extra = [clip for clip in corpus.labelled["train"] if clip.source == (rebuild.REAL_EXTRA,)]
    assert all(clip.track.startswith(f"{rebuild.REAL_EXTRA}/") for clip in extra)
    assert not any(clip.source == (rebuild.REAL_EXTRA,) for clip in corpus.labelled["valid"])
    train = {clip.track for clip in corpus.labelled["train"] if clip not in extra}
    valid = {clip.track for clip in corpus.labelled["valid"]}
    assert not train & valid
    assert {split_of(track) for track in train} == {"train"} and {split_of(track) for track in valid} == {"valid"}
    full_valid = [clip for clip in corpus.labelled["valid"] if clip.source == ("gtzan-full",)]
    assert len(full_valid) == 84  # the selection tracks: every valid excerpt of gtzan-full
    assert all(clip.genre == "" for clip in corpus.unlabelled)  # the Debian soundtracks, when fetched


def test_every_labelled_window_has_its_stored_teacher_embedding(corpus):
    for clip in corpus.labelled["train"][:40] + corpus.labelled["valid"][:40]:
        assert window_key(corpus.keys[clip.path], 0, 0) in corpus.embeddings, clip.path


def test_the_teacher_probe_fitted_on_train_knows_the_valid_tracks_far_above_chance(corpus):
    probe = rebuild.fit_probe(corpus, corpus.labelled["train"], [0], 0.001)
    valid = rebuild.full_tracks(corpus.labelled["valid"])
    figures = rebuild.teacher_figures(corpus, probe, valid)
    assert figures["tracks"] == 84
    assert figures["accuracy"] > 0.6 and figures["macro_recall"] > 0.5  # chance is 0.1


def test_training_targets_mix_label_and_teacher_and_unlabelled_windows_learn_the_teacher_alone(corpus):
    by_genre = {}
    for clip in corpus.labelled["train"]:
        if clip.source == ("gtzan-full",):
            by_genre.setdefault(clip.genre, clip)
    labelled = list(by_genre.values())[:3]
    # Two valid-split excerpts stand in for unlabelled music: they have stored embeddings but no label here.
    unlabelled = [Clip(clip.path, "", clip.track, ("unlabelled",)) for clip in corpus.labelled["valid"][:2]]
    small = rebuild.Corpus({"train": labelled, "valid": []}, unlabelled, corpus.keys, corpus.embeddings)
    probe = rebuild.fit_probe(corpus, corpus.labelled["train"], [0], 0.001)
    recipe = rebuild.Recipe("crnn", teacher=True)
    data = rebuild.feature_set(small, labelled, recipe, probe, [0])
    assert torch.allclose(data.targets.sum(dim=1), torch.ones(len(data)), atol=1e-5)
    known = data.labels >= 0
    true_mass = data.targets[known, data.labels[known]]
    assert (true_mass >= recipe.label_share - 1e-6).all() and (true_mass < 1).any()
    assert (~known).any()  # unlabelled windows, which learn the teacher's probabilities
    unlabelled_weight = data.weights[~known].sum() / data.weights.sum()
    assert abs(float(unlabelled_weight) - recipe.unlabelled_share) < 1e-6
    without = rebuild.feature_set(small, labelled, rebuild.Recipe("crnn", teacher=False), None, [0])
    assert (without.labels >= 0).all()
    assert torch.equal(without.targets.argmax(dim=1), without.labels) and (without.targets.max(dim=1).values == 1).all()
    assert set(GTZAN_GENRES[i] for i in data.labels[known].tolist()) == set(by_genre) & {c.genre for c in labelled}


def test_the_temperature_is_folded_into_the_output_layer():
    from genretag import models

    torch.manual_seed(0)
    network = models.build("v-kernel").eval()
    mels = torch.rand(2, 1, 128, 431) * 2 - 1
    with torch.no_grad():
        before = network(mels)
        rebuild.fold_temperature(network, 2.5)
        after = network(mels)
    assert torch.allclose(after, before / 2.5, atol=1e-5)


def test_ship_saves_the_measured_half_rate_fit_with_its_figures_and_temperature(corpus, tmp_path, monkeypatch):
    from genretag import audio, models, weights

    monkeypatch.setattr(rebuild, "CANDIDATE_CACHE", tmp_path / "candidates")
    recipe = rebuild.Recipe("v-kernel", teacher=True, front_end=audio.LOG_MEL_HALF)
    torch.manual_seed(0)
    measured = models.build("v-kernel", len(GTZAN_GENRES), audio.LOG_MEL_HALF).eval()
    stored = rebuild._stored_candidate(recipe)
    stored.parent.mkdir()
    torch.save(measured.state_dict(), stored.with_suffix(".pt"))
    figures = {"right": 55, "tracks": 84, "accuracy": 0.655, "temperature": 2.0}
    training = {"train_loss_by_epoch": [2.0, 1.0], "seconds": 9, "valid_track_accuracy_by_epoch": [0.5, 0.6]}
    name = "v-kernel, a recipe"
    selection = {
        "valid_split": "the 84 full 30 s tracks of the fault-filtered valid split",
        "networks": {"v-kernel": name},
        "candidates": {name: {"recipe": asdict(recipe), "valid": figures, "training": training, "windows": 7}},
    }
    card = rebuild.ship_one("v-kernel", selection, corpus, tmp_path / "out", refit=False)
    assert card["front_end"] == audio.LOG_MEL_HALF and card["metrics"]["selection"]["right"] == 55
    assert card["training"]["windows"] == 7 and "train + valid" not in card["training"]["data"]
    shipped = weights.load_model_card(tmp_path / "out" / "v-kernel.json")
    assert shipped.card["audio"]["hop_length"] == audio.HALF_RATE_HOP_LENGTH
    mels = torch.rand(2, 1, audio.N_MELS, 216) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(shipped.network(mels), measured(mels) / 2.0, atol=1e-5)


def test_each_network_ships_its_best_declared_candidate_and_an_undeclared_one_the_best_recipe():
    def recipe(architecture: str, label_share: float) -> rebuild.Recipe:
        return rebuild.Recipe(architecture, teacher=True, label_share=label_share)

    candidates = {
        "v-kernel, half": recipe("v-kernel", 0.5),
        "crnn, half": recipe("crnn", 0.5),
        "crnn, quarter": recipe("crnn", 0.25),
        "bicrnn, quarter": recipe("bicrnn", 0.25),
    }
    scores = {"v-kernel, half": 0.7, "crnn, half": 0.5, "crnn, quarter": 0.6, "bicrnn, quarter": 0.4}
    results = {name: {"valid": {"accuracy": score, "macro_recall": score}} for name, score in scores.items()}
    assert rebuild.network_choices(candidates, results) == {
        "crnn": "crnn, quarter",
        "bicrnn": "bicrnn, quarter",
        "v-kernel-l2": "v-kernel-l2, half",  # none declared: the best candidate's recipe
        "v-kernel": "v-kernel, half",
    }
