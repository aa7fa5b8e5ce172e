"""The teacher's view of every student window: genretag's PyTorch musicnn embeddings, one command.

    python -m training.teacher.embed            # every corpus of CORPORA missing from training/data/teacher
    python -m training.teacher.embed gtzan-full # one (or a few) again

For each file and pitch shift, the student's windows (``training.features.clip_segments``:
``audio.load`` at 22.05 kHz, pitch-shifted by librosa as the student's copies are, cut by
``audio.segment_array``) are resampled to 16 kHz (soxr HQ) and read by the product's own
musicnn trunk (``weights/musicnn.pt``, ``FastMusicnn``) through ``MUSICNN_TEACHER_PATCHES``
non-overlapping centred patches each. Stored per window (float16): the mean over its patches
of the 200-d penultimate layer and of the 50 MSD tag probabilities, keyed
``"<path relative to the corpus root>|<semitones>|<segment index>"`` as ``probe.window_key``,
in ``training/data/teacher/musicnn-<corpus>.npz`` (``training/cache/teacher/`` for the corpora
derived from research-use audio, which are never committed). ``training.rebuild`` fits its
teacher (a linear probe) on them; no TensorFlow anywhere. Two worker processes, one thread each.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genretag import audio
from training.features import shifted_segments
from training.teacher.debian_music import DEFAULT_DIR as DEBIAN_DIR
from training.teacher.debian_music import PACKAGES
from training.teacher.probe import RESEARCH_TEACHER_DIR, TEACHER_DIR, window_key

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
MUSICNN_TEACHER_PATCHES = 3
MIN_DEBIAN_SECONDS = 20.0  # shorter soundtrack files are jingles and stingers
LABELLED_SHIFTS = (0, 1, -1, 2, -2)  # the student's C_ps copies


@dataclass(frozen=True)
class TeacherCorpus:
    """One stored file of windows: a folder, the files in it, the shifts, the shortest file kept."""

    name: str
    root: Path
    pattern: str
    semitones: tuple[int, ...] = (0,)
    min_seconds: float = 0.0
    research_only: bool = False  # derived from research-use audio: kept in the cache, never committed

    @property
    def target(self) -> Path:
        return (RESEARCH_TEACHER_DIR if self.research_only else TEACHER_DIR) / f"musicnn-{self.name}.npz"

    def files(self) -> list[Path]:
        return sorted(path for path in self.root.glob(self.pattern) if path.is_file())


CORPORA = (
    TeacherCorpus("gtzan-full", SHARED_DATA / "gtzan-full", "*/*.opus", LABELLED_SHIFTS),
    TeacherCorpus("gtzan-snippets", SHARED_DATA / "gtzan-snippets", "*.flac", LABELLED_SHIFTS),
    TeacherCorpus("gtzan-classical", SHARED_DATA / "gtzan-classical", "*.flac", LABELLED_SHIFTS),
    TeacherCorpus("real-extra", SHARED_DATA / "real-extra", "*/*.opus", LABELLED_SHIFTS, research_only=True),
    TeacherCorpus("unlabelled", SHARED_DATA / "unlabelled", "*.opus", research_only=True),
    *(
        TeacherCorpus(f"debian-{package}", DEBIAN_DIR / package, pattern, min_seconds=MIN_DEBIAN_SECONDS)
        for package, pattern in PACKAGES.items()
    ),
)


def _teacher():
    import torch

    from genretag.weights import load_model

    torch.set_num_threads(1)
    return load_model("musicnn").network.inference_copy().trunk


def embed_windows(trunk, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate ``(n, 200)``, tag probabilities ``(n, 50)``), each the mean over the window's patches."""
    import soxr
    import torch

    resampled = np.stack([soxr.resample(w, audio.SAMPLE_RATE, audio.MUSICNN_SAMPLE_RATE, "HQ") for w in windows])
    patches = audio.musicnn_patches(resampled, audio.musicnn_patch_starts(MUSICNN_TEACHER_PATCHES))
    with torch.inference_mode():
        embedding, tag_logits = trunk(patches)
    per_window = (len(windows), MUSICNN_TEACHER_PATCHES, -1)
    return (
        embedding.reshape(per_window).mean(dim=1).numpy(),
        torch.sigmoid(tag_logits).reshape(per_window).mean(dim=1).numpy(),
    )


