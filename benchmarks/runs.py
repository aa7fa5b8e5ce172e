"""Timed subprocesses for ``bench.py``, and the commands it times: genretag scans and the two floors.

A ``Run`` is one timed subprocess (wall and CPU seconds, peak RSS). The floors are the
FFmpeg command line decoding and resampling each file (``ffmpeg_floor_command``) and
genretag's own decoder alone (``decode_floor.py``). A library of ``bench.py``, not a script.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
FLOOR_SCRIPT = REPO / "benchmarks" / "decode_floor.py"
sys.path.insert(0, str(REPO))

from genretag import audio, config  # noqa: E402

GENRETAG = shutil.which("genretag", path=str(Path(sys.executable).parent)) or "genretag"
FFMPEG = shutil.which("ffmpeg")
NO_FFMPEG = "ffmpeg not installed"
XARGS_SOME_FAILED = 123  # xargs's exit status when some command failed (a file FFmpeg could not decode)
RSS_POLL_S = 0.05
MB = 1024 * 1024


@dataclass
class Run:
    """One timed subprocess: wall seconds from launch to exit, CPU seconds of its whole process tree, peak RSS.

    CPU seconds hardly change when other programs load the machine, where wall
    seconds do; the linearity check and the CPU ratios rest on them.
    """

    wall_s: float
    cpu_s: float
    parent_rss: int
    worker_rss: int
    returncode: int


def _children_cpu_s() -> float:
    # Every descendant that has been waited for, grandchildren (workers) included.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(
    command: list[str], env: dict[str, str] | None = None, stdin: bytes = b"", accepted: tuple[int, ...] = (0, 1)
) -> Run:
    """Run ``command`` with ``stdin`` as its input, polling the RSS of it and its child processes until it exits.

    Raises ``RuntimeError`` when its exit status is not one of ``accepted``.
    """
    parent_rss = worker_rss = 0
    cpu_before = _children_cpu_s()
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as given:
        given.write(stdin)
        given.seek(0)
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdin=given, stdout=subprocess.DEVNULL, stderr=errors)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                parent_rss = max(parent_rss, watched.memory_info().rss)
                for child in watched.children(recursive=True):
                    worker_rss = max(worker_rss, child.memory_info().rss)
            except psutil.Error:  # a process ended between listing and reading it
                pass
            time.sleep(RSS_POLL_S)
        wall = time.perf_counter() - started
        cpu = _children_cpu_s() - cpu_before
        if process.returncode not in accepted:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command[:3])}... exited {process.returncode}:\n{tail}")
    return Run(wall, cpu, parent_rss, worker_rss, process.returncode)


class Homes:
    """Fresh ``GENRETAG_HOME`` folders, each with the current home's user models."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.models = config.user_models_dir()
        self.count = 0

    def fresh(self) -> dict[str, str]:
        self.count += 1
        home = self.scratch / f"home-{self.count}"
        if self.models.is_dir():
            shutil.copytree(self.models, home / "models")
        home.mkdir(exist_ok=True)
        return {**os.environ, "GENRETAG_HOME": str(home)}


def scan_command(paths: list[str], jobs: int, model: str, csv_path: Path | None = None) -> list[str]:
    command = [GENRETAG, "scan", *paths, "--jobs", str(jobs), "--model", model]
    return command + (["--csv", str(csv_path)] if csv_path else [])


def decode_floor_command(files: list[str], jobs: int) -> list[str]:
    """genretag's own decode-only floor (``decode_floor.py``) over ``files`` with ``jobs`` workers."""
    return [sys.executable, str(FLOOR_SCRIPT), *files, "--jobs", str(jobs)]


def ffmpeg_floor_command(jobs: int) -> list[str]:
    """The issue's FFmpeg floor, for the NUL-separated file names on its input.

    ``ls DIR/*.ogg | xargs -P{jobs} -I{} ffmpeg -loglevel error -i {} -ac 1 -ar 22050 -f f32le -y /dev/null``:
    ``jobs`` ffmpeg processes at a time, one file each, decoding and resampling to 22.05 kHz mono.
    """
    decode = [FFMPEG, "-loglevel", "error", "-i", "{}", "-ac", "1", "-ar", str(audio.SAMPLE_RATE), "-f", "f32le"]
    return ["xargs", "-0", f"-P{jobs}", "-I{}", *decode, "-y", os.devnull]


def ffmpeg_floor_run(files: list[str], jobs: int) -> Run:
    """The FFmpeg floor over ``files``, timed like a scan (needs ``ffmpeg``); a file it cannot decode is no error."""
    names = b"\0".join(os.fsencode(path) for path in files)
    return timed_run(ffmpeg_floor_command(jobs), stdin=names, accepted=(0, XARGS_SOME_FAILED))


def wall_ratio(run: Run, floor: Run | None) -> str:
    """``run``'s wall time over ``floor``'s, or why there is no FFmpeg floor."""
    return NO_FFMPEG if floor is None else f"{run.wall_s / floor.wall_s:.2f} ×"


def interleaved_runs(
    files: list[str], scan_paths: list[str], models: list[str], jobs: int, repeat: int, homes: Homes, csv_path: Path
) -> dict[str, list[Run]]:
    """``repeat`` rounds of, one after another so that load hits all alike: the FFmpeg floor of ``files``
    (when ffmpeg is installed), genretag's decode floor of ``files``, and a cold scan of ``scan_paths`` per
    model in a fresh home (the first model's writes ``csv_path``). Keyed "ffmpeg", "floor" and by model."""
    runs: dict[str, list[Run]] = {"ffmpeg": [], "floor": [], **{model: [] for model in models}}
    for _ in range(repeat):
        if FFMPEG:
            runs["ffmpeg"].append(ffmpeg_floor_run(files, jobs))
        runs["floor"].append(timed_run(decode_floor_command(files, jobs)))
        for model in models:
            command = scan_command(scan_paths, jobs, model, csv_path if model == models[0] else None)
            runs[model].append(timed_run(command, homes.fresh()))
    return runs


def read_durations(csv_path: Path) -> tuple[float, int, int]:
    """Total decoded seconds, tracks and failed tracks from a scan's tracks CSV."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    total = sum(float(row["duration_s"] or 0) for row in rows)
    return total, len(rows), sum(1 for row in rows if row["error"])


def median_runs(runs: list[Run]) -> Run:
    return Run(
        statistics.median(run.wall_s for run in runs),
        statistics.median(run.cpu_s for run in runs),
        max(run.parent_rss for run in runs),
        max(run.worker_rss for run in runs),
        max(run.returncode for run in runs),
    )


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else "–"


def per_track_durations(csv_path: Path) -> dict[str, float]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return {os.path.abspath(row["path"]): float(row["duration_s"] or 0) for row in csv.DictReader(handle)}
