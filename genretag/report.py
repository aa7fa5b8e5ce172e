"""Reports from track results: summary, CSV and JSON (pandas), genre-timeline plot.

Report schemas (fixed; probabilities and confidences are rounded to 4 decimals):

* tracks CSV, one row per track: ``path, genre, confidence, genre_2, confidence_2,
  duration_s, n_segments, model, error`` (genre fields empty for a failed track,
  ``error`` empty for a good one);
* segments CSV, one row per segment: ``path, segment, start_s, end_s, genre,
  confidence``, then one probability column per genre of the model;
* JSON: an array of track objects ``{path, genre, confidence, probabilities
  {genre: p}, duration_s, model, error, segments: [{start_s, end_s, genre,
  probabilities}]}``.

``path`` is relative to the working directory for files below it, absolute otherwise.

CSV cells are safe to open in a spreadsheet: a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (a file named ``=cmd|' /C calc'!A0.ogg``) gets a leading
``'``, as OWASP advises, so it is shown as text and never run as a formula. JSON is written as it is.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from genretag.genres import genre_colour
from genretag.render import clock, display_path
from genretag.results import TrackResult

TRACK_COLUMNS = ("path", "genre", "confidence", "genre_2", "confidence_2", "duration_s", "n_segments", "model", "error")
SEGMENT_COLUMNS = ("path", "segment", "start_s", "end_s", "genre", "confidence")
DECIMALS = 4
# What a spreadsheet reads as the start of a formula (tab and CR: some also strip them first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def tracks_frame(results: Iterable[TrackResult]):
    """The tracks report as a pandas DataFrame with ``TRACK_COLUMNS``."""
    import pandas

    rows = []
    for result in results:
        ranked = result.top_k(2) + [(None, None)] * 2
        rows.append(
            {
                "path": display_path(result.path),
                "genre": ranked[0][0],
                "confidence": _rounded(ranked[0][1]),
                "genre_2": ranked[1][0],
                "confidence_2": _rounded(ranked[1][1]),
                "duration_s": round(float(result.duration_s), 2),
                "n_segments": len(result.segment_bounds),
                "model": result.model,
                "error": result.error,
            }
        )
    return pandas.DataFrame(rows, columns=list(TRACK_COLUMNS))


def _genre_columns(results: Sequence[TrackResult]) -> list[str]:
    columns: list[str] = []
    for result in results:
        columns.extend(genre for genre in result.genres if genre not in columns)
    return columns


def _rounded_rows(probabilities: np.ndarray) -> np.ndarray:
    # Through float64: a float32 rounded to 4 decimals prints as 0.12349999...
    return np.round(np.asarray(probabilities, dtype=np.float64), DECIMALS)


def segments_frame(results: Iterable[TrackResult]):
    """The segments report as a pandas DataFrame: ``SEGMENT_COLUMNS`` then one column per genre."""
    import pandas

    results = [result for result in results if result.segment_bounds]
    genres = _genre_columns(results)
    columns = [*SEGMENT_COLUMNS, *genres]
    if not results:
        return pandas.DataFrame(columns=columns)
    # Built column-wise with numpy: a library has hundreds of thousands of segments.
    paths, indexes, bounds, best, matrices = [], [], [], [], []
    for result in results:
        count = len(result.segment_bounds)
        matrix = np.full((count, len(genres)), np.nan)
        matrix[:, [genres.index(genre) for genre in result.genres]] = result.segment_probabilities
        paths.extend([display_path(result.path)] * count)
        indexes.append(np.arange(count))
        bounds.append(np.asarray(result.segment_bounds, dtype=np.float64))
        best.append(np.asarray(result.genres)[result.segment_probabilities.argmax(axis=1)])
        matrices.append(matrix)
    probabilities = _rounded_rows(np.concatenate(matrices))
    spans = np.round(np.concatenate(bounds), 2)
    frame = {
        "path": paths,
        "segment": np.concatenate(indexes),
        "start_s": spans[:, 0],
        "end_s": spans[:, 1],
        "genre": np.concatenate(best),
        "confidence": np.nanmax(probabilities, axis=1),
    }
    frame.update({genre: probabilities[:, column] for column, genre in enumerate(genres)})
    return pandas.DataFrame(frame, columns=columns)


def _segment_records(result: TrackResult) -> list[dict]:
    if not result.segment_bounds:
        return []
    rows = _rounded_rows(result.segment_probabilities).tolist()
    best = result.segment_probabilities.argmax(axis=1).tolist()
    return [
        {
            "start_s": round(start, 2),
            "end_s": round(end, 2),
            "genre": result.genres[index],
            "probabilities": dict(zip(result.genres, row, strict=True)),
        }
        for (start, end), row, index in zip(result.segment_bounds, rows, best, strict=True)
    ]


def track_records(results: Iterable[TrackResult]) -> list[dict]:
    """The JSON report: one object per track, with its segment timeline."""
    records = []
    for result in results:
        probabilities = _rounded_rows(result.probabilities).tolist() if result.ok else []
        records.append(
            {
                "path": display_path(result.path),
                "genre": result.genre,
                "confidence": _rounded(result.confidence),
                "probabilities": dict(zip(result.genres, probabilities, strict=False)),
                "duration_s": round(float(result.duration_s), 2),
                "model": result.model,
                "error": result.error,
                "segments": _segment_records(result),
            }
        )
    return records


def _prepared(destination: str | Path | TextIO) -> Path | TextIO:
    if isinstance(destination, (str, Path)):
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: a text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(frame, destination: str | Path | TextIO) -> None:
    """Write a report DataFrame as CSV to a file path (folders created) or an open text stream.

    Text cells are made spreadsheet-safe (``spreadsheet_safe``); numbers are written as they are.
    """
    import pandas

    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pandas.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(spreadsheet_safe)
    frame.to_csv(_prepared(destination), index=False)


def write_reports(results, csv: str | None, segments_csv: str | None, json_path: str | None) -> None:
    """The requested tracks CSV, segments CSV and JSON report, each to its file or ('-') stdout; raises ``OSError``."""

    def target(value: str):
        return sys.stdout if value == "-" else value

    if csv:
        write_csv(tracks_frame(results), target(csv))
    if segments_csv:
        write_csv(segments_frame(results), target(segments_csv))
    if json_path:
        write_json(track_records(results), target(json_path))


def write_json(records: list[dict], destination: str | Path | TextIO) -> None:
    """Write the JSON report, one track object per line, to a file path (folders created) or a text stream."""
    # One track per line: readable, and written by json's C encoder (indenting is pure Python, slow).
    text = "[\n" + ",\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n]\n"
    destination = _prepared(destination)
    if isinstance(destination, Path):
        destination.write_text(text, encoding="utf-8")
    else:
        destination.write(text)


@dataclass
class ScanSummary:
    """Totals of a scan: genre counts, failures, audio analysed and speed."""

    tracks: int
    genre_counts: dict[str, int]
    failures: int
    warnings: int
    from_store: int
    analysed: int
    analysed_audio_s: float
    wall_s: float

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio analysed per second of wall time (None when nothing was analysed)."""
        if self.analysed == 0 or self.wall_s <= 0:
            return None
        return self.analysed_audio_s / self.wall_s


