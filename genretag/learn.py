"""``genretag learn``: a user's tagged library → a user model (``learn_model`` runs the whole pipeline).

The steps, each a function returning data (``cli.learn`` renders what ``learn_model`` reports):

* ``read_library``: the genre tags every audio file already carries, with the
  album/artist it belongs to; untagged and unreadable files are listed, not fatal;
* ``choose_genres``: genres with at least ``min_tracks`` tagged tracks, and one
  label per track;
* ``group_split``: train/validation, keeping each album (else artist) on one side;
* ``extract_features``: log-mel segments through the product's own front end, in
  parallel, cached on disk;
* ``fine_tune`` and ``save_user_model``: a new genre head on a shipped model's
  pre-trained body, trained by ``genretag.fit.fit``, saved beside the other
  user models with a card that says what it learnt from. With the musicnn model as
  base (the default), the features are its embeddings of each patch and only a new
  linear head is fitted (``fit_embedding_head``): seconds, not minutes.

Genre spellings are merged by a key that ignores case, spacing and punctuation
(``Hip-Hop``, ``hip hop`` and ``HipHop`` are one genre, shown in its most common
spelling); a mapping file merges real synonyms (``Soundtrack = Film Score``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genretag import audio
from genretag.fit import FitSettings

# One value of a genre tag often holds several genres: "Rock; Pop", "Jazz/Funk".
GENRE_SEPARATORS = re.compile(r"[;/,|\x00]")
# Segments kept per track, evenly spread over it: enough to hear a track's
# variety, few enough that a thousand tracks fit in memory (about 0.7 GB as float16).
MAX_SEGMENTS_PER_TRACK = 6
VALID_FRACTION = 0.2
# Small libraries still get this many training segments per epoch (four batches),
# so that an epoch moves the weights enough for its validation to say something.
MIN_SAMPLES_PER_EPOCH = 128


def name_key(name: str) -> str:
    """The identity of a genre, artist or album spelling: case, spacing and punctuation ignored, ``&`` read as "and".

    Looser than ``genres.genre_key`` (case and surrounding space only), which decides whether a
    file's genre tag already holds a value: learning groups spellings, tagging keeps the user's.
    """
    return re.sub(r"[\W_]+", "", name.casefold().replace("&", "and"))


def split_genre_values(values: Iterable[str]) -> list[str]:
    """A genre field's values split at separators, trimmed, spacing collapsed, duplicates (by key) removed."""
    genres, seen = [], set()
    for value in values:
        for part in GENRE_SEPARATORS.split(str(value)):
            name = " ".join(part.split())
            if name_key(name) and name_key(name) not in seen:
                seen.add(name_key(name))
                genres.append(name)
    return genres


class GenreMapError(ValueError):
    """A mapping file line that is not ``alias = genre``."""


def read_genre_map(path: Path) -> dict[str, str | None]:
    """A mapping file as ``{alias key: target genre}``; an empty target means "ignore this genre".

    One ``alias = genre`` per line; ``#`` starts a comment (``genres.read_map_lines``).
    Aliases match by ``name_key``, so ``hip hop = Hip-Hop`` also covers ``HIP-HOP``.
    """
    from genretag.genres import read_map_lines

    mapping: dict[str, str | None] = {}
    try:
        lines = read_map_lines(path, "alias = genre")
    except ValueError as error:
        raise GenreMapError(str(error)) from None
    for number, alias, target in lines:
        if not name_key(alias):
            raise GenreMapError(f"{path}:{number}: expected 'alias = genre', got {alias + ' = ' + target!r}")
        mapping[name_key(alias)] = " ".join(target.split()) or None
    return mapping


def apply_genre_map(genres: list[str], mapping: dict[str, str | None]) -> list[str]:
    """``genres`` with aliases replaced by their targets and ignored genres removed (order kept)."""
    mapped = [mapping.get(name_key(genre), genre) for genre in genres]
    return split_genre_values(genre for genre in mapped if genre)


@dataclass
class TaggedTrack:
    """A file with its genres (normalised spellings, primary first) and its album/artist group."""

    path: Path
    genres: list[str]
    group: str


