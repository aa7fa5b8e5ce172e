"""The ``genretag`` command line: parse, call the library, render with rich.

Heavy modules (torch, librosa) are imported inside commands, never at import time,
so ``genretag --help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
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

    table = Table("name", "architecture", "source", "genres", "parameters", "accuracy", "trained on")
    for card in list_cards():
        genres = card["genres"]
        # A user model's genres are its own: name them; shipped models share the ten GTZAN genres.
        shown = f"{len(genres)}: {', '.join(genres)}" if card["source"] == "user" else str(len(genres))
        table.add_row(
            card["name"],
            card["architecture"],
            card["source"],
            shown,
            f"{card['parameters']['pytorch']:,}",
            _held_out_accuracy(card),
            str(card.get("training", {}).get("summary", "")),
        )
    Console().print(table)


def _held_out_accuracy(card: dict) -> str:
    """Track accuracy on held-out full-length tracks with its 95 % interval (a shipped card's selection
    split), else the card's test split, else its validation split, else ""."""
    metrics = card.get("metrics", {})
    if "selection" in metrics:
        figures = metrics["selection"]
        low, high = figures["accuracy_95"]
        return f"{figures['accuracy']:.2f} [{low:.2f}-{high:.2f}] ({figures['tracks']} held-out tracks)"
    for prefix in ("test", "valid"):
        for name, figures in metrics.items():
            if name.startswith(prefix):
                return f"{figures['track_accuracy']:.2f} ({prefix}, {figures['n_tracks']} tracks)"
    return ""


# ---------------------------------------------------------------- scan, export, timeline

DEFAULT_MODEL = "crnn-ensemble"  # models.DEFAULT_MODEL, repeated here so --help does not import torch
DEFAULT_BASE = "crnn"  # models.DEFAULT_ARCHITECTURE: one network, whose body learn fine-tunes


