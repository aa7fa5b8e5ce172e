"""The four networks: parameter counts, the L2 layer, variable-length input."""

from __future__ import annotations

import pytest
import torch

from genretag import audio, models

# The poster's counts are Keras-style (one LSTM bias per gate), so they are compared
# with ``keras_convention=True``; PyTorch's own count is larger by 4*64 per LSTM direction.
TOLERANCE = 0.02


@pytest.mark.parametrize("name", list(models.POSTER_PARAMETER_COUNTS))
def test_parameter_count_within_two_percent_of_the_poster(name):
    network = models.build(name)
    counted = models.count_parameters(network, keras_convention=True)
    poster = models.POSTER_PARAMETER_COUNTS[name]
    assert abs(counted - poster) / poster <= TOLERANCE, f"{name}: {counted} vs poster {poster}"


def test_keras_convention_differs_only_by_lstm_biases():
    for name, directions in (("crnn", 1), ("bicrnn", 2)):
        network = models.build(name)
        pytorch = models.count_parameters(network)
        keras = models.count_parameters(network, keras_convention=True)
        assert pytorch - keras == 4 * models.RECURRENT_UNITS * directions
    plain = models.build("v-kernel")
    assert models.count_parameters(plain) == models.count_parameters(plain, keras_convention=True)


def test_l2_layer_projects_dense_outputs_onto_the_unit_sphere():
    network = models.build("v-kernel-l2").eval()
    layers = [m for m in network.modules() if isinstance(m, models.L2Normalize)]
    assert len(layers) == 2, "one L2 layer after each hidden dense layer"
    captured = []
    handles = [layer.register_forward_hook(lambda _m, _i, out: captured.append(out)) for layer in layers]
    with torch.no_grad():
        network(torch.randn(3, 1, audio.N_MELS, 200) * 5)
    for handle in handles:
        handle.remove()
    assert len(captured) == 2
    for activations in captured:
        torch.testing.assert_close(activations.norm(dim=1), torch.ones(3))


def test_l2_network_differs_from_plain_v_kernel_with_identical_weights():
    torch.manual_seed(7)
    plain = models.build("v-kernel").eval()
    torch.manual_seed(7)
    normalised = models.build("v-kernel-l2").eval()
    # Same parameters in the same order: the L2 layers add none.
    for a, b in zip(plain.parameters(), normalised.parameters(), strict=True):
        assert torch.equal(a, b)
    batch = torch.randn(2, 1, audio.N_MELS, 200)
    with torch.no_grad():
        assert not torch.allclose(plain(batch), normalised(batch), atol=1e-4)


@pytest.mark.parametrize("name", ["bicrnn", "crnn"])
def test_recurrent_networks_accept_two_input_lengths(name):
    network = models.build(name).eval()
    with torch.no_grad():
        segment = network(torch.randn(2, 1, audio.N_MELS, audio.SEGMENT_FRAMES))
        whole_track = network(torch.randn(1, 1, audio.N_MELS, 3 * audio.SEGMENT_FRAMES))
    assert segment.shape == (2, len(models.GTZAN_GENRES))
    assert whole_track.shape == (1, len(models.GTZAN_GENRES))
    assert torch.isfinite(whole_track).all()


def test_build_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        models.build("resnet")


def test_genre_count_follows_the_argument():
    network = models.build("crnn", n_genres=4).eval()
    with torch.no_grad():
        assert network(torch.randn(1, 1, audio.N_MELS, 100)).shape == (1, 4)


def test_every_entry_point_defaults_to_the_same_model():
    import inspect

    import genretag
    from genretag import cli, scan

    defaults = {
        cli.DEFAULT_MODEL,
        inspect.signature(genretag.classify).parameters["model"].default,
        inspect.signature(genretag.load_model).parameters["name"].default,
        inspect.signature(scan.results_for).parameters["model_name"].default,
    }
    assert defaults == {models.DEFAULT_MODEL}


