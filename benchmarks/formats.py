"""The per-format measurement of ``bench.py``: the folder converted by the ffmpeg command line to each
``--formats`` value, then the floors and cold scans of each. A library of ``bench.py``, not a script.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runs import (
    FFMPEG,
    Homes,
    Run,
    interleaved_runs,
    median_runs,
    read_durations,
    wall_ratio,
)

AS_IS = "as-is"  # --formats value: the folder's files as they are
# Encoder options of each --formats value for the ffmpeg command line (channels and sample rate kept).
FORMATS = {
    "ogg": (".ogg", ["-c:a", "libvorbis", "-q:a", "5"]),
    "mp3": (".mp3", ["-c:a", "libmp3lame", "-q:a", "2"]),
    "flac": (".flac", ["-c:a", "flac"]),
    "opus": (".opus", ["-c:a", "libopus", "-b:a", "128k"]),
    "wav": (".wav", ["-c:a", "pcm_s16le"]),
}


def is_ogg_vorbis(path: str) -> bool:
    """Whether ``path`` is an Ogg file whose audio is Vorbis."""
    import av

    if Path(path).suffix.lower() not in (".ogg", ".oga"):
        return False
    try:
        with av.open(path) as container:
            return container.streams.audio[0].codec_context.name == "vorbis"
    except (av.FFmpegError, IndexError):
        return False


def convert_library(files: list[str], name: str, folder: Path, jobs: int) -> list[str]:
    """``files`` in format ``name`` (a key of ``FORMATS``): converted into ``folder`` by the ffmpeg command line,
    ``jobs`` at a time, keeping channels and sample rate; Ogg Vorbis files are taken as they are for "ogg".

    Returns the files of the format, in the order of ``files``, less those ffmpeg could not convert.
    """
    suffix, options = FORMATS[name]
    folder.mkdir(parents=True, exist_ok=True)

    def converted(index: int, path: str) -> str | None:
        if name == "ogg" and is_ogg_vorbis(path):
            return path
        target = folder / f"{index:05d}-{Path(path).stem}{suffix}"
        command = [FFMPEG, "-loglevel", "error", "-nostdin", "-i", path, "-vn", *options, "-y", str(target)]
        return str(target) if subprocess.run(command, stdin=subprocess.DEVNULL).returncode == 0 else None

    with ThreadPoolExecutor(jobs) as pool:
        results = pool.map(converted, range(len(files)), files)
        return [path for path in results if path is not None]


@dataclass
class FormatRow:
    """The per-format measurement of one format: its library and the medians of its interleaved runs."""

    name: str
    tracks: int
    audio_s: float
    ffmpeg_floor: Run
    decode_floor: Run
    scans: dict[str, Run]  # by model name
    not_converted: int  # files ffmpeg could not convert, left out


def measure_format(
    name: str, paths: list[str], not_converted: int, models: list[str], settings: argparse.Namespace, homes: Homes
) -> FormatRow:
    """The FFmpeg floor, the decode floor and a cold scan per model of ``paths``, interleaved in each repeat."""
    csv_path = homes.scratch / f"tracks-{name}.csv"
    runs = interleaved_runs(paths, paths, models, settings.jobs, settings.repeat, homes, csv_path)
    audio_s, tracks, _ = read_durations(csv_path)
    medians = {key: median_runs(value) for key, value in runs.items()}
    scans = {model: medians[model] for model in models}
    return FormatRow(name, tracks, audio_s, medians["ffmpeg"], medians["floor"], scans, not_converted)


def format_row(
    name: str, files: list[str], models: list[str], settings: argparse.Namespace, homes: Homes
) -> FormatRow | None:
    """``files`` converted to format ``name`` (needs ``ffmpeg``) and measured; None when ffmpeg converted none.

    The converted files are removed once measured; conversion is not timed.
    """
    folder = homes.scratch / f"format-{name}"
    try:
        paths = files if name == AS_IS else convert_library(files, name, folder, settings.jobs)
        if not paths:
            return None
        return measure_format(name, paths, len(files) - len(paths), models, settings, homes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def per_format_lines(rows: list[FormatRow], models: list[str]) -> list[str]:
    """The report's table of ``rows``: the floors, then each model's cold scan against the FFmpeg floor."""
    header = "| format | tracks | audio h | FFmpeg floor wall s | decode floor wall s |"
    for model in models:
        header += f" `{model}` cold scan wall s | × realtime | scan / FFmpeg floor |"
    lines = [header, "| --- |" + " ---: |" * (4 + 3 * len(models))]
    for row in rows:
        line = (
            f"| {row.name} | {row.tracks} | {row.audio_s / 3600:.2f} | {row.ffmpeg_floor.wall_s:.2f} |"
            f" {row.decode_floor.wall_s:.2f} |"
        )
        for model in models:
            scan = row.scans[model]
            line += f" {scan.wall_s:.2f} | {row.audio_s / scan.wall_s:,.0f} | {wall_ratio(scan, row.ffmpeg_floor)} |"
        lines.append(line)
    failed = [f"{row.name}: {row.not_converted}" for row in rows if row.not_converted]
    if failed:
        lines += ["", f"Files ffmpeg could not convert, left out: {', '.join(failed)}."]
    return lines


def format_names(text: str) -> list[str]:
    """The ``--formats`` value: names of ``FORMATS`` or ``as-is``, comma-separated."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name != AS_IS and name not in FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)} (known: {', '.join([*FORMATS, AS_IS])})")
    return names
