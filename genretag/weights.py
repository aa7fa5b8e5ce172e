"""Finding, checking and loading model weights and their model cards.

A model is ``<name>.pt`` (a PyTorch state dict) beside ``<name>.json`` (its card).
Shipped models live in ``weights/`` (inside the package in a wheel, at the
repository root in a source checkout or editable install); user models made by
``genretag learn`` live in ``<data home>/models``. A model is resolved once into a
``ModelIdentity`` (name, architecture, genres, weights fingerprint, data home); resolving
and loading check the file's sha256 against the card and the card's audio parameters
against ``genretag.audio``, and refuse any mismatch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from genretag.audio import LOG_MEL, MUSICNN, audio_parameters, hop_length_of, musicnn_patches, sample_rate_of
from genretag.config import data_home, user_models_dir

PACKAGE_DIR = Path(__file__).resolve().parent
# THE default model of every entry point (the CLI, the API, the beets plugin): the most accurate
# model on the valid split's full tracks among those that scan at ≥ 300 × realtime on 2 cores
# (training/reports/musicnn-head.md, benchmarks/README.md).
# It lives here, not in models.py, so that finding a model never imports torch: a scan's
# main process only hashes weights, its workers load them.
DEFAULT_MODEL = "musicnn"


class WeightsError(Exception):
    """A model cannot be used: missing, corrupt, or made for another front end."""


def shipped_weights_dir() -> Path:
    """The folder of the shipped weights, for wheel and editable installs alike."""
    for candidate in (PACKAGE_DIR / "weights", PACKAGE_DIR.parent / "weights"):
        if candidate.is_dir():
            return candidate
    raise WeightsError(f"no weights folder beside {PACKAGE_DIR}")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _card_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def find_card(name: str, home: str | Path | None = None) -> Path:
    """The model card of a shipped or user model (user models in ``home``); user models shadow nothing shipped."""
    for directory in (shipped_weights_dir(), user_models_dir(home)):
        card = directory / f"{name}.json"
        if card.is_file():
            return card
    known = ", ".join(card["name"] for card in list_cards(home)) or "none"
    raise WeightsError(f"unknown model {name!r} (available: {known})")


def read_card(card_path: Path) -> dict:
    """A model card as a dict, with ``source`` (shipped or user) and its folder added."""
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise WeightsError(f"{card_path}: unreadable model card ({error})") from None
    card["source"] = "shipped" if card_path.parent == shipped_weights_dir() else "user"
    card["folder"] = str(card_path.parent)
    return card


def list_cards(home: str | Path | None = None) -> list[dict]:
    """Every shipped model's card, then every user model's."""
    cards = [read_card(path) for path in _card_paths(shipped_weights_dir())]
    return cards + [read_card(path) for path in _card_paths(user_models_dir(home))]


def model_card(name: str, home: str | Path | None = None) -> dict:
    """The card of the shipped or user model ``name``, for ``genretag models NAME``; raises ``WeightsError``."""
    return read_card(find_card(name, home))


@dataclass(frozen=True)
class ModelIdentity:
    """One model, exactly: resolved once by ``resolve_model``, then passed on to workers and the store.

    Small and picklable. ``fingerprint`` is what the model's results depend on: the
    weights' sha256; stored results are keyed by name, fingerprint and ``whole_track`` (one
    pass over the whole track is another analysis than the mean of its segments). The
    card's front end has been checked against ``genretag.audio`` when resolving.
    ``home`` is the data home the model was found in: a worker process, which may have
    been started under another one, finds user models there.
    """

    name: str
    fingerprint: str
    architecture: str = ""
    genres: tuple[str, ...] = ()
    home: str = ""
    whole_track: bool = False
    front_end: str = LOG_MEL

    @property
    def sample_rate(self) -> int:
        """The rate this model's segments are cut at."""
        return sample_rate_of(self.front_end)

    def reading(self, whole_track: bool) -> ModelIdentity:
        """This model's identity for results read whole-track (or not)."""
        return replace(self, whole_track=whole_track)


def front_end_of(card: dict) -> str:
    """The front end a card names (cards without one are the poster networks' log-mel)."""
    return card.get("audio", {}).get("front_end", LOG_MEL)


def check_audio_parameters(card: dict, name: str) -> None:
    """Refuse a card whose front end differs from this genretag's ``audio`` module."""
    recorded = card.get("audio", {})
    try:
        expected = audio_parameters(front_end_of(card))
    except ValueError as error:
        raise WeightsError(f"model {name!r}: {error}") from None
    differing = [
        f"{key} {recorded.get(key)!r} != {value!r}" for key, value in expected.items() if recorded.get(key) != value
    ]
    if differing:
        raise WeightsError(f"model {name!r} was trained on another audio front end: {'; '.join(differing)}")


def _weights_path(card_path: Path) -> Path:
    weights_path = card_path.with_suffix(".pt")
    if not weights_path.is_file():
        raise WeightsError(f"{weights_path}: weights file missing")
    return weights_path


def _identity(card_path: Path, card: dict, weights_sha256: str, home: str | Path | None) -> ModelIdentity:
    name = card.get("name", card_path.stem)
    if weights_sha256 != card.get("sha256"):
        raise WeightsError(
            f"{card_path.with_suffix('.pt')}: sha256 {weights_sha256[:12]}… does not match its model card "
            f"({str(card.get('sha256'))[:12]}…)"
        )
    check_audio_parameters(card, name)
    return ModelIdentity(
        name=name,
        fingerprint=weights_sha256,
        architecture=card["architecture"],
        genres=tuple(card["genres"]),
        home=str(Path(home or data_home())),
        front_end=front_end_of(card),
    )


