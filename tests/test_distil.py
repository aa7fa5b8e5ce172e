"""training/distil.py: distillation loss and student, weight averaging, teacher cache, study labels."""

from __future__ import annotations

import pytest
import torch
from conftest import SNIPPETS
from torch.nn import functional

from genretag import learn, models
from training.corpus import Clip
from training.distil import DistillationLoss, average_weights, cached_network
from training.experiments import recipes
from training.features import build_feature_set


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """Three genres × four real GTZAN snippets."""
    genres = ("blues", "metal", "reggae")
    clips = [Clip(path, genre, path.stem) for genre in genres for path in sorted(SNIPPETS.glob(f"{genre}.*.flac"))[:4]]
    return build_feature_set(clips, genres, cache_dir=tmp_path_factory.mktemp("features"))


def network(seed: int, n_genres: int = 3):
    torch.manual_seed(seed)
    return models.build("v-kernel", n_genres).eval()


def test_the_loss_is_cross_entropy_at_weight_zero_and_zero_for_a_student_equal_to_its_teacher(features):
    mels = features.mels[:6].float().unsqueeze(1)
    labels = features.labels[:6]
    teacher = network(0)
    scores = teacher(mels).detach()
    hard_only = DistillationLoss([teacher], weight=0.0, temperature=2.0)
    assert hard_only(scores, labels, mels) == pytest.approx(float(functional.cross_entropy(scores, labels)), abs=1e-5)
    soft_only = DistillationLoss([teacher], weight=1.0, temperature=2.0)
    assert abs(float(soft_only(scores, labels, mels))) < 1e-4
    assert float(soft_only(network(1)(mels).detach(), labels, mels)) > 1e-3
    with pytest.raises(ValueError, match="temperature"):
        DistillationLoss([teacher], weight=0.5, temperature=0.0)


def test_a_student_trained_on_the_loss_moves_towards_its_teachers(features):
    teachers = [network(seed) for seed in (1, 2)]
    loss = DistillationLoss(teachers, weight=1.0, temperature=1.0)
    target = sum(learn.predict_probabilities(teacher, features) for teacher in teachers) / 2

    def distance(student) -> float:
        predicted = learn.predict_probabilities(student, features)
        return float((target * (torch.tensor(target).log() - torch.tensor(predicted).log()).numpy()).sum())

    student = network(0)
    before = distance(student)
    learn.fit(student, features, epochs=4, batch_size=8, lr=3e-3, loss=loss)
    assert distance(student) < 0.5 * before


def test_a_cached_network_is_trained_once_and_loaded_after(tmp_path):
    path = tmp_path / "teacher.pt"
    first = cached_network(path, "v-kernel", lambda: models.build("v-kernel"))

    def must_not_train():
        raise AssertionError("trained again")

    again = cached_network(path, "v-kernel", must_not_train)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True))


def test_average_weights_is_the_mean_of_every_floating_point_tensor(features):
    first, second = network(0), network(1)
    learn.recalibrate_batch_norm(second, features)  # BatchNorm statistics differ too
    mean = average_weights([first, second])
    for name, value in first.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(mean[name], (value + second.state_dict()[name]) / 2)
        else:
            assert name not in mean  # e.g. BatchNorm's batch counter


def test_distilled_runs_get_their_own_summary_row(tmp_path):
    study = tmp_path / "study.csv"
    study.write_text(
        "recipe,model,fold,seed,steps,snippet_acc,prototype_acc,cc,distil,distil_weight,temperature,soup,spawn_at\n"
        "real,crnn,0,0,300,0.5,0.5,Vibe_Ace=jazz,,,,,\nreal,crnn,0,0,300,0.6,0.5,Vibe_Ace=jazz,3,0.7,2,,\n"
        "real,crnn,1,0,300,0.5,0.5,Vibe_Ace=jazz,,,,,\nreal,crnn,1,0,300,0.7,0.5,Vibe_Ace=jazz,3,0.7,2,,\n"
        "real,crnn,1,0,300,0.4,0.5,Vibe_Ace=jazz,,,,3,0.33\n"
    )
    summary = recipes.summarise(study)
    assert "| real distilled from 3 (α 0.7, T 2) | 300 | crnn | 2 | 0.650 ± 0.071 |" in summary
    assert "| crnn | real distilled from 3 (α 0.7, T 2) | 2 | +0.150 ± 0.071 | 2 |" in summary
    assert "| real soup of 3 spawned at 0.33 | 300 | crnn | 1 | 0.400 ± 0.000 |" in summary