def summarise(results: Sequence[TrackResult], analysed_paths: set[str], wall_s: float) -> ScanSummary:
    """Summary of a scan's results; ``analysed_paths`` are those not taken from the store."""
    counts = Counter(result.genre for result in results if result.ok)
    analysed = [result for result in results if result.path in analysed_paths]
    return ScanSummary(
        tracks=len(results),
        genre_counts=dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        failures=sum(not result.ok for result in results),
        warnings=sum(bool(result.warning) for result in results if result.ok),
        from_store=len(results) - len(analysed),
        analysed=len(analysed),
        analysed_audio_s=sum(result.duration_s for result in analysed),
        wall_s=wall_s,
    )


def plot_timeline(result: TrackResult, destination: str | Path) -> None:
    """Save a PNG of the track's segment probabilities stacked over time."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    segments = result.segments
    # Each segment's probabilities hold from its start to the next segment's start
    # (the last one to its end), so overlapping tail segments do not double-count time.
    edges = [segment.start_s for segment in segments] + [segments[-1].end_s]
    figure, axes = pyplot.subplots(figsize=(10, 3.6), dpi=100)
    bottom = [0.0] * len(segments)
    for genre in result.genres:
        heights = [segment.probabilities[genre] for segment in segments]
        for index, height in enumerate(heights):
            axes.fill_between(
                [edges[index], edges[index + 1]],
                bottom[index],
                bottom[index] + height,
                color=genre_colour(genre, result.genres),
                linewidth=0,
                label=genre if index == 0 else None,
            )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(0, 1)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("probability")
    axes.set_title(f"{Path(result.path).name} — {result.genre} {result.confidence:.2f} ({result.model})")
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    figure.tight_layout()
    figure.savefig(destination, format="png")
    pyplot.close(figure)


# ---------------------------------------------------------------- the HTML library report

HTML_TIMELINE_WIDTH = 360  # px of the widest track's timeline; shorter tracks are shorter bars
HTML_TIMELINE_HEIGHT = 14


def _svg_timeline(result: TrackResult, longest_s: float) -> str:
    """One track's segments as coloured blocks on a time axis (inline SVG), each with a tooltip."""
    from html import escape

    scale = HTML_TIMELINE_WIDTH / max(longest_s, 1.0)
    width = max(1, round(result.duration_s * scale))
    blocks = []
    segments = result.segments
    for position, segment in enumerate(segments):
        # Each block runs to the next segment's start, so an overlapping last segment is not drawn twice.
        end = segments[position + 1].start_s if position + 1 < len(segments) else segment.end_s
        x, w = segment.start_s * scale, max((end - segment.start_s) * scale, 0.5)
        tip = f"{clock(segment.start_s)}–{clock(segment.end_s)} {segment.genre} {segment.confidence:.2f}"
        blocks.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{HTML_TIMELINE_HEIGHT}" '
            f'fill="{genre_colour(segment.genre, result.genres)}"><title>{escape(tip)}</title></rect>'
        )
    return (
        f'<svg class="timeline" width="{width}" height="{HTML_TIMELINE_HEIGHT}" '
        f'viewBox="0 0 {width} {HTML_TIMELINE_HEIGHT}" role="img" aria-label="genre timeline">'
        + "".join(blocks)
        + "</svg>"
    )


