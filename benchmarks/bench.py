"""Throughput, latency and memory of genretag on any folder of music.

    python benchmarks/bench.py FOLDER [--jobs N] [--repeat R] [--model NAME]
                               [--formats F,...] [--musicnn-python PATH] [--musicnn-minutes M]
                               [--rescan-files N] [--long-hours H] [--out FILE]

Prints a markdown report: the machine, then every figure as the median over R
runs made in this one invocation (so a busy machine slows the figures it compares
alike), then the issue's targets against the figures. Everything runs the real
``genretag`` command in subprocesses with a fresh ``GENRETAG_HOME`` (user models of
the current home are copied into it); scratch files go to a temporary folder.

Figures: the FFmpeg floor (the ``ffmpeg`` command line decoding and resampling the
same files to 22.05 kHz mono, one process per file, N at a time under ``xargs -P``)
and genretag's own decode-only floor (``decode_floor.py``: same files, same worker
count); cold ``genretag scan`` and warm rescan; the same floors and cold scans with
the folder converted to each of ``--formats`` (Ogg Vorbis, MP3, FLAC by default); the
per-stage split of one process's work; × realtime and tracks/s; peak RSS per worker;
``genretag --help`` start-up; the time to the first result for one 5-minute file; a
rescan of ``--rescan-files`` unchanged files; cold scans at three library sizes (cost
must grow linearly with audio duration); the other shipped models; musicnn on about
``--musicnn-minutes`` of the same files, run by the ``--musicnn-python`` interpreter of
a side environment where it is installed; the worker's peak RSS on one
``--long-hours`` file.

The timed subprocesses and the commands timed are in ``runs.py``, the per-format
measurement in ``formats.py``, the musicnn comparison in ``musicnn_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from formats import AS_IS, FORMATS, FormatRow, format_names, format_row, per_format_lines  # noqa: E402
from musicnn_speed import musicnn_comparison, musicnn_installed, prefix_of_minutes  # noqa: E402
from runs import (  # noqa: E402
    FFMPEG,
    GENRETAG,
    MB,
    NO_FFMPEG,
    Homes,
    Run,
    decode_floor_command,
    interleaved_runs,
    median_runs,
    per_track_durations,
    read_durations,
    scan_command,
    spread,
    timed_run,
    wall_ratio,
)

from genretag import audio, config, store  # noqa: E402
from genretag.library import walk_audio_files  # noqa: E402
from genretag.weights import DEFAULT_MODEL  # noqa: E402

STAGES = ("decode", "mel", "network", "store")  # "decode": decoding, resampling and cutting segments
# Scanned beside --model: the default model, v-kernel (a target of its own), the recurrent networks.
OTHER_MODELS = (DEFAULT_MODEL, "v-kernel", "crnn", "bicrnn")
# Speed targets (× realtime on 2 cores): the poster networks, and musicnn (the accurate model).
FAST_REALTIME = 900
ACCURATE_REALTIME = 300


def realtime_limit(model_name: str) -> int:
    """The × realtime a model's scan must reach: ``ACCURATE_REALTIME`` for musicnn models, else ``FAST_REALTIME``."""
    from genretag.weights import front_end_of, model_card

    return ACCURATE_REALTIME if front_end_of(model_card(model_name)) == audio.MUSICNN else FAST_REALTIME


def machine_description() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import av
    import torch

    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores visible; RAM {psutil.virtual_memory().total / 2**30:.0f} GiB",
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}, torch {torch.__version__},"
        f" numpy {np.__version__}, PyAV {av.__version__} (FFmpeg {av.library_versions['libavcodec']} avcodec),"
        f" soxr {soxr.__version__}",
        f"- FFmpeg command line: {ffmpeg_version()}",
    ]


def ffmpeg_version() -> str:
    """The first line of ``ffmpeg -version``, or that there is no ffmpeg."""
    if FFMPEG is None:
        return f"{NO_FFMPEG} (no FFmpeg floor, no conversion to other formats)"
    return subprocess.run([FFMPEG, "-version"], capture_output=True, text=True).stdout.partition("\n")[0]


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    busy = psutil.cpu_percent(interval=1.0)
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min), CPU busy {busy:.0f} % over 1 s"


