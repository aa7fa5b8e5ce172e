"""musicnn (Pons & Serra, ISMIR 2019 LBD) in PyTorch, with a genre head on its embeddings.

The network reads 187-frame (3 s) log-mel patches ``(batch, PATCH_FRAMES, N_MELS)`` of
``audio.musicnn_patches`` and is a port of the published MSD_musicnn model: the same
layers, in the same order, with the weights converted from its TensorFlow checkpoint
(``training/musicnn/convert.py``; a parity test compares outputs with TensorFlow's).

* front: input batch norm; two "timbral" convolutions (7 frames × 38 and × 67 mel
  bands, 204 filters each) and three "temporal" ones (128, 64 and 32 frames × 1 band,
  51 filters each), each ReLU → batch norm → max over the mel axis: 561 channels per frame;
* mid: three 7-frame convolutions of 64 filters (ReLU → batch norm), the last two residual;
  front and mid outputs joined: 753 channels per frame;
* back: max and mean over time (interleaved per channel, as the original flattens them),
  batch norm, a 200-unit dense layer (ReLU → batch norm: the *penultimate* embedding),
  and the 50 MSD tag logits.

``MusicnnGenre`` adds a genre head that reads the embedding (the penultimate layer, and
optionally the 50 tag probabilities) of every patch; a segment's genre probabilities are
the mean over its patches.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional

from genretag.audio import MUSICNN_N_MELS as N_MELS

TIMBRAL_FILTERS = 204  # int(1.6 * 128)
TEMPORAL_FILTERS = 51  # int(1.6 * 32)
MID_FILTERS = 64
EMBEDDING_UNITS = 200
N_TAGS = 50
BATCH_NORM_EPS = 1e-3  # TensorFlow's default, which the checkpoint was trained with
TIMBRAL_BANDS = (int(0.4 * N_MELS), int(0.7 * N_MELS))  # 38 and 67
TEMPORAL_FRAMES = (128, 64, 32)
FRONT_CHANNELS = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS  # 561
POOLED_CHANNELS = FRONT_CHANNELS + 3 * MID_FILTERS  # 753
HEAD_LEARNING_RATE = 0.01
HEAD_DROPOUT = 0.2  # on the standardised input of a head with a hidden layer


def _norm2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BATCH_NORM_EPS)


def _norm1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=BATCH_NORM_EPS)


class FrontBlock(nn.Module):
    """Convolution → ReLU → batch norm → max over the mel axis: ``(B, 1, T, M)`` → ``(B, C, T)``.

    ``time_padding`` is (before, after): the timbral blocks pad 3 and 3 frames; the
    temporal ones pad as TensorFlow's "same" does, one frame more after than before.
    """

    def __init__(self, filters: int, kernel: tuple[int, int], time_padding: tuple[int, int]):
        super().__init__()
        self.time_padding = time_padding
        self.conv = nn.Conv2d(1, filters, kernel)
        self.norm = _norm2d(filters)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        padded = functional.pad(spectrogram, (0, 0, *self.time_padding))
        maps = self.norm(functional.relu(self.conv(padded)))
        return maps.amax(dim=3)


class MidBlock(nn.Module):
    """A 7-frame convolution over all channels → ReLU → batch norm: ``(B, C, T)`` → ``(B, 64, T)``."""

    def __init__(self, channels_in: int):
        super().__init__()
        self.conv = nn.Conv1d(channels_in, MID_FILTERS, 7, padding=3)
        self.norm = _norm1d(MID_FILTERS)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.norm(functional.relu(self.conv(features)))


def _same_padding(frames: int) -> tuple[int, int]:
    return ((frames - 1) // 2, frames // 2)


class Musicnn(nn.Module):
    """The MSD_musicnn trunk: patches ``(B, PATCH_FRAMES, N_MELS)`` → ``(penultimate (B, 200), tag logits (B, 50))``."""

    def __init__(self):
        super().__init__()
        self.input_norm = _norm2d(1)
        self.timbral = nn.ModuleList(FrontBlock(TIMBRAL_FILTERS, (7, bands), (3, 3)) for bands in TIMBRAL_BANDS)
        self.temporal = nn.ModuleList(
            FrontBlock(TEMPORAL_FILTERS, (frames, 1), _same_padding(frames)) for frames in TEMPORAL_FRAMES
        )
        self.mid = nn.ModuleList([MidBlock(FRONT_CHANNELS), MidBlock(MID_FILTERS), MidBlock(MID_FILTERS)])
        self.pooled_norm = _norm1d(2 * POOLED_CHANNELS)
        self.dense = nn.Linear(2 * POOLED_CHANNELS, EMBEDDING_UNITS)
        self.embedding_norm = _norm1d(EMBEDDING_UNITS)
        self.tags = nn.Linear(EMBEDDING_UNITS, N_TAGS)

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spectrogram = self.input_norm(patches.unsqueeze(1))
        front = torch.cat([block(spectrogram) for block in (*self.timbral, *self.temporal)], dim=1)
        first = self.mid[0](front)
        second = self.mid[1](first) + first
        third = self.mid[2](second) + second
        features = torch.cat([front, first, second, third], dim=1)  # (B, 753, T)
        # Max and mean of each channel side by side, as the original's flatten of [max, mean] orders them.
        pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)
        embedding = self.embedding_norm(functional.relu(self.dense(self.pooled_norm(pooled))))
        return embedding, self.tags(embedding)


HEAD_INPUTS = {"penultimate": EMBEDDING_UNITS, "penultimate+tags": EMBEDDING_UNITS + N_TAGS}


def head_features(embedding: torch.Tensor, tag_logits: torch.Tensor, inputs: str) -> torch.Tensor:
    """What a genre head reads of a patch: the embedding, and with ``+tags`` the tag probabilities too."""
    if inputs == "penultimate":
        return embedding
    if inputs == "penultimate+tags":
        return torch.cat([embedding, torch.sigmoid(tag_logits)], dim=1)
    raise ValueError(f"unknown musicnn head input {inputs!r} (known: {', '.join(HEAD_INPUTS)})")


class GenreHead(nn.Module):
    """Standardised embedding → genre logits: linear, or one hidden layer when ``hidden`` > 0.

    The standardisation (the training set's mean and deviation) is part of the head, so
    the weights file alone reproduces it; ``temperature`` divides the logits (calibration).
    """

    def __init__(self, n_features: int, n_genres: int, hidden: int = 0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("temperature", torch.ones(()))
        if hidden:
            self.layers = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_genres))
        else:
            self.layers = nn.Sequential(nn.Linear(n_features, n_genres))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.scale) / self.temperature


class MusicnnGenre(nn.Module):
    """The musicnn trunk with a genre head: patches ``(B, PATCH_FRAMES, N_MELS)`` → genre logits ``(B, n_genres)``."""

    def __init__(self, n_genres: int, head_inputs: str = "penultimate", hidden: int = 0):
        super().__init__()
        self.head_inputs = head_inputs
        self.trunk = Musicnn()
        self.head = GenreHead(HEAD_INPUTS[head_inputs], n_genres, hidden)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """The head's input features of each patch."""
        return head_features(*self.trunk(patches), self.head_inputs)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(patches))

    def inference_copy(self) -> MusicnnGenre:
        """An eval-mode copy whose trunk is a ``FastMusicnn`` (same outputs, three times faster)."""
        fast = copy.deepcopy(self).eval()
        fast.trunk = FastMusicnn(fast.trunk).eval()
        return fast