@dataclass
class LibraryTags:
    """What ``read_library`` found: tagged tracks, untagged files, files it could not read."""

    tracks: list[TaggedTrack] = field(default_factory=list)
    untagged: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def _first(tags, *keys: str) -> str:
    for key in keys:
        value = tags.get(key) if tags is not None else None
        # Easy tags give lists; an ID3 frame (WAV, AIFF) joins its values with NUL.
        text = str(value[0] if isinstance(value, list) and value else value or "").split("\x00")[0]
        if text.strip():
            return " ".join(text.split())
    return ""


def _album_group(path: Path) -> str:
    """``album:<artist>/<album>`` when the file names its album, else ``artist:<artist>``, else the path."""
    import mutagen

    try:
        tags = mutagen.File(path, easy=True)
    except Exception:  # grouping is a refinement; the genre read already judged the file readable
        tags = None
    artist = _first(tags, "albumartist", "artist", "TPE2", "TPE1")
    album = _first(tags, "album", "TALB")
    if album:
        return f"album:{name_key(artist)}/{name_key(album)}"
    if artist:
        return f"artist:{name_key(artist)}"
    return f"track:{path}"


def read_library(paths: Iterable[Path], mapping: dict[str, str | None] | None = None) -> LibraryTags:
    """The genre tags of every audio file under ``paths`` (walked like ``genretag scan``)."""
    from genretag.library import walk_audio_files
    from genretag.tags import TagError, read_genres

    walk = walk_audio_files(paths)
    library = LibraryTags(unreadable=[(path, reason) for path, reason in walk.problems])
    for path in walk.files:
        try:
            genres = split_genre_values(read_genres(path))
        except TagError as error:
            library.unreadable.append((path, str(error)))
            continue
        genres = apply_genre_map(genres, mapping or {})
        if genres:
            library.tracks.append(TaggedTrack(path, genres, _album_group(path)))
        else:
            library.untagged.append(path)
    return library


@dataclass(frozen=True)
class DroppedGenre:
    """A genre left out: ``tracks`` carry it, ``first`` of them would have been labelled with it."""

    tracks: int
    first: int


@dataclass
class GenreChoice:
    """The genres kept, each track's label, and what was dropped and why."""

    genres: tuple[str, ...]
    labels: dict[Path, str]
    counts: dict[str, int]
    dropped: dict[str, DroppedGenre]
    spellings: dict[str, list[str]]
    unlabelled: list[Path]


def choose_genres(tracks: list[TaggedTrack], min_tracks: int) -> GenreChoice:
    """Keep the genres with at least ``min_tracks`` tracks; a track's label is its first kept genre.

    Counting first genres only would lose a "Bossa Nova; Jazz" track to a rare
    genre, so a track is labelled with its first genre that survives. The genres
    with the fewest labelled tracks are dropped one round at a time (their tracks
    then count for their next genre) until every kept genre has ``min_tracks``.
    """
    variants: dict[str, Counter] = defaultdict(Counter)
    for track in tracks:
        for genre in track.genres:
            variants[name_key(genre)][genre] += 1
    display = {key: counter.most_common(1)[0][0] for key, counter in variants.items()}
    kept = set(display)
    first_counts: dict[str, int] = {}
    while True:
        labels = {}
        for track in tracks:
            first = next((name_key(g) for g in track.genres if name_key(g) in kept), None)
            if first is not None:
                labels[track.path] = first
        counts = Counter(labels.values())
        too_few = {key: counts[key] for key in kept if counts[key] < min_tracks}
        if not too_few:
            break
        fewest = min(too_few.values())
        for key in [key for key, count in too_few.items() if count == fewest]:
            kept.discard(key)
            first_counts[key] = fewest
    genres = tuple(sorted((display[key] for key in kept), key=str.casefold))
    carried = {key: sum(counter.values()) for key, counter in variants.items()}
    dropped = sorted(first_counts, key=lambda key: (-carried[key], display[key].casefold()))
    return GenreChoice(
        genres=genres,
        labels={path: display[key] for path, key in labels.items()},
        counts={display[key]: counts[key] for key in kept},
        dropped={display[key]: DroppedGenre(carried[key], first_counts[key]) for key in dropped},
        spellings={display[key]: sorted(variants[key]) for key in kept if len(variants[key]) > 1},
        unlabelled=[track.path for track in tracks if track.path not in labels],
    )