def stage_split(files: list[str], model_name: str, env: dict[str, str]) -> tuple[dict[str, float], float]:
    """Seconds spent per stage when one process with one thread classifies ``files``; and the audio seconds.

    Each file goes through the product's own unit of work, ``scan.analyse_track`` (what a
    scan's worker runs), then ``store.save_result``. The model's work on the segments
    (``LoadedModel.segment_probabilities``) is timed in place, and within it the front end
    (``audio.log_mel``, or ``audio.musicnn_patches`` for musicnn models): "network" is the
    rest of the model's work; "decode" is the rest of ``analyse_track``: FFmpeg decoding,
    channel mean, soxr resampling, cutting segments and the header check for truncation.
    """
    import torch

    from genretag import scan, weights

    torch.set_num_threads(1)
    identity = weights.resolve_model(model_name, home=env["GENRETAG_HOME"])
    seconds = dict.fromkeys((*STAGES, "model"), 0.0)

    def timed(stage: str, function):
        def run(*arguments, **keywords):
            clock = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                seconds[stage] += time.perf_counter() - clock

        return run

    log_mel, patches = audio.log_mel, weights.musicnn_patches
    segment_probabilities = weights.LoadedModel.segment_probabilities
    # Timed for this measurement only: the same functions, called from the product's own code.
    audio.log_mel = timed("mel", log_mel)
    weights.musicnn_patches = timed("mel", patches)
    weights.LoadedModel.segment_probabilities = timed("model", segment_probabilities)
    scan.analyse_track(files[0], identity)  # loads the model; not a stage of the work per file
    seconds = dict.fromkeys((*STAGES, "model"), 0.0)
    connection = store.connect(config.database_path(env["GENRETAG_HOME"]))
    audio_s = 0.0
    try:
        for path in files:
            before = seconds["model"]
            clock = time.perf_counter()
            result = scan.analyse_track(path, identity)
            seconds["decode"] += time.perf_counter() - clock - (seconds["model"] - before)
            audio_s += result.duration_s
            clock = time.perf_counter()
            store.save_result(connection, result, store.stamp_of(path), identity)
            seconds["store"] += time.perf_counter() - clock
    finally:
        audio.log_mel, weights.musicnn_patches = log_mel, patches
        weights.LoadedModel.segment_probabilities = segment_probabilities
        connection.close()
    seconds["network"] = seconds.pop("model") - seconds["mel"]
    return seconds, audio_s


def write_music(samples: np.ndarray, path: Path, rate: int = 44_100) -> Path:
    """Write 22.05 kHz mono ``samples`` as a stereo file at ``rate`` (the container from the suffix)."""
    upsampled = soxr.resample(samples, audio.SAMPLE_RATE, rate) if rate != audio.SAMPLE_RATE else samples
    stereo = np.stack([upsampled, upsampled], axis=1)
    # In 10 s pieces: libsndfile's Vorbis encoder crashes on one large write.
    with soundfile.SoundFile(str(path), "w", rate, 2) as handle:
        for start in range(0, len(stereo), 10 * rate):
            handle.write(stereo[start : start + 10 * rate])
    return path


def library_audio(files: list[str], seconds: float) -> np.ndarray:
    """The first ``seconds`` of the library's audio, tracks joined end to end (22.05 kHz mono)."""
    parts, total = [], 0
    for path in files:
        for block in audio.stream_mono(path):
            parts.append(block)
            total += block.size
            if total >= seconds * audio.SAMPLE_RATE:
                return np.concatenate(parts)[: int(seconds * audio.SAMPLE_RATE)]
    joined = np.concatenate(parts)
    return np.resize(joined, int(seconds * audio.SAMPLE_RATE))


def long_file(files: list[str], hours: float, scratch: Path) -> Path:
    """A ``hours``-long FLAC (22.05 kHz mono, to keep it small) made by repeating library audio."""
    path = scratch / f"long-{hours:g}h.flac"
    hour = library_audio(files, min(3600.0, hours * 3600))
    with soundfile.SoundFile(str(path), "w", audio.SAMPLE_RATE, 1) as handle:
        written = 0
        while written < hours * 3600 * audio.SAMPLE_RATE:
            chunk = hour[: int(hours * 3600 * audio.SAMPLE_RATE) - written]
            handle.write(chunk)
            written += chunk.size
    return path


