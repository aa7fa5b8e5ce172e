"""The ``genretag`` command line: parse, call the library, render with rich.

Heavy modules (torch, librosa) are imported inside commands, never at import time,
so ``genretag --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="genretag",
    help="Offline genre tagger for music libraries.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def models() -> None:
    """List shipped and user models with their model cards."""
    from rich.console import Console
    from rich.table import Table

    from genretag.weights import list_cards

    table = Table("name", "architecture", "source", "genres", "parameters", "trained on")
    for card in list_cards():
        table.add_row(
            card["name"],
            card["architecture"],
            card["source"],
            str(len(card["genres"])),
            f"{card['parameters']['pytorch']:,}",
            str(card.get("training", {}).get("summary", "")),
        )
    Console().print(table)


# ---------------------------------------------------------------- scan, export, timeline

DEFAULT_MODEL = "v-kernel"  # models.DEFAULT_MODEL, repeated here so --help does not import torch


def _fail_usage(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _stderr_console():
    from rich.console import Console

    # soft_wrap: a problem report stays one line, however narrow the terminal
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _report_line(console, kind: str, path: str, reason: str) -> None:
    from rich.text import Text

    from genretag.report import display_path

    style = "red" if kind == "error" else "yellow"
    console.print(Text.assemble((f"{kind}: ", style), f"{display_path(path)}: {reason}"))


def _results_table(results, top_k: int):
    from rich.table import Table

    from genretag.report import display_path

    ordinals = {2: "2nd", 3: "3rd"}
    table = Table("track", "genre", "confidence")
    for rank in range(2, top_k + 1):
        table.add_column(ordinals.get(rank, f"{rank}th"))
    for result in results:
        if result.ok:
            ranked = result.top_k(top_k)
            others = [f"{genre} {p:.2f}" for genre, p in ranked[1:]]
            table.add_row(display_path(result.path), ranked[0][0], f"{ranked[0][1]:.2f}", *others)
        else:
            table.add_row(display_path(result.path), "[red]failed[/red]", "", *[""] * (top_k - 1))
    return table


def _summary_lines(summary) -> list[str]:
    counts = ", ".join(f"{genre} {count}" for genre, count in summary.genre_counts.items()) or "none"
    speed = f", {summary.realtime_factor:.0f} × realtime" if summary.realtime_factor else ""
    return [
        f"{summary.tracks} tracks: {summary.tracks - summary.failures} classified, {summary.failures} failed, "
        f"{summary.warnings} with warnings; {summary.analysed} analysed, {summary.from_store} from the store",
        f"genres: {counts}",
        f"time {summary.wall_s:.1f} s, {summary.analysed_audio_s / 60:.1f} min of audio analysed{speed}",
    ]


def _write_reports(results, csv: str | None, segments_csv: str | None, json_path: str | None) -> None:
    import sys

    from genretag import report

    def target(value: str):
        return sys.stdout if value == "-" else value

    if csv:
        report.write_csv(report.tracks_frame(results), target(csv))
    if segments_csv:
        report.write_csv(report.segments_frame(results), target(segments_csv))
    if json_path:
        report.write_json(report.track_records(results), target(json_path))


def _scan_progress(console):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("scanning"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tracks"),
        TextColumn("{task.fields[hours]:.2f} h audio"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Music files or folders (folders are walked recursively).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `genretag models`).")] = DEFAULT_MODEL,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores).")
    ] = None,
    csv: Annotated[
        str | None, typer.Option("--csv", metavar="FILE", help="Write the tracks CSV ('-': stdout).")
    ] = None,
    segments_csv: Annotated[
        str | None, typer.Option("--segments-csv", metavar="FILE", help="Write the per-segment CSV ('-': stdout).")
    ] = None,
    json_path: Annotated[
        str | None, typer.Option("--json", metavar="FILE", help="Write the JSON report ('-': stdout).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Re-analyse every file, ignoring stored results.")
    ] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Genres shown per track in the table.")] = 2,
    whole_track: Annotated[
        bool, typer.Option("--whole-track", help="bicrnn only: one pass over the whole track instead of averaging.")
    ] = False,
) -> None:
    """Classify every audio file under PATHS; results are stored, so a rescan only re-analyses changed files."""
    import time

    from genretag import report, store
    from genretag import scan as scanning
    from genretag.library import LibraryPathError, walk_audio_files
    from genretag.weights import WeightsError

    started = time.perf_counter()
    try:
        model_ref = scanning.resolve_model(model)
        walk = walk_audio_files(paths)
    except (WeightsError, LibraryPathError) as error:
        _fail_usage(str(error))
    if whole_track and model_ref.architecture != "bicrnn":
        _fail_usage(f"--whole-track needs the bicrnn architecture; model {model!r} is {model_ref.architecture}")
    if top_k > len(model_ref.genres):
        _fail_usage(f"--top-k {top_k} is more than the model's {len(model_ref.genres)} genres")
    console = _stderr_console()
    for path, reason in walk.problems:
        _report_line(console, "error", str(path), reason)
    connection = store.connect()
    store.record_scan_roots(connection, paths)
    results, analysed = [], set()
    with_segments = bool(segments_csv or json_path)
    try:
        with _scan_progress(console) as progress:
            task = progress.add_task("scan", total=len(walk.files), hours=0.0)
            events = scanning.scan_files(
                walk.files, model_ref, connection, jobs or -1, not no_cache, whole_track, with_segments
            )
            for event in events:
                result = event.result
                results.append(result)
                if not event.from_store:
                    analysed.add(result.path)
                    if result.error:
                        _report_line(progress.console, "error", result.path, result.error)
                    elif result.warning:
                        _report_line(progress.console, "warning", result.path, result.warning)
                hours = progress.tasks[0].fields["hours"] + result.duration_s / 3600
                progress.update(task, advance=1, hours=hours)
    except KeyboardInterrupt:
        console.print(
            f"interrupted: {len(analysed)} tracks analysed and stored; run the same scan again to resume",
            markup=False,
        )
        raise typer.Exit(130) from None
    finally:
        connection.close()
    order = {str(file): index for index, file in enumerate(walk.files)}
    results.sort(key=lambda result: order[result.path])
    for result in results:
        if result.path not in analysed and result.error:
            _report_line(console, "error", result.path, f"{result.error} (stored result)")
    from rich.console import Console

    to_stdout = "-" in (csv, segments_csv, json_path)
    output = console if to_stdout else Console(highlight=False)
    if results:
        output.print(_results_table(results, top_k))
    summary = report.summarise(results, analysed, time.perf_counter() - started)
    for line in _summary_lines(summary):
        output.print(line, markup=False, soft_wrap=True)
    _write_reports(results, csv, segments_csv, json_path)
    if summary.failures or walk.problems:
        raise typer.Exit(1)


@app.command()
def export(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Only stored results for these files or folders (default: all).")
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Whose results to export.")] = DEFAULT_MODEL,
    csv: Annotated[
        str | None, typer.Option("--csv", metavar="FILE", help="Write the tracks CSV ('-': stdout).")
    ] = None,
    segments_csv: Annotated[
        str | None, typer.Option("--segments-csv", metavar="FILE", help="Write the per-segment CSV ('-': stdout).")
    ] = None,
    json_path: Annotated[
        str | None, typer.Option("--json", metavar="FILE", help="Write the JSON report ('-': stdout).")
    ] = None,
) -> None:
    """Write the scan reports from stored results, without analysing anything (tracks CSV on stdout by default)."""
    from genretag import store

    if not (csv or segments_csv or json_path):
        csv = "-"
    connection = store.connect()
    try:
        with_segments = bool(segments_csv or json_path)
        if paths:
            results = store.results_under(connection, model, paths, with_segments=with_segments)
        else:
            results = store.load_results(connection, model, with_segments=with_segments)
    finally:
        connection.close()
    if not results:
        where = " under " + ", ".join(map(str, paths)) if paths else ""
        typer.echo(f"error: no stored results of model {model!r}{where}; run `genretag scan` first", err=True)
        raise typer.Exit(1)
    _write_reports(results, csv, segments_csv, json_path)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"


def _timeline_text(result):
    from rich.table import Table
    from rich.text import Text

    from genretag.report import genre_colour

    overview = Text()
    for segment in result.segments:
        overview.append("██", style=genre_colour(segment.genre, result.genres))
    table = Table("time", "", "genre", "runner-up", box=None, pad_edge=False)
    width = 20
    for segment in result.segments:
        colour = genre_colour(segment.genre, result.genres)
        filled = round(segment.confidence * width)
        bar = Text("█" * filled, style=colour) + Text("░" * (width - filled), style="dim")
        runner_up = sorted(segment.probabilities.items(), key=lambda item: -item[1])[1]
        table.add_row(
            f"{_clock(segment.start_s)}–{_clock(segment.end_s)}",
            bar,
            Text(f"{segment.genre} {segment.confidence:.2f}", style=colour),
            f"{runner_up[0]} {runner_up[1]:.2f}",
        )
    return overview, table


@app.command()
def timeline(
    file: Annotated[Path, typer.Argument(help="One audio file.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `genretag models`).")] = DEFAULT_MODEL,
    plot: Annotated[
        Path | None, typer.Option("--plot", metavar="PNG", help="Also save stacked probabilities over time as a PNG.")
    ] = None,
) -> None:
    """Show one track's genre segment by segment (from the store, analysing it if needed)."""
    from rich.console import Console

    from genretag import report
    from genretag import scan as scanning
    from genretag.library import LibraryPathError
    from genretag.weights import WeightsError

    if file.is_dir():
        _fail_usage(f"{file}: is a folder; timeline takes one audio file")
    try:
        results, _ = scanning.results_for([file], model, jobs=1, with_segments=True)
    except (WeightsError, LibraryPathError) as error:
        _fail_usage(str(error))
    result = results[0]
    if not result.ok:
        _report_line(_stderr_console(), "error", result.path, result.error)
        raise typer.Exit(1)
    console = Console(highlight=False)
    overview, table = _timeline_text(result)
    console.print(
        f"{report.display_path(result.path)}: {result.genre} {result.confidence:.2f} "
        f"({result.model}, {len(result.segments)} segments of 10 s, {_clock(result.duration_s)})",
        markup=False,
    )
    console.print(overview)
    console.print(table)
    if plot:
        report.plot_timeline(result, plot)
        _stderr_console().print(f"plot written to {plot}", markup=False)
