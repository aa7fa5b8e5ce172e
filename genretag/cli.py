"""The ``genretag`` command line: each command parses its options, calls ONE library function and
hands the result to ``render``.

Modules that load heavy libraries (torch, librosa, numpy, pandas, mutagen, rich) are imported
inside commands, never at import time, so ``genretag --help`` stays fast (a test checks it); the
light ones (render, config, library, tagrules) are imported here. That is also why ``--model`` has
no default here: the default model is ``weights.DEFAULT_MODEL``, read by the library when no model
is named.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from typer.core import TyperGroup

from genretag import render
from genretag.config import (
    KEYS,
    ConfigError,
    config_path,
    database_path,
    effective_settings,
    read_config,
    settings_for,
)
from genretag.library import LibraryPathError
from genretag.tagrules import DEFAULT_MIN_CONFIDENCE, DEFAULT_TOP_K, POLICIES, Policy, TagOptions


def _plain_help(text: str) -> str:
    """Click/Typer help without Python's types: ``{PATH}...`` and ``[[NAME]]`` in the usage line become
    ``PATH...`` and ``[NAME]``, an argument's ``<list[Path]>`` goes (spaces keep the columns), and a range
    reads ``at least 1`` or ``0 to 1`` instead of ``x>=1``, ``0.0<=x<=1.0``."""
    lines = []
    for line in text.splitlines():
        if line.startswith("Usage:"):
            line = re.sub(r"\{([A-Z][A-Z_]*)\}", r"\1", line)
            line = re.sub(r"\[\[([A-Z][A-Z_]*)\]\]", r"[\1]", line)
        else:
            line = re.sub(
                r"^(\s+\[?[A-Z][A-Z_]*\]?(?:\.\.\.)?)( <[^>]+>)", lambda m: m.group(1) + " " * len(m.group(2)), line
            )
        line = re.sub(r"(-?[\d.]+)<=x<=(-?[\d.]+)", r"\1 to \2", line)
        line = re.sub(r"x>=(-?[\d.]+)", r"at least \1", line)
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


class PlainHelpCommand(typer.core.TyperCommand):
    """A command whose help and usage say what to type, not Python types (``_plain_help``)."""

    def get_help(self, ctx) -> str:
        return _plain_help(super().get_help(ctx))

    def get_usage(self, ctx) -> str:
        return _plain_help(super().get_usage(ctx))


class _Commands(TyperGroup):
    """Typer's group of commands; a store that cannot be used ends any command with one line, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except sqlite3.DatabaseError as error:  # met while reading or writing the store
            from genretag.store import store_error

            failure = store_error(database_path(), error)
            if failure is error:
                raise
            typer.echo(f"error: {failure}", err=True)
            raise typer.Exit(failure.exit_code) from None
        except Exception as error:
            store = sys.modules.get("genretag.store")  # imported by every command that opens the store
            if store is None or not isinstance(error, store.StoreError):
                raise
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_Commands,
    name="genretag",
    help="Offline genre tagger for music libraries.",
    # `genretag` alone prints the help and exits 0 (see ``main``); --install-completion sets up the shell's.
    add_completion=True,
    # Plain Click help: Typer's rich help shows every switch as taking a value (`--write <bool>`).
    rich_markup_mode=None,
)


MODEL_HELP = "Model name (see `genretag models`; default: the default model)."


class Backend(str, Enum):
    """Where ``scan`` runs its per-track work."""

    local = "local"
    dask = "dask"


class OutputFormat(str, Enum):
    """How a listing is printed."""

    table = "table"
    tsv = "tsv"
    json = "json"


FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        metavar="table|tsv|json",
        help="table, tsv or json (default: a table on a terminal, else TSV with a header).",
        show_default=False,
    ),
]