class Backend(str, Enum):
    """Where ``scan`` runs its per-track work."""

    local = "local"
    dask = "dask"


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
    """Plain aligned columns: a rich Table takes seconds to lay out for a library of thousands."""
    from rich.text import Text

    from genretag.report import display_path

    ordinals = {2: "2nd", 3: "3rd"}
    header = ["track", "genre", "confidence", *[ordinals.get(rank, f"{rank}th") for rank in range(2, top_k + 1)]]
    rows = []
    for result in results:
        if result.ok:
            ranked = result.top_k(top_k)
            others = [f"{genre} {p:.2f}" for genre, p in ranked[1:]]
            rows.append([display_path(result.path), ranked[0][0], f"{ranked[0][1]:.2f}", *others])
        else:
            rows.append([display_path(result.path), "failed", *[""] * (top_k)])
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return Text(line(header), style="bold") + Text("\n" + "\n".join(line(row) for row in rows))


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

    try:
        if csv:
            report.write_csv(report.tracks_frame(results), target(csv))
        if segments_csv:
            report.write_csv(report.segments_frame(results), target(segments_csv))
        if json_path:
            report.write_json(report.track_records(results), target(json_path))
    except OSError as error:
        typer.echo(f"error: cannot write a report: {error}", err=True)
        raise typer.Exit(1) from None


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
        # Not on a terminal (a log, a pipe) a live bar only leaves blank lines behind.
        disable=not console.is_terminal,
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
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend", help="local: worker processes here; dask: a Dask cluster (a local one unless --scheduler)."
        ),
    ] = Backend.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler to use (with --backend dask)."),
    ] = None,
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
    if scheduler and backend is not Backend.dask:
        _fail_usage("--scheduler needs --backend dask")
    console = _stderr_console()
    for path, reason in walk.problems:
        _report_line(console, "error", str(path), reason)
    connection = store.connect()
    store.record_scan_roots(connection, paths)
    results, analysed = [], set()
    # Every report needs the segments (the tracks CSV counts them).
    with_segments = bool(csv or segments_csv or json_path)
    try:
        with _scan_progress(console) as progress:
            task = progress.add_task("scan", total=len(walk.files), hours=0.0)
            events = scanning.scan_files(
                walk.files,
                model_ref,
                connection,
                jobs or -1,
                not no_cache,
                whole_track,
                with_segments,
                backend=backend.value,
                scheduler=scheduler,
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
    except scanning.BackendError as error:
        _fail_usage(str(error))
    finally:
        connection.close()
    order = {str(file): index for index, file in enumerate(walk.files)}
    results.sort(key=lambda result: order[result.path])
    for result in results:
        if result.path not in analysed and result.error:
            _report_line(console, "error", result.path, f"{result.error} (stored result)")
        elif result.path not in analysed and result.warning:
            _report_line(console, "warning", result.path, f"{result.warning} (stored result)")
    from rich.console import Console

    to_stdout = "-" in (csv, segments_csv, json_path)
    output = console if to_stdout else Console(highlight=False)
    if results:
        output.print(_results_table(results, top_k), soft_wrap=True)
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
        if paths:
            results = store.results_under(connection, model, paths, with_segments=True)
        else:
            results = store.load_results(connection, model, with_segments=True)
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


# ---------------------------------------------------------------- learn


def _library_report(console, library, choice, min_tracks: int) -> None:
    from rich.table import Table

    for path, reason in library.unreadable:
        _report_line(console, "error", str(path), reason)
    total = len(library.tracks) + len(library.untagged) + len(library.unreadable)
    console.print(
        f"{total} audio files: {len(library.tracks)} with a genre tag, {len(library.untagged)} without "
        f"(not used), {len(library.unreadable)} unreadable",
        markup=False,
    )
    table = Table("genre", "tracks", "spellings merged", title="genres learnt")
    for genre in choice.genres:
        table.add_row(genre, str(choice.counts[genre]), ", ".join(choice.spellings.get(genre, [])))
    console.print(table)
    if choice.dropped:
        dropped = ", ".join(
            f"{genre} ({n.tracks})" if n.tracks == n.first else f"{genre} ({n.tracks}, {n.first} as first genre)"
            for genre, n in choice.dropped.items()
        )
        console.print(f"dropped, fewer than {min_tracks} tracks (--min-tracks): {dropped}", markup=False)
    if choice.unlabelled:
        console.print(f"{len(choice.unlabelled)} tagged tracks not used: all their genres were dropped", markup=False)


def _confusion_table(evaluation):
    from rich.table import Table

    table = Table("true \\ predicted", *evaluation.genres, "accuracy", title="validation tracks")
    for genre, row in zip(evaluation.genres, evaluation.confusion, strict=True):
        total = int(row.sum())
        right = int(row[evaluation.genres.index(genre)])
        table.add_row(genre, *map(str, row), f"{right / total:.2f}" if total else "-")
    return table


def _progress_bar(console, label: str, unit: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit + "{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _fit_with_display(console, user_library, base, train_set, valid_set, recipe):
    """Fine-tune with a progress bar per epoch and one line per finished epoch."""
    best = [float("inf")]
    with _progress_bar(console, "training", "steps") as progress:
        task = progress.add_task("fit", total=None, status="")

        def show(update) -> None:
            if not update.epoch_done:
                status = f"  epoch {update.epoch}/{update.epochs}  loss {update.train_loss:.3f}"
                progress.update(task, total=update.steps, completed=update.step, status=status)
                return
            marker = "  (best so far)" if update.valid_log_loss < best[0] else ""
            best[0] = min(best[0], update.valid_log_loss)
            progress.console.print(
                f"epoch {update.epoch}/{update.epochs}: loss {update.train_loss:.3f}, "
                f"train accuracy {update.train_accuracy:.2f}; validation loss {update.valid_log_loss:.3f}, "
                f"accuracy {update.valid_accuracy:.2f}{marker}, {update.epoch_seconds:.1f} s",
                markup=False,
            )

        return user_library.fine_tune(base, train_set, valid_set, recipe, progress=show)


@app.command()
def learn(
    paths: Annotated[list[Path], typer.Argument(help="Music files or folders whose genre tags to learn from.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the new model (for --model later).")],
    base: Annotated[
        str, typer.Option("--base", help="Model (shipped or user, one network) whose trained body is fine-tuned.")
    ] = DEFAULT_BASE,
    min_tracks: Annotated[
        int, typer.Option("--min-tracks", min=2, help="Learn only genres with at least this many tagged tracks.")
    ] = 20,
    map_file: Annotated[
        Path | None,
        typer.Option(
            "--map", metavar="FILE", help="Genre synonyms, one 'alias = genre' per line ('alias =' ignores it)."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="At most this many epochs (stops early).")] = 30,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes for decoding (default: all cores).")
    ] = None,
) -> None:
    """Learn the genres your library is already tagged with; `scan --model NAME` then uses them."""
    from genretag import learn as fitting
    from genretag import user_library
    from genretag.library import LibraryPathError
    from genretag.weights import WeightsError, load_model

    problem = user_library.valid_model_name(name)
    if problem:
        _fail_usage(problem)
    try:
        mapping = user_library.read_genre_map(map_file) if map_file else {}
    except OSError as error:
        _fail_usage(f"{map_file}: cannot read the mapping file ({error.strerror or error})")
    except ValueError as error:
        _fail_usage(str(error))
    try:
        base_model = load_model(base)
        library = user_library.read_library(paths, mapping)
    except (WeightsError, LibraryPathError) as error:
        _fail_usage(str(error))
    console = _stderr_console()
    choice = user_library.choose_genres(library.tracks, min_tracks)
    _library_report(console, library, choice, min_tracks)
    if len(choice.genres) < 2:
        found = ", ".join(choice.genres) or "none"
        typer.echo(
            f"error: a model needs two or more genres with at least {min_tracks} tagged tracks, found {found}; "
            "lower --min-tracks or tag more tracks",
            err=True,
        )
        raise typer.Exit(1)
    groups = {track.path: track.group for track in library.tracks}
    split = user_library.group_split(choice.labels, groups)
    with _progress_bar(console, "decoding", "tracks") as progress:
        task = progress.add_task("decode", total=len(choice.labels), status="")

        def decoded(path, error) -> None:
            if error:
                _report_line(progress.console, "error", str(path), error)
            progress.advance(task)

        features, failures = user_library.extract_features(sorted(choice.labels), jobs or -1, decoded)
    split = split.without(path for path, _ in failures)
    if not split.train or not split.valid:
        typer.echo("error: too few tracks could be decoded to train and validate a model", err=True)
        raise typer.Exit(1)
    train_set = user_library.feature_set(split.train, features, choice.labels, choice.genres)
    valid_set = user_library.feature_set(split.valid, features, choice.labels, choice.genres)
    console.print(
        f"split by {split.unit}: {len(split.train)} tracks ({len(train_set)} segments) to train, "
        f"{len(split.valid)} ({len(valid_set)} segments) to validate",
        markup=False,
    )
    threads = fitting.use_threads()
    recipe = user_library.FineTuneRecipe(epochs=epochs)
    console.print(f"fine-tuning {base} on {threads} threads", markup=False)
    network, history = _fit_with_display(console, user_library, base_model, train_set, valid_set, recipe)
    evaluation = fitting.evaluate(network, valid_set)
    card_path = user_library.save_user_model(
        network, name, base_model, choice, split, evaluation, history, recipe, paths
    )
    from rich.console import Console

    output = Console(highlight=False)
    output.print(_confusion_table(evaluation))
    epochs_run = len(history.train_loss)
    stopped = ""
    if epochs_run < epochs:
        stopped = f"; stopped after epoch {epochs_run} of {epochs}: no improvement in {recipe.patience} epochs"
    output.print(
        f"validation accuracy {evaluation.track_accuracy:.2f} on {evaluation.n_tracks} tracks "
        f"(chance {1 / len(choice.genres):.2f}); kept epoch {history.best_epoch}{stopped}",
        markup=False,
    )
    output.print(f"model {name!r} saved to {card_path.with_suffix('.pt')}", markup=False)
    output.print(f"use it with: genretag scan PATH --model {name}", markup=False)
    if library.unreadable or failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------- tag, undo

POLICIES = ("fill", "replace", "append")  # tags.Policy, repeated here so --help does not import numpy


def _genres_text(values) -> str:
    return "; ".join(values) if values else "—"


def _proposed_text(plan) -> str:
    probabilities = dict(plan.proposed)
    shown = plan.new_values or tuple(probabilities)
    return "; ".join(f"{name} {probabilities[name]:.2f}" if name in probabilities else name for name in shown) or "—"


def _tag_table(plans, outcomes):
    from rich.table import Table
    from rich.text import Text

    from genretag.report import display_path
    from genretag.tags import Action

    table = Table("file", "current genre", "proposed", "action")
    for plan in plans:
        outcome = outcomes.get(plan.path)
        if outcome is not None:
            action = Text("written", style="green") if outcome.written else Text("error", style="red")
        elif plan.action is Action.ERROR:
            action = Text("error", style="red")
        else:
            action = Text(plan.action.value, style="bold" if plan.action is Action.WRITE else "dim")
        table.add_row(display_path(plan.path), _genres_text(plan.current), _proposed_text(plan), action)
    return table


def _report_settled_writes(console, settled) -> None:
    for entry in settled:
        if entry.state == "done":
            _report_line(console, "warning", entry.path, "an interrupted run had written it; journal completed")
        else:
            _report_line(console, "warning", entry.path, "an interrupted run did not write it; left as it was")


def _tag_summary(plans, outcomes, errors: int, write: bool) -> str:
    from collections import Counter

    skips = Counter(plan.action.value.removeprefix("skip: ") for plan in plans if plan.action.value.startswith("skip"))
    skipped = f"{sum(skips.values())} skipped ({', '.join(f'{why} {n}' for why, n in skips.items()) or 'none'})"
    if write:
        return f"{sum(o.written for o in outcomes.values())} files written, {skipped}, {errors} errors"
    to_write = sum(plan.action.value == "write" for plan in plans)
    return f"preview: {to_write} files to write, {skipped}, {errors} errors; nothing written (add --write to write)"


@app.command()
def tag(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the paths of the last scan).")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Write the genres. Without it: a preview.")] = False,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            metavar="fill|replace|append",
            help="fill: only files without a genre; replace: overwrite; append: add genres not yet present.",
        ),
    ] = "fill",
    min_confidence: Annotated[
        float,
        typer.Option("--min-confidence", min=0.0, max=1.0, help="Every written genre needs at least this probability."),
    ] = 0.5,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, help="Write up to K genres (each passing --min-confidence).")
    ] = 1,
    id3_version: Annotated[
        int | None,
        typer.Option(
            "--id3-version", min=3, max=4, help="MP3/WAV/AIFF: write ID3v2.3 or v2.4 (default: keep the file's)."
        ),
    ] = None,
    id3v23: Annotated[bool, typer.Option("--id3v23", help="Same as --id3-version 3.")] = False,
    map_file: Annotated[
        Path | None, typer.Option("--map", metavar="FILE", help="Genre display names: 'label = Name' lines, or JSON.")
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `genretag models`).")] = DEFAULT_MODEL,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes for files not yet analysed.")
    ] = None,
) -> None:
    """Write genres into the files' own tags (preview unless --write); every write can be undone."""
    from rich.console import Console

    from genretag import scan as scanning
    from genretag import store, tags
    from genretag.library import LibraryPathError
    from genretag.weights import WeightsError

    if policy not in POLICIES:
        _fail_usage(f"--policy {policy!r}: choose one of {', '.join(POLICIES)}")
    console = _stderr_console()
    connection = store.connect()
    try:
        if not paths:
            paths = store.last_scan_roots(connection)
            if not paths:
                _fail_usage("no PATH given and no earlier scan to take the paths from")
        try:
            model_ref = scanning.resolve_model(model)
            names = tags.load_display_names(map_file, model_ref.genres) if map_file else None
            if write:
                _report_settled_writes(console, store.resolve_interrupted_writes(connection))
            console.print("reading stored results (analysing new or changed files)…", markup=False)
            results, problems = scanning.results_for(paths, model, jobs or -1)
        except (WeightsError, LibraryPathError, ValueError) as error:
            _fail_usage(str(error))
        except OSError as error:
            _fail_usage(f"{error.filename}: {error.strerror or error}")
        identity = model_ref.identity()
        stamps = {result.path: store.stored_stamp(connection, result.path, identity) for result in results}
        plans = tags.plan_tags(results, stamps, tags.Policy(policy), min_confidence, top_k, names)
        outcomes = {}
        if write:
            run_id = store.new_run_id()
            outcomes = {
                outcome.path: outcome for outcome in tags.write_planned(connection, plans, run_id, id3v23, id3_version)
            }
    finally:
        connection.close()
    for path, reason in problems:
        _report_line(console, "error", str(path), reason)
    errors = [(plan.path, plan.reason) for plan in plans if plan.action is tags.Action.ERROR]
    errors += [(outcome.path, outcome.reason) for outcome in outcomes.values() if not outcome.written]
    for path, reason in errors:
        _report_line(console, "error", path, reason)
    output = Console(highlight=False)
    if plans:
        output.print(_tag_table(plans, outcomes))
    line = _tag_summary(plans, outcomes, len(errors), write)
    if any(outcome.written for outcome in outcomes.values()):
        line += f"; run {run_id}: undo with `genretag undo --last`"
    output.print(line, markup=False, soft_wrap=True)
    if errors or problems:
        raise typer.Exit(1)


