"""Everything ``genretag``'s commands show: rich tables, progress bars, problem lines, summaries.

Library code returns data; ``cli.py`` hands it here. Problems, progress and logs go to
stderr (``stderr_console``); tables and summaries to stdout, unless a report is being
written to stdout, when they go to stderr too. rich is imported inside functions so
that ``genretag --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass

from genretag.genres import genre_colour
from genretag.tagrules import none_of_these

ORDINALS = {2: "2nd", 3: "3rd"}
# A best genre under a learnt model's open-set threshold (``tagrules.none_of_these``): in a table or a strip,
# and in words (a summary, a chart, the HTML report).
NONE_OF_THESE = "—"
NONE_OF_THESE_WORDS = "none of these"
_VERBOSITY = [0]  # -1: --quiet, 0: normal, 1: --verbose (set once per command by the CLI)


def set_verbosity(level: int) -> None:
    """-1 (``--quiet``: no progress bars, notes or summaries), 0, or 1 (``--verbose``)."""
    _VERBOSITY[0] = level


def verbosity() -> int:
    """The level ``set_verbosity`` set."""
    return _VERBOSITY[0]


def note(console, text: str) -> None:
    """A note or summary line, printed whole (no markup, never folded) unless ``--quiet``."""
    if verbosity() >= 0:
        # On a terminal rich wraps it between words; into a pipe or a log it stays one line.
        console.print(text, markup=False, soft_wrap=not console.is_terminal)


def stderr_console():
    """The console for problems and progress."""
    from rich.console import Console

    # soft_wrap: a problem report stays one line, however narrow the terminal; emoji=False: a name
    # with ":smile:" in it is shown as it is (user data is never markup either: see ``as_text``)
    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def stdout_console():
    """The console for tables and summaries."""
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def as_text(cell):
    """A table cell as rich ``Text``: a ``str`` (a file name, a genre a file holds) is never read as markup."""
    from rich.text import Text

    return Text(cell) if isinstance(cell, str) else cell


def problem_line(console, kind: str, path: str, reason: str) -> None:
    """One ``error:`` or ``warning:`` line naming the file."""
    from rich.text import Text

    style = "red" if kind == "error" else "yellow"
    console.print(Text.assemble((f"{kind}: ", style), f"{display_path(path)}: {reason}"))


def plural(count: int, word: str) -> str:
    """``1 track``, ``2 tracks``, ``0 tracks``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def byte_size(count: int) -> str:
    """``512 B``, ``1.5 KiB``, ``30.0 MiB``, ``1.1 GiB``."""
    size, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"


def genres_text(values) -> str:
    return "; ".join(values) if values else "—"


def shown_genre(genre: str, probability: float, open_set: float) -> str:
    """A best ``genre`` as a table shows it: itself, or "—" when its ``probability`` is under the model's
    ``open_set`` threshold."""
    return NONE_OF_THESE if none_of_these(probability, open_set) else genre


def best_genre_text(genre: str, probability: float, open_set: float, none: str = NONE_OF_THESE) -> str:
    """``"jazz 0.87"``; under the model's ``open_set`` threshold ``none`` and the best guess,
    ``"— (best guess jazz 0.45)"``."""
    if none_of_these(probability, open_set):
        return f"{none} (best guess {genre} {probability:.2f})"
    return f"{genre} {probability:.2f}"


def clock(seconds: float) -> str:
    """``m:ss``: how a time in a track or its length is shown, here and in the HTML report."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"


def display_path(path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute (every listing, every report)."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def progress_bar(console, label: str, unit: str):
    """A transient bar with a count and elapsed time; ``status`` is a field the caller updates."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit + "{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=verbosity() < 0,
    )


# ---------------------------------------------------------------- listings

FORMATS = ("table", "tsv", "json")


SCHEMA_VERSION = 1  # of every JSON document and TSV listing genretag prints (docs/formats.md: "JSON and TSV")