def _embed_share(args: tuple[TeacherCorpus, list[Path], int]) -> tuple[list[str], list, list, list[str]]:
    corpus, files, worker = args
    trunk = _teacher()
    keys, penultimate, tags, skipped = [], [], [], []
    for number, path in enumerate(files):
        relative = path.relative_to(corpus.root).as_posix()
        try:
            samples = audio.load(path)
        except audio.AudioDecodeError as error:
            skipped.append(f"{relative}: {error}")
            continue
        if samples.size < corpus.min_seconds * audio.SAMPLE_RATE:
            skipped.append(f"{relative}: shorter than {corpus.min_seconds:g} s")
            continue
        for semitones in corpus.semitones:
            try:
                windows = shifted_segments(samples, semitones)
            except audio.AudioDecodeError as error:  # silent or too short: no window to embed
                skipped.append(f"{relative}: {error}")
                break
            embedding, probabilities = embed_windows(trunk, windows)
            keys += [window_key(relative, semitones, index) for index in range(len(windows))]
            penultimate.append(embedding.astype(np.float16))
            tags.append(probabilities.astype(np.float16))
        if worker == 0 and number % 20 == 0:
            print(f"  {corpus.name}: {number}/{len(files)} files", file=sys.stderr, flush=True)
    return keys, penultimate, tags, skipped


def embed_corpus(corpus: TeacherCorpus, workers: int = 2) -> Path:
    """Embed one corpus into ``corpus.target``."""
    from multiprocessing import get_context

    files = corpus.files()
    if not files:
        raise FileNotFoundError(f"{corpus.root}: nothing matches {corpus.pattern}")
    began = time.perf_counter()
    with get_context("spawn").Pool(workers) as pool:
        shares = pool.map(_embed_share, [(corpus, files[w::workers], w) for w in range(workers)])
    keys = [key for share in shares for key in share[0]]
    penultimate = np.concatenate([part for share in shares for part in share[1]])
    tags = np.concatenate([part for share in shares for part in share[2]])
    metadata = {
        "teacher": "genretag's PyTorch musicnn (weights/musicnn.pt trunk: MSD_musicnn converted)",
        "corpus": corpus.name,
        "pattern": corpus.pattern,
        "semitones": list(corpus.semitones),
        "window": "training.features.clip_segments (22050 Hz, 10 s, pitch-shifted), resampled to 16 kHz (soxr HQ)",
        "patches_per_window": MUSICNN_TEACHER_PATCHES,
        "pooling": "mean over patches",
        "min_file_seconds": corpus.min_seconds,
        "skipped_files": sorted(item for share in shares for item in share[3]),
        "seconds": round(time.perf_counter() - began),
    }
    target = corpus.target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".tmp.npz")
    np.savez_compressed(
        partial,
        keys=np.array(keys, dtype=np.str_),
        penultimate=penultimate,
        tags=tags,
        metadata=np.array(json.dumps(metadata)),
    )
    partial.replace(target)
    return target


def main(argv: list[str]) -> int:
    wanted = set(argv)
    unknown = wanted - {corpus.name for corpus in CORPORA}
    if unknown:
        print(f"unknown corpus: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for corpus in CORPORA:
        if (wanted and corpus.name not in wanted) or (not wanted and corpus.target.exists()):
            continue
        if not corpus.root.is_dir():
            print(f"skipped {corpus.name}: {corpus.root} is missing", file=sys.stderr)
            continue
        print(f"embedding {corpus.name}", file=sys.stderr, flush=True)
        print(embed_corpus(corpus))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
