"""Per-patch musicnn embeddings of the labelled real audio, for choosing and fitting the genre head.

Every clip is decoded and cut exactly as a scan does (``audio.load`` and
``audio.segment_array`` at 16 kHz: 10 s segments, short clips looped), and each segment
gives the five patches that the 1-, 2- and 3-patch settings read (first frames
``EMBEDDED_STARTS``). Each patch's row holds the PyTorch trunk's penultimate layer
(200) and its 50 tag probabilities, as float16. One file per corpus in
``training/cache/musicnn/``; a rerun skips corpora already embedded.

    python -m training.musicnn.embed        # about 4 min on 2 cores
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genretag import audio
from training.corpus import Clip, folder_corpus, shared_gtzan_corpus, split_of

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
CACHE = REPO / "training" / "cache" / "musicnn"
TRUNK = CACHE / "msd_musicnn.npz"
PATCH_SETTINGS = (1, 2, 3)
EMBEDDED_STARTS = sorted({start for k in PATCH_SETTINGS for start in audio.musicnn_patch_starts(k)})
CORPORA = ("gtzan", "real-extra")


@dataclass(frozen=True)
class EmbeddedClip:
    """What a clip's rows are keyed by."""

    track: str
    genre: str
    source: str
    split: str  # train / valid for GTZAN; "extra" for real-extra (training only)


def load_trunk():
    """The converted MSD_musicnn trunk (``convert.py``'s output) as a fast inference network."""
    import torch

    from genretag.musicnn import FastMusicnn, Musicnn

    trunk = Musicnn()
    trunk.load_state_dict({key: torch.from_numpy(value) for key, value in np.load(TRUNK).items()})
    return FastMusicnn(trunk.eval()).eval()


def corpus_clips(name: str) -> list[tuple[Clip, EmbeddedClip]]:
    """The clips of one corpus with their keys; GTZAN's test split is never read."""
    if name == "gtzan":
        clips = []
        for clip in shared_gtzan_corpus(DATA):
            split = split_of(clip.track)
            if split in ("train", "valid"):
                clips.append((clip, EmbeddedClip(clip.track, clip.genre, clip.source[0], split)))
        return clips
    if name == "real-extra":
        with open(DATA / "real-extra" / "SOURCES.csv", encoding="utf-8") as handle:
            repos = {row["file"]: row["repo"] for row in csv.DictReader(handle)}
        root = DATA / "real-extra"
        return [
            (clip, EmbeddedClip(clip.track, clip.genre, repos[clip.path.relative_to(root).as_posix()], "extra"))
            for clip in folder_corpus(root)
        ]
    raise ValueError(f"unknown corpus {name!r}")


def embed_patches(network, segments: np.ndarray) -> np.ndarray:
    """``(n_segments * len(EMBEDDED_STARTS), 250)`` float16 rows: penultimate, then tag probabilities."""
    import torch

    with torch.inference_mode():
        embedding, tag_logits = network(audio.musicnn_patches(segments, EMBEDDED_STARTS))
        return torch.cat([embedding, torch.sigmoid(tag_logits)], dim=1).numpy().astype(np.float16)


def _embed_share(args: tuple[list[Clip], int]) -> list[tuple[int, np.ndarray | None]]:
    import torch

    clips, worker = args
    torch.set_num_threads(1)
    network = load_trunk()
    out = []
    for index, clip in enumerate(clips):
        try:
            segments = audio.segment_array(
                audio.load(clip.path, rate=audio.MUSICNN_SAMPLE_RATE), audio.MUSICNN_SAMPLE_RATE
            )
            out.append((index, embed_patches(network, segments)))
        except audio.AudioDecodeError as error:
            print(f"skipped {clip.path}: {error}", file=sys.stderr)
            out.append((index, None))
        if worker == 0 and index % 50 == 0:
            print(f"  {index}/{len(clips)}", file=sys.stderr, flush=True)
    return out


def embed_corpus(name: str, workers: int = 2) -> Path:
    """Embed one corpus into ``CACHE/embeddings-<name>.npz`` (rows per patch, with their keys)."""
    from multiprocessing import get_context

    target = CACHE / f"embeddings-{name}.npz"
    if target.exists():
        return target
    pairs = corpus_clips(name)
    shares = [[clip for clip, _ in pairs[w::workers]] for w in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        results = pool.map(_embed_share, [(share, w) for w, share in enumerate(shares)])
    rows: dict[str, list] = {key: [] for key in ("features", "track", "genre", "source", "split", "segment", "start")}
    for worker, result in enumerate(results):
        for index, features in result:
            if features is None:
                continue
            key = pairs[worker + index * workers][1]
            n_segments = len(features) // len(EMBEDDED_STARTS)
            rows["features"].append(features)
            for field in ("track", "genre", "source", "split"):
                rows[field] += [getattr(key, field)] * len(features)
            rows["segment"] += np.repeat(np.arange(n_segments), len(EMBEDDED_STARTS)).tolist()
            rows["start"] += EMBEDDED_STARTS * n_segments
    arrays = {key: np.concatenate(value) if key == "features" else np.array(value) for key, value in rows.items()}
    np.savez(target, **arrays)
    return target


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in CORPORA:
        print(f"embedding {name}", file=sys.stderr, flush=True)
        print(embed_corpus(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