ModelOption = Annotated[str | None, typer.Option("--model", "-m", metavar="NAME", help=MODEL_HELP, show_default=False)]
StoredModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        help="Whose results (default: the model of the latest stored results for PATHS).",
        show_default=False,
    ),
]
PendingJobsOption = Annotated[
    int | None,
    typer.Option(
        "--jobs", "-j", min=0, metavar="N", help="Worker processes for files not yet analysed (0: all cores)."
    ),
]
CsvOption = Annotated[str | None, typer.Option("--csv", metavar="FILE", help="Write the tracks CSV ('-': stdout).")]
SegmentsCsvOption = Annotated[
    str | None, typer.Option("--segments-csv", metavar="FILE", help="Write the per-segment CSV ('-': stdout).")
]
JsonOption = Annotated[str | None, typer.Option("--json", metavar="FILE", help="Write the JSON report ('-': stdout).")]


def _format(value: OutputFormat | None) -> str | None:
    return value.value if value else None


def _fail_usage(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _config_keys(command) -> dict[str, str]:
    """A command's options that the config file may set: config key (the long option name) → parameter name."""

    return {
        opt[2:]: param.name
        for param in command.params
        for opt in getattr(param, "opts", ())
        if opt.startswith("--") and opt[2:] in KEYS and param.param_type_name == "option"
    }


def _print_version(value: bool) -> None:
    if value:
        from genretag import __version__

        typer.echo(f"genretag {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only the data, errors and warnings: no progress bars, notes or summaries."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also say which weights a model loads and where the store is.")
    ] = False,
) -> None:
    """Read the config file: its settings become the options' defaults, so the command line overrides them."""
    if ctx.resilient_parsing:
        return
    if ctx.invoked_subcommand is None:  # `genretag` alone: the help, as asked for
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    if quiet and verbose:
        _fail_usage("--quiet and --verbose contradict each other; give one")
    render.set_verbosity(-1 if quiet else 1 if verbose else 0)
    if ctx.invoked_subcommand == "config":
        return  # `config path` works with a broken file; `config show` reports what is wrong

    try:
        settings = read_config()
    except ConfigError as error:
        _fail_usage(str(error))
    default_map = {}
    for name, command in ctx.command.commands.items():
        keys = _config_keys(command)
        chosen = settings_for(settings, name, set(keys))
        if name == ctx.invoked_subcommand and "model" in chosen:
            _check_configured_model(chosen["model"])
        if chosen:
            default_map[name] = {keys[key]: setting.value for key, setting in chosen.items()}
    ctx.default_map = default_map


def _check_configured_model(chosen) -> None:
    """A model the config file names (``config.Setting``) must exist; the error names the file and line."""
    from genretag.weights import WeightsError, find_card

    try:
        find_card(chosen.value)
    except WeightsError as error:
        _fail_usage(f"{chosen.origin}: model = {chosen.value!r}: {error}")


config_app = typer.Typer(help="The config file: long option names as keys; command-line options override it.")
app.add_typer(config_app, name="config")


@config_app.command("path", cls=PlainHelpCommand)
def config_path_command() -> None:
    """Print where the config file is read from (it need not exist)."""

    typer.echo(str(config_path()))


@config_app.command("show", cls=PlainHelpCommand)
def config_show(ctx: typer.Context, output_format: FormatOption = None) -> None:
    """Show where genretag keeps its data (store, journal, models; with sizes), then every command's
    configurable options: the value in effect and where it came from."""
    from genretag.config import data_paths

    commands = ctx.find_root().command.commands
    defaults = {}
    for name, command in commands.items():
        keys = _config_keys(command)
        if keys:
            params = {param.name: param for param in command.params}
            defaults[name] = {
                key: _plain_default(params[param_name].default) for key, param_name in sorted(keys.items())
            }
    try:
        effective = effective_settings(defaults)
    except ConfigError as error:
        _fail_usage(str(error))
    paths = render.paths_listing(data_paths())
    chosen = render.listing_format(_format(output_format))
    with _closed_pipe_ends_quietly():
        if chosen == "json":  # one document: the paths beside the settings
            render.print_documents(
                [render.listing_document(render.settings_listing(effective)), render.listing_document(paths)]
            )
            return
        if chosen == "table":
            render.print_listing(render.stdout_console(), paths, "table")
        else:  # TSV on stdout is the settings alone; where things are goes to stderr
            for row in paths.rows:
                render.note(render.stderr_console(), f"{row[0]}: {row[1]}")
        render.print_listing(render.stdout_console(), render.settings_listing(effective), chosen)


