"""fit, the product's one fit/evaluate loop (``genretag learn`` uses it), on log-mels of tones generated here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genretag import audio, fit, models

GENRES = ("low", "high")
TRACKS_PER_GENRE = 3
SEGMENTS_PER_TRACK = 2


@pytest.fixture(scope="module")
def tones() -> fit.FeatureSet:
    """Two 'genres' of tracks: tones around 220 Hz and around 3.5 kHz in noise, two 10 s segments each."""
    rng = np.random.default_rng(0)
    time = np.arange(audio.SEGMENT_SAMPLES) / audio.SAMPLE_RATE
    mels, labels, tracks = [], [], []
    for label, base in enumerate((220.0, 3520.0)):
        for number in range(TRACKS_PER_GENRE):
            for _ in range(SEGMENTS_PER_TRACK):
                tone = 0.3 * np.sin(2 * np.pi * base * (1 + 0.05 * number) * time)
                samples = (tone + 0.05 * rng.standard_normal(len(time))).astype(np.float32)
                mels.append(audio.log_mel(samples[None]).to(torch.float16))
                labels.append(label)
                tracks.append(label * TRACKS_PER_GENRE + number)
    names = [f"{genre}.{number}" for genre in GENRES for number in range(TRACKS_PER_GENRE)]
    count = len(labels)
    return fit.FeatureSet.from_segments(mels, labels, tracks, [1.0] * count, [True] * count, GENRES, names)


def test_fit_is_deterministic_and_evaluate_aggregates_by_track(tones):
    fit.use_threads(2)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        network = models.build("v-kernel", len(GENRES))
        fit.fit(network, tones, None, fit.FitSettings(epochs=2, seed=5, batch_size=4))
        runs.append(network.state_dict())
    for key, value in runs[0].items():
        assert torch.equal(value, runs[1][key]), key
    result = fit.evaluate(network, tones.originals())
    tracks = len(GENRES) * TRACKS_PER_GENRE
    assert result.n_tracks == tracks and result.confusion.sum() == tracks
    assert result.n_segments == tracks * SEGMENTS_PER_TRACK
    assert result.confusion.trace() / tracks == pytest.approx(result.track_accuracy)


def test_patience_stops_early_and_the_best_epoch_is_kept(tones):
    fit.use_threads(2)
    torch.manual_seed(0)
    network = models.build("v-kernel", len(GENRES))
    settings = fit.FitSettings(epochs=30, seed=1, batch_size=4, patience=1, select_on="log_loss")
    history = fit.fit(network, tones, tones, settings)
    epochs_run = len(history.train_loss)
    assert history.best_epoch == 1 + int(np.argmin(history.valid_track_log_loss))
    # One epoch without a lower validation loss ends the fit, unless the last epoch came first.
    assert history.stopped_early == (epochs_run < 30)
    assert epochs_run == 30 or epochs_run == history.best_epoch + 1


@pytest.mark.parametrize(("schedule", "low", "high"), [("constant", 0.2, 5.0), ("cosine", 0.0, 0.05)])
def test_a_cosine_schedule_ends_with_steps_near_zero(tones, schedule, low, high):
    """Adam moves each weight by about the learning rate per step: the last step's move over the
    first's is the schedule's last learning rate over its first."""
    fit.use_threads(2)
    torch.manual_seed(0)
    network = models.build("v-kernel", len(GENRES))
    weights = network.head[-1].weight
    moves, last = [], weights.detach().clone()

    def step_taken(event: fit.FitProgress) -> None:
        nonlocal last
        if not event.epoch_done:
            moves.append(float((weights.detach() - last).abs().max()))
            last = weights.detach().clone()

    fit.fit(network, tones, None, fit.FitSettings(epochs=4, batch_size=4, schedule=schedule), progress=step_taken)
    assert len(moves) == 4 * 3
    assert low <= moves[-1] / moves[0] <= high


def test_mix_up_mixes_each_window_and_its_target_with_another_of_the_batch(tones):
    generator = torch.Generator().manual_seed(3)
    index = torch.arange(8)
    mels = tones.mels[index].float().unsqueeze(1)
    targets = fit._targets_of(tones, index)  # no soft targets here: the labels one-hot
    assert torch.equal(targets.argmax(dim=1), tones.labels[index]) and torch.equal(targets.sum(dim=1), torch.ones(8))
    mixed, mixed_targets = fit._mixed_up(mels, targets, 0.4, generator)
    assert torch.allclose(mixed_targets.sum(dim=1), torch.ones(8))
    share = mixed_targets[:, 0] - targets[:, 0]  # what the partner's label moved in the first genre
    assert not torch.equal(mixed, mels) and (share != 0).any()  # some windows were mixed with the other genre
    # A mixed window is a weighted mean of two of the batch: each value within the batch's range there.
    assert (mixed >= mels.amin(dim=0) - 1e-6).all() and (mixed <= mels.amax(dim=0) + 1e-6).all()


def test_a_fit_with_mix_up_is_deterministic_and_learns_otherwise_than_without(tones):
    fit.use_threads(2)
    states = {}
    for name, mixup in (("mixed", 0.4), ("again", 0.4), ("plain", 0.0)):
        torch.manual_seed(0)
        network = models.build("v-kernel", len(GENRES))
        fit.fit(network, tones, None, fit.FitSettings(epochs=2, seed=5, batch_size=4, mixup=mixup))
        states[name] = network.state_dict()
    weight = "head.0.weight"
    assert torch.equal(states["mixed"][weight], states["again"][weight])
    assert not torch.equal(states["mixed"][weight], states["plain"][weight])