@dataclass
class Listing:
    """Rows of a listing, printed as a table (a terminal), TSV (a pipe, a file) or JSON.

    ``rows`` hold typed values, one per ``columns`` name (the TSV header and the JSON keys): ``str``,
    ``int``, ``float``, ``bool``, ``None`` (no value) or a list of those. JSON keeps the types; TSV
    writes a number as is, ``None`` as an empty field, a bool as ``true``/``false``, a list joined by
    ``"; "``. A table may show other ``table_columns`` and ``table_rows`` (str or rich ``Text``);
    without them it shows ``rows`` formatted (``None`` as "—", a probability with 2 decimals).
    ``path_column``: in a table its paths are shown relative to their common folder, named above.
    ``kind`` names the listing in the JSON document.
    """

    columns: list[str]
    rows: list[list]
    path_column: int | None = None
    table_columns: list[str] | None = None
    table_rows: list[list] | None = None
    caption: str | None = None
    kind: str = ""


def listing_format(requested: str | None) -> str:
    """The format a listing is printed in: the one asked for, else a table on a terminal, else TSV."""
    if requested:
        return requested
    return "table" if stdout_console().is_terminal else "tsv"


def _plain(cell) -> str:
    text = cell.plain if hasattr(cell, "plain") else str(cell)
    return text.replace("\t", " ").replace("\n", " ")