def _svg_distribution(results: Sequence[TrackResult]) -> str:
    """Tracks per genre as horizontal bars (inline SVG)."""
    from html import escape

    counts = Counter(result.genre for result in results if result.ok)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        return "<p>No track was classified.</p>"
    genres = next(result.genres for result in results if result.ok)
    bar_height, gap, label_width, bar_width = 18, 6, 110, 420
    most = ranked[0][1]
    rows = []
    for index, (genre, count) in enumerate(ranked):
        y = index * (bar_height + gap)
        width = max(1, round(bar_width * count / most))
        rows.append(
            f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end">{escape(genre)}</text>'
            f'<rect class="bar" data-genre="{escape(genre)}" x="{label_width}" y="{y}" width="{width}" '
            f'height="{bar_height}" fill="{genre_colour(genre, genres)}"><title>{escape(genre)}: {count}</title></rect>'
            f'<text x="{label_width + width + 6}" y="{y + 13}">{count}</text>'
        )
    height = len(ranked) * (bar_height + gap)
    return (
        f'<svg id="distribution" width="{label_width + bar_width + 60}" height="{height}" role="img" '
        f'aria-label="tracks per genre">' + "".join(rows) + "</svg>"
    )


_HTML_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
#distribution text { font-size: 12px; }
table { border-collapse: collapse; }
th, td { padding: 3px 8px; text-align: left; vertical-align: middle; border-bottom: 1px solid #ddd; }
th { cursor: pointer; user-select: none; background: #f4f4f4; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td { white-space: nowrap; } td.number { text-align: right; }
td.path { white-space: normal; overflow-wrap: anywhere; min-width: 16em; max-width: 36em; }
tr.failed td { color: #a00; } #filter { margin: .5em 0; padding: 3px; width: 24em; }
"""

# Errors are collected on <body data-errors>, and data-ready says the script ran to its end: a test can read both.
_HTML_ERRORS_SCRIPT = """
window.addEventListener("error", function (event) {
  var body = document.body || document.documentElement;
  body.setAttribute("data-errors", (body.getAttribute("data-errors") || "") + event.message + "\\n");
});
"""

_HTML_SCRIPT = """
(function () {
  var table = document.getElementById("tracks");
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("filter");
  var count = document.getElementById("shown");
  function key(row, column) {
    var cell = row.cells[column];
    var value = cell.getAttribute("data-value");
    return value === null ? cell.textContent.toLowerCase() : parseFloat(value);
  }
  function sortBy(column, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, column), y = key(b, column);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (header, index) {
      if (index === column) { header.setAttribute("aria-sort", descending ? "descending" : "ascending"); }
      else { header.removeAttribute("aria-sort"); }
    });
  }
  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var text = row.textContent.toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown;
  }
  headers.forEach(function (header, index) {
    header.addEventListener("click", function () {
      sortBy(index, header.getAttribute("aria-sort") === "ascending");
    });
  });
  filter.addEventListener("input", applyFilter);
  // The address may carry a view: #sort=COLUMN&desc=1&filter=WORDS
  var state = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var pair = part.split("=");
    if (pair[0]) { state[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1] || ""); }
  });
  if (state.sort) {
    var column = headers.map(function (h) { return h.getAttribute("data-key"); }).indexOf(state.sort);
    if (column >= 0) { sortBy(column, state.desc === "1"); }
  }
  if (state.filter) { filter.value = state.filter; }
  applyFilter();
  document.body.setAttribute("data-ready", "yes");
})();
"""


def html_report(results: Sequence[TrackResult], title: str) -> str:
    """A self-contained HTML page (no network access): the genre distribution, a sortable and filterable
    table of tracks (path, genre, confidence, runner-up, duration, status) and every track's timeline."""
    from html import escape

    longest = max((result.duration_s for result in results), default=0.0)
    rows = []
    for result in results:
        ranked = result.top_k(2) if result.ok else []
        genre, confidence = ranked[0] if ranked else ("", None)
        runner_up = f"{ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
        status = (
            f"failed: {result.error}" if not result.ok else (f"warning: {result.warning}" if result.warning else "ok")
        )
        timeline = _svg_timeline(result, longest) if result.ok and result.segment_bounds else ""
        rows.append(
            f'<tr class="{"ok" if result.ok else "failed"}">'
            f'<td class="path">{escape(display_path(result.path))}</td>'
            f"<td>{escape(genre)}</td>"
            f'<td class="number" data-value="{confidence if confidence is not None else -1:.4f}">'
            f"{'' if confidence is None else f'{confidence:.2f}'}</td>"
            f"<td>{escape(runner_up)}</td>"
            f'<td class="number" data-value="{result.duration_s:.2f}">{clock(result.duration_s)}</td>'
            f"<td>{escape(status)}</td>"
            f"<td>{timeline}</td></tr>"
        )
    classified = sum(result.ok for result in results)
    models = ", ".join(sorted({result.model for result in results})) or "—"
    headers = [
        ("path", "path"),
        ("genre", "genre"),
        ("confidence", "confidence"),
        ("runner-up", "runner-up"),
        ("duration", "duration"),
        ("status", "status"),
        ("timeline", "timeline (hover a block: time, genre, confidence)"),
    ]
    head = "".join(f'<th data-key="{key}" scope="col">{escape(text)}</th>' for key, text in headers)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_HTML_STYLE}</style>