@dataclass
class Split:
    """Train and validation tracks; ``unit`` says how the library was divided."""

    train: list[Path]
    valid: list[Path]
    unit: str

    def without(self, paths: Iterable[Path]) -> Split:
        """The same split less ``paths`` (tracks that could not be decoded)."""
        gone = set(paths)
        return Split([p for p in self.train if p not in gone], [p for p in self.valid if p not in gone], self.unit)


def group_split(
    labels: dict[Path, str], groups: dict[Path, str], valid_fraction: float = VALID_FRACTION, seed: int = 0
) -> Split:
    """About ``valid_fraction`` of each genre's tracks for validation, whole groups at a time.

    Groups (albums, else artists) are visited in a seeded random order and go to
    validation while their genre still needs tracks there and they fit; a genre
    left with none gets its smallest group. So no album sits on both sides. A
    genre whose tracks all share one group is split by track instead (else it
    could not be validated at all).
    """
    paths = sorted(labels)
    genre_groups: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        genre_groups[labels[path]].add(groups[path])
    by_track = sorted(genre for genre, members in genre_groups.items() if len(members) < 2)
    units: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        units[f"track:{path}" if labels[path] in by_track else groups[path]].append(path)
    unit_genre = {unit: Counter(labels[p] for p in members).most_common(1)[0][0] for unit, members in units.items()}
    genre_sizes = Counter(labels.values())
    target = {genre: max(1, round(valid_fraction * size)) for genre, size in genre_sizes.items()}
    taken: Counter = Counter()
    chosen: set[str] = set()
    order = sorted(units)
    random.Random(seed).shuffle(order)
    for unit in order:
        genre = unit_genre[unit]
        if taken[genre] + len(units[unit]) <= target[genre]:
            chosen.add(unit)
            taken.update(labels[p] for p in units[unit])
    for genre in sorted(genre_sizes):
        candidates = [u for u in order if unit_genre[u] == genre]
        if not taken[genre] and len(candidates) > 1:
            smallest = min(candidates, key=lambda u: len(units[u]))
            chosen.add(smallest)
            taken.update(labels[p] for p in units[smallest])
    valid = sorted(p for unit in chosen for p in units[unit])
    unit = "album or artist" if any(not units_key.startswith("track:") for units_key in units) else "track"
    if by_track and unit != "track":
        unit += f" (by track for {', '.join(by_track)}: a single album or artist)"
    return Split(train=sorted(set(paths) - set(valid)), valid=valid, unit=unit)


def _evenly_spread_segments(path: Path, rate: int) -> list[audio.Segment]:
    """At most ``MAX_SEGMENTS_PER_TRACK`` segments spread over the whole track, in bounded memory.

    Segments stream in (silent ones are not among them); every ``stride``-th is kept and the
    stride doubles when too many are held, so an hour-long mix holds a dozen segments, not 360.
    """
    kept: list[tuple[int, audio.Segment]] = []  # (position among the audible segments, segment)
    stride = 1
    for position, segment in enumerate(audio.segments(path, rate=rate)):
        if position % stride == 0:
            kept.append((position, segment))
            if len(kept) > 2 * MAX_SEGMENTS_PER_TRACK:
                stride *= 2
                kept = [(p, s) for p, s in kept if p % stride == 0]
    picks = np.linspace(0, len(kept) - 1, min(MAX_SEGMENTS_PER_TRACK, len(kept))).round().astype(int)
    return [kept[i][1] for i in picks]