def resolve_model(name: str | None = None, home: str | Path | None = None) -> ModelIdentity:
    """Find a shipped or user model by name (default: ``weights.DEFAULT_MODEL``), hash its weights once and
    check them and its front end against the card, without loading torch for a named model."""
    card_path = find_card(name or DEFAULT_MODEL, home)
    card = read_card(card_path)
    return _identity(card_path, card, sha256_of(_weights_path(card_path)), home)


@dataclass
class LoadedModel:
    """A network in eval mode with its card and identity; ``predict`` maps log-mels to probabilities."""

    identity: ModelIdentity
    network: object
    card: dict
    _inference_network: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def genres(self) -> tuple[str, ...]:
        return self.identity.genres

    @property
    def architecture(self) -> str:
        return self.identity.architecture

    @property
    def fingerprint(self) -> str:
        return self.identity.fingerprint

    @property
    def front_end(self) -> str:
        return self.identity.front_end

    def _fast(self):
        if self._inference_network is None:
            from genretag.models import FLOAT32, inference_network

            self._inference_network = inference_network(self.network, self.card.get("inference_precision", FLOAT32))
        return self._inference_network

    def predict(self, spectrograms) -> np.ndarray:
        """Genre probabilities ``(n, n_genres)`` for log-mels ``(n, N_MELS, frames)`` (log-mel models)."""
        import torch

        with torch.inference_mode():
            batch = torch.as_tensor(spectrograms, dtype=torch.float32).unsqueeze(1)
            batch = batch.contiguous(memory_format=torch.channels_last)
            return torch.softmax(self._fast()(batch), dim=1).numpy()

    def log_mel(self, segments: np.ndarray):
        """A log-mel model's input for segments ``(n, samples)``, at its front end's frame rate."""
        from genretag.audio import log_mel

        return log_mel(segments, hop_length_of(self.front_end))

    def embeddings(self, segments: np.ndarray) -> np.ndarray:
        """A musicnn model's head input for each patch of segments ``(n, samples at 16 kHz)``: ``(n * patches, F)``."""
        import torch

        with torch.inference_mode():
            return self._fast().embed(musicnn_patches(segments)).numpy()

    def segment_probabilities(self, segments: np.ndarray) -> np.ndarray:
        """Genre probabilities ``(n, n_genres)`` of segments ``(n, samples at identity.sample_rate)``.

        A musicnn model reads each segment's patches (``audio.musicnn_patches``) and
        averages their probabilities (independent ones for the multi-label MSD genre tags);
        a log-mel model reads the segment's log-mel (``log_mel``).
        """
        if self.front_end != MUSICNN:
            return self.predict(self.log_mel(segments))
        import torch

        with torch.inference_mode():
            scores = self._fast()(musicnn_patches(segments))
            # A multi-label model's genres apply independently; the others share one probability.
            multi_label = getattr(self.network, "multi_label", False)
            probabilities = torch.sigmoid(scores) if multi_label else torch.softmax(scores, dim=1)
            return probabilities.reshape(len(segments), -1, probabilities.shape[1]).mean(dim=1).numpy()


def load_model(model: str | ModelIdentity | None = None, home: str | Path | None = None) -> LoadedModel:
    """Load a model by name (default: ``weights.DEFAULT_MODEL``) or by an identity resolved before.

    The weights are read once: their bytes are hashed and checked against the card (and,
    for an identity, against the fingerprint it was resolved with: a model changed on disk
    since, or a worker's copy that differs from the caller's, is refused), then loaded.
    """
    if isinstance(model, ModelIdentity):
        card_path = find_card(model.name, model.home)
        loaded = _load(card_path, model.home)
        if loaded.fingerprint != model.fingerprint:
            raise WeightsError(f"model {model.name!r} changed on disk since it was resolved (or differs here)")
        return loaded
    return _load(find_card(model or DEFAULT_MODEL, home), home)


def load_model_card(card_path: Path) -> LoadedModel:
    """Load the model whose card is ``card_path`` (its ``.pt`` beside it), with the same checks."""
    return _load(card_path, None)


def _load(card_path: Path, home: str | Path | None) -> LoadedModel:
    import io

    import torch

    from genretag.models import BFLOAT16, FLOAT32, build

    card = read_card(card_path)
    precision = card.get("inference_precision", FLOAT32)
    if precision not in (FLOAT32, BFLOAT16):
        raise WeightsError(f"{card_path}: inference_precision {precision!r} is neither {FLOAT32!r} nor {BFLOAT16!r}")
    weights_path = _weights_path(card_path)
    data = weights_path.read_bytes()
    identity = _identity(card_path, card, hashlib.sha256(data).hexdigest(), home)
    network = build(identity.architecture, len(identity.genres), identity.front_end, **card.get("head", {}))
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        network.load_state_dict(state)
    except Exception as error:
        raise WeightsError(f"{weights_path}: cannot load weights ({error})") from None
    network.eval()
    return LoadedModel(identity=identity, network=network, card=card)


def save_model(network, name: str, directory: Path, card: dict) -> Path:
    """Write ``<name>.pt`` and its card (sha256, audio parameters, parameter counts added)."""
    import torch

    from genretag.models import count_parameters

    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / f"{name}.pt"
    torch.save(network.state_dict(), weights_path)
    full_card = {
        "name": name,
        **card,
        "audio": audio_parameters(card.get("front_end", LOG_MEL)),
        "parameters": {
            "pytorch": count_parameters(network),
            "keras_convention": count_parameters(network, keras_convention=True),
        },
        "sha256": sha256_of(weights_path),
    }
    card_path = directory / f"{name}.json"
    card_path.write_text(json.dumps(full_card, indent=2) + "\n", encoding="utf-8")
    return card_path
