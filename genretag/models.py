"""The four "shallow" networks of de Matos, de Carvalho & Zanini (LAMIR 2024), and the registry.

The registry also holds ``musicnn`` (``genretag.musicnn``): musicnn's trunk with a genre
head, which reads its own front end's patches. The four poster networks read a log-mel
spectrogram ``(batch, 1, N_MELS, frames)`` from ``genretag.audio.log_mel`` and return
unnormalised genre scores (logits).

The poster gives the architectures in words and parameter counts only; the layer
sizes here are ours, chosen to match those counts (the tests compare them)
and to stay cheap on a CPU. "Vertical" kernels span many mel bands and few frames.

Counting convention: ``count_parameters`` counts trainable PyTorch parameters.
PyTorch's LSTM keeps two bias vectors per gate where Keras keeps one, so
``count_parameters(model, keras_convention=True)`` subtracts ``4 * hidden`` per
LSTM direction to compare with the poster's (Keras-style) figures.

``inference_network`` gives any of them its faster CPU form for scanning (BatchNorms
folded into the convolutions; in bfloat16 where the card allows it and the CPU computes
it natively), which ``weights.LoadedModel`` runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.fusion import fuse_conv_bn_eval

from genretag.audio import LOG_MEL, LOG_MEL_HALF, N_MELS
from genretag.genres import GTZAN_GENRES
from genretag.musicnn import MusicnnGenre, MusicnnTags

# What training.train trains unless told otherwise (`learn` starts from weights.DEFAULT_MODEL).
DEFAULT_ARCHITECTURE = "crnn"
RECURRENT_UNITS = 64
FRAME_PROJECTION_UNITS = 288
FLOAT32, BFLOAT16 = "float32", "bfloat16"  # a card's "inference_precision" (absent: float32)


class L2Normalize(nn.Module):
    """Projects each feature vector onto the unit sphere (no trainable parameters)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return functional.normalize(features, p=2.0, dim=-1)


def _conv_block(channels_in: int, channels_out: int, kernel: tuple[int, int], pool, stride=(1, 1)) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(channels_in, channels_out, kernel, stride=stride, padding=(0, kernel[1] // 2)),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    ]
    if pool is not None:
        layers.append(nn.MaxPool2d(pool))
    return layers


def _vertical_front(channels: tuple[int, int, int], last_pool, frame_stride: int) -> nn.Sequential:
    # The first layer reads every ``frame_stride``-th frame: it runs at full resolution and
    # dominates the cost, while a 16-band vertical kernel loses little by skipping frames.
    # Its time kernel is 1 wide, so stride 2 on the full-rate log-mel reads exactly the
    # frames that the half-rate front end computes (and stride 1 reads).
    first, second, third = channels
    return nn.Sequential(
        nn.BatchNorm2d(1),
        *_conv_block(1, first, (16, 1), (4, 2), stride=(1, frame_stride)),
        *_conv_block(first, second, (8, 1), (2, 2)),
        *_conv_block(second, third, (4, 3), last_pool),
    )


class VKernel(nn.Module):
    """v-kernel: a CNN of vertical kernels, global mean+max pooling, two dense layers.

    With ``l2=True`` (v-kernel-L2) each dense layer's output is L2-normalised.
    ``frame_stride`` is 2 on the full-rate log-mel, 1 on the half-rate one.
    """

    def __init__(self, n_genres: int = len(GTZAN_GENRES), l2: bool = False, frame_stride: int = 2):
        super().__init__()
        self.features = _vertical_front((32, 64, 128), None, frame_stride)
        dense: list[nn.Module] = []
        for width_in, width_out in ((256, 192), (192, 64)):
            dense += [nn.Linear(width_in, width_out), nn.ReLU(inplace=True)]
            if l2:
                dense.append(L2Normalize())
        dense.append(nn.Linear(64, n_genres))
        self.head = nn.Sequential(*dense)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        maps = self.features(spectrogram).flatten(2)
        pooled = torch.cat([maps.mean(dim=2), maps.amax(dim=2)], dim=1)
        return self.head(pooled)


class RecurrentVKernel(nn.Module):
    """CRNN / BICRNN: vertical-kernel convolutions, then an (Bi)LSTM over time.

    The LSTM outputs are averaged over time, so any input length works: a 10 s
    segment or a whole track.
    """

    def __init__(self, n_genres: int = len(GTZAN_GENRES), bidirectional: bool = False, frame_stride: int = 2):
        super().__init__()
        self.features = _vertical_front((32, 64, 128), None, frame_stride)
        with torch.no_grad():
            bands = self.features.eval()(torch.zeros(1, 1, N_MELS, 64)).shape[2]
        self.features.train()
        # A per-frame two-layer projection to the LSTM width holds most of the
        # parameters, where they cost little compute (one pass per frame, not per pixel).
        self.to_sequence = nn.Sequential(
            nn.Linear(128 * bands, FRAME_PROJECTION_UNITS),
            nn.ReLU(inplace=True),
            nn.Linear(FRAME_PROJECTION_UNITS, RECURRENT_UNITS),
            nn.ReLU(inplace=True),
        )
        self.recurrent = nn.LSTM(RECURRENT_UNITS, RECURRENT_UNITS, batch_first=True, bidirectional=bidirectional)
        self.classifier = nn.Linear(RECURRENT_UNITS * (2 if bidirectional else 1), n_genres)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        maps = self.features(spectrogram)
        sequence = self.to_sequence(maps.flatten(1, 2).transpose(1, 2))
        outputs, _ = self.recurrent(sequence)
        return self.classifier(outputs.mean(dim=1))


POSTER_NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "v-kernel": lambda n, stride: VKernel(n, frame_stride=stride),
    "v-kernel-l2": lambda n, stride: VKernel(n, l2=True, frame_stride=stride),
    "crnn": lambda n, stride: RecurrentVKernel(n, frame_stride=stride),
    "bicrnn": lambda n, stride: RecurrentVKernel(n, bidirectional=True, frame_stride=stride),
}
MUSICNN_NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "musicnn": lambda n, **head: MusicnnGenre(n, **head),
    "musicnn-tags": lambda n: MusicnnTags(n),
}
ARCHITECTURES = (*POSTER_NETWORKS, *MUSICNN_NETWORKS)


