"""Throughput, latency and memory of genretag on any folder of music.

    python benchmarks/bench.py FOLDER [--jobs N] [--repeat R] [--model NAME]
                               [--rescan-files N] [--long-hours H] [--out FILE]

Prints a markdown report: the machine, then every figure as the median over R
runs made in this one invocation (so a busy machine slows the figures it compares
alike), then the issue's targets against the figures. Everything runs the real
``genretag`` command in subprocesses with a fresh ``GENRETAG_HOME`` (user models of
the current home are copied into it); scratch files go to a temporary folder.

Figures: the decode-only floor (``decode_floor.py``: same files, same worker
count); cold ``genretag scan`` and warm rescan; the per-stage split of one
process's work; × realtime and tracks/s; peak RSS per worker; ``genretag --help``
start-up; the time to the first result for one 5-minute file; a rescan of
``--rescan-files`` unchanged files; cold scans at three library sizes (cost must
grow linearly with audio duration); the BICRNN; the worker's peak RSS on one
``--long-hours`` file; and musicnn over the same files when it is installed.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import soundfile
import soxr

REPO = Path(__file__).resolve().parents[1]
FLOOR_SCRIPT = REPO / "benchmarks" / "decode_floor.py"
sys.path.insert(0, str(REPO))

from genretag import audio, config, store  # noqa: E402
from genretag.library import walk_audio_files  # noqa: E402

GENRETAG = shutil.which("genretag", path=str(Path(sys.executable).parent)) or "genretag"
RSS_POLL_S = 0.05
STAGES = ("decode", "mel", "network", "store")  # "decode": decoding, resampling and cutting segments
MB = 1024 * 1024
# Scanned beside --model: the default model (weights.DEFAULT_MODEL), the recurrent networks.
OTHER_MODELS = (None, "crnn", "bicrnn")


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


def timed_run(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command``, polling the RSS of it and its child processes until it exits."""
    parent_rss = worker_rss = 0
    cpu_before = _children_cpu_s()
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
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
        if process.returncode not in (0, 1):
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
    ]


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    busy = psutil.cpu_percent(interval=1.0)
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min), CPU busy {busy:.0f} % over 1 s"


def stage_split(files: list[str], model_name: str, env: dict[str, str]) -> tuple[dict[str, float], float]:
    """Seconds spent per stage when one process with one thread classifies ``files``; and the audio seconds.

    Each file goes through the product's own unit of work, ``scan.analyse_track`` (what a
    scan's worker runs), then ``store.save_result``. The log-mel (``audio.log_mel``) and
    network (``LoadedModel.predict``) calls it makes are timed in place; "decode" is the
    rest of ``analyse_track``: FFmpeg decoding, channel mean, soxr resampling, cutting
    segments and the header check for truncation.
    """
    import torch

    from genretag import scan, weights

    torch.set_num_threads(1)
    identity = weights.resolve_model(model_name, home=env["GENRETAG_HOME"])
    seconds = dict.fromkeys(STAGES, 0.0)

    def timed(stage: str, function):
        def run(*arguments, **keywords):
            clock = time.perf_counter()
            try:
                return function(*arguments, **keywords)
            finally:
                seconds[stage] += time.perf_counter() - clock

        return run

    log_mel, predict = audio.log_mel, weights.LoadedModel.predict
    # Timed for this measurement only: the same functions, called from the product's own code.
    audio.log_mel = timed("mel", log_mel)
    weights.LoadedModel.predict = timed("network", predict)
    scan.analyse_track(files[0], identity)  # loads the model; not a stage of the work per file
    seconds = dict.fromkeys(STAGES, 0.0)
    connection = store.connect(config.database_path(env["GENRETAG_HOME"]))
    audio_s = 0.0
    try:
        for path in files:
            before = seconds["mel"] + seconds["network"]
            clock = time.perf_counter()
            result = scan.analyse_track(path, identity)
            seconds["decode"] += time.perf_counter() - clock - (seconds["mel"] + seconds["network"] - before)
            audio_s += result.duration_s
            clock = time.perf_counter()
            store.save_result(connection, result, store.stamp_of(path), identity)
            seconds["store"] += time.perf_counter() - clock
    finally:
        audio.log_mel, weights.LoadedModel.predict = log_mel, predict
        connection.close()
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


def per_track_durations(csv_path: Path) -> dict[str, float]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return {os.path.abspath(row["path"]): float(row["duration_s"] or 0) for row in csv.DictReader(handle)}


def musicnn_runs(files: list[str], repeat: int) -> list[float] | None:
    """Wall seconds of musicnn tagging ``files`` in one process (None when musicnn is not installed)."""
    try:
        import musicnn  # noqa: F401
    except ImportError:
        return None
    code = (
        "import sys\nfrom musicnn.tagger import top_tags\n"
        "for path in sys.argv[1:]:\n    top_tags(path, model='MTT_musicnn', topN=3, print_tags=False)\n"
    )
    return [timed_run([sys.executable, "-c", code, *files]).wall_s for _ in range(repeat)]


class Report:
    """The markdown lines, printed as they are made."""

    def __init__(self):
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)