def _cache_path(path: Path, cache_dir: Path, base) -> Path:
    stat = path.stat()
    identity = [str(path.resolve()), stat.st_size, stat.st_mtime_ns, MAX_SEGMENTS_PER_TRACK]
    if base.front_end == audio.MUSICNN:  # embeddings depend on the base model's trunk and head inputs
        identity += [audio.audio_parameters(base.front_end), base.fingerprint]
    else:  # log-mels (the full-rate front end's key is as before, so existing caches stay valid)
        identity.append(audio.audio_parameters(base.front_end))
    return cache_dir / f"{hashlib.sha1(json.dumps(identity).encode()).hexdigest()}.npy"


_BASE_MODELS: dict = {}


def _features_of(segments: np.ndarray, base) -> np.ndarray:
    """A log-mel base's log-mels ``(n, N_MELS, frames)``, or a musicnn base's embedding of each patch."""
    if base.front_end != audio.MUSICNN:
        return audio.log_mel(segments, audio.hop_length_of(base.front_end)).numpy()
    from genretag.weights import load_model

    if base not in _BASE_MODELS:
        _BASE_MODELS[base] = load_model(base)
    return _BASE_MODELS[base].embeddings(segments)


def track_features(path: Path, cache_dir: Path, base) -> tuple[Path, np.ndarray | None, str | None]:
    """``(path, float16 features, None)``, or ``(path, None, reason)`` when it cannot be decoded.

    The features are the segments' log-mels, or, for a musicnn ``base`` (a ``ModelIdentity``),
    its embeddings of their patches. The unit of parallel work. Results are cached by
    path, size and mtime (and the base), so a second ``genretag learn`` decodes nothing.
    """
    import torch

    # One worker per core: more torch threads per worker would only contend.
    torch.set_num_threads(1)
    try:
        cached = _cache_path(path, cache_dir, base)
        if cached.is_file():
            return path, np.load(cached), None
        segments = _evenly_spread_segments(path, base.sample_rate)
    except audio.AudioDecodeError as error:
        return path, None, str(error)
    except OSError as error:
        return path, None, error.strerror or str(error)
    mels = _features_of(np.stack([s.samples for s in segments]), base).astype(np.float16)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.stem + ".partial.npy")
    np.save(partial, mels)
    partial.replace(cached)
    return path, mels, None


def extract_features(
    paths: list[Path], base, jobs: int = -1, progress: Callable[[Path, str | None], None] | None = None
) -> tuple[dict[Path, np.ndarray], list[tuple[Path, str]]]:
    """Features for ``base`` (log-mels or embeddings) of every track (``jobs`` worker processes) and the
    tracks that could not be decoded.

    ``progress(path, error)`` is called as each track finishes, in completion order.
    """
    from joblib import Parallel, delayed

    from genretag.config import feature_cache_dir

    cache_dir = feature_cache_dir()
    features, failures = {}, []
    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=1)
    for path, mels, error in parallel(delayed(track_features)(path, cache_dir, base) for path in paths):
        if error is None:
            features[path] = mels
        else:
            failures.append((path, error))
        if progress:
            progress(path, error)
    return features, sorted(failures)


def feature_set(paths: list[Path], features: dict[Path, np.ndarray], labels: dict[Path, str], genres: tuple[str, ...]):
    """A ``fit.FeatureSet`` of ``paths`` (those with features), sampled so every genre weighs the same.

    Within a genre each track weighs the same whatever its segment count, so a
    user's 500 rock tracks do not drown their 20 bossa nova ones.
    """
    import torch

    from genretag.fit import FeatureSet

    paths = [path for path in paths if path in features]
    genre_tracks = Counter(labels[path] for path in paths)
    mels, label_ids, tracks, weights = [], [], [], []
    for index, path in enumerate(paths):
        count = len(features[path])
        mels.append(torch.from_numpy(features[path]))
        label_ids += [genres.index(labels[path])] * count
        tracks += [index] * count
        weights += [1.0 / (genre_tracks[labels[path]] * count)] * count
    original = [True] * len(label_ids)
    return FeatureSet.from_segments(mels, label_ids, tracks, weights, original, genres, [str(path) for path in paths])