def _tsv_field(value) -> str:
    """One typed value as a TSV field (see ``Listing``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(_tsv_field(item) for item in value)
    return value.plain if hasattr(value, "plain") else str(value)  # escaped by ``tsv_cell``


def _table_cell(value):
    """One typed value as a table cell: "—" for none, probabilities with 2 decimals."""
    if value is None or (isinstance(value, list | tuple) and not value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return "; ".join(_plain(_table_cell(item)) for item in value)
    return value if hasattr(value, "plain") else str(value)


def _json_value(value):
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value.plain if hasattr(value, "plain") else value


def listing_document(listing: Listing) -> dict:
    """The JSON document of a listing: ``{"schema": 1, "kind": KIND, "rows": [{column: value}, ...]}``."""
    rows = [
        {column: _json_value(value) for column, value in zip(listing.columns, row, strict=True)} for row in listing.rows
    ]
    return {"schema": SCHEMA_VERSION, "kind": listing.kind, "rows": rows}


# A TSV cell's backslash, tab, newline and carriage return, escaped as PostgreSQL's text format and
# the IANA TSV convention do, so a name with a tab or a newline in it is written whole and reversibly.
TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_cell(cell) -> str:
    """A listing cell in TSV: its text, backslash, tab, newline and CR escaped as ``\\\\ \\t \\n \\r``."""
    text = cell.plain if hasattr(cell, "plain") else str(cell)
    return text.translate(TSV_ESCAPES)


def _common_folder(paths: list[str]) -> str | None:
    """The folder all ``paths`` lie in, when it is neither the working directory nor the file system root."""
    if not paths:
        return None
    folders = [os.path.dirname(os.path.abspath(path)) for path in paths]
    try:
        common = os.path.commonpath(folders)
    except ValueError:  # different drives
        return None
    if common in (os.getcwd(), os.path.dirname(common)):
        return None
    return common


def print_listing(console, listing: Listing, fmt: str) -> None:
    """``listing`` on stdout: a table that fits ``console``'s width (nothing cut: long cells fold), TSV or JSON."""
    import json

    if fmt == "json":
        sys.stdout.write(json.dumps(listing_document(listing), indent=2, ensure_ascii=False) + "\n")
        return
    if fmt == "tsv":
        lines = ["\t".join(listing.columns)] + ["\t".join(tsv_cell(_tsv_field(v)) for v in row) for row in listing.rows]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich import box
    from rich.table import Table

    if listing.table_rows is not None:
        rows = [list(row) for row in listing.table_rows]
    else:
        rows = [[_table_cell(value) for value in row] for row in listing.rows]
    title = None
    if listing.path_column is not None:
        root = _common_folder([_plain(row[listing.path_column]) for row in rows])
        if root:
            title = f"under {display_path(root)}{os.sep}"
            for row in rows:
                row[listing.path_column] = os.path.relpath(os.path.abspath(_plain(row[listing.path_column])), root)
    if title:  # one line, never folded, so the folder can be copied whole
        console.print(title, markup=False, soft_wrap=True)
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    # The path column gets room first (up to 45 % of the width): the other columns' words wrap
    # before a file name is broken.
    path_width = None
    headers = listing.table_columns or listing.columns
    if listing.path_column is not None and rows:
        longest = max(len(_plain(row[listing.path_column])) for row in rows)
        # A fixed width, not a minimum: with a minimum rich crops the last column rather than fold it.
        path_width = min(longest, console.width * 45 // 100)
    for index, column in enumerate(headers):
        # fold, never "…": a path or a name is shown whole, over several lines if it must
        table.add_column(as_text(column), overflow="fold", width=path_width if index == listing.path_column else None)
    for row in rows:
        table.add_row(*map(as_text, row))
    console.print(table)
    if listing.caption:  # below, not as the table's caption, which would widen the table to its length
        console.print(listing.caption, style="dim", markup=False)


def print_documents(documents: list[dict]) -> None:
    """Several listings' JSON documents on stdout as one: ``{"schema": 1, "kind": K1, "rows": [...], K2: [...]}``."""
    import json

    merged = dict(documents[0])
    for document in documents[1:]:
        merged[document["kind"]] = document["rows"]
    sys.stdout.write(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")


def file_size(size: int | None) -> str:
    """``12.3 MB``, ``0 B``; "—" for None (nothing there)."""
    if size is None:
        return "—"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""  # unreachable


def paths_listing(paths) -> Listing:
    """``genretag config show``: where the config, the store (with the tag journal), models and caches are."""
    rows = [[place.name, str(place.path), place.size, place.note] for place in paths]
    # The table keeps the path last and whole-width, so it folds (if at all) only at its end.
    table_rows = [
        [place.name + (" + tag journal" if place.name == "store" else ""), file_size(place.size), str(place.path)]
        for place in paths
    ]
    return Listing(
        ["name", "path", "bytes", "note"],
        rows,
        table_columns=["data", "size", "path"],
        table_rows=table_rows,
        kind="paths",
    )


def settings_listing(effective) -> Listing:
    """``genretag config show``: each command's configurable option, its value and where it came from."""
    rows = [[setting.command, f"--{setting.key}", setting.value, setting.source] for setting in effective]
    return Listing(["command", "option", "value", "source"], rows, kind="settings")


# ---------------------------------------------------------------- models


def held_out_figures(card: dict) -> tuple[float | None, float | None, float | None, str | None]:
    """(accuracy, low and high ends of its 95 % interval, what it was measured on) from the card's held-out
    figures: track accuracy on held-out full-length tracks (a shipped card's ``metrics.selection``), else
    its test split, else its validation split; Nones when the card has none."""
    metrics = card.get("metrics", {})
    if "selection" in metrics:
        figures = metrics["selection"]
        low, high = figures["accuracy_95"]
        return figures["accuracy"], low, high, f"{figures['tracks']} held-out tracks"
    for prefix, kind in (("test", "test"), ("valid", "validation")):
        for name, figures in metrics.items():
            if name.startswith(prefix) and "track_accuracy" in figures:
                # How they were held out, as the card says it: "held out by album", "... picked the epoch".
                how = name.partition("(")[2].rstrip(")")
                return (
                    figures["track_accuracy"],
                    None,
                    None,
                    f"{figures['n_tracks']} {kind} tracks" + (f", {how}" if how else ""),
                )
    return None, None, None, None


def held_out_accuracy(card: dict) -> tuple[str, str]:
    """``held_out_figures`` as text: ("0.55 [0.46-0.64]", "107 held-out tracks"); ("", "") when none."""
    accuracy, low, high, measured_on = held_out_figures(card)
    if accuracy is None:
        return "", ""
    interval = f" [{low:.2f}-{high:.2f}]" if low is not None else ""
    return f"{accuracy:.2f}{interval}", measured_on


def scan_speed(card: dict) -> str:
    """The card's measured scan speed, "450×" (× realtime on the benchmark's machine), or ""."""
    speed = card.get("speed", {}).get("x_realtime")
    return f"{speed:,.0f}×" if speed else ""


def model_advice(cards: list[dict]) -> str:
    """One line on which model to choose: the most accurate against the fastest, from the shipped cards."""
    measured = [
        card
        for card in cards
        if card["source"] == "shipped" and "selection" in card.get("metrics", {}) and card.get("speed")
    ]
    if len(measured) < 2:
        return ""
    accurate = max(measured, key=lambda card: card["metrics"]["selection"]["accuracy"])
    fastest = max(measured, key=lambda card: card["speed"]["x_realtime"])
    if accurate is fastest:
        return f"Choose {accurate['name']}: it is both the most accurate and the fastest."
    accuracy = {card["name"]: card["metrics"]["selection"]["accuracy"] for card in (accurate, fastest)}
    ratio = fastest["speed"]["x_realtime"] / accurate["speed"]["x_realtime"]
    return (
        f"Choose {accurate['name']} for the right genre ({accuracy[accurate['name']]:.0%} of held-out tracks); "
        f"{fastest['name']} scans {ratio:.1f}× faster but is right on {accuracy[fastest['name']]:.0%}."
    )


def models_listing(cards: list[dict], default: str) -> Listing:
    """``genretag models``: one row per model card, the default marked, and which to choose."""
    columns = [
        "name",
        "default",
        "architecture",
        "parameters",
        "x_realtime",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "measured_on",
        "source",
    ]
    rows, table_rows = [], []
    for card in cards:
        accuracy, measured_on = held_out_accuracy(card)
        is_default = card["name"] == default and card["source"] == "shipped"
        parameters = card["parameters"]["pytorch"]
        speed = scan_speed(card)
        rows.append(
            [
                card["name"],
                is_default,
                card["architecture"],
                parameters,
                None if card.get("speed") is None else float(card["speed"]["x_realtime"]),
                *held_out_figures(card),
                card["source"],
            ]
        )
        shown = f"{accuracy}, {measured_on}" if accuracy else "—"
        name = card["name"] + (" *" if is_default else "")
        table_rows.append([name, f"{parameters:,}", speed or "—", shown, card["source"]])
    advice = model_advice(cards)
    return Listing(
        columns,
        rows,
        table_columns=["name", "parameters", "× realtime", "accuracy, measured on", "source"],
        table_rows=table_rows,
        caption="* the default model. Accuracy: shipped models on held-out full tracks a fit never heard, "
        "with its 95 % interval; your models on their validation tracks, held out as it says "
        "(—: none in the card); × realtime: a scan on 2 cores (benchmarks/). "
        + (advice + " " if advice else "")
        + "All of a card: genretag models NAME",
        kind="models",
    )


def print_card(card: dict) -> None:
    """A whole model card, as the JSON it is stored as."""
    import json

    sys.stdout.write(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- scan, export, timeline


def scan_progress(console):
    """The scan's bar: tracks done, hours of audio, ETA; nothing when not on a terminal."""
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
        disable=not console.is_terminal or verbosity() < 0,
    )


class ScanBar:
    """The scan's bar for a command that analyses inside one library call (``tag``): ``update`` is the
    ``progress(event, total)`` callback of ``scan.results_for``. Problems are the command's to report, after."""

    def __init__(self, console):
        self.console = console
        self.progress = None
        self.task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, event, total: int) -> None:
        """One more file's result (from the store or analysed)."""
        if self.progress is None:
            self.progress = scan_progress(self.console)
            self.progress.start()
            self.task = self.progress.add_task("scan", total=total, hours=0.0)
        hours = self.progress.tasks[0].fields["hours"] + event.result.duration_s / 3600
        self.progress.update(self.task, advance=1, hours=hours)


def results_listing(results, top_k: int, open_set: float = 0.0) -> Listing:
    """``scan``: one row per track, its genre and confidence, then the runners-up. A best genre under the
    model's ``open_set`` threshold is "none of these": "—" in the table, ``none_of_these`` true in JSON/TSV."""
    ranks = range(2, top_k + 1)
    columns = ["path", "genre", "confidence"]
    for rank in ranks:
        columns += [f"genre_{rank}", f"confidence_{rank}"]
    columns += ["none_of_these", "error", "warning"]
    table_columns = ["path", "genre", "confidence", *[ORDINALS.get(rank, f"{rank}th") for rank in ranks]]
    rows, table_rows = [], []
    for result in results:
        path = display_path(result.path)
        ranked = result.top_k(top_k)
        ranked += [(None, None)] * (top_k - len(ranked))
        row = [path]
        for genre, probability in ranked:
            row += [genre, None if probability is None else round(probability, 4)]
        unanswered = none_of_these(ranked[0][1], open_set) if result.ok else None
        rows.append([*row, unanswered, result.error, result.warning])
        if result.ok:
            others = [f"{genre} {p:.2f}" if genre else "—" for genre, p in ranked[1:]]
            table_rows.append([path, shown_genre(*ranked[0], open_set), f"{ranked[0][1]:.2f}", *others])
        else:
            table_rows.append([path, "failed", *[""] * (top_k)])
    return Listing(columns, rows, path_column=0, table_columns=table_columns, table_rows=table_rows, kind="scan")


def summary_lines(summary) -> list[str]:
    """A ``report.ScanSummary`` in three lines."""
    counts = ", ".join(f"{genre} {count}" for genre, count in summary.genre_counts.items()) or "none"
    speed = f", {summary.realtime_factor:.0f} × realtime" if summary.realtime_factor else ""
    return [
        f"{plural(summary.tracks, 'track')}: {summary.tracks - summary.failures} classified, "
        f"{summary.failures} failed, {summary.warnings} with warnings; "
        f"{summary.analysed} analysed, {summary.from_store} from the store",
        f"genres: {counts}",
        f"time {summary.wall_s:.1f} s, {summary.analysed_audio_s / 60:.1f} min of audio analysed{speed}",
    ]


def genre_letters(genres) -> dict[str, str]:
    """One distinct letter per genre, for a strip without colour: the genre's first letter that is free, in
    capitals, else a digit."""
    letters: dict[str, str] = {}
    for genre in genres:
        choices = [c.upper() for c in genre if c.isalpha()] + list("123456789")
        letters[genre] = next((c for c in choices if c not in letters.values()), "?")
    return letters


def timeline_strip(result, width: int, colour: bool, open_set: float = 0.0):
    """A track's overview strip that fits ``width`` characters, and its legend (rich ``Text`` both).

    Two blocks per segment when they fit, else one, else one character for several segments (their most
    frequent genre). In colour each genre is its colour; without colour (a pipe, NO_COLOR) each genre
    is its letter (``genre_letters``), so the strip still tells genres apart. A segment under the model's
    ``open_set`` threshold is "none of these", "—" in both.
    """
    from rich.text import Text

    shown = [shown_genre(segment.genre, segment.confidence, open_set) for segment in result.segments]
    letters = genre_letters(result.genres)
    per_char = max(1, -(-len(shown) // max(width, 1)))  # ceil
    cells = [shown[start : start + per_char] for start in range(0, len(shown), per_char)]
    genres_shown = [Counter(cell).most_common(1)[0][0] for cell in cells]
    repeat = 2 if per_char == 1 and 2 * len(cells) <= width else 1

    def mark(genre: str) -> tuple[str, str | None]:
        if genre == NONE_OF_THESE:
            return NONE_OF_THESE, None
        return ("█", genre_colour(genre, result.genres)) if colour else (letters[genre], None)

    strip, legend = Text(), Text()
    for genre in genres_shown:
        character, style = mark(genre)
        strip.append(character * repeat, style=style)
    for index, genre in enumerate(dict.fromkeys(genres_shown)):
        legend.append("  " if index else "")
        legend.append(*mark(genre))
        legend.append(f" {NONE_OF_THESE_WORDS if genre == NONE_OF_THESE else genre}")
    if per_char > 1:
        legend.append(f"  (one character: {per_char} segments)")
    return strip, legend


def timeline_text(result, width: int = 80, colour: bool = True, open_set: float = 0.0):
    """A track's overview strip (``timeline_strip``: strip and legend) and its table, segment by segment;
    a segment under the model's ``open_set`` threshold is "—" with its best guess."""
    from rich.table import Table
    from rich.text import Text

    strip, legend = timeline_strip(result, width, colour, open_set)
    overview = Text("\n").join([strip, legend])
    table = Table("time", "", "genre", "runner-up", box=None, pad_edge=False)
    width = 20
    for segment in result.segments:
        shown = shown_genre(segment.genre, segment.confidence, open_set)
        colour = "dim" if shown == NONE_OF_THESE else genre_colour(shown, result.genres)
        filled = round(segment.confidence * width)
        bar = Text("█" * filled, style=colour) + Text("░" * (width - filled), style="dim")
        runner_up = sorted(segment.probabilities.items(), key=lambda item: -item[1])[1]
        table.add_row(
            f"{clock(segment.start_s)}–{clock(segment.end_s)}",
            bar,
            Text(best_genre_text(segment.genre, segment.confidence, open_set), style=colour),
            Text(f"{runner_up[0]} {runner_up[1]:.2f}"),
        )
    return overview, table


# ---------------------------------------------------------------- learn


def library_report(console, library, choice, min_tracks: int) -> None:
    """What ``learn`` found in the library: counts, the genres kept, those dropped."""
    from rich.table import Table

    for path, reason in library.unreadable:
        problem_line(console, "error", str(path), reason)
    total = len(library.tracks) + len(library.untagged) + len(library.unreadable)
    console.print(
        f"{total} audio files: {len(library.tracks)} with a genre tag, {len(library.untagged)} without "
        f"(not used), {len(library.unreadable)} unreadable",
        markup=False,
    )
    table = Table("genre", "tracks", "spellings merged", title="genres learnt")
    for genre in choice.genres:
        table.add_row(as_text(genre), str(choice.counts[genre]), as_text(", ".join(choice.spellings.get(genre, []))))
    console.print(table)
    if choice.dropped:
        dropped = ", ".join(
            f"{genre} ({n.tracks})" if n.tracks == n.first else f"{genre} ({n.tracks}, {n.first} as first genre)"
            for genre, n in choice.dropped.items()
        )
        console.print(f"dropped, fewer than {min_tracks} tracks (--min-tracks): {dropped}", markup=False)
    if choice.unlabelled:
        console.print(f"{len(choice.unlabelled)} tagged tracks not used: all their genres were dropped", markup=False)


def confusion_table(evaluation):
    """Validation tracks: true genre by predicted genre, with each genre's accuracy."""
    from rich.table import Table

    table = Table(title="validation tracks")
    for header in ("true \\ predicted", *evaluation.genres, "accuracy"):
        table.add_column(as_text(header))  # a genre of the user's library is never markup
    for genre, row in zip(evaluation.genres, evaluation.confusion, strict=True):
        total = int(row.sum())
        right = int(row[evaluation.genres.index(genre)])
        table.add_row(as_text(genre), *map(str, row), f"{right / total:.2f}" if total else "-")
    return table


class LearnDisplay:
    """``learn.LearnEvents`` on a console: a decoding bar, a training bar, one line per finished epoch."""

    def __init__(self, console, min_tracks: int):
        self.console = console
        self.min_tracks = min_tracks
        self.progress = None
        self.task = None
        self.best = float("inf")

    def events(self):
        """The callbacks ``learn.learn_model`` takes."""
        from genretag.learn import LearnEvents

        return LearnEvents(
            library_read=lambda library, choice: library_report(self.console, library, choice, self.min_tracks),
            decoding=self._decoding,
            decoded=self._decoded,
            split_made=self._split_made,
            fitting=self._fitting,
            fit_progress=self._fit_progress,
        )

    def close(self) -> None:
        """Take down whichever bar is showing."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _start(self, label: str, unit: str, total) -> None:
        self.close()
        self.progress = progress_bar(self.console, label, unit)
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, status="")

    def _decoding(self, total: int) -> None:
        self._start("decoding", "tracks", total)

    def _decoded(self, path, error) -> None:
        if error:
            problem_line(self.progress.console, "error", str(path), error)
        self.progress.advance(self.task)

    def _split_made(self, split, train_segments: int, valid_segments: int) -> None:
        self.close()
        self.console.print(
            f"split by {split.unit}: {len(split.train)} tracks ({train_segments} segments) to train, "
            f"{len(split.valid)} ({valid_segments} segments) to validate",
            markup=False,
        )

    def _fitting(self, base: str, threads: int) -> None:
        self.console.print(f"training a genre model on {base}'s features, {threads} threads", markup=False)
        self._start("training", "steps", None)

    def _fit_progress(self, update) -> None:
        if not update.epoch_done:
            status = f"  epoch {update.epoch}/{update.epochs}  loss {update.train_loss:.3f}"
            self.progress.update(self.task, total=update.steps, completed=update.step, status=status)
            return
        marker = "  (best so far)" if update.valid_log_loss < self.best else ""
        self.best = min(self.best, update.valid_log_loss)
        self.progress.console.print(
            f"epoch {update.epoch}/{update.epochs}: loss {update.train_loss:.3f}, "
            f"train accuracy {update.train_accuracy:.2f}; validation loss {update.valid_log_loss:.3f}, "
            f"accuracy {update.valid_accuracy:.2f}{marker}, {update.epoch_seconds:.1f} s",
            markup=False,
        )


def learned_lines(learned, epochs: int) -> list[str]:
    """The end of ``learn``: validation accuracy, the epoch kept, where the model went."""
    evaluation = learned.evaluation
    accuracy = (
        f"validation accuracy {evaluation.track_accuracy:.2f} on {evaluation.n_tracks} tracks held out by "
        f"{learned.split.unit} (chance {1 / len(learned.choice.genres):.2f})"
    )
    if learned.history is None:  # a head fitted on embeddings: no epochs to report
        done = "; a new head on the base model's embeddings"
    else:
        epochs_run = len(learned.history.train_loss)
        done = f"; kept epoch {learned.history.best_epoch}"
        if learned.history.stopped_early:
            patience = learned.recipe.settings.patience
            done += f"; stopped after epoch {epochs_run} of {epochs}: no improvement in {patience} epochs"
    return [
        accuracy + done,
        f"model {learned.name!r} saved to {learned.card_path.with_suffix('.pt')}",
        f"use it with: genretag scan PATH --model {learned.name}",
    ]


# ---------------------------------------------------------------- tag, undo


def settled_writes(console, settled) -> None:
    """One warning per write an interrupted run left, saying how it was settled."""
    for entry in settled:
        if entry.state == "done":
            problem_line(console, "warning", entry.path, "an interrupted run had written it; journal completed")
        else:
            problem_line(console, "warning", entry.path, "an interrupted run did not write it; left as it was")


def _proposed_text(plan):
    """The model's top-k genres with their probabilities, whatever the policy and threshold: those that pass
    --min-confidence plain, the others dim."""
    from rich.text import Text

    passing = {name for name, _ in plan.proposed}
    text = Text()
    for index, (name, probability) in enumerate(plan.candidates):
        text.append("; " if index else "")
        text.append(f"{name} {probability:.2f}", style=None if name in passing else "dim")
    return text if plan.candidates else "—"


def tag_listing(plans, outcomes) -> Listing:
    """One row per file: its genre now, the proposal, what was (or would be) done."""
    from rich.text import Text

    from genretag.tags import Action

    rows, table_rows = [], []
    for plan in plans:
        outcome = outcomes.get(plan.path)
        verb, _, why = plan.action.value.partition(": ")
        reason = why or plan.reason or None
        if outcome is not None:
            verb, reason = ("written", None) if outcome.written else ("error", outcome.reason)
        if outcome is not None:
            action = Text("written", style="green") if outcome.written else Text("error", style="red")
        elif plan.action is Action.ERROR:
            action = Text("error", style="red")
        else:
            action = Text(plan.action.value, style="bold" if plan.action is Action.WRITE else "dim")
        path = display_path(plan.path)
        rows.append(
            [
                path,
                list(plan.current),
                [name for name, _ in plan.candidates],
                [round(probability, 4) for _, probability in plan.candidates],
                list(plan.new_values),
                verb,
                reason,
            ]
        )
        table_rows.append([path, genres_text(plan.current), _proposed_text(plan), action])
    return Listing(
        ["path", "current_genres", "proposed_genres", "proposed_probabilities", "new_genres", "action", "reason"],
        rows,
        path_column=0,
        table_columns=["file", "genre now", "proposed", "action"],
        table_rows=table_rows,
        kind="tag",
    )


def tag_summary(run, write: bool) -> str:
    """The last line of ``tag``: files written (or to write), skipped by reason, errors, how to undo."""
    plans, outcomes, errors = run.plans, run.outcomes, len(run.errors)
    skips = Counter(plan.action.value.removeprefix("skip: ") for plan in plans if plan.action.value.startswith("skip"))
    skipped = (
        f"{sum(skips.values())} skipped ({', '.join(f'{why} {n}' for why, n in skips.items())})"
        if skips
        else "none skipped"
    )
    if not write:
        to_write = sum(plan.action.value == "write" for plan in plans)
        return (
            f"preview: {plural(to_write, 'file')} to write, {skipped}, {plural(errors, 'error')}; "
            "nothing written (add --write to write)"
        )
    written = sum(o.written for o in outcomes.values())
    line = f"{plural(written, 'file')} written, {skipped}, {plural(errors, 'error')}"
    if any(outcome.written for outcome in outcomes.values()):
        line += f"; run {run.run_id}: undo with `genretag undo --last`"
    return line


def undo_listing(plans, outcomes) -> Listing:
    """One row per file: the genre now, what it is restored to, and what happened."""
    from rich.text import Text

    rows, table_rows = [], []
    for plan in plans:
        outcome = outcomes.get(plan.path)
        error = None
        if outcome is not None and outcome.written:
            verb, action = "restored", Text("restored", style="green")
        elif outcome is not None or plan.problem:
            error = outcome.reason if outcome else plan.problem
            verb, action = "error", Text(f"error: {error}", style="red")
        else:
            verb, action = "restore", Text("restore", style="bold")
        path = display_path(plan.path)
        rows.append([path, list(plan.written), list(plan.restore), verb, error])
        table_rows.append([path, genres_text(plan.written), genres_text(plan.restore), action])
    return Listing(
        ["path", "genres_now", "restored_genres", "action", "error"],
        rows,
        path_column=0,
        table_columns=["file", "genre now", "restored to", "action"],
        table_rows=table_rows,
        kind="undo",
    )