def _plain_default(value):
    return value.value if isinstance(value, Enum) else value


@contextmanager
def _closed_pipe_ends_quietly():
    """A reader that stops early (``genretag export | head -1``) ends the command quietly, with exit 0."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush fails no more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _print_listing(listing, output_format: OutputFormat | None) -> str:
    """Print ``listing`` on stdout in the format asked for (else the terminal's); return the format used."""

    chosen = render.listing_format(_format(output_format))
    with _closed_pipe_ends_quietly():
        render.print_listing(render.stdout_console(), listing, chosen)
    return chosen


def _say_model(console, choice, ctx: typer.Context | None = None) -> None:
    """The model line on stderr (unless --quiet); with --verbose, the weights it loads and the store."""
    render.note(console, _model_line(choice, ctx))
    if render.verbosity() > 0:
        from genretag.config import database_path
        from genretag.weights import resolve_model

        identity = resolve_model(choice.name)
        render.note(
            console,
            f"  {identity.architecture}, {len(identity.genres)} genres, weights sha256 {identity.fingerprint[:12]}, "
            f"front end {identity.front_end}; store {database_path()}",
        )


def _model_line(choice, ctx: typer.Context | None = None) -> str:
    source = ctx.get_parameter_source("model") if ctx is not None else None
    if choice.why == "named" and source is not None and source.name == "DEFAULT_MAP":
        return f"model: {choice.name} (from the config file)"
    why = {
        "named": "",
        "stored": " (the model of the stored results for these paths)",
        "default": " (the default model)",
    }[choice.why]
    return f"model: {choice.name}{why}"


@app.command(cls=PlainHelpCommand)
def models(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="Show this model's whole card.")] = None,
    output_format: FormatOption = None,
) -> None:
    """List shipped and user models, one line each (the default marked); with NAME, that model's whole card."""
    from genretag.weights import DEFAULT_MODEL, WeightsError, list_cards, model_card

    if name:
        try:
            card = model_card(name)
        except WeightsError as error:
            _fail_usage(str(error))
        render.print_card(card)
        return
    listing = render.models_listing(list_cards(), DEFAULT_MODEL)
    _print_listing(listing, output_format)


