"""musicnn against genretag for ``bench.py``: musicnn, installed in a side environment, tags the folder's first
files, and genretag scans the same files, in turn. A library of ``bench.py``, not a script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runs import Homes, Run, scan_command, timed_run  # noqa: E402

from genretag.weights import DEFAULT_MODEL  # noqa: E402

MUSICNN_TAGGING = """\
import sys
from musicnn.tagger import top_tags
failed = 0
for path in sys.argv[1:]:
    try:
        top_tags(path, model="MTT_musicnn", topN=3, print_tags=False)
    except Exception as error:
        failed += 1
        print(path, error, file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def prefix_of_minutes(files: list[str], durations: dict[str, float], minutes: float) -> list[str]:
    """The shortest prefix of ``files`` holding ``minutes`` of audio (all of them when they hold less)."""
    running, prefix = 0.0, []
    for path in files:
        if running >= minutes * 60:
            break
        prefix.append(path)
        running += durations.get(path, 0.0)
    return prefix


def musicnn_installed(python: str) -> bool:
    """Whether ``python`` (an interpreter of a side environment) can import musicnn."""
    try:
        return subprocess.run([python, "-c", "import musicnn"], capture_output=True).returncode == 0
    except OSError:
        return False


def musicnn_comparison(
    python: str, files: list[str], settings: argparse.Namespace, homes: Homes
) -> tuple[list[Run], list[Run]]:
    """musicnn tagging ``files`` (``top_tags``, MTT_musicnn, in one process of ``python``), and cold genretag
    scans of the same files with the default model, interleaved in each repeat: (musicnn's, genretag's)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    musicnn_runs, genretag_runs = [], []
    for _ in range(settings.repeat):
        musicnn_runs.append(timed_run([python, "-c", MUSICNN_TAGGING, *files], env))
        genretag_runs.append(timed_run(scan_command(files, settings.jobs, DEFAULT_MODEL), homes.fresh()))
    return musicnn_runs, genretag_runs
