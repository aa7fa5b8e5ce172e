"""Labelled corpora (a GTZAN folder, any folder-per-genre corpus) and their splits.

A corpus is a list of ``Clip``: one audio file, its genre, the track it belongs
to (splits keep a track's segments and pitch-shifted copies together) and its
source (the sub-folders between the genre folder and the file), which the
sampling weights use to balance sources inside a class.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from genretag.genres import GTZAN_GENRES

log = logging.getLogger("training")

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".m4a"})
SPLITS_DIR = Path(__file__).resolve().parent / "data" / "gtzan-splits"
GTZAN_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")
# Known-bad files of the public GTZAN copies: the Kaggle copy's jazz.00054 is not
# decodable audio. Others that fail to decode are skipped with a warning too.
KNOWN_CORRUPT_GTZAN = frozenset({"jazz.00054"})


@dataclass(frozen=True)
class Clip:
    """One labelled audio file."""

    path: Path
    genre: str
    track: str
    source: tuple[str, ...] = ()


def genre_order(names: Iterable[str]) -> tuple[str, ...]:
    """GTZAN's order when the names are GTZAN's genres, else alphabetical."""
    names = set(names)
    if names == set(GTZAN_GENRES):
        return GTZAN_GENRES
    return tuple(sorted(names))


def folder_corpus(root: Path) -> list[Clip]:
    """Every audio file under ``root/<genre>/...``; nested folders become the clip's source.

    The track id is the file's path relative to ``root`` without its suffix.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    clips = []
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(genre_dir.rglob("*")):
            if path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".") and path.is_file():
                relative = path.relative_to(root)
                clips.append(Clip(path, genre_dir.name, relative.with_suffix("").as_posix(), relative.parts[1:-1]))
    if not clips:
        raise ValueError(f"{root}: no audio files in genre sub-folders")
    return clips


def _gtzan_genres_dir(root: Path) -> Path:
    for candidate in (root / "genres", root / "genres_original", root / "Data" / "genres_original", root):
        if candidate.is_dir() and all((candidate / genre).is_dir() for genre in GTZAN_GENRES):
            return candidate
    raise FileNotFoundError(f"{root}: no GTZAN layout found (genres/<genre>/ or genres_original/<genre>/)")


def gtzan_corpus(root: Path) -> list[Clip]:
    """The GTZAN tracks under ``root`` (original or Kaggle layout); known-corrupt files skipped."""
    genres_dir = _gtzan_genres_dir(Path(root))
    clips = []
    for genre in GTZAN_GENRES:
        for path in sorted((genres_dir / genre).iterdir()):
            stem = path.name.rsplit(".", 1)[0]
            if path.suffix.lower() not in {".au", ".wav"} or not GTZAN_NAME.match(stem):
                continue
            if stem in KNOWN_CORRUPT_GTZAN:
                log.warning("%s: skipped, a known-corrupt GTZAN file", path)
                continue
            clips.append(Clip(path, genre, stem))
    return clips


def read_split_list(name: str) -> list[str]:
    """Track ids of the fault-filtered GTZAN split ``train``, ``valid`` or ``test``."""
    return (SPLITS_DIR / f"{name}.txt").read_text(encoding="utf-8").split()


def fault_filtered_split(clips: list[Clip]) -> dict[str, list[Clip]]:
    """Kereliuk, Sturm & Larsen's artist-filtered split (443/197/290); other tracks are left out."""
    by_track = {clip.track: clip for clip in clips}
    split = {}
    for name in ("train", "valid", "test"):
        wanted = read_split_list(name)
        missing = [track for track in wanted if track not in by_track]
        if missing:
            log.warning("%d tracks of the %s split are missing (e.g. %s)", len(missing), name, missing[0])
        split[name] = [by_track[track] for track in wanted if track in by_track]
    return split


SHARED_GTZAN_PARTS = ("gtzan-full", "gtzan-snippets", "gtzan-classical")