@app.command(cls=PlainHelpCommand)
def scan(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Music files or folders (folders are walked recursively).")
    ],
    model: ModelOption = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=0, metavar="N", help="Worker processes (0, the default: all cores)."),
    ] = None,
    csv: CsvOption = None,
    segments_csv: SegmentsCsvOption = None,
    json_path: JsonOption = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Re-analyse every file, ignoring stored results.")
    ] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, metavar="K", help="Genres shown per track in the table.")] = 2,
    whole_track: Annotated[
        bool, typer.Option("--whole-track", help="bicrnn only: one pass over the whole track instead of averaging.")
    ] = False,
    backend: Annotated[
        Backend,
        typer.Option(
            "--backend",
            metavar="local|dask",
            help="local: worker processes here; dask: a Dask cluster (a local one unless --scheduler).",
        ),
    ] = Backend.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler to use (with --backend dask)."),
    ] = None,
    output_format: FormatOption = None,
) -> None:
    """Classify every audio file under PATHS; results are stored, so a rescan only re-analyses changed files."""

    from genretag import report
    from genretag.scan import BackendError, ScanOptions, plan_scan
    from genretag.weights import WeightsError

    started = time.perf_counter()
    _check_report_files(csv, segments_csv, json_path)
    if csv or segments_csv:
        report.import_pandas_meanwhile()
    try:
        # Every report needs the segments (the tracks CSV counts them).
        options = ScanOptions(
            jobs or -1,
            not no_cache,
            whole_track,
            with_segments=bool(csv or segments_csv or json_path),
            backend=backend.value,
            scheduler=scheduler,
        )
        library_scan = plan_scan(paths, model, options)
    except (WeightsError, LibraryPathError, ValueError) as error:
        _fail_usage(str(error))
    if top_k > len(library_scan.model.genres):
        _fail_usage(f"--top-k {top_k} is more than the model's {len(library_scan.model.genres)} genres")
    console = render.stderr_console()
    _say_model(console, library_scan.choice, ctx)
    for path, reason in library_scan.problems:
        render.problem_line(console, "error", str(path), reason)
    stopped_by: list[int] = []
    try:
        with _terminate_as_interrupt(stopped_by), render.scan_progress(console) as progress:
            task = progress.add_task("scan", total=len(library_scan.files), hours=0.0)
            for event in library_scan.run():
                result = event.result
                if not event.from_store:
                    if result.error:
                        render.problem_line(progress.console, "error", result.path, result.error)
                    elif result.warning:
                        render.problem_line(progress.console, "warning", result.path, result.warning)
                hours = progress.tasks[0].fields["hours"] + result.duration_s / 3600
                progress.update(task, advance=1, hours=hours)
    except KeyboardInterrupt:
        # --no-cache would analyse everything again: the scan that resumes is the one without it.
        again = "the scan again without --no-cache" if no_cache else "the same scan again"
        console.print(
            f"interrupted: {render.plural(len(library_scan.analysed), 'track')} analysed and stored; "
            f"run {again} to resume",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(128 + (stopped_by[-1] if stopped_by else signal.SIGINT)) from None
    except BackendError as error:
        _fail_usage(str(error))
    results = library_scan.results
    for kind, path, reason in library_scan.stored_problems():
        render.problem_line(console, kind, path, reason)
    to_stdout = "-" in (csv, segments_csv, json_path)
    from genretag.tagrules import model_open_set

    open_set = model_open_set(library_scan.model.name)
    listing = render.results_listing(results, top_k, open_set)
    if to_stdout:  # the report owns stdout: the table goes to stderr
        render.print_listing(console, listing, "table")
        shown = "table"
    else:
        shown = _print_listing(listing, output_format)
    # Summaries beside a table; with TSV or JSON on stdout they go to stderr, so the data stays clean.
    output = render.stdout_console() if shown == "table" and not to_stdout else console
    summary = report.summarise(results, library_scan.analysed, time.perf_counter() - started, open_set)
    for line in render.summary_lines(summary):
        render.note(output, line)
    _write_reports(results, csv, segments_csv, json_path, open_set)
    if summary.failures or library_scan.problems:
        raise typer.Exit(1)


def _check_report_files(csv: str | None, segments_csv: str | None, json_path: str | None) -> None:
    """A report into a folder that does not exist is a usage error, said before any work."""
    from genretag.report import check_destination

    try:
        for option, value in (("--csv", csv), ("--segments-csv", segments_csv), ("--json", json_path)):
            check_destination(option, value)
    except ValueError as error:
        _fail_usage(str(error))


@contextmanager
def _terminate_as_interrupt(received: list[int]):
    """Inside: SIGTERM (``kill``, a service stop) interrupts as Ctrl-C does, so the scan stops its workers,
    releases its claims and keeps what it stored; the signal's number is appended to ``received``."""

    def interrupt(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_reports(results, csv: str | None, segments_csv: str | None, json_path: str | None, open_set: float) -> None:
    from genretag import report

    try:
        with _closed_pipe_ends_quietly():
            report.write_reports(results, csv, segments_csv, json_path, open_set)
    except OSError as error:
        typer.echo(f"error: cannot write a report: {error}", err=True)
        raise typer.Exit(1) from None


@app.command(cls=PlainHelpCommand)
def export(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="Only stored results for these files or folders (default: all)."),
    ] = None,
    model: StoredModelOption = None,
    csv: CsvOption = None,
    segments_csv: SegmentsCsvOption = None,
    json_path: JsonOption = None,
) -> None:
    """Write the scan reports from stored results, without analysing anything (tracks CSV on stdout by default)."""
    from genretag.scan import choose_model
    from genretag.store import stored_results
    from genretag.tagrules import model_open_set
    from genretag.weights import WeightsError

    if not (csv or segments_csv or json_path):
        csv = "-"
    _check_report_files(csv, segments_csv, json_path)
    try:
        choice = choose_model(paths or ["/"], model)
        open_set = model_open_set(choice.name)
    except WeightsError as error:
        _fail_usage(str(error))
    _say_model(render.stderr_console(), choice, ctx)
    results = stored_results(choice.name, paths)
    if not results:
        where = " under " + ", ".join(map(str, paths)) if paths else ""
        _fail_usage(f"no stored results of model {choice.name!r}{where}; run `genretag scan` first")
    _write_reports(results, csv, segments_csv, json_path, open_set)