# The genre tags among the MSD model's 50 (moods, decades, voices and instruments left out), as
# (tag index, the genre name written into files).
MSD_GENRE_TAGS = (
    (0, "Rock"), (1, "Pop"), (2, "Alternative"), (3, "Indie"), (4, "Electronic"), (6, "Dance"),
    (8, "Alternative Rock"), (9, "Jazz"), (11, "Metal"), (12, "Chillout"), (14, "Classic Rock"), (15, "Soul"),
    (16, "Indie Rock"), (18, "Electronica"), (20, "Folk"), (24, "Punk"), (26, "Blues"), (27, "Hard Rock"),
    (28, "Ambient"), (30, "Experimental"), (33, "Hip-Hop"), (36, "Country"), (37, "Easy Listening"), (40, "Funk"),
    (41, "Electro"), (42, "Heavy Metal"), (43, "Progressive Rock"), (45, "R&B"), (46, "Indie Pop"), (48, "House"),
)  # fmt: skip


class MusicnnTags(nn.Module):
    """The musicnn trunk's own tag layer, kept for the genre tags of ``MSD_GENRE_TAGS``, recalibrated.

    Several genres can apply at once: each output is an independent probability (a sigmoid of
    ``scale * logit + shift``, one calibration shared by every tag), not a share of one.
    """

    multi_label = True

    def __init__(self, n_genres: int = len(MSD_GENRE_TAGS)):
        super().__init__()
        self.trunk = Musicnn()
        self.register_buffer("tag_index", torch.tensor([index for index, _ in MSD_GENRE_TAGS[:n_genres]]))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("shift", torch.zeros(()))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        _, tag_logits = self.trunk(patches)
        return tag_logits[:, self.tag_index] * self.scale + self.shift

    def inference_copy(self) -> MusicnnTags:
        """An eval-mode copy whose trunk is a ``FastMusicnn``."""
        fast = copy.deepcopy(self).eval()
        fast.trunk = FastMusicnn(fast.trunk).eval()
        return fast


