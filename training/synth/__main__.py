"""Command line: render a folder-per-genre synthetic corpus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.synth.corpus import build_corpus
from training.synth.styles import GENRES

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "cache" / "synth"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render the corpus, report counts and speed on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m training.synth",
        description="Render a synthetic folder-per-genre corpus of 10 s, 22 050 Hz mono FLAC clips. "
        "Clip i of genre g is a pure function of (seed, g, i); clips already on disk are kept.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus folder (default {DEFAULT_OUT})")
    parser.add_argument("--per-genre", type=int, default=100, help="clips per genre (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--start", type=int, default=0, help="first clip index (default 0)")
    parser.add_argument("--genres", default=",".join(GENRES), help="comma-separated subset of the ten genres")
    args = parser.parse_args(argv)
    genres = tuple(g.strip() for g in args.genres.split(",") if g.strip())
    unknown = sorted(set(genres) - set(GENRES))
    if unknown or args.per_genre < 1 or args.jobs < 1:
        problem = f"unknown genre(s) {', '.join(unknown)}" if unknown else "--per-genre and --jobs must be at least 1"
        print(f"error: {problem}", file=sys.stderr)
        return 2
    report = build_corpus(args.out, args.per_genre, args.seed, args.jobs, genres, args.start)
    rate = report.rendered / report.seconds * 3600 / args.jobs if report.rendered else 0.0
    print(
        f"{len(report.paths)} clips in {args.out} ({report.rendered} rendered in {report.seconds:.1f} s, "
        f"{rate:.0f} clips per CPU-hour)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
