"""How a model tags whole real recordings whose genre is known, as ``genretag scan`` does.

    python -m training.experiments.full_recordings --debian DIR [--fetch] [--model crnn-ensemble]

Snippet cross-validation cannot show how whole recordings fare, and the project's held-back
full recordings are not here. These are the whole real recordings of a plainly known genre
that these machines reach: the four genre-known clips of ../shared/audio/cc, and Debian
packages unpacked under DIR (``--fetch`` runs ``apt-get download`` and ``dpkg -x`` there for
those missing). Packages whose music has none of the ten genres, or no stated one, are listed
with their answers only. Frets on Fire songs ship as stems (song, guitar, ...), mixed here.

For every source: how many tracks the model tags with the expected genre, the share of their
segments it gives that genre, and its answers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from genretag import audio, learn
from genretag.classify import classify_file
from genretag.library import walk_audio_files
from genretag.models import DEFAULT_MODEL
from genretag.weights import load_model
from training.experiments.recipes import SHARED, cc_expected


@dataclass(frozen=True)
class Source:
    package: str
    folder: str  # inside the unpacked package
    expected: str | None  # None: no GTZAN genre, or none stated
    why: str
    stems: bool = False  # one folder per song, its stems to be mixed


SOURCES = (
    Source("wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music", "classical", "an orchestral score"),
    Source(
        "fretsonfire-songs-muldjord",
        "usr/share/games/fretsonfire/data/songs/muldjord",
        "metal",
        "songs of the Danish metal band Muldjord (its readme.txt)",
        stems=True,
    ),
    Source(
        "fretsonfire-songs-sectoid",
        "usr/share/games/fretsonfire/data/songs/sectoid",
        None,
        "guitar songs, no genre stated",
        stems=True,
    ),
    Source("warzone2100-music", "usr/share/games/warzone2100/music", None, "electronic, not a GTZAN genre"),
)


def fetch(source: Source, debian: Path) -> None:
    """Download ``source``'s package into ``debian`` and unpack it there."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["apt-get", "download", source.package], cwd=scratch, check=True)
        for deb in Path(scratch).glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(debian)], check=True)


def mixed_stems(song: Path, out_dir: Path) -> Path:
    """The sum of ``song``'s stems as genretag reads them (``audio.load``), as long as the shortest,
    scaled down only where it would clip."""
    stems = [audio.load(path) for path in sorted(song.glob("*.ogg"))]
    mix = sum(samples[: min(map(len, stems))] for samples in stems)
    out = out_dir / f"{song.name}.flac"
    soundfile.write(str(out), mix / max(1.0, float(np.abs(mix).max())), audio.SAMPLE_RATE)
    return out


def recordings(source: Source, debian: Path, scratch: Path) -> list[Path]:
    """``source``'s recordings, stems mixed into ``scratch``; empty where the package is not unpacked."""
    folder = debian / source.folder
    if not folder.is_dir():
        return []
    if source.stems:
        return [mixed_stems(song, scratch) for song in sorted(folder.iterdir()) if any(song.glob("*.ogg"))]
    return walk_audio_files([folder]).files


def cc_recordings(shared: Path = SHARED) -> Iterator[tuple[Path, str]]:
    """``(path, expected genre)`` of the genre-known ../shared/audio/cc clips."""
    for path in sorted((shared / "audio" / "cc").glob("*.ogg")):
        if expected := cc_expected(path.name):
            yield path, expected


def row(name: str, expected: str | None, why: str, paths: list[Path], model) -> str:
    """One markdown row: tracks, right, share of segments with the expected genre, answers."""
    answers, right_segments, segments, failed = Counter(), 0, 0, 0
    for path in paths:
        try:
            result = classify_file(path, model)
        except audio.AudioDecodeError:
            failed += 1
            continue
        answers[result.genre] += 1
        picks = result.segment_probabilities.argmax(axis=1)
        segments += len(picks)
        right_segments += int(np.sum(picks == model.genres.index(expected))) if expected else 0
    listed = ", ".join(f"{genre} {count}" for genre, count in answers.most_common())
    listed += f", {failed} not classified" if failed else ""
    right = f"{answers[expected]} | {right_segments / max(segments, 1):.2f}" if expected else "— | —"
    return f"| {name} | {why} | {expected or '—'} | {sum(answers.values())} | {right} | {listed} |"


def table(debian: Path, model_name: str) -> str:
    """Markdown: the cc clips and every unpacked source, a row each."""
    model = load_model(model_name)
    lines = [
        f"{model_name} on whole real recordings",
        "",
        "| source | what | expected | tracks | tagged as expected | segments as expected | answers |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for path, expected in cc_recordings():
        lines.append(row(path.stem, expected, "../shared/audio/cc", [path], model))
    with tempfile.TemporaryDirectory() as scratch:
        for source in SOURCES:
            paths = recordings(source, debian, Path(scratch))
            if paths:
                lines.append(row(source.package, source.expected, source.why, paths, model))
            else:
                lines.append(f"| {source.package} | not unpacked under {debian} | | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training.experiments.full_recordings")
    parser.add_argument("--debian", type=Path, required=True, help="folder the packages are unpacked into")
    parser.add_argument("--fetch", action="store_true", help="download and unpack the packages missing there")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    learn.use_threads(args.threads)
    if args.fetch:
        for source in SOURCES:
            if not (args.debian / source.folder).is_dir():
                fetch(source, args.debian)
    print(table(args.debian, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