def rescan_library(files: list[str], count: int, scratch: Path) -> tuple[Path, Path]:
    """``count`` hard links (copies where links fail) of one 2 s clip, 1 000 per folder; and the clip."""
    root = scratch / "rescan"
    clip = write_music(library_audio(files, 2.0), scratch / "clip.flac", audio.SAMPLE_RATE)
    for index in range(count):
        folder = root / f"{index // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"clip-{index:05d}.flac"
        try:
            os.link(clip, target)
        except OSError:
            shutil.copyfile(clip, target)
    return root, clip


def store_as_scanned(root: Path, clip: Path, model_name: str, env: dict[str, str]) -> None:
    """Fill the store of ``env``'s home as a scan of ``root`` would: the clip's real result under every path.

    The clip itself is analysed by a real ``genretag scan``; its stored result is then
    saved for each of the identical files, with each file's own stamp, so the
    rescan that follows finds every file unchanged (as after a first scan of them all).
    """
    from genretag.weights import resolve_model

    timed_run(scan_command([str(clip)], 1, model_name), env)
    identity = resolve_model(model_name, home=env["GENRETAG_HOME"])
    connection = store.connect(config.database_path(env["GENRETAG_HOME"]))
    (clip_result,) = store.load_results(connection, model_name, [str(clip)], with_segments=True)
    for path in walk_audio_files([root]).files:
        clip_result.path = str(path)
        store.save_result(connection, clip_result, store.stamp_of(path), identity)
    connection.close()


def analyses_per_file(env: dict[str, str]) -> int:
    """The most times any stored file was analysed (1: no rescan re-analysed anything)."""
    connection = store.connect(config.database_path(env["GENRETAG_HOME"]))
    (most,) = connection.execute("SELECT MAX(analyses) FROM track_results").fetchone()
    connection.close()
    return most


def prefixes_by_duration(files: list[str], durations: dict[str, float]) -> list[list[str]]:
    """Up to three libraries: the shortest prefixes of ``files`` holding about 1/4, 1/2 and all of the audio."""
    total = sum(durations[path] for path in files)
    sizes = []
    for fraction in (0.25, 0.5):
        running, prefix = 0.0, []
        for path in files:
            prefix.append(path)
            running += durations[path]
            if running >= fraction * total:
                break
        if len(prefix) < len(files) and all(len(prefix) != len(size) for size in sizes):
            sizes.append(prefix)
    return [*sizes, files]


