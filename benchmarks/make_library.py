"""Build a mixed-container benchmark library from a folder of real music.

    python benchmarks/make_library.py SOURCE DEST [--minutes M]

Takes the audio files under SOURCE in turn from each container found there
(round robin, so Ogg and Opus sources both appear), until about M minutes of
audio are chosen, and writes them to DEST: one in four is copied as it is, one in
four is re-encoded to MP3, one in four to FLAC (libsndfile writes both), the rest
copied. Nothing is written inside the repository unless DEST is there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from itertools import zip_longest
from pathlib import Path

import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genretag.library import walk_audio_files  # noqa: E402

REENCODED = {1: ".mp3", 2: ".flac"}


def choose_files(source: Path, minutes: float) -> list[tuple[Path, float]]:
    """Files under ``source``, alternating between containers, until ``minutes`` of audio."""
    by_suffix: dict[str, list[Path]] = {}
    for path in walk_audio_files([source]).files:
        by_suffix.setdefault(path.suffix.lower(), []).append(path)
    chosen, total = [], 0.0
    for group in zip_longest(*by_suffix.values()):
        for path in filter(None, group):
            if total >= minutes * 60:
                return chosen
            duration = soundfile.info(str(path)).duration
            chosen.append((path, duration))
            total += duration
    return chosen


def write_library(chosen: list[tuple[Path, float]], dest: Path) -> list[Path]:
    """Copy or re-encode each chosen file into ``dest``; returns the written paths."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (path, _) in enumerate(chosen):
        suffix = REENCODED.get(index % 4, path.suffix.lower())
        target = dest / f"{index:03d}-{path.stem}{suffix}"
        if suffix == path.suffix.lower():
            shutil.copyfile(path, target)
        else:
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            soundfile.write(str(target), samples, rate)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--minutes", type=float, default=60.0, help="audio to take (default 60)")
    args = parser.parse_args()
    chosen = choose_files(args.source, args.minutes)
    written = write_library(chosen, args.dest)
    counts: dict[str, int] = {}
    for path in written:
        counts[path.suffix] = counts.get(path.suffix, 0) + 1
    total = sum(duration for _, duration in chosen) / 60
    print(f"{len(written)} files, {total:.1f} min of audio in {args.dest}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
