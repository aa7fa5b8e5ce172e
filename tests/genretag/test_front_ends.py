"""The poster networks' two log-mel front ends: the half-rate one is the full rate's even frames,
a network reads either, and models made before the half-rate one keep their scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FISHIN, VIBE_ACE

from genretag import audio, config, models, weights
from genretag.classify import classify_file

DATA = Path(__file__).parent / "data"
# Made by `genretag learn --base v-kernel` at commit 59676b5 (before the half-rate front end) on
# the test library of test_learn_cli.py, with the scores that commit gave for lets-go-fishin.ogg.
LEARNT_BEFORE = "learnt-before-half-rate"


def test_a_model_learnt_before_the_half_rate_front_end_loads_and_scores_identically(genretag_home):
    models_dir = config.user_models_dir()
    models_dir.mkdir(parents=True)
    for suffix in (".pt", ".json"):
        shutil.copyfile(DATA / f"{LEARNT_BEFORE}{suffix}", models_dir / f"{LEARNT_BEFORE}{suffix}")
    model = weights.load_model(LEARNT_BEFORE)
    assert model.front_end == audio.LOG_MEL
    assert model.network.features[1].stride == (1, 2)  # it still reads every other full-rate frame
    result = classify_file(FISHIN, model)
    before = np.load(DATA / f"{LEARNT_BEFORE}-scores.npz")
    assert result.segment_probabilities.shape == before["segment_probabilities"].shape
    np.testing.assert_allclose(result.segment_probabilities, before["segment_probabilities"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.probabilities, before["probabilities"], rtol=0, atol=1e-6)


def test_the_half_rate_log_mel_is_the_full_rates_even_frames_at_their_own_peak():
    segments = audio.segment_array(audio.load(VIBE_ACE))
    full = audio.log_mel(segments)
    half = audio.log_mel(segments, audio.HALF_RATE_HOP_LENGTH)
    assert half.shape == (*full.shape[:-1], (full.shape[-1] + 1) // 2)
    even = full[..., ::2]
    rescaled = (even - even.amax(dim=(-2, -1), keepdim=True) + 1.0).clamp_min(-1.0)
    above_floor = full[..., ::2] > -0.9  # the floor moves with the peak; everything above it is the same
    assert torch.allclose(half[above_floor], rescaled[above_floor], atol=1e-4)


@pytest.mark.parametrize("architecture", sorted(models.POSTER_NETWORKS))
def test_a_network_reads_either_front_end_with_the_same_weights(architecture):
    torch.manual_seed(0)
    full_rate = models.build(architecture, 10).eval()
    half_rate = models.build(architecture, 10, audio.LOG_MEL_HALF).eval()
    half_rate.load_state_dict(full_rate.state_dict())
    spectrograms = torch.rand(2, 1, audio.N_MELS, 431) * 2 - 1
    with torch.no_grad():
        expected = full_rate(spectrograms)
        assert torch.allclose(half_rate(spectrograms[..., ::2]), expected, atol=1e-5)
        fast = models.inference_network(half_rate)(spectrograms[..., ::2].contiguous())
    assert torch.allclose(fast, expected, atol=1e-4)


def test_a_half_rate_card_records_its_front_end_and_a_wrong_hop_is_refused(tmp_path):
    network = models.build("v-kernel", 3, audio.LOG_MEL_HALF)
    card_path = weights.save_model(
        network, "half", tmp_path, {"architecture": "v-kernel", "genres": ["a", "b", "c"], "front_end": "log-mel-half"}
    )
    card = weights.read_card(card_path)
    assert card["audio"]["front_end"] == audio.LOG_MEL_HALF
    assert card["audio"]["hop_length"] == audio.HALF_RATE_HOP_LENGTH
    loaded = weights.load_model_card(card_path)
    assert loaded.network.features[1].stride == (1, 1)
    assert loaded.log_mel(np.zeros((1, audio.SEGMENT_SAMPLES), np.float32)).shape[-1] == 216
    card["audio"]["hop_length"] = audio.HOP_LENGTH
    with pytest.raises(weights.WeightsError, match="hop_length 512 != 1024"):
        weights.check_audio_parameters(card, "half")