class _FastFrontBlock(nn.Module):
    """A ``FrontBlock`` for inference: max over the mel axis straight after the convolution.

    ReLU and the batch norm's affine map are monotonic per channel, so they commute with
    the max once a channel whose norm scale is negative has its convolution negated (its
    max is then the original's min): the same values, without two passes over the large
    ``(B, C, T, M)`` map.
    """

    def __init__(self, block: FrontBlock):
        super().__init__()
        norm = block.norm
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        sign = torch.where(scale < 0, -1.0, 1.0)
        self.time_padding = block.time_padding
        self.conv = nn.Conv2d(1, block.conv.out_channels, block.conv.kernel_size)
        with torch.no_grad():
            self.conv.weight.copy_(block.conv.weight * sign.view(-1, 1, 1, 1))
            self.conv.bias.copy_(block.conv.bias * sign)
        self.conv = self.conv.to(memory_format=torch.channels_last)
        self.register_buffer("sign", sign.view(1, -1, 1).detach().clone())
        self.register_buffer("scale", scale.view(1, -1, 1).detach().clone())
        self.register_buffer("shift", (norm.bias - norm.running_mean * scale).view(1, -1, 1).detach().clone())

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        padded = functional.pad(spectrogram, (0, 0, *self.time_padding)).contiguous(memory_format=torch.channels_last)
        maps = self.conv(padded)
        # Max pooling reduces a channels-last map ten times faster than amax does.
        peak = functional.max_pool2d(maps, (1, maps.shape[3])).squeeze(3)
        return functional.relu(peak * self.sign) * self.scale + self.shift


class FastMusicnn(nn.Module):
    """An inference copy of a ``Musicnn`` with the same outputs (to float rounding), three times faster on a CPU."""

    def __init__(self, trunk: Musicnn):
        super().__init__()
        trunk = trunk.eval()
        self.input_norm = trunk.input_norm
        self.front = nn.ModuleList(_FastFrontBlock(block) for block in (*trunk.timbral, *trunk.temporal))
        self.mid, self.pooled_norm, self.dense = trunk.mid, trunk.pooled_norm, trunk.dense
        self.embedding_norm, self.tags = trunk.embedding_norm, trunk.tags

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spectrogram = self.input_norm(patches.unsqueeze(1))
        front = torch.cat([block(spectrogram) for block in self.front], dim=1)
        first = self.mid[0](front)
        second = self.mid[1](first) + first
        third = self.mid[2](second) + second
        features = torch.cat([front, first, second, third], dim=1)
        pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)
        embedding = self.embedding_norm(functional.relu(self.dense(self.pooled_norm(pooled))))
        return embedding, self.tags(embedding)


def fit_genre_head(
    features: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    n_genres: int,
    hidden: int = 0,
    weight_decay: float = 1e-3,
    epochs: int = 400,
    seed: int = 0,
) -> GenreHead:
    """A ``GenreHead`` fitted on embeddings ``(n, n_features)``: full-batch Adam, weighted cross-entropy.

    ``weights`` (summing to one) balance genres and tracks; ``weight_decay`` is an L2
    penalty on the weights (not the biases). A few seconds on one core for ten
    thousand patches: training the trunk is never needed.
    """
    torch.manual_seed(seed)
    head = GenreHead(features.shape[1], n_genres, hidden)
    with torch.no_grad():
        head.mean.copy_(features.mean(dim=0))
        head.scale.copy_(features.std(dim=0).clamp_min(1e-3))
    dropout = nn.Dropout(HEAD_DROPOUT if hidden else 0.0)
    optimiser = torch.optim.Adam(head.parameters(), lr=HEAD_LEARNING_RATE)
    decayed = [parameter for name, parameter in head.named_parameters() if name.endswith("weight")]
    standardised = (features - head.mean) / head.scale
    head.train()
    for _ in range(epochs):
        optimiser.zero_grad()
        losses = functional.cross_entropy(head.layers(dropout(standardised)), labels, reduction="none")
        loss = (losses * weights).sum() + weight_decay * sum((parameter**2).sum() for parameter in decayed)
        loss.backward()
        optimiser.step()
    return head.eval()