@app.command(cls=PlainHelpCommand)
def timeline(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="One audio file.")],
    model: ModelOption = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", metavar="PNG", help="Also save stacked probabilities over time as a PNG.")
    ] = None,
) -> None:
    """Show one track's genre segment by segment (from the store, analysing it if needed)."""
    from genretag import report
    from genretag.scan import ScanOptions, choose_model, results_for
    from genretag.tagrules import model_open_set
    from genretag.weights import WeightsError

    if file.is_dir():
        _fail_usage(f"{file}: is a folder; timeline takes one audio file")
    try:
        report.check_destination("--plot", plot)
    except ValueError as error:
        _fail_usage(str(error))
    try:
        choice = choose_model([file], model)
        open_set = model_open_set(choice.name)
        results, _ = results_for([file], choice.name, ScanOptions(jobs=1, with_segments=True))
    except (WeightsError, LibraryPathError, ValueError) as error:
        _fail_usage(str(error))
    result = results[0]
    if not result.ok:
        render.problem_line(render.stderr_console(), "error", result.path, result.error)
        raise typer.Exit(1)
    _say_model(render.stderr_console(), choice, ctx)
    console = render.stdout_console()
    colour = console.color_system is not None and not console.no_color
    overview, table = render.timeline_text(result, console.width, colour, open_set)
    console.print(
        f"{render.display_path(result.path)}: {render.best_genre_text(result.genre, result.confidence, open_set)} "
        f"({choice.name}, {render.plural(len(result.segments), 'segment')} of 10 s, {render.clock(result.duration_s)})",
        markup=False,
    )
    console.print(overview)
    console.print(table)
    if plot:
        report.plot_timeline(result, plot, open_set)
        render.stderr_console().print(f"plot written to {plot}", markup=False)