def main() -> None:  # noqa: C901 - one measurement after another, in report order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--model", default="v-kernel")
    parser.add_argument("--rescan-files", type=int, default=10_000, help="files in the rescan test (0: skip)")
    parser.add_argument("--long-hours", type=float, default=2.0, help="length of the memory test file (0: skip)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    files = [str(path.resolve()) for path in walk_audio_files([args.folder]).files]
    if not files:
        parser.error(f"no audio files under {args.folder}")
    report = Report()
    scratch = Path(tempfile.mkdtemp(prefix="genretag-bench-"))
    homes = Homes(scratch)
    jobs, repeat = args.jobs, args.repeat
    try:
        report.add("## Machine", "", *machine_description(), f"- at start: {load_line()}", "")

        cold_runs, floor_runs = [], []
        csv_path = scratch / "tracks.csv"
        for _ in range(repeat):  # interleaved, so both see the same load
            floor_runs.append(timed_run([sys.executable, str(FLOOR_SCRIPT), *files, "--jobs", str(jobs)]))
            cold_runs.append(timed_run(scan_command([str(args.folder)], jobs, args.model, csv_path), homes.fresh()))
        audio_s, tracks, failed = read_durations(csv_path)
        durations = per_track_durations(csv_path)
        env = homes.fresh()
        timed_run(scan_command([str(args.folder)], jobs, args.model), env)
        warm_runs = [timed_run(scan_command([str(args.folder)], jobs, args.model), env) for _ in range(repeat)]
        floor, cold, warm = median_runs(floor_runs), median_runs(cold_runs), median_runs(warm_runs)

        report.add(
            f"## Throughput: {tracks} tracks, {audio_s / 3600:.2f} h of audio, {jobs} workers, model {args.model}",
            "",
            f"{tracks - failed} tracks classified, {failed} failed. Medians of {repeat} runs;"
            " wall time from launch to exit.",
            "",
            "| run | wall s (median) | spread | × realtime | tracks/s | peak RSS per worker | vs decode floor |"
            " CPU s (all processes) | CPU vs floor |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        )
        for label, runs, median in (
            ("decode + resample only (floor)", floor_runs, floor),
            ("cold `genretag scan`", cold_runs, cold),
            ("warm rescan from the store", warm_runs, warm),
        ):
            report.add(
                f"| {label} | {median.wall_s:.2f} | {spread([r.wall_s for r in runs])} | "
                f"{audio_s / median.wall_s:,.0f} | {tracks / median.wall_s:,.1f} | "
                f"{f'{median.worker_rss / MB:,.0f} MB' if median.worker_rss else '– (no workers)'} | "
                f"{median.wall_s / floor.wall_s:.2f} × | {median.cpu_s:.1f} | {median.cpu_s / floor.cpu_s:.2f} × |"
            )

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
                floors.append(timed_run([sys.executable, str(FLOOR_SCRIPT), *size, "--jobs", str(jobs)]))
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
        from genretag.weights import DEFAULT_MODEL

        for name in dict.fromkeys(name or DEFAULT_MODEL for name in OTHER_MODELS if name != args.model):
            if name == args.model:
                continue
            command = scan_command([str(args.folder)], jobs, name, csv_path)
            runs = [timed_run(command, homes.fresh()) for _ in range(repeat)]
            others[name] = other = median_runs(runs)
            report.add(
                f"| `genretag scan --model {name}` | {other.wall_s:.2f} | {spread([r.wall_s for r in runs])} | "
                f"{audio_s / other.wall_s:,.0f} | {other.wall_s / cold.wall_s:.2f} | {other.cpu_s:.1f} | "
                f"{other.cpu_s / cold.cpu_s:.2f} |"
            )
        musicnn = musicnn_runs(files, repeat)
        if musicnn is None:
            report.add("| musicnn | not installed | | | | | |")
        else:
            wall = statistics.median(musicnn)
            report.add(
                f"| musicnn (MTT_musicnn, one process) | {wall:.2f} | {spread(musicnn)} | {audio_s / wall:,.0f} | "
                f"{wall / cold.wall_s:.2f} | | |"
            )

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

        def target(text: str, measured: str, met: bool) -> None:
            report.add(f"| {text} | {measured} | {'yes' if met else '**no**'} |")

        target("cold scan ≥ 500 × realtime", f"{audio_s / cold.wall_s:,.0f} ×", audio_s / cold.wall_s >= 500)
        target(
            "cold scan CPU seconds ≤ 1.5 × the floor's (the same ratio, insensitive to other load)",
            f"{cold.cpu_s / floor.cpu_s:.2f} ×",
            cold.cpu_s / floor.cpu_s <= 1.5,
        )
        target(
            "cold scan ≤ 1.5 × decode-only floor",
            f"{cold.wall_s / floor.wall_s:.2f} ×",
            cold.wall_s / floor.wall_s <= 1.5,
        )
        bicrnn = others.get("bicrnn", cold)
        target("BICRNN ≥ 250 × realtime", f"{audio_s / bicrnn.wall_s:,.0f} ×", audio_s / bicrnn.wall_s >= 250)
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
            target(
                f"peak RSS per worker ≤ 400 MB on a {args.long_hours:g}-hour file",
                f"{long_rss / MB:,.0f} MB",
                long_rss <= 400 * MB,
            )
        if worst_residual is not None:
            target(
                "cost linear in audio duration (a line through three sizes' CPU seconds misses none by more than 10 %)",
                f"worst miss {100 * worst_residual:.1f} %",
                worst_residual <= 0.10,
            )
        report.add("", f"- at end: {load_line()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.out:
        args.out.write_text("\n".join(report.lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