def _undo_table(plans, outcomes):
    from rich.table import Table
    from rich.text import Text

    from genretag.report import display_path

    table = Table("file", "genre now", "restored to", "action")
    for plan in plans:
        outcome = outcomes.get(plan.path)
        if outcome is not None and outcome.written:
            action = Text("restored", style="green")
        elif outcome is not None or plan.problem:
            action = Text(f"error: {outcome.reason if outcome else plan.problem}", style="red")
        else:
            action = Text("restore", style="bold")
        table.add_row(display_path(plan.path), _genres_text(plan.written), _genres_text(plan.restore), action)
    return table


@app.command()
def undo(
    paths: Annotated[list[Path] | None, typer.Argument(help="Undo writes to these files or folders.")] = None,
    last: Annotated[bool, typer.Option("--last", help="Undo the latest `tag --write` run not yet undone.")] = False,
    all_runs: Annotated[bool, typer.Option("--all", help="Undo every write genretag made and has not undone.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be restored; change nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore the genre even in files changed since genretag wrote them.")
    ] = False,
) -> None:
    """Restore the genre values files had before `genretag tag --write` (exactly, by the same safe write)."""
    from rich.console import Console

    from genretag import store
    from genretag import undo as undoing

    if sum([bool(paths), last, all_runs]) != 1:
        _fail_usage("say what to undo: --last, --all, or PATH... (one of them)")
    console = _stderr_console()
    connection = store.connect()
    try:
        if not dry_run:
            _report_settled_writes(console, store.resolve_interrupted_writes(connection))
        plans = undoing.plan_undo(connection, last=last, paths=paths or ())
        outcomes = {}
        if plans and not dry_run:
            run_id = store.new_run_id()
            outcomes = {outcome.path: outcome for outcome in undoing.apply_undo(connection, plans, run_id, force)}
    finally:
        connection.close()
    output = Console(highlight=False)
    if not plans:
        output.print("nothing to undo", markup=False)
        return
    if dry_run:
        failures = [plan for plan in plans if plan.problem and not (force and plan.problem.startswith("changed"))]
    else:
        failures = [outcome for outcome in outcomes.values() if not outcome.written]
    for item in failures:
        _report_line(console, "error", item.path, getattr(item, "problem", None) or item.reason)
    output.print(_undo_table(plans, outcomes))
    restorable = len(plans) - len(failures)
    if dry_run:
        output.print(f"dry run: {restorable} files would be restored, {len(failures)} not; nothing written")
    else:
        output.print(f"{restorable} files restored, {len(failures)} not", markup=False)
    if failures:
        raise typer.Exit(1)