@app.command(cls=PlainHelpCommand)
def report(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Music files or folders.")],
    html: Annotated[Path, typer.Option("--html", metavar="FILE", help="Write the HTML library report here.")],
    model: StoredModelOption = None,
    jobs: PendingJobsOption = None,
) -> None:
    """Write one self-contained HTML page: genre chart, sortable and filterable track table, timelines."""
    from genretag.report import write_html_report
    from genretag.weights import WeightsError

    console = render.stderr_console()
    bar = render.ScanBar(console)
    try:
        with bar:
            written = write_html_report(paths, model, html, jobs or -1, progress=bar.update)
    except (WeightsError, LibraryPathError, ValueError) as error:
        _fail_usage(str(error))
    except OSError as error:
        typer.echo(f"error: cannot write {html}: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    _say_model(console, written.model, ctx)
    for path, reason in written.problems:
        render.problem_line(console, "error", str(path), reason)
    failed = [result for result in written.results if not result.ok]
    for result in failed:
        render.problem_line(console, "error", result.path, result.error)
    console.print(
        f"{render.plural(len(written.results), 'track')} ({len(failed)} failed) written to {html}", markup=False
    )
    if failed or written.problems:
        raise typer.Exit(1)


@app.command(cls=PlainHelpCommand)
def learn(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Music files or folders whose genre tags to learn from.")
    ],
    name: Annotated[
        str, typer.Option("--name", "-n", metavar="NAME", help="Name of the new model (for --model later).")
    ],
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="MODEL",
            help="Model to learn on: musicnn (the default) gets a new head on its embeddings, in seconds; "
            "a poster network (v-kernel, crnn, ...) is fine-tuned.",
            show_default=False,
        ),
    ] = None,
    min_tracks: Annotated[
        int,
        typer.Option(
            "--min-tracks", min=2, metavar="N", help="Learn only genres with at least this many tagged tracks."
        ),
    ] = 20,
    map_file: Annotated[
        Path | None,
        typer.Option(
            "--map", metavar="FILE", help="Genre synonyms, one 'alias = genre' per line ('alias =' ignores it)."
        ),
    ] = None,
    epochs: Annotated[
        int,
        typer.Option(
            "--epochs", min=1, metavar="N", help="Fine-tuning a poster network: at most this many epochs (stops early)."
        ),
    ] = 30,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", min=0, metavar="N", help="Worker processes for decoding (0, the default: all cores)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace your model of that name if it exists.")] = False,
) -> None:
    """Learn the genres your library is already tagged with; `scan --model NAME` then uses them."""
    from genretag.learn import LearnError, learn_model
    from genretag.weights import WeightsError

    display = render.LearnDisplay(render.stderr_console(), min_tracks)
    try:
        learned = learn_model(paths, name, base, min_tracks, map_file, epochs, jobs or -1, display.events(), force)
    except OSError as error:
        _fail_usage(f"{map_file}: cannot read the mapping file ({error.strerror or error})")
    except (WeightsError, LibraryPathError, ValueError) as error:
        _fail_usage(str(error))
    except LearnError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        display.close()
    if learned.replaced:
        render.problem_line(render.stderr_console(), "warning", str(learned.card_path), "replaced (--force)")
    output = render.stdout_console()
    output.print(render.confusion_table(learned.evaluation))
    for line in render.learned_lines(learned, epochs):
        output.print(line, markup=False)
    if learned.library.unreadable or learned.failures:
        raise typer.Exit(1)


@app.command(cls=PlainHelpCommand)
def tag(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="Files or folders (default: the paths of the last scan)."),
    ] = None,
    write: Annotated[bool, typer.Option("--write", "-w", help="Write the genres. Without it: a preview.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Preview only (the default without --write); change nothing.")
    ] = False,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            metavar="fill|replace|append",
            help="fill: only files without a genre; replace: overwrite; append: add genres not yet present.",
        ),
    ] = Policy.FILL.value,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            metavar="P",
            help="Every written genre needs at least this probability.",
        ),
    ] = DEFAULT_MIN_CONFIDENCE,
    top_k: Annotated[
        int, typer.Option("--top-k", min=1, metavar="K", help="Write up to K genres (each passing --min-confidence).")
    ] = DEFAULT_TOP_K,
    id3_version: Annotated[
        int | None,
        typer.Option(
            "--id3-version",
            min=3,
            max=4,
            metavar="3|4",
            help="MP3/WAV/AIFF: write ID3v2.3 or v2.4 (default: keep the file's).",
        ),
    ] = None,
    id3v23: Annotated[bool, typer.Option("--id3v23", help="Same as --id3-version 3.")] = False,
    map_file: Annotated[
        Path | None, typer.Option("--map", metavar="FILE", help="Genre display names: 'label = Name' lines, or JSON.")
    ] = None,
    model: ModelOption = None,
    jobs: PendingJobsOption = None,
    output_format: FormatOption = None,
) -> None:
    """Write genres into the files' own tags (preview unless --write); every write can be undone."""
    from genretag.tags import tag_library
    from genretag.weights import WeightsError

    if policy not in POLICIES:
        _fail_usage(f"--policy {policy!r}: choose one of {', '.join(POLICIES)}")
    if write and dry_run:
        _fail_usage("--write and --dry-run contradict each other; give one")
    console = render.stderr_console()
    bar = render.ScanBar(console)
    try:
        with bar:
            run = tag_library(
                paths,
                model,
                TagOptions(policy, min_confidence, top_k),
                map_file,
                write,
                3 if id3v23 else id3_version,
                jobs or -1,
                progress=bar.update,
            )
    except (WeightsError, LibraryPathError, ValueError) as error:
        _fail_usage(str(error))
    except OSError as error:
        _fail_usage(f"{error.filename}: {error.strerror or error}")
    _say_model(console, run.model, ctx)
    render.settled_writes(console, run.settled)
    for path, reason in run.problems:
        render.problem_line(console, "error", str(path), reason)
    for path, reason in run.errors:
        render.problem_line(console, "error", path, reason)
    shown = _print_listing(render.tag_listing(run.plans, run.outcomes), output_format)
    output = render.stdout_console() if shown == "table" else console
    render.note(output, render.tag_summary(run, write))
    if run.errors or run.problems:
        raise typer.Exit(1)