class Report:
    """The markdown lines, printed as they are made."""

    def __init__(self):
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model of the main figures (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--formats",
        type=format_names,
        default="ogg,mp3,flac",
        help=f"formats to convert the folder to and measure ({', '.join(FORMATS)} or {AS_IS}; default ogg,mp3,flac)",
    )
    parser.add_argument(
        "--musicnn-python",
        default=os.environ.get("GENRETAG_BENCH_MUSICNN_PYTHON"),
        help="Python of a side environment with musicnn installed (default: $GENRETAG_BENCH_MUSICNN_PYTHON)",
    )
    parser.add_argument(
        "--musicnn-minutes",
        type=float,
        default=30.0,
        help="musicnn tags the first files holding M minutes (default 30)",
    )
    parser.add_argument("--rescan-files", type=int, default=10_000, help="files in the rescan test (0: skip)")
    parser.add_argument("--long-hours", type=float, default=2.0, help="length of the memory test file (0: skip)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    return parser.parse_args()


def throughput_row(
    label: str, runs: list[Run], audio_s: float, tracks: int, floor: Run, ffmpeg_floor: Run | None
) -> str:
    """One row of the throughput table: the median of ``runs`` against both floors."""
    median = median_runs(runs)
    rss = f"{median.worker_rss / MB:,.0f} MB" if median.worker_rss else "– (no workers)"
    return (
        f"| {label} | {median.wall_s:.2f} | {spread([r.wall_s for r in runs])} | {audio_s / median.wall_s:,.0f} | "
        f"{tracks / median.wall_s:,.1f} | {rss} | {median.wall_s / floor.wall_s:.2f} × | "
        f"{wall_ratio(median, ffmpeg_floor)} | {median.cpu_s:.1f} | {median.cpu_s / floor.cpu_s:.2f} × |"
    )


def per_format_section(report: Report, files: list[str], settings: argparse.Namespace, homes: Homes) -> list[FormatRow]:
    """The section "Per format: FFmpeg floor vs scan"; its rows (none without ffmpeg)."""
    report.add("", "## Per format: FFmpeg floor vs scan", "")
    if FFMPEG is None:
        report.add(f"Converting the folder needs the ffmpeg command line: {NO_FFMPEG}, section skipped.")
        return []
    models = list(dict.fromkeys([DEFAULT_MODEL, settings.model]))
    measured = {name: format_row(name, files, models, settings, homes) for name in settings.formats}
    rows = [row for row in measured.values() if row is not None]
    unconverted = [name for name, row in measured.items() if row is None]
    report.add(
        f"The folder's files converted by the ffmpeg command line (channels and sample rate kept; ogg: the files as"
        f" they are where they are Ogg Vorbis, else libvorbis -q:a 5; mp3: libmp3lame -q:a 2; flac: default"
        f" compression; opus: libopus 128k, at 48 kHz; wav: 16-bit PCM; {AS_IS}: the folder as it is);"
        f" conversion is not timed. Medians of {settings.repeat} runs, {settings.jobs} workers, the floors and"
        " scans interleaved in each repeat.",
        "",
        *per_format_lines(rows, models),
    )
    if unconverted:
        report.add(
            "", f"ffmpeg converted no file to {', '.join(unconverted)} (no encoder in this build?): not measured."
        )
    return rows


def musicnn_rows(
    report: Report, files: list[str], durations: dict[str, float], settings: argparse.Namespace, homes: Homes
) -> None:
    """musicnn's rows of the "Other models and taggers" table, beside a genretag scan of the same files."""
    if settings.musicnn_python is None:
        report.add("| musicnn | not installed (give --musicnn-python) | | | | | |")
        return
    if not musicnn_installed(settings.musicnn_python):
        report.add(f"| musicnn | not installed in `{settings.musicnn_python}` | | | | | |")
        return
    prefix = prefix_of_minutes(files, durations, settings.musicnn_minutes)
    prefix_s = sum(durations.get(path, 0.0) for path in prefix)
    tagger_runs, genretag_runs = musicnn_comparison(settings.musicnn_python, prefix, settings, homes)
    tagger, genretag = median_runs(tagger_runs), median_runs(genretag_runs)
    report.add(
        f"| `genretag scan --model {DEFAULT_MODEL}` of musicnn's files (the folder's first {len(prefix)} tracks,"
        f" {prefix_s / 60:.1f} min), {settings.jobs} workers | {genretag.wall_s:.2f} |"
        f" {spread([r.wall_s for r in genretag_runs])} | {prefix_s / genretag.wall_s:,.0f} | 1.00 (musicnn's"
        f" reference) | {genretag.cpu_s:.1f} | 1.00 |",
        f"| musicnn (MTT_musicnn `top_tags` per file, one process: TensorFlow's own threads), the same files |"
        f" {tagger.wall_s:.2f} | {spread([r.wall_s for r in tagger_runs])} | {prefix_s / tagger.wall_s:,.0f} |"
        f" {tagger.wall_s / genretag.wall_s:.2f} | {tagger.cpu_s:.1f} | {tagger.cpu_s / genretag.cpu_s:.2f} |",
        "",
        f"genretag is {tagger.wall_s / genretag.wall_s:.1f} × faster than musicnn (wall time, the two run in turn"
        f" in each repeat on the same {len(prefix)} files; in CPU seconds {tagger.cpu_s / genretag.cpu_s:.1f} ×).",
    )
    if tagger.returncode:
        report.add("", "musicnn could not tag some of the files (it exited 1); its times include them.")


def main() -> None:  # noqa: C901 - one measurement after another, in report order
    args = parse_arguments()
    files = [str(path.resolve()) for path in walk_audio_files([args.folder]).files]
    if not files:
        sys.exit(f"bench.py: no audio files under {args.folder}")
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="genretag-bench-"))
    homes = Homes(scratch)
    jobs, repeat = args.jobs, args.repeat
    try:
        report.add("## Machine", "", *machine_description(), f"- at start: {load_line()}", "")

        csv_path = scratch / "tracks.csv"
        throughput = interleaved_runs(files, [str(args.folder)], [args.model], jobs, repeat, homes, csv_path)
        ffmpeg_runs, floor_runs, cold_runs = throughput["ffmpeg"], throughput["floor"], throughput[args.model]
        audio_s, tracks, failed = read_durations(csv_path)
        durations = per_track_durations(csv_path)
        env = homes.fresh()
        timed_run(scan_command([str(args.folder)], jobs, args.model), env)
        warm_runs = [timed_run(scan_command([str(args.folder)], jobs, args.model), env) for _ in range(repeat)]
        floor, cold = median_runs(floor_runs), median_runs(cold_runs)
        ffmpeg_floor = median_runs(ffmpeg_runs) if ffmpeg_runs else None

        report.add(
            f"## Throughput: {tracks} tracks, {audio_s / 3600:.2f} h of audio, {jobs} workers, model {args.model}",
            "",
            f"{tracks - failed} tracks classified, {failed} failed. Medians of {repeat} runs;"
            " wall time from launch to exit. The FFmpeg floor: `ffmpeg -loglevel error -i FILE -ac 1 -ar 22050"
            f" -f f32le -y /dev/null`, one process per file, {jobs} at a time (`xargs -P{jobs}`).",
            "",
            "| run | wall s (median) | spread | × realtime | tracks/s | peak RSS per worker | vs decode floor |"
            " vs FFmpeg floor | CPU s (all processes) | CPU vs floor |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        )
        if ffmpeg_floor is None:
            report.add(f"| FFmpeg command line (floor) | {NO_FFMPEG} | | | | | | {NO_FFMPEG} | | |")
        else:
            report.add(throughput_row("FFmpeg command line (floor)", ffmpeg_runs, audio_s, tracks, floor, ffmpeg_floor))
        for label, runs in (
            ("genretag's decode + resample only (floor)", floor_runs),
            ("cold `genretag scan`", cold_runs),
            ("warm rescan from the store", warm_runs),
        ):
            report.add(throughput_row(label, runs, audio_s, tracks, floor, ffmpeg_floor))

        format_rows = per_format_section(report, files, args, homes)

        splits = [stage_split(files, args.model, homes.fresh()) for _ in range(repeat)]
        split_audio = splits[0][1]
        stage_s = {stage: statistics.median(split[0][stage] for split in splits) for stage in STAGES}
        total = sum(stage_s.values())
        report.add(
            "",
            f"## Where one worker's time goes (one process, one thread, {split_audio / 3600:.2f} h of audio)",
            "",
            "| stage | s (median) | share | × realtime of this stage alone |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {stage} | {stage_s[stage]:.2f} | {100 * stage_s[stage] / total:.0f} % | "
                f"{split_audio / max(stage_s[stage], 1e-9):,.0f} |"
                for stage in STAGES
            ),
            f"| all | {total:.2f} | 100 % | {split_audio / total:,.0f} |",
        )

        help_runs = [timed_run([GENRETAG, "--help"]).wall_s for _ in range(max(5, repeat))]
        five = write_music(library_audio(files, 300.0), scratch / "five-minutes.ogg")
        first_runs = [
            timed_run(scan_command([str(five)], jobs, args.model), homes.fresh()).wall_s for _ in range(repeat)
        ]
        report.add(
            "",
            "## Latency",
            "",
            "| measurement | s (median) | spread |",
            "| --- | ---: | --- |",
            f"| `genretag --help` start-up | {statistics.median(help_runs):.2f} | {spread(help_runs)} |",
            f"| first result for one 5-minute Ogg file, from launch (`genretag scan FILE`, cold) | "
            f"{statistics.median(first_runs):.2f} | {spread(first_runs)} |",
        )

        rescan_s = None
        if args.rescan_files:
            root, clip = rescan_library(files, args.rescan_files, scratch)
            env = homes.fresh()
            store_as_scanned(root, clip, args.model, env)
            rescans = [timed_run(scan_command([str(root)], jobs, args.model), env).wall_s for _ in range(repeat)]
            rescan_s = statistics.median(rescans)
            reanalysed = analyses_per_file(env) > 1
            report.add(
                f"| rescan of {args.rescan_files:,} unchanged files (hard links of a 2 s clip) | {rescan_s:.2f} | "
                f"{spread(rescans)} |",
                "",
                "The store was filled with the clip's real result under every path, as a first scan leaves it; "
                + ("**some files were re-analysed**." if reanalysed else "no rescan re-analysed any file."),
            )

        sizes = prefixes_by_duration(files, durations)
        size_rows = []
        for size in sizes:
            size_audio = sum(durations[path] for path in size)
            runs, floors = [], []
            for _ in range(repeat):  # interleaved, as above
                floors.append(timed_run(decode_floor_command(size, jobs)))
                runs.append(timed_run(scan_command(size, jobs, args.model), homes.fresh()))
            walls, cpus = [run.wall_s for run in runs], [run.cpu_s for run in runs]
            floor_walls = [run.wall_s for run in floors]
            size_rows.append(
                (
                    len(size),
                    size_audio,
                    statistics.median(walls),
                    spread(walls),
                    statistics.median(cpus),
                    statistics.median(floor_walls),
                )
            )
        report.add(
            "",
            "## Cost against library size (cold scans, each beside a decode floor run)",
            "",
            "| tracks | audio h | wall s (median) | spread | wall s per audio hour | CPU s (median) |"
            " CPU s per audio hour | floor wall s (median) | scan / floor |",
            "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
            *(
                f"| {n} | {a / 3600:.2f} | {w:.2f} | {s} | {w / (a / 3600):.1f} | {c:.1f} | {c / (a / 3600):.1f} |"
                f" {f:.2f} | {w / f:.2f} × |"
                for n, a, w, s, c, f in size_rows
            ),
            "",
        )
        worst_residual = None
        if len(size_rows) >= 3:
            hours = np.array([row[1] for row in size_rows]) / 3600
            cpu = np.array([row[4] for row in size_rows])
            slope, intercept = np.polyfit(hours, cpu, 1)
            worst_residual = float(np.max(np.abs(cpu - (intercept + slope * hours)) / cpu))
            scan_wall_slope, scan_wall_start = np.polyfit(hours, [row[2] for row in size_rows], 1)
            floor_wall_slope, floor_wall_start = np.polyfit(hours, [row[5] for row in size_rows], 1)
            report.add(
                f"Least-squares line through the CPU seconds: {intercept:.1f} s + {slope:.1f} s per audio hour"
                " (the intercept is start-up: interpreters, imports, workers, model); the line misses the sizes"
                f" by at most {100 * worst_residual:.1f} % of their CPU time.",
                "",
                f"Lines through the wall times: scan {scan_wall_start:.1f} s + {scan_wall_slope:.1f} s per audio hour,"
                f" floor {floor_wall_start:.1f} s + {floor_wall_slope:.1f} s per audio hour: each further hour of"
                f" audio costs the scan {scan_wall_slope / floor_wall_slope:.2f} × what it costs the floor"
                " (the ratio a large library tends to).",
            )
        else:
            report.add("Too few tracks for three library sizes: no linearity check.")

        report.add(
            "",
            "## Other models and taggers (same files, cold)",
            "",
            f"| run | wall s (median) | spread | × realtime | time / {args.model}'s | CPU s | CPU / {args.model}'s |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
        )
        others = {}
        for name in dict.fromkeys(name for name in OTHER_MODELS if name != args.model):
            command = scan_command([str(args.folder)], jobs, name, csv_path)
            runs = [timed_run(command, homes.fresh()) for _ in range(repeat)]
            others[name] = other = median_runs(runs)
            report.add(
                f"| `genretag scan --model {name}` | {other.wall_s:.2f} | {spread([r.wall_s for r in runs])} | "
                f"{audio_s / other.wall_s:,.0f} | {other.wall_s / cold.wall_s:.2f} | {other.cpu_s:.1f} | "
                f"{other.cpu_s / cold.cpu_s:.2f} |"
            )
        musicnn_rows(report, files, durations, args, homes)

        long_rss = None
        if args.long_hours:
            path = long_file(files, args.long_hours, scratch)
            long_run = timed_run(scan_command([str(path)], 1, args.model), homes.fresh())
            long_rss = long_run.parent_rss
            report.add(
                "",
                f"## Memory on one {args.long_hours:g}-hour file (`--jobs 1`: the scan runs in one process)",
                "",
                f"Peak RSS {long_rss / MB:,.0f} MB; wall {long_run.wall_s:.1f} s "
                f"({args.long_hours * 3600 / long_run.wall_s:,.0f} × realtime).",
            )

        report.add(
            "",
            "## Targets",
            "",
            "| target | measured | met |",
            "| --- | --- | --- |",
        )

        def target(text: str, measured: str, met: bool | None) -> None:
            report.add(f"| {text} | {measured} | {'–' if met is None else 'yes' if met else '**no**'} |")

        def floor_target(text: str, run: Run, floor: Run | None, limit: float) -> None:
            met = None if floor is None else run.wall_s / floor.wall_s <= limit
            target(f"{text} ≤ {limit} × the FFmpeg floor (wall)", wall_ratio(run, floor), met)

        def realtime_target(text: str, run: Run, seconds: float, limit: float) -> None:
            speed = seconds / run.wall_s
            target(f"{text} ≥ {limit:g} × realtime", f"{speed:,.0f} ×", speed >= limit)

        def main_run(name: str) -> tuple[str, Run]:
            if name == args.model:
                return f"`{name}` (the throughput table's run)", cold
            return f"`{name}` (its run in the other models' table, against the throughput table's floor)", others[name]

        default_text, default_run = main_run(DEFAULT_MODEL)
        default_speed = realtime_limit(DEFAULT_MODEL)
        if default_speed == FAST_REALTIME:  # a poster network as the default keeps its floor target
            floor_target(f"default model {default_text}", default_run, ffmpeg_floor, 1.5)
        realtime_target(f"default model {default_text}", default_run, audio_s, default_speed)
        floor_target(*main_run("v-kernel"), ffmpeg_floor, 1.3)
        realtime_target(*main_run("v-kernel"), audio_s, FAST_REALTIME)
        for row in format_rows:
            if default_speed == FAST_REALTIME:
                floor_target(
                    f"{row.name}: default model `{DEFAULT_MODEL}`", row.scans[DEFAULT_MODEL], row.ffmpeg_floor, 1.5
                )
            realtime_target(
                f"{row.name}: default model `{DEFAULT_MODEL}`", row.scans[DEFAULT_MODEL], row.audio_s, default_speed
            )
            if "v-kernel" in row.scans:
                floor_target(f"{row.name}: `v-kernel`", row.scans["v-kernel"], row.ffmpeg_floor, 1.3)
        if rescan_s is not None:
            target(f"rescan of {args.rescan_files:,} unchanged files ≤ 10 s", f"{rescan_s:.2f} s", rescan_s <= 10)
        target(
            "`genretag --help` ≤ 0.5 s", f"{statistics.median(help_runs):.2f} s", statistics.median(help_runs) <= 0.5
        )
        target(
            "first result for a 5-minute file ≤ 3 s",
            f"{statistics.median(first_runs):.2f} s",
            statistics.median(first_runs) <= 3,
        )
        if long_rss is not None:
            limit_mb = 600 if realtime_limit(args.model) == ACCURATE_REALTIME else 400
            target(
                f"peak RSS per worker ≤ {limit_mb} MB on a {args.long_hours:g}-hour file (`{args.model}`)",
                f"{long_rss / MB:,.0f} MB",
                long_rss <= limit_mb * MB,
            )
        if worst_residual is not None:
            target(
                "cost linear in audio duration (a line through three sizes' CPU seconds misses none by more than 10 %)",
                f"worst miss {100 * worst_residual:.1f} %",
                worst_residual <= 0.10,
            )
        report.add(
            "",
            f"For information, against genretag's own decode floor: the cold `{args.model}` scan takes"
            f" {cold.wall_s / floor.wall_s:.2f} × its wall time and {cold.cpu_s / floor.cpu_s:.2f} × its CPU seconds"
            " (the earlier targets: ≤ 1.5 × both); genretag's decode floor against the FFmpeg floor (wall):"
            f" {wall_ratio(floor, ffmpeg_floor)}.",
            "",
            f"- at end: {load_line()}",
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.out:
        args.out.write_text("\n".join(report.lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