def fine_tune_settings(epochs: int = 30) -> FitSettings:
    """How ``fine_tune`` trains (recorded in the model card): a low learning rate that keeps what the
    pre-trained body knows, the epoch with the lowest validation cross-entropy kept, patience 5."""
    return FitSettings(epochs=epochs, lr=3e-4, patience=5, select_on="log_loss")


@dataclass(frozen=True)
class FineTuneRecipe:
    """How ``fine_tune`` trains; recorded in the model card."""

    settings: FitSettings = field(default_factory=fine_tune_settings)


def fine_tune(base, train, valid, recipe: FineTuneRecipe, progress=None):
    """Give ``base`` (a ``LoadedModel``) a new head for ``train.genres`` and train it; returns ``(network, history)``.

    The whole network trains, at a learning rate low enough to keep what the
    pre-trained body knows. The epoch with the lowest validation cross-entropy
    is kept (accuracy on a few dozen validation tracks moves in coarse steps and
    plateaus) and ``recipe.settings.patience`` epochs without improvement stop early. An
    epoch draws one segment per training track (at least ``MIN_SAMPLES_PER_EPOCH``),
    genre-balanced, so its cost grows with the number of tracks, not their length.
    """
    from dataclasses import replace

    from genretag import fit

    network = fit.replace_final_layer(base.network, len(train.genres), seed=recipe.settings.seed)
    settings = replace(recipe.settings, samples_per_epoch=max(MIN_SAMPLES_PER_EPOCH, len(train.track_names)))
    history = fit.fit(network, train, valid, settings, progress=progress)
    return network, history


@dataclass(frozen=True)
class HeadRecipe:
    """How ``fit_embedding_head`` fits a new genre head on a musicnn base's embeddings; recorded in the card."""

    weight_decay: float = 1e-3
    epochs: int = 400
    seed: int = 0


def fit_embedding_head(base, train, recipe: HeadRecipe):
    """``base`` (a musicnn ``LoadedModel``) with a new linear genre head fitted on ``train``'s embeddings.

    The trunk is the base's, unchanged; the head is fitted full-batch on every patch of
    the training tracks, each genre weighing the same and each track the same within
    its genre (``train.weights``), in a few seconds.
    """
    import copy

    import torch

    from genretag.musicnn import fit_genre_head

    network = copy.deepcopy(base.network)
    weights = train.weights / train.weights.sum()
    network.head = fit_genre_head(
        train.mels.float(),
        train.labels,
        weights.float(),
        len(train.genres),
        weight_decay=recipe.weight_decay,
        epochs=recipe.epochs,
        seed=recipe.seed,
    )
    with torch.no_grad():
        network.head.temperature.fill_(1.0)
    return network.eval()


def valid_model_name(name: str) -> str | None:
    """Why ``name`` cannot name a user model, or None when it can."""
    from genretag.weights import list_cards

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        return f"model name {name!r}: use letters, digits, '.', '_' and '-' only"
    if any(card["name"] == name and card["source"] == "shipped" for card in list_cards()):
        return f"model name {name!r} is a shipped model; choose another name"
    return None