@app.command(cls=PlainHelpCommand)
def undo(
    paths: Annotated[
        list[Path] | None, typer.Argument(metavar="PATH", help="Undo writes to these files or folders.")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Undo the latest `tag --write` run not yet undone.")] = False,
    all_runs: Annotated[bool, typer.Option("--all", help="Undo every write genretag made and has not undone.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Preview: show what would be restored; change nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore the genre even in files changed since genretag wrote them.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Forget journal entries no undo needs (failed, undone); with --older-than, more."),
    ] = False,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", min=0, metavar="DAYS", help="With --prune: also forget writes older than DAYS."),
    ] = None,
    output_format: FormatOption = None,
) -> None:
    """Restore the genre values files had before `genretag tag --write` (exactly, by the same safe write)."""
    from genretag.undo import undo_writes

    if older_than is not None and not prune:
        _fail_usage("--older-than goes with --prune")
    if prune:
        _prune(bool(paths) or last or all_runs or dry_run or force, older_than)
        return
    if sum([bool(paths), last, all_runs]) != 1:
        _fail_usage("say what to undo: --last, --all, or PATH... (one of them)")
    for path in paths or ():
        if not os.path.lexists(path):
            _fail_usage(f"{path}: no such file or folder")
    console = render.stderr_console()
    run = undo_writes(last=last, paths=paths or (), dry_run=dry_run, force=force)
    render.settled_writes(console, run.settled)
    if not run.plans:
        render.stdout_console().print("nothing to undo", markup=False)
        return
    failures = run.failures
    for path, reason in failures:
        render.problem_line(console, "error", path, reason)
    shown = _print_listing(render.undo_listing(run.plans, run.outcomes), output_format)
    output = render.stdout_console() if shown == "table" else console
    restorable = len(run.plans) - len(failures)
    if dry_run:
        render.note(
            output,
            f"preview: {render.plural(restorable, 'file')} to restore, {len(failures)} not; nothing written "
            "(drop --dry-run to restore)",
        )
    else:
        render.note(output, f"{render.plural(restorable, 'file')} restored, {len(failures)} not")
    if failures:
        raise typer.Exit(1)


def _prune(other_options: bool, older_than: float | None) -> None:
    from genretag.undo import prune_journal

    if other_options:
        _fail_usage("--prune takes no PATH, --last, --all, --dry-run or --force")
    pruned = prune_journal(older_than)
    size = pruned.remaining
    render.stdout_console().print(
        f"pruned {_entries(pruned.removed)}; the journal keeps {_entries(size.entries)} ({size.undoable} undoable), "
        f"{render.byte_size(size.kept_bytes)} of original bytes for exact undo",
        markup=False,
    )


def _entries(count: int) -> str:
    return f"{count} journal {'entry' if count == 1 else 'entries'}"


@app.command("store")
def store_command() -> None:
    """Show the store: where it is, its size, its results and the tag journal (prune it with `undo --prune`)."""
    from genretag.store import store_overview

    overview = store_overview()
    journal = overview.journal
    render.stdout_console().print(
        f"store: {overview.path} ({render.byte_size(overview.file_bytes)}, schema {overview.schema_version})\n"
        f"results: {render.plural(overview.results, 'track result')}\n"
        f"tag journal: {_entries(journal.entries)} ({journal.undoable} undoable), "
        f"{render.byte_size(journal.kept_bytes)} of original bytes kept for exact undo",
        markup=False,
        soft_wrap=True,
    )
