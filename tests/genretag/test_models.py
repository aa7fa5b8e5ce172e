"""The four networks: parameter counts, the L2 layer, variable-length input."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import SEGMENT_FRAMES

from genretag import audio, models, weights

# The poster's counts are Keras-style (one LSTM bias per gate), so they are compared
# with ``keras_convention=True``; PyTorch's own count is larger by 4*64 per LSTM direction.
TOLERANCE = 0.02
POSTER_PARAMETER_COUNTS = {"v-kernel": 179_538, "v-kernel-l2": 179_538, "crnn": 427_274, "bicrnn": 460_938}


@pytest.mark.parametrize("name", list(POSTER_PARAMETER_COUNTS))
def test_parameter_count_within_two_percent_of_the_poster(name):
    network = models.build(name)
    counted = models.count_parameters(network, keras_convention=True)
    poster = POSTER_PARAMETER_COUNTS[name]
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
        segment = network(torch.randn(2, 1, audio.N_MELS, SEGMENT_FRAMES))
        whole_track = network(torch.randn(1, 1, audio.N_MELS, 3 * SEGMENT_FRAMES))
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


def test_the_default_model_is_named_in_one_place_and_every_entry_point_uses_it():
    import inspect

    import genretag
    from genretag import scan

    # Every entry point takes None for "the default model", which only weights.DEFAULT_MODEL names.
    assert inspect.signature(genretag.classify).parameters["model"].default is None
    assert inspect.signature(genretag.load_model).parameters["name"].default is None
    assert inspect.signature(scan.results_for).parameters["model"].default is None
    assert weights.resolve_model(None).name == weights.DEFAULT_MODEL


def test_resolving_the_default_model_does_not_import_torch():
    # A scan's main process resolves the model before starting workers; importing torch there
    # (a second on two cores) would hold every worker back.
    code = "import sys; from genretag import weights; print(weights.resolve_model(None).name, 'torch' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert shown == [weights.DEFAULT_MODEL, "False"]