def save_user_model(
    network, name: str, base, choice: GenreChoice, split: Split, evaluation, history, recipe: FineTuneRecipe, sources
) -> Path:
    """Save the fine-tuned network (or the base with a new head) as user model ``name``; returns its card's path.

    ``split`` holds the tracks actually used; ``evaluation`` is the validation
    result (``fit.Evaluation``) and ``history`` the ``fit.FitHistory`` (None for a new head on embeddings).
    """
    from dataclasses import asdict

    from genretag.config import user_models_dir
    from genretag.weights import save_model

    per_genre = {
        genre: {
            "train": sum(choice.labels[path] == genre for path in split.train),
            "valid": sum(choice.labels[path] == genre for path in split.valid),
        }
        for genre in choice.genres
    }
    roots = [str(Path(source).resolve()) for source in sources]
    if history is None:  # a new head on a musicnn base's embeddings
        how = "new linear genre head on the base model's embeddings (its trunk unchanged)"
        architecture = {"front_end": audio.MUSICNN, "head": {"head_inputs": base.network.head_inputs, "hidden": 0}}
        fitting = {
            "recipe": {**asdict(recipe), "head": how, "weights": "each genre the same, each track the same in it"}
        }
        held_out = f"valid (held out by {split.unit})"
        if split.unit == "track":
            held_out += ", optimistic: tracks of one album may sit on both sides"
    else:
        how = "new output layer; body from the base model, all layers trained"
        architecture = {"front_end": base.front_end}
        fitting = {
            "recipe": {
                **asdict(recipe),
                "loss": "cross-entropy",
                "sampling": f"genre-balanced, one segment per track per epoch (at least {MIN_SAMPLES_PER_EPOCH})",
                "selection": "epoch with the lowest validation cross-entropy",
                "head": how,
            },
            "epochs_run": len(history.train_loss),
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "seconds_per_epoch": round(float(np.median(history.epoch_seconds)), 2),
        }
        held_out = f"valid (held out by {split.unit}; it picked the epoch, so optimistic)"
    card = {
        "architecture": base.architecture,
        **architecture,
        "genres": list(choice.genres),
        "base_model": {"name": base.name, "sha256": base.fingerprint},
        "training": {
            "summary": f"{'head fitted' if history is None else 'fine-tuned'} from {base.name} on "
            f"{sum(choice.counts.values())} tagged tracks of " + ", ".join(roots),
            "source_library": roots,
            "tracks_per_genre": per_genre,
            "dropped_genres": {genre: asdict(counts) for genre, counts in choice.dropped.items()},
            "merged_spellings": choice.spellings,
            "split": f"by {split.unit}, {VALID_FRACTION:.0%} of each genre for validation",
            "segments_per_track": f"up to {MAX_SEGMENTS_PER_TRACK}, spread over the track",
            **fitting,
        },
        "metrics": {held_out: evaluation.summary()},
        "open_set": open_set(evaluation),
        "confusion_matrix": {
            "rows": "true genre (validation tracks)",
            "columns": "predicted genre",
            "genres": list(choice.genres),
            "tracks": evaluation.confusion.tolist(),
        },
    }
    return save_model(network, name, user_models_dir(), card)


OPEN_SET_KEEP = 0.95  # the open-set threshold keeps this share of the validation tracks answered right


def open_set(evaluation) -> dict:
    """The open-set threshold of a learnt model (``tagrules.open_set_threshold``) from its validation tracks:
    the best-genre probability that ``OPEN_SET_KEEP`` of the tracks it answered right reach. Below it an
    answer is "none of these", never written."""
    best = evaluation.track_probabilities.max(axis=1) if evaluation.n_tracks else np.zeros(0)
    right = best[evaluation.track_probabilities.argmax(axis=1) == evaluation.track_labels] if len(best) else best
    threshold = float(np.quantile(right, 1 - OPEN_SET_KEEP)) if len(right) else 1 / len(evaluation.genres)
    return {
        "threshold": round(threshold, 4),
        "rule": f"below it the answer is 'none of these' (shown as —, never written): {OPEN_SET_KEEP:.0%} of the "
        "validation tracks the model answered right reach it",
        "validation_tracks_right": int(len(right)),
    }


class LearnError(Exception):
    """The library cannot make a model: too few genres or tracks (the message says what to change)."""


@dataclass
class LearnEvents:
    """Callbacks through which ``learn_model`` reports as it goes (a display implements them; all optional)."""

    library_read: Callable[[LibraryTags, GenreChoice], None] | None = None
    decoding: Callable[[int], None] | None = None  # number of tracks to decode, before the first
    decoded: Callable[[Path, str | None], None] | None = None  # one track done (error or None)
    split_made: Callable[[Split, int, int], None] | None = None  # (split, training segments, validation segments)
    fitting: Callable[[str, int], None] | None = None  # (base model, threads), before the first epoch
    fit_progress: Callable[[object], None] | None = None  # fit.FitProgress