def shared_gtzan_corpus(data_dir: Path) -> list[Clip]:
    """The real GTZAN material of ``../shared/data``: the 30 s excerpts of ``gtzan-full/<genre>/``, the
    2-3 s snippets of ``gtzan-snippets`` and the classical excerpts of ``gtzan-classical``.

    A clip's track is its GTZAN id (``blues.00029``), so the fault-filtered split
    keeps every part of one track on one side; its source is the part's folder name.
    """
    clips = []
    for part in SHARED_GTZAN_PARTS:
        root = Path(data_dir) / part
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: not a folder")
        for path in sorted(root.rglob("*")):
            stem = path.name.rsplit(".", 1)[0]
            match = GTZAN_NAME.match(stem)
            if path.suffix.lower() in AUDIO_SUFFIXES and match and match["genre"] in GTZAN_GENRES:
                clips.append(Clip(path, match["genre"], stem, (part,)))
    if not clips:
        raise ValueError(f"{data_dir}: no GTZAN clips in {', '.join(SHARED_GTZAN_PARTS)}")
    return clips


def split_of(track: str) -> str | None:
    """``train``, ``valid`` or ``test``: the fault-filtered split a GTZAN track id belongs to (None if none)."""
    for name in ("train", "valid", "test"):
        if track in _split_sets()[name]:
            return name
    return None


@lru_cache(maxsize=1)
def _split_sets() -> dict[str, frozenset[str]]:
    return {name: frozenset(read_split_list(name)) for name in ("train", "valid", "test")}


def stratified_split(
    clips: list[Clip],
    valid_fraction: float,
    test_fraction: float,
    seed: int,
    group_of: Callable[[Clip], str] = lambda clip: clip.track,
) -> dict[str, list[Clip]]:
    """A random split stratified by genre that never separates clips of one group.

    Groups default to tracks; pass e.g. GTZAN track-number blocks to keep
    same-artist runs of neighbouring tracks on one side.
    """
    rng = random.Random(seed)
    split: dict[str, list[Clip]] = {"train": [], "valid": [], "test": []}
    by_genre: dict[str, dict[str, list[Clip]]] = defaultdict(lambda: defaultdict(list))
    for clip in clips:
        by_genre[clip.genre][group_of(clip)].append(clip)
    for genre in sorted(by_genre):
        groups = sorted(by_genre[genre])
        rng.shuffle(groups)
        n_test = round(len(groups) * test_fraction)
        n_valid = round(len(groups) * valid_fraction)
        for position, group in enumerate(groups):
            part = "test" if position < n_test else "valid" if position < n_test + n_valid else "train"
            split[part].extend(by_genre[genre][group])
    return split


def gtzan_block(clip: Clip, block: int = 10) -> str:
    """The clip's genre and block of ``block`` neighbouring GTZAN track numbers (same-artist runs)."""
    match = GTZAN_NAME.match(Path(clip.track).name)
    if not match:
        return clip.track
    return f"{clip.genre}:{(int(match['number']) - 1) // block}"


def source_counts(clips: list[Clip]) -> dict[str, dict[str, int]]:
    """Clips per source and genre (``unlabelled`` for clips without one), for a model card."""
    counts: dict[str, Counter] = {}
    for clip in clips:
        counts.setdefault("/".join(clip.source) or "main", Counter())[clip.genre or "unlabelled"] += 1
    return {source: dict(sorted(genres.items())) for source, genres in sorted(counts.items())}


def balanced_weights(clips: list[Clip]) -> list[float]:
    """Sampling weights: genres equal, then each source folder level equal inside its parent.

    Weight is split equally between the genres, then between the sub-folders at
    each nesting level, then between the files of a folder; so a corpus laid out
    as ``<genre>/real/<source>/`` and ``<genre>/synthetic/<source>/`` gives real
    and synthetic audio the same share in every genre.
    """
    tree: dict = {}
    for index, clip in enumerate(clips):
        node = tree.setdefault(clip.genre, {})
        for part in clip.source:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(index)
    weights = [0.0] * len(clips)

    def spread(node: dict, share: float) -> None:
        children = [key for key in node if key is not None]
        files = node.get(None, [])
        parts = len(children) + (1 if files else 0)
        for key in children:
            spread(node[key], share / parts)
        for index in files:
            weights[index] = share / parts / len(files)

    for genre in tree:
        spread(tree[genre], 1.0 / len(tree))
    return weights
