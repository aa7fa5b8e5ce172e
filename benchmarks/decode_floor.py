"""The decoding floor: decode and resample files to 22.05 kHz mono, nothing else.

    python benchmarks/decode_floor.py FILE... [--jobs N]

Runs genretag's own decoder (``audio.stream_mono``: FFmpeg decode, channel mean,
soxr resampling) in N joblib worker processes, one file per task, exactly as a
scan distributes tracks, and prints the seconds of audio decoded. A scan cannot
be faster than this; ``bench.py`` times it from launch to exit, like the scan.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def decoded_seconds(path: str) -> float:
    """Decode one file completely; the seconds of audio it gave (0 when it failed)."""
    from genretag import audio

    try:
        return sum(block.size for block in audio.stream_mono(path)) / audio.SAMPLE_RATE
    except audio.AudioDecodeError:
        return 0.0


def main() -> None:
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    parallel = Parallel(n_jobs=args.jobs, return_as="generator_unordered", batch_size=1)
    print(f"{sum(parallel(delayed(decoded_seconds)(path) for path in args.files)):.3f}")


if __name__ == "__main__":
    main()