<script>{_HTML_ERRORS_SCRIPT}</script>
</head>
<body>
<h1>{escape(title)}</h1>
<p>{len(results)} tracks, {classified} classified, {len(results) - classified} failed; model {escape(models)}.</p>
<h2>Genres</h2>
{_svg_distribution(results)}
<h2>Tracks</h2>
<label>Filter: <input id="filter" type="search" placeholder="words in any column"></label>
<span><span id="shown">{len(results)}</span> shown; click a column heading to sort.</span>
<table id="tracks">
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<script>{_HTML_SCRIPT}</script>
</body>
</html>
"""


@dataclass
class HtmlReport:
    """What ``write_html_report`` did: the results shown, the walk's problems, the model and why."""

    results: list[TrackResult]
    problems: list[tuple[Path, str]]
    model: object  # results.ModelChoice


def write_html_report(
    paths: Sequence[str | Path], model: str | None, destination: str | Path, jobs: int = -1, progress=None
) -> HtmlReport:
    """``genretag report --html``: every audio file's result under ``paths`` (stored, or analysed now, calling
    ``progress`` as ``scan.results_for`` does) written as one self-contained HTML file.

    Raises ``WeightsError``, ``library.LibraryPathError``, ``scan.NothingFound`` or ``OSError``.
    """
    from genretag.scan import ScanOptions, choose_model, results_for

    choice = choose_model(paths, model)
    results, problems = results_for(paths, choice.name, ScanOptions(jobs, with_segments=True), progress)
    title = "genretag: " + ", ".join(display_path(path) for path in paths)
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(html_report(results, title), encoding="utf-8")
    return HtmlReport(results, problems, choice)