def test_window_average_reads_evenly_spaced_training_length_windows_first_to_last():
    reader = models.WindowAverage(models.build("crnn"), frames=128, hop=80, genre_bias=torch.zeros(10))
    assert reader.window_starts(100) == [0]  # shorter than a window: read whole
    assert reader.window_starts(128) == [0]
    assert reader.window_starts(208) == [0, 80]
    assert reader.window_starts(209) == [0, 40, 81]
    starts = reader.window_starts(audio.SEGMENT_SAMPLES // audio.HOP_LENGTH + 1)
    assert starts == [0, 76, 152, 227, 303]


def test_window_average_is_the_log_mean_probability_of_its_windows_plus_the_bias():
    torch.manual_seed(0)
    network = models.build("v-kernel").eval()
    bias = torch.linspace(-0.5, 0.5, 10)
    reader = models.WindowAverage(network, frames=128, hop=80, genre_bias=bias).eval()
    segments = torch.randn(2, 1, audio.N_MELS, 208)
    with torch.no_grad():
        first, second = (torch.softmax(network(segments[..., s : s + 128]), dim=1) for s in (0, 80))
        expected = ((first + second) / 2).log() + bias
        assert torch.allclose(reader(segments), expected, atol=1e-5)
        assert torch.allclose(reader(segments[..., :100]), torch.log_softmax(network(segments[..., :100]), 1) + bias)


def test_mel_statistics_are_each_bands_mean_spread_and_mean_absolute_change():
    spectrogram = torch.zeros(1, 1, audio.N_MELS, 4)
    spectrogram[0, 0, 0] = torch.tensor([1.0, 3.0, 1.0, 3.0])
    spectrogram[0, 0, 1] = torch.tensor([0.0, 0.0, 4.0, 4.0])
    features = models.MelStatistics.statistics(spectrogram)
    assert features.shape == (1, models.MelStatistics.FEATURES)
    mean, spread, change = features[0, : 3 * audio.N_MELS].view(3, audio.N_MELS)
    assert mean[:3].tolist() == [2.0, 2.0, 0.0] and spread[:3].tolist() == [1.0, 2.0, 0.0]
    assert torch.allclose(change[:3], torch.tensor([2.0, 4.0 / 3.0, 0.0]))
    assert not features[0, 3 * audio.N_MELS + 2 :].any()  # 4 frames: 3 onset steps, lags 1 and 2 only
    network = models.build("mel-stats").eval()
    network.feature_mean.fill_(1.0)
    network.feature_scale.fill_(2.0)
    with torch.no_grad():
        expected = network.classifier((features - 1.0) / 2.0)
        assert torch.allclose(network(spectrogram), expected)
        assert network(torch.randn(2, 1, audio.N_MELS, 431)).shape == (2, 10)  # any length


def test_mel_statistics_rhythm_peaks_at_the_beat_period():
    spectrogram = torch.zeros(1, 1, audio.N_MELS, 128)
    spectrogram[..., ::8] = 1.0  # a click in every band every 8 frames
    rhythm = models.MelStatistics.statistics(spectrogram)[0, 3 * audio.N_MELS :]
    assert len(rhythm) == models.RHYTHM_LAGS
    assert rhythm.argmax().item() + 1 in (8, 16, 24) and rhythm[7] > 0.8  # lag 8 (index 7) repeats the pattern
    assert rhythm[3] < 0  # half a period: onsets meet silence


def test_window_average_averages_its_log_mean_with_its_companions_over_the_same_windows():
    torch.manual_seed(0)
    network, companion = models.build("v-kernel").eval(), models.build("mel-stats").eval()
    bias = torch.linspace(-0.5, 0.5, 10)
    alone = models.WindowAverage(network, frames=128, hop=80, genre_bias=bias).eval()
    blended = models.WindowAverage(network, frames=128, hop=80, genre_bias=bias, companion=companion).eval()
    segments = torch.randn(2, 1, audio.N_MELS, 208)
    with torch.no_grad():
        first, second = (torch.softmax(companion(segments[..., s : s + 128]), dim=1) for s in (0, 80))
        expected = (alone(segments) - bias + ((first + second) / 2).log()) / 2 + bias
        assert torch.allclose(blended(segments), expected, atol=1e-5)
        assert not torch.allclose(blended(segments), alone(segments), atol=1e-3)