def build(name: str, n_genres: int = len(GTZAN_GENRES), front_end: str = LOG_MEL, **head) -> nn.Module:
    """A freshly initialised network by its registry name (``v-kernel``, ``crnn``, ``musicnn``, ...).

    A poster network reads ``front_end``'s log-mel (``audio.LOG_MEL`` or ``audio.LOG_MEL_HALF``,
    from its card); ``head`` holds a musicnn model's head settings (``head_inputs``, ``hidden``).
    """
    if name in POSTER_NETWORKS:
        return POSTER_NETWORKS[name](n_genres, 1 if front_end == LOG_MEL_HALF else 2)
    if name in MUSICNN_NETWORKS:
        return MUSICNN_NETWORKS[name](n_genres, **head)
    raise ValueError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})")


def count_parameters(model: nn.Module, keras_convention: bool = False) -> int:
    """Trainable parameters; ``keras_convention`` counts one LSTM bias per gate."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if keras_convention:
        for module in model.modules():
            if isinstance(module, nn.LSTM):
                directions = 2 if module.bidirectional else 1
                total -= 4 * module.hidden_size * directions * module.num_layers
    return total


def _fold_input_norm(norm, conv):
    """``conv(norm(x))`` as one convolution; exact because ``conv`` pads nothing."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    folded = copy.deepcopy(conv)
    with torch.no_grad():
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        folded.weight.copy_(conv.weight * scale.view(1, -1, 1, 1))
        folded.bias = torch.nn.Parameter(bias + (conv.weight * shift.view(1, -1, 1, 1)).sum(dim=(1, 2, 3)))
    return folded


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere oneDNN emulates it, slowly."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


class InBfloat16(nn.Module):
    """``network`` with bfloat16 weights, read and answering in float32."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network.to(torch.bfloat16)

    def forward(self, spectrograms: torch.Tensor) -> torch.Tensor:
        return self.network(spectrograms.to(torch.bfloat16)).float()


def inference_network(network, precision: str = FLOAT32):
    """An eval-mode copy of ``network`` that computes the same outputs faster on a CPU.

    Every BatchNorm is folded into its neighbouring convolution (the one after a
    convolution, and an input BatchNorm into the unpadded convolution that reads it),
    a ReLU followed by max pooling runs after the pooling instead (the same values,
    as ReLU keeps order; on a quarter or an eighth of the elements) and the
    convolutions run channels-last: together 2.5 times faster for v-kernel, equal
    to float rounding. ``network`` itself is left as it is (still trainable).

    ``precision`` ``BFLOAT16`` (a card's measured choice) runs it in bfloat16 where
    ``native_bfloat16()``: the network takes 0.5-0.65 of the time; the cards give the agreement.
    """
    if isinstance(network, (MusicnnGenre, MusicnnTags)):
        return network.inference_copy()
    fast = copy.deepcopy(network).eval()
    for sequence in [module for module in fast.modules() if isinstance(module, nn.Sequential)]:
        layers = list(sequence)
        for i in range(len(layers) - 1):
            first, second = layers[i], layers[i + 1]
            if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                layers[i], layers[i + 1] = fuse_conv_bn_eval(first, second), nn.Identity()
            elif (
                isinstance(first, nn.BatchNorm2d)
                and isinstance(second, nn.Conv2d)
                and second.groups == 1
                and not any(second.padding)
            ):
                layers[i], layers[i + 1] = nn.Identity(), _fold_input_norm(first, second)
        layers = [layer for layer in layers if not isinstance(layer, nn.Identity)]
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.ReLU) and isinstance(layers[i + 1], nn.MaxPool2d):
                layers[i], layers[i + 1] = layers[i + 1], layers[i]
        for i, layer in enumerate(layers):
            sequence[i] = layer
        del sequence[len(layers) :]
    fast = fast.to(memory_format=torch.channels_last)
    return InBfloat16(fast) if precision == BFLOAT16 and native_bfloat16() else fast
