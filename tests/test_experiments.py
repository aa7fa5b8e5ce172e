"""training/ recipe study and rebuild: augmentation, the fold split, the metrics a model card cites."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SNIPPETS

from genretag import learn, models
from genretag.models import GTZAN_GENRES
from training.augment import FLOOR, MAX_BAND, mixed_windows, random_windows, spec_augment
from training.corpus import Clip, balanced_weights
from training.experiments import calibration, confusion, recipes
from training.features import build_feature_set
from training.rebuild import HELD_OUT_TRACKS, shipped_split, study_metrics


@pytest.fixture(scope="module")
def tiny_features(tmp_path_factory):
    """Two genres × four real GTZAN snippets."""
    clips = [
        Clip(path, genre, path.stem)
        for genre in ("metal", "reggae")
        for path in sorted(SNIPPETS.glob(f"{genre}.*.flac"))[:4]
    ]
    return build_feature_set(clips, ("metal", "reggae"), cache_dir=tmp_path_factory.mktemp("features"))


def test_spec_augment_is_seeded_keeps_the_range_and_leaves_its_input_alone():
    mels = torch.rand(8, 1, 128, 200) * 2 - 1
    before = mels.clone()
    first = spec_augment(mels, torch.Generator().manual_seed(3))
    again = spec_augment(mels, torch.Generator().manual_seed(3))
    other = spec_augment(mels, torch.Generator().manual_seed(4))
    assert torch.equal(mels, before) and first.shape == mels.shape
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.min() >= FLOOR and first.max() <= 1.0
    floored_bands = (first == FLOOR).all(dim=3).sum(dim=2).squeeze(1)  # whole mel rows masked, per example
    assert (floored_bands <= 2 * MAX_BAND).all() and floored_bands.sum() > 0


def test_fit_augments_training_batches_only(tiny_features):
    seen = []

    def recording(mels, generator):
        seen.append(tuple(mels.shape))
        return spec_augment(mels, generator)

    network = models.build("v-kernel", len(tiny_features.genres))
    history = learn.fit(network, tiny_features, tiny_features.originals(), epochs=1, batch_size=16, augment=recording)
    samples = int(tiny_features.original.sum())
    assert len(seen) == (samples + 15) // 16 and all(shape[1:3] == (1, 128) for shape in seen)
    assert len(history.valid_track_accuracy) == 1


def test_study_folds_keep_track_blocks_apart_and_hold_out_one_generator():
    clips = recipes.real_clips()
    seen_snippets = set()
    for fold in range(5):
        train, snippets, prototypes = recipes.split(clips, fold, 5)
        held_numbers = {recipes.track_number(clip) for clip in snippets}
        trained_numbers = {recipes.track_number(c) for c in train if c.source[0] != "prototypes"} - {None}
        trained_snippets = {recipes.track_number(c) for c in train if c.source == ("snippets",)}
        assert held_numbers and not held_numbers & trained_snippets
        assert not {n for n in trained_numbers if 11 <= n <= 50} & held_numbers  # classical excerpts too
        held = recipes.GENERATORS[fold % len(recipes.GENERATORS)]
        assert prototypes and all(c.source == ("prototypes", held) for c in prototypes)
        assert not any(c.source == ("prototypes", held) for c in train)
        seen_snippets |= {clip.track for clip in snippets}
    assert len(seen_snippets) == sum(clip.source == ("snippets",) for clip in clips)


def test_learning_curve_share_thins_training_snippets_only():
    clips = recipes.real_clips()
    whole_train, whole_held, _ = recipes.split(clips, 2, 5)
    half_train, half_held, _ = recipes.split(clips, 2, 5, snippet_share=0.5)
    half_snippets = [c for c in half_train if c.source == ("snippets",)]
    whole_snippets = [c for c in whole_train if c.source == ("snippets",)]
    assert half_held == whole_held
    assert 0.4 < len(half_snippets) / len(whole_snippets) < 0.6
    assert [c for c in half_train if c.source != ("snippets",)] == [c for c in whole_train if c.source != ("snippets",)]
    kept_numbers = {recipes.track_number(c) for c in half_snippets}
    assert all(number in kept_numbers for number in (11, 14, 43, 46)) and not kept_numbers & {15, 18, 47, 50}


def test_model_cards_cite_the_study_mean_and_spread(tmp_path):
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,snippet_acc,prototype_acc\n"
        "synth-full,v-kernel,0,0,0.5,0.8\nsynth-full,v-kernel,1,0,0.7,0.6\nreal,v-kernel,0,0,0.1,0.1\n"
    )
    metrics = study_metrics("synth-full", "v-kernel", study)
    assert metrics["runs"] == 2 and metrics["folds"] == 2 and metrics["seeds"] == [0]
    assert metrics["gtzan_snippets_track_accuracy"] == {"mean": 0.6, "std": 0.1414}
    assert "no study runs" in study_metrics("real", "crnn", study)["note"]


def test_study_rows_gain_new_columns_without_losing_old_ones(tmp_path):
    study = tmp_path / "study.csv"
    recipes.append_row(study, {"recipe": "real", "snippet_acc": 0.4})
    recipes.append_row(study, {"recipe": "real", "snippet_acc": 0.5, "augment": True})
    assert study.read_text().splitlines() == ["recipe,snippet_acc,augment", "real,0.4,", "real,0.5,True"]


def test_rebuild_trains_on_every_real_clip_or_holds_out_gtzan_tracks_41_to_50():
    assert shipped_split(recipes.real_clips(), hold_out=False) == (recipes.real_clips(), [])
    train, test = shipped_split(recipes.real_clips(), hold_out=True)
    assert {recipes.track_number(clip) for clip in test} == set(HELD_OUT_TRACKS)
    assert {clip.genre for clip in test} == set(GTZAN_GENRES)
    assert not {recipes.track_number(clip) for clip in train} & set(HELD_OUT_TRACKS)
    assert {clip.source for clip in test} == {("snippets",), ("gtzan-classical",)}
    assert len(train) + len(test) == len(recipes.real_clips())


def test_summary_pairs_each_recipe_with_the_baseline_on_the_same_fold_and_seed(tmp_path):
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,steps,snippet_acc,prototype_acc,cc\n"
        "real,v-kernel,0,0,300,0.4,0.5,Vibe_Ace=jazz\nreal-ps,v-kernel,0,0,300,0.5,0.5,Vibe_Ace=jazz\n"
        "real,v-kernel,1,0,300,0.6,0.5,Vibe_Ace=pop\nreal-ps,v-kernel,1,0,300,0.5,0.5,Vibe_Ace=pop\n"
        "real-ps,v-kernel,2,0,300,0.9,0.5,Vibe_Ace=pop\n"
    )
    assert "| v-kernel | real-ps | 2 | +0.000 ± 0.141 | 1 |" in recipes.summarise(study)


def test_learning_curve_runs_stay_out_of_the_cards_and_get_their_own_summary_row(tmp_path):
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,steps,snippet_acc,prototype_acc,cc,snippet_share\n"
        "real,crnn,0,0,300,0.6,0.5,Vibe_Ace=jazz,\nreal,crnn,1,0,300,0.4,0.5,Vibe_Ace=jazz,1.0\n"
        "real,crnn,0,0,300,0.1,0.5,Vibe_Ace=pop,0.5\nreal,crnn,1,0,300,0.3,0.5,Vibe_Ace=pop,0.5\n"
    )
    assert study_metrics("real", "crnn", study)["gtzan_snippets_track_accuracy"]["mean"] == 0.5
    summary = recipes.summarise(study)
    assert "| real snippets×0.5 | 300 | crnn | 2 | 0.200 ± 0.141 |" in summary
    assert "| crnn | real snippets×0.5 | 2 | -0.300 ± 0.283 | 0 |" in summary


def test_prototype_share_moves_weight_between_sources_inside_each_genre_only():
    clips = recipes.real_clips()
    balanced = balanced_weights(clips)
    for share in (0.0, 0.25, 0.75):
        weights = recipes.prototype_weighted(clips, balanced, share)
        for genre in GTZAN_GENRES:
            members = [i for i, c in enumerate(clips) if c.genre == genre]
            prototypes = sum(weights[i] for i in members if clips[i].source[0] == "prototypes")
            assert sum(weights[i] for i in members) == pytest.approx(sum(balanced[i] for i in members))
            assert prototypes == pytest.approx(share * sum(balanced[i] for i in members))
        snippets = [weights[i] for i, c in enumerate(clips) if c.source == ("snippets",) and c.genre == "rock"]
        assert max(snippets) == pytest.approx(min(snippets))  # still equal inside a source
    assert recipes.prototype_weighted(clips, balanced, None) is balanced


def test_weight_average_ends_on_the_mean_of_the_late_epochs_weights(tiny_features):
    network = models.build("v-kernel", len(tiny_features.genres))
    snapshots = []
    average = recipes.WeightAverage(network, first_epoch=2)

    def record(progress):
        average(progress)
        if progress.epoch_done and progress.epoch >= 2:
            snapshots.append(learn.final_layer(network).weight.detach().clone())

    learn.fit(network, tiny_features, epochs=3, batch_size=16, progress=record)
    assert average.count == 2 and len(snapshots) == 2
    average.load_into_network(tiny_features, seed=0)
    assert torch.allclose(learn.final_layer(network).weight, (snapshots[0] + snapshots[1]) / 2, atol=1e-6)
    assert not torch.equal(snapshots[0], snapshots[1]) and not network.training


def test_each_study_variant_gets_its_own_summary_row_and_card_figures(tmp_path):
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,steps,snippet_acc,prototype_acc,cc,prototype_share,average_from,crop_frames,"
        "label_smoothing,fresh_windows\n"
        "real,crnn,0,0,300,0.6,0.5,Vibe_Ace=jazz,,,128,,\nreal,crnn,0,0,300,0.7,0.5,Vibe_Ace=jazz,,0.5,128,,\n"
        "real,crnn,0,0,300,0.2,0.5,Vibe_Ace=jazz,0.25,,128,,\nreal,crnn,0,0,300,0.4,0.5,Vibe_Ace=jazz,,,256,,\n"
        "real,crnn,0,0,300,0.5,0.5,Vibe_Ace=jazz,,,128,0.1,False\nreal,crnn,0,0,300,0.3,0.5,Vibe_Ace=jazz,,,128,0.0,True\n"
    )
    assert study_metrics("real", "crnn", study)["runs"] == 1
    assert study_metrics("real", "crnn", study, " avg≥0.5")["gtzan_snippets_track_accuracy"]["mean"] == 0.7
    summary = recipes.summarise(study)
    assert "| real avg≥0.5 | 300 | crnn | 1 | 0.700 ± 0.000 |" in summary
    assert "| real prototypes×0.25 | 300 | crnn | 1 | 0.200 ± 0.000 |" in summary
    assert "| real crop 256 | 300 | crnn | 1 | 0.400 ± 0.000 |" in summary
    assert "| real label smoothing 0.1 | 300 | crnn | 1 | 0.500 ± 0.000 |" in summary
    assert "| real fresh windows | 300 | crnn | 1 | 0.300 ± 0.000 |" in summary
    assert study_metrics("real", "crnn", study, " crop 256")["gtzan_snippets_track_accuracy"]["mean"] == 0.4


def test_an_ensemble_scores_the_mean_of_its_members_probabilities(tiny_features, tmp_path):
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        members.append(models.build("v-kernel", len(tiny_features.genres)).eval())
    ensemble = models.Ensemble(members)
    mean = sum(learn.predict_probabilities(member, tiny_features) for member in members) / 2
    assert abs(learn.predict_probabilities(ensemble, tiny_features) - mean).max() < 1e-5
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,steps,snippet_acc,prototype_acc,cc,ensemble,members\n"
        'real,crnn,0,0,300,0.5,0.5,Vibe_Ace=jazz,3,\nreal,crnn,0,0,300,0.6,0.5,Vibe_Ace=jazz,3,"crnn,crnn,bicrnn"\n'
    )
    assert "| real ensemble of 3 | 300 | crnn | 1 | 0.500" in recipes.summarise(study)
    assert "| real ensemble crnn+crnn+bicrnn | 300 | crnn | 1 | 0.600" in recipes.summarise(study)
    assert "no study runs" in study_metrics("real", "crnn", study)["note"]  # an ensemble is not a shipped model


def test_mixed_windows_are_fresh_seeded_peak_scaled_mixtures():
    mels = torch.full((4, 1, 128, 300), -1.0)
    mels[:, :, 10, :] = 1.0  # a loud band in every example
    mels[0, :, 50, 100:] = 0.5  # and one quieter band, late in the first example only
    views = mixed_windows(128)
    first = views(mels, torch.Generator().manual_seed(0))
    assert first.shape == (4, 1, 128, 128) and torch.equal(first, views(mels, torch.Generator().manual_seed(0)))
    assert not torch.equal(first, views(mels, torch.Generator().manual_seed(1)))
    assert torch.allclose(first.amax(dim=(2, 3)), torch.ones(4, 1)) and first.min() >= FLOOR
    assert ((first[:, 0, 50] > FLOOR) & (first[:, 0, 50] < 0.5)).any()  # band 50 mixed in, quieter than alone


def test_confusion_table_gives_each_genre_its_recall_and_how_often_it_was_predicted(tiny_features, capsys):
    torch.manual_seed(0)
    network = models.build("v-kernel", len(tiny_features.genres)).eval()
    evaluation = learn.evaluate(network, tiny_features)
    table = confusion.confusion_table(evaluation.confusion, tiny_features.genres)
    metal, reggae = evaluation.confusion
    assert f"| metal | {metal[0]} | {metal[1]} | {metal[0] / 4:.2f} | {metal[0] + reggae[0]} |" in table
    assert f"| reggae | {reggae[0]} | {reggae[1]} | {reggae[1] / 4:.2f} | {metal[1] + reggae[1]} |" in table
    assert table.endswith(f"8 predictions, {evaluation.track_accuracy:.3f} right.")
    assert confusion.main(["--recipes", "real", "--models", "crnn", "--ensemble", "3", "--distil", "3"]) == 2
    assert "the study's alone" in capsys.readouterr().err


def test_random_windows_are_fresh_seeded_windows_of_each_segment():
    mels = torch.arange(300, dtype=torch.float32).expand(4, 1, 128, 300).clone()  # each column holds its frame
    views = random_windows(128)
    first = views(mels, torch.Generator().manual_seed(0))
    assert first.shape == (4, 1, 128, 128) and torch.equal(first, views(mels, torch.Generator().manual_seed(0)))
    steps = first[:, 0, 0, 1:] - first[:, 0, 0, :-1]
    assert (steps == 1).all() and first.min() >= 0 and first.max() <= 299  # contiguous frames of the segment
    starts = [views(mels, torch.Generator().manual_seed(seed))[:, 0, 0, 0] for seed in range(5)]
    assert len({int(start) for row in starts for start in row}) > 4  # windows start anywhere, not at fixed places


def test_label_smoothing_spreads_a_share_of_each_label_over_all_genres():
    scores, labels = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), torch.tensor([0, 2])
    log_p = torch.log_softmax(scores, dim=1)
    by_hand = -(0.9 * log_p[[0, 1], labels] + 0.1 * log_p.mean(dim=1)).mean()
    loss = recipes.smoothed_cross_entropy(0.1)(scores, labels, torch.zeros(2, 1, 128, 8))
    assert torch.isclose(loss, by_hand)


def test_genre_bias_evens_out_the_mean_prediction_with_every_true_genre_weighted_equally():
    # Three held-out predictions of genre 0 and one of genre 1; the model leans to genre 0.
    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.8, 0.2], [0.6, 0.4]])
    labels = np.array([0, 0, 0, 1])
    bias = calibration.balanced_genre_bias(probabilities, labels)
    mean = (np.array([0.8, 0.2]) + np.array([0.6, 0.4])) / 2  # each true genre's mean, then their mean
    assert np.allclose(bias, -np.log(mean) + np.log(mean).mean()) and abs(bias.sum()) < 1e-12
    assert bias[1] > 0 > bias[0]


def test_each_folds_bias_is_fitted_on_the_other_folds_only():
    generator = np.random.default_rng(0)
    folds = []
    for fold in range(4):
        windows = generator.dirichlet([3.0, 1.0, 1.0], size=12)  # a model that leans to genre 0
        folds.append((fold, generator.dirichlet([1.0, 1.0, 1.0], size=12), windows, np.arange(12) % 3, None))
    accuracies = calibration.nested_accuracies(folds)
    assert set(accuracies) == {"whole", "windows", "windows + bias"}  # no mel-stats predictions, no blend
    differs_from_pooled = 0
    for fold, whole, windows, labels, _ in folds:
        nested = calibration.pooled_bias([f for f in folds if f[0] != fold])
        assert accuracies["windows + bias"][fold] == calibration.accuracy(np.log(windows) + nested, labels)
        assert accuracies["windows"][fold] == calibration.accuracy(windows, labels)
        assert accuracies["whole"][fold] == calibration.accuracy(whole, labels)
        pooled = calibration.accuracy(np.log(windows) + calibration.pooled_bias(folds), labels)
        differs_from_pooled += pooled != accuracies["windows + bias"][fold]
    assert differs_from_pooled  # the example tells nested from pooled fitting apart
    table = calibration.ways_table({way: {(0, f): v for f, v in runs.items()} for way, runs in accuracies.items()})
    assert "| windows + bias |" in table and table.endswith("4 runs (seed × fold).")


def test_genres_table_gives_each_readings_recall_and_times_predicted():
    confusions = {"whole": np.array([[3, 1], [2, 2]]), "windows + bias": np.array([[4, 0], [1, 3]])}
    table = calibration.genres_table(confusions, ("metal", "reggae")).splitlines()
    assert table[2:] == [
        "| whole: recall | 0.75 | 0.50 |",
        "| whole: times predicted | 5 | 3 |",
        "| windows + bias: recall | 1.00 | 0.75 |",
        "| windows + bias: times predicted | 5 | 3 |",
        "| true | 4 | 4 |",
    ]


def test_calibration_refuses_the_study_only_options(capsys):
    assert calibration.main(["--recipes", "real", "--models", "crnn", "--soup", "3"]) == 2
    assert "the study's alone" in capsys.readouterr().err
    assert calibration.main(["--recipes", "real,real-ps", "--models", "crnn"]) == 2
    assert "one recipe" in capsys.readouterr().err


def test_the_blend_averages_in_mel_stats_log_probabilities_and_fits_its_own_bias_on_the_other_folds():
    generator = np.random.default_rng(1)
    folds = []
    for fold in range(3):
        labels = np.arange(12) % 3
        windows = generator.dirichlet([1.0, 1.0, 1.0], size=12)
        statistics = generator.dirichlet([1.0, 1.0, 4.0], size=12)  # leans to genre 2
        folds.append((fold, windows, windows, labels, statistics))
    scores = calibration.nested_scores(folds)
    for fold, _, windows, _, statistics in folds:
        geometric = np.sqrt(windows * statistics)
        blend = geometric / geometric.sum(axis=1, keepdims=True)
        assert np.allclose(scores["windows + mel-stats"][fold][0], np.log(blend))
        others = [f for f in folds if f[0] != fold]
        pooled = np.concatenate([calibration.blended(f[2], f[4]) for f in others])
        bias = calibration.balanced_genre_bias(pooled, np.concatenate([f[3] for f in others]))
        assert np.allclose(scores["windows + mel-stats + bias"][fold][0], np.log(blend) + bias)
        assert bias[2] < 0  # the blend leans to mel-stats' favourite, the bias leans back
        assert scores["mel-stats"][fold][0] is statistics


def test_mel_stats_fit_is_deterministic_and_separates_real_snippets_of_two_genres(tiny_features):
    from training.mel_stats import fit_mel_statistics, statistics

    first, second = fit_mel_statistics(tiny_features), fit_mel_statistics(tiny_features)
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    features = statistics(tiny_features)
    assert torch.allclose(first.feature_mean, features.mean(dim=0), atol=1e-5)
    assert learn.evaluate(first, tiny_features).track_accuracy == 1.0
    weaker = fit_mel_statistics(tiny_features, inverse_penalty=1e-6)  # all but the bias penalised away
    assert weaker.classifier.weight.abs().max() < first.classifier.weight.abs().max() / 10


def test_mel_stats_learns_from_the_windows_the_default_reads(tiny_features):
    from training.mel_stats import reading_windows

    windows = reading_windows(tiny_features, 128, 152)
    n = len(tiny_features)
    assert len(windows) == 3 * n and windows.mels.shape[-1] == 128
    for k, start in enumerate(models.window_starts(tiny_features.mels.shape[-1], 128, 152)):
        assert torch.equal(windows.mels[k * n : (k + 1) * n], tiny_features.mels[..., start : start + 128])
        assert torch.equal(windows.labels[k * n : (k + 1) * n], tiny_features.labels)
    assert torch.allclose(windows.weights.sum(), tiny_features.weights.sum())  # the segments' weight, shared