@dataclass
class LearnedModel:
    """What ``learn_model`` made: the model's card, the validation evaluation and what went into it."""

    name: str
    card_path: Path
    library: LibraryTags
    choice: GenreChoice
    split: Split
    failures: list[tuple[Path, str]]  # tracks that could not be decoded (left out)
    evaluation: object  # fit.Evaluation on the validation tracks
    history: object  # fit.FitHistory; None for a head fitted on embeddings
    recipe: FineTuneRecipe | HeadRecipe
    replaced: bool = False  # a user model of that name existed and was replaced (``force``)


def learn_model(
    paths: Iterable[Path],
    name: str,
    base: str | None = None,
    min_tracks: int = 20,
    map_file: Path | None = None,
    epochs: int = 30,
    jobs: int = -1,
    events: LearnEvents | None = None,
    force: bool = False,
) -> LearnedModel:
    """``genretag learn``: read the genre tags under ``paths``, teach ``base`` (default
    ``weights.DEFAULT_MODEL``) their genres and save user model ``name``.

    A musicnn base gets a new head on its embeddings; a poster network is fine-tuned
    for at most ``epochs`` epochs.

    Raises ``ValueError`` for a bad name or mapping file, ``OSError`` for an unreadable mapping
    file, ``WeightsError`` / ``library.LibraryPathError`` for a bad base model or path (all
    usage errors, checked before anything slow), ``scan.NothingFound`` when there is no audio under
    ``paths``, ``ValueError`` when user model ``name`` exists and not ``force``, and ``LearnError``
    when the library holds too little to learn from.
    """
    from genretag import fit
    from genretag.config import user_models_dir
    from genretag.scan import NothingFound, nothing_found_message
    from genretag.weights import load_model, resolve_model

    events = events or LearnEvents()
    paths = list(paths)
    problem = valid_model_name(name)
    if problem:
        raise ValueError(problem)
    replaced = (user_models_dir() / f"{name}.json").exists()
    if replaced and not force:
        raise ValueError(f"user model {name!r} exists; add --force to replace it, or choose another name")
    mapping = read_genre_map(map_file) if map_file else {}
    if base is None:
        from genretag.weights import DEFAULT_MODEL

        base = DEFAULT_MODEL
    resolve_model(base)  # a bad base is a usage error before the library is read
    library = read_library(paths, mapping)
    if not (library.tracks or library.untagged or library.unreadable):
        raise NothingFound(nothing_found_message(paths))
    base_model = load_model(base)
    choice = choose_genres(library.tracks, min_tracks)
    if events.library_read:
        events.library_read(library, choice)
    if len(choice.genres) < 2:
        found = ", ".join(choice.genres) or "none"
        raise LearnError(
            f"a model needs two or more genres with at least {min_tracks} tagged tracks, found {found}; "
            "lower --min-tracks or tag more tracks"
        )
    groups = {track.path: track.group for track in library.tracks}
    split = group_split(choice.labels, groups)
    if events.decoding:
        events.decoding(len(choice.labels))
    features, failures = extract_features(sorted(choice.labels), base_model.identity, jobs, events.decoded)
    split = split.without(path for path, _ in failures)
    if not split.train or not split.valid:
        raise LearnError("too few tracks could be decoded to train and validate a model")
    train_set = feature_set(split.train, features, choice.labels, choice.genres)
    valid_set = feature_set(split.valid, features, choice.labels, choice.genres)
    if events.split_made:
        events.split_made(split, len(train_set), len(valid_set))
    threads = fit.use_threads()
    if events.fitting:
        events.fitting(base, threads)
    if base_model.front_end == audio.MUSICNN:
        recipe, history = HeadRecipe(), None
        network = fit_embedding_head(base_model, train_set, recipe)
        evaluation = fit.evaluate(network.head, valid_set)
    else:
        recipe = FineTuneRecipe(fine_tune_settings(epochs))
        network, history = fine_tune(base_model, train_set, valid_set, recipe, progress=events.fit_progress)
        evaluation = fit.evaluate(network, valid_set)
    card_path = save_user_model(network, name, base_model, choice, split, evaluation, history, recipe, paths)
    return LearnedModel(name, card_path, library, choice, split, failures, evaluation, history, recipe, replaced)
