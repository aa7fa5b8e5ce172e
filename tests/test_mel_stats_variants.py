"""training/experiments/mel_stats_variants: the extra statistics, the source shares, the command's refusals."""

from __future__ import annotations

import torch
from conftest import SNIPPETS

from genretag.audio import N_MELS
from training.corpus import Clip
from training.experiments import mel_stats_variants as variants
from training.features import build_feature_set


def clicks(period: int, frames: int = 128) -> torch.Tensor:
    spectrogram = torch.zeros(1, 1, N_MELS, frames)
    spectrogram[..., ::period] = 1.0
    return spectrogram


def test_band_correlations_are_one_for_bands_that_move_together_and_minus_one_for_opposites():
    ramp = torch.linspace(0, 1, 64)
    spectrogram = ramp.expand(1, 1, N_MELS, 64).clone()
    spectrogram[0, 0, 120:] = 1 - ramp  # the last group of 8 bands falls while the others rise
    correlations = variants.band_correlations(spectrogram)[0]
    assert correlations.shape == (16 * 15 // 2,)
    assert torch.allclose(correlations[:14], torch.ones(14), atol=1e-4)  # group 0 with groups 1-14
    assert torch.isclose(correlations[14], torch.tensor(-1.0), atol=1e-4)  # group 0 with group 15


def test_change_correlations_follow_the_frame_to_frame_changes_not_the_levels():
    spectrogram = clicks(4)
    spectrogram[0, 0, :64] += torch.linspace(0, 5, 128)  # a slope changes the level, not the changes
    assert torch.allclose(variants.change_correlations(spectrogram), torch.ones(1, 120), atol=1e-4)


def test_band_contrast_skewness_and_percentiles_by_hand():
    spectrogram = torch.zeros(1, 1, N_MELS, 10)
    spectrogram[0, 0, 0, 0] = 16.0  # one loud frame in the first band
    contrast = variants.band_contrast(spectrogram)[0]
    assert torch.isclose(contrast[0], torch.tensor(1.5))  # (16 - 16 / 16) / 10 frames
    assert torch.count_nonzero(contrast[1:8]) == 0
    skewness = variants.band_skewness(spectrogram)[0]
    assert skewness[0] > 2 and torch.count_nonzero(skewness[1:]) == 0  # a single spike leans far right
    ramp = torch.arange(11.0).expand(1, 1, N_MELS, 11)
    percentiles = variants.band_percentiles(ramp)[0].view(3, N_MELS)  # every band's 10th, then 50th, then 90th
    assert torch.allclose(percentiles, torch.tensor([[1.0], [5.0], [9.0]]).expand(3, N_MELS))


def test_rhythm_per_band_quarter_peaks_at_each_quarters_own_period():
    spectrogram = clicks(8)
    spectrogram[0, 0, 96:] = 0
    spectrogram[0, 0, 96:, ::6] = 1.0  # the top quarter plays every 6 frames
    rhythm = variants.quarter_rhythm(spectrogram)[0].view(4, 32)  # lags 2, 4, ..., 64
    assert rhythm[0, 3] > 0.8 and rhythm[0, 3] == rhythm[0, :8].max()  # lag 8
    assert rhythm[3, 2] > 0.8 and rhythm[3, 2] == rhythm[3, :5].max()  # lag 6


def two_genre_set(genres=("metal", "reggae")):
    clips = [Clip(path, genre, path.stem) for genre in genres for path in sorted(SNIPPETS.glob(f"{genre}.*.flac"))[:3]]
    return build_feature_set(clips, genres, weights=[1.0, 2.0, 3.0] * len(genres))


def test_reweighting_prototypes_keeps_each_genres_total_weight():
    data = two_genre_set()
    is_prototype = torch.tensor([True, False, False, False, True, True])
    weights = variants.reweighted(data, is_prototype, 2.0).weights
    for genre in (0, 1):
        rows = data.labels == genre
        assert torch.isclose(weights[rows].sum(), data.weights[rows].sum())
    assert torch.isclose(weights[0] / weights[1], 2 * data.weights[0] / data.weights[1])
    assert torch.count_nonzero(variants.reweighted(data, is_prototype, 0.0).weights[is_prototype]) == 0


def test_a_synthetic_share_takes_that_part_of_each_genres_weight():
    data, extra = two_genre_set(), two_genre_set()
    joined = variants.with_share(data, extra, 0.25)
    assert len(joined) == 2 * len(data)
    assert torch.equal(joined.mels[len(data) :], extra.mels)
    assert set(joined.tracks[: len(data)].tolist()).isdisjoint(joined.tracks[len(data) :].tolist())
    for genre in (0, 1):
        total = data.weights[data.labels == genre].sum()
        added = joined.weights[len(data) :][extra.labels == genre].sum()
        kept = joined.weights[: len(data)][data.labels == genre].sum()
        assert torch.isclose(added, 0.25 * total) and torch.isclose(kept, 0.75 * total)


def test_the_command_refuses_unknown_variants_and_study_only_options(capsys):
    assert variants.main(["--recipes", "real", "--models", "crnn", "--variants", "shipped;+ nonsense"]) == 2
    assert "unknown variant(s) + nonsense" in capsys.readouterr().err
    assert variants.main(["--recipes", "real", "--models", "crnn", "--soup", "3"]) == 2


def test_the_table_pairs_each_variant_with_the_shipped_fit_on_the_same_runs():
    scored = {
        "shipped": {"mel-stats": [0.5, 0.7], variants.BLEND: [0.6, 0.8]},
        "C = 1": {"mel-stats": [0.4, 0.4], variants.BLEND: [0.7, 0.8]},
    }
    rows = variants.variants_table(scored).splitlines()
    assert rows[2] == "| shipped | 0.600 ± 0.141 | 0.700 ± 0.141 | +0.000 ± 0.000 | 0 / 2 / 0 |"
    assert rows[3] == "| C = 1 | 0.400 ± 0.000 | 0.750 ± 0.071 | +0.050 ± 0.071 | 1 / 1 / 0 |"
    assert rows[-1] == "2 runs (seed × fold)."
