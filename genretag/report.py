"""Reports from track results: summary, CSV and JSON (pandas), genre-timeline plot.

Report schemas (fixed; probabilities and confidences are rounded to 4 decimals):

* tracks CSV, one row per track: ``path, genre, confidence, genre_2, confidence_2,
  duration_s, n_segments, model, error, none_of_these`` (genre fields empty for a failed
  track, ``error`` empty for a good one);
* segments CSV, one row per segment: ``path, segment, start_s, end_s, genre,
  confidence, none_of_these``, then one probability column per genre of the model;
* JSON: ``{"schema": 1, "kind": "tracks", "tracks": [...]}``, one track object per
  line: ``{path, genre, confidence, probabilities {genre: p}, duration_s, model,
  error, none_of_these, segments: [{start_s, end_s, genre, probabilities,
  none_of_these}]}`` (``null`` for none).

``genre`` is the model's best genre; ``none_of_these`` says it is under a learnt model's
open-set threshold (``tagrules.none_of_these``): no answer, shown as "—" by ``scan``.

``path`` is relative to the working directory for files below it, absolute otherwise.

CSV cells are safe to open in a spreadsheet: a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (a file named ``=cmd|' /C calc'!A0.ogg``) gets a leading
``'``, as OWASP advises, so it is shown as text and never run as a formula. JSON is written as it is.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from genretag.genres import genre_colour
from genretag.render import NONE_OF_THESE_WORDS, best_genre_text, clock, display_path
from genretag.results import TrackResult
from genretag.tagrules import none_of_these

TRACK_COLUMNS = (
    "path", "genre", "confidence", "genre_2", "confidence_2", "duration_s", "n_segments", "model", "error",
    "none_of_these",
)  # fmt: skip
SEGMENT_COLUMNS = ("path", "segment", "start_s", "end_s", "genre", "confidence", "none_of_these")
DECIMALS = 4
# What a spreadsheet reads as the start of a formula (tab and CR: some also strip them first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def _answer(result: TrackResult, open_set: float) -> str:
    """A good track's genre as it is counted: its best genre, or "none of these" under ``open_set``."""
    return NONE_OF_THESE_WORDS if none_of_these(result.confidence, open_set) else result.genre


def _segments_unanswered(result: TrackResult, open_set: float) -> np.ndarray:
    """Per segment, whether its best genre is "none of these" (under the model's ``open_set`` threshold)."""
    return none_of_these(result.segment_probabilities.max(axis=1), open_set)


def tracks_frame(results: Iterable[TrackResult], open_set: float = 0.0):
    """The tracks report as a pandas DataFrame with ``TRACK_COLUMNS``; ``open_set``: the model's threshold."""
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
                "none_of_these": none_of_these(ranked[0][1], open_set) if result.ok else None,
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


def segments_frame(results: Iterable[TrackResult], open_set: float = 0.0):
    """The segments report as a pandas DataFrame: ``SEGMENT_COLUMNS`` then one column per genre."""
    import pandas

    results = [result for result in results if result.segment_bounds]
    genres = _genre_columns(results)
    columns = [*SEGMENT_COLUMNS, *genres]
    if not results:
        return pandas.DataFrame(columns=columns)
    # Built column-wise with numpy: a library has hundreds of thousands of segments.
    paths, indexes, bounds, best, unanswered, matrices = [], [], [], [], [], []
    for result in results:
        count = len(result.segment_bounds)
        matrix = np.full((count, len(genres)), np.nan)
        matrix[:, [genres.index(genre) for genre in result.genres]] = result.segment_probabilities
        paths.extend([display_path(result.path)] * count)
        indexes.append(np.arange(count))
        bounds.append(np.asarray(result.segment_bounds, dtype=np.float64))
        best.append(np.asarray(result.genres)[result.segment_probabilities.argmax(axis=1)])
        unanswered.append(_segments_unanswered(result, open_set))
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
        "none_of_these": np.concatenate(unanswered),
    }
    frame.update({genre: probabilities[:, column] for column, genre in enumerate(genres)})
    return pandas.DataFrame(frame, columns=columns)


def _segment_records(result: TrackResult, open_set: float) -> list[dict]:
    if not result.segment_bounds:
        return []
    rows = _rounded_rows(result.segment_probabilities).tolist()
    best = result.segment_probabilities.argmax(axis=1).tolist()
    unanswered = _segments_unanswered(result, open_set).tolist()
    return [
        {
            "start_s": round(start, 2),
            "end_s": round(end, 2),
            "genre": result.genres[index],
            "probabilities": dict(zip(result.genres, row, strict=True)),
            "none_of_these": none,
        }
        for (start, end), row, index, none in zip(result.segment_bounds, rows, best, unanswered, strict=True)
    ]


def track_records(results: Iterable[TrackResult], open_set: float = 0.0) -> list[dict]:
    """The JSON report: one object per track, with its segment timeline; ``open_set``: the model's threshold."""
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
                "none_of_these": none_of_these(result.confidence, open_set) if result.ok else None,
                "segments": _segment_records(result, open_set),
            }
        )
    return records


def check_destination(option: str, destination: str | Path | None) -> None:
    """Raise ``ValueError`` (a usage error) when a report's folder does not exist: genretag never creates
    folders for a report, so a typo in a path is not silently a new folder. ``None`` and '-' (stdout) pass."""
    if destination is None or str(destination) == "-":
        return
    folder = Path(destination).parent
    if not folder.is_dir():
        raise ValueError(f"{option} {destination}: no such folder {folder}")


def _prepared(destination: str | Path | TextIO) -> Path | TextIO:
    return Path(destination) if isinstance(destination, (str, Path)) else destination


def import_pandas_meanwhile() -> None:
    """Import pandas in a background thread: a scan that will write a CSV gets it (0.3-0.4 s) while its
    workers run rather than after the last result. A later ``import pandas`` waits for this one to end."""
    threading.Thread(target=importlib.import_module, args=("pandas",)).start()


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: a text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(frame, destination: str | Path | TextIO) -> None:
    """Write a report DataFrame as CSV to a file path (its folder must exist) or an open text stream.

    Text cells are made spreadsheet-safe (``spreadsheet_safe``); numbers are written as they are.
    """
    import pandas

    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pandas.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(spreadsheet_safe)
    frame.to_csv(_prepared(destination), index=False)


def write_reports(
    results, csv: str | None, segments_csv: str | None, json_path: str | None, open_set: float = 0.0
) -> None:
    """The requested tracks CSV, segments CSV and JSON report, each to its file or ('-') stdout; raises ``OSError``.
    ``open_set``: the model's open-set threshold (``tagrules.model_open_set``)."""

    def target(value: str):
        return sys.stdout if value == "-" else value

    if csv:
        write_csv(tracks_frame(results, open_set), target(csv))
    if segments_csv:
        write_csv(segments_frame(results, open_set), target(segments_csv))
    if json_path:
        write_json(track_records(results, open_set), target(json_path))


def write_json(records: list[dict], destination: str | Path | TextIO) -> None:
    """Write the JSON report (``{"schema": 1, "kind": "tracks", "tracks": [...]}``), one track object per line,
    to a file path (its folder must exist) or a text stream."""
    from genretag.render import SCHEMA_VERSION

    # One track per line: readable, and written by json's C encoder (indenting is pure Python, slow).
    tracks = ",\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    text = f'{{"schema": {SCHEMA_VERSION}, "kind": "tracks", "tracks": [\n{tracks}\n]}}\n'
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


def summarise(
    results: Sequence[TrackResult], analysed_paths: set[str], wall_s: float, open_set: float = 0.0
) -> ScanSummary:
    """Summary of a scan's results; ``analysed_paths`` are those not taken from the store. Tracks under the
    model's ``open_set`` threshold are counted as "none of these"."""
    counts = Counter(_answer(result, open_set) for result in results if result.ok)
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


def plot_timeline(result: TrackResult, destination: str | Path, open_set: float = 0.0) -> None:
    """Save a PNG of the track's segment probabilities stacked over time, titled with its genre (or "none of
    these" under the model's ``open_set`` threshold)."""
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
    best = best_genre_text(result.genre, result.confidence, open_set, NONE_OF_THESE_WORDS)
    axes.set_title(f"{Path(result.path).name} — {best} ({result.model})")
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    figure.tight_layout()
    figure.savefig(destination, format="png")
    pyplot.close(figure)


# ---------------------------------------------------------------- the HTML library report

HTML_TIMELINE_WIDTH = 360  # px of the widest track's timeline when that keeps blocks wide enough
HTML_MIN_PX_PER_SECOND = 1.0  # a 10 s block is at least 10 px wide, easy to point at (its box then scrolls)
HTML_TIMELINE_HEIGHT = 18
NONE_OF_THESE_COLOUR = "#d0d0d0"  # a light grey, unlike any genre's colour (pop's is #7f7f7f)


def _svg_timeline(result: TrackResult, scale: float, open_set: float) -> str:
    """One track's segments as coloured blocks on a time axis (inline SVG), each with a tooltip (``<title>``,
    and ``data-tip``, which the page also shows under the timeline on hover or tap). A segment under the
    model's ``open_set`` threshold is grey, "none of these" in its tooltip."""
    from html import escape

    width = max(1, round(result.duration_s * scale))
    blocks = []
    segments, unanswered = result.segments, _segments_unanswered(result, open_set)
    for position, segment in enumerate(segments):
        # Each block runs to the next segment's start, so an overlapping last segment is not drawn twice.
        end = segments[position + 1].start_s if position + 1 < len(segments) else segment.end_s
        x, w = segment.start_s * scale, max((end - segment.start_s) * scale, 0.5)
        best = best_genre_text(segment.genre, segment.confidence, open_set, NONE_OF_THESE_WORDS)
        tip = escape(f"{clock(segment.start_s)}–{clock(segment.end_s)} {best}")
        fill = NONE_OF_THESE_COLOUR if unanswered[position] else genre_colour(segment.genre, result.genres)
        blocks.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{HTML_TIMELINE_HEIGHT}" data-tip="{tip}" '
            f'fill="{fill}"><title>{tip}</title></rect>'
        )
    return (
        f'<div class="timeline-box"><svg class="timeline" width="{width}" height="{HTML_TIMELINE_HEIGHT}" '
        f'viewBox="0 0 {width} {HTML_TIMELINE_HEIGHT}" role="img" aria-label="genre timeline">'
        + "".join(blocks)
        + '</svg></div><div class="tip" aria-live="polite"></div>'
    )


def _genre_key(genre: str) -> str:
    """A genre as one filter word (``genre:hip_hop``): lower case, spaces as underscores."""
    return "_".join(genre.lower().split())


def _distribution(results: Sequence[TrackResult], open_set: float) -> str:
    """Tracks per genre as bars (HTML, so that it fits any width); a bar is a button that filters the table.
    Tracks under the model's ``open_set`` threshold have their own bar, "none of these"."""
    from html import escape

    counts = Counter(_answer(result, open_set) for result in results if result.ok)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if not ranked:
        return "<p>No track was classified.</p>"
    genres = next(result.genres for result in results if result.ok)
    most = ranked[0][1]
    rows = []
    for genre, count in ranked:
        colour = NONE_OF_THESE_COLOUR if genre == NONE_OF_THESE_WORDS else genre_colour(genre, genres)
        rows.append(
            f'<button type="button" class="bar-row" data-genre="{escape(_genre_key(genre))}" '
            f'title="show only the {count} {escape(genre)} tracks">'
            f'<span class="label">{escape(genre)}</span>'
            f'<span class="track"><span class="bar" style="width:{100 * count / most:.1f}%;'
            f'background:{colour}"></span></span>'
            f'<span class="count">{count}</span></button>'
        )
    return '<div id="distribution" aria-label="tracks per genre">' + "".join(rows) + "</div>"


def _legend(results: Sequence[TrackResult], open_set: float) -> str:
    """Which colour is which genre in the timelines: every genre of the model(s) of the results, and
    "none of these" when a segment is under the model's ``open_set`` threshold."""
    from html import escape

    genres: list[str] = []
    colours: dict[str, str] = {}
    for result in results:
        if result.ok:
            for genre in result.genres:
                if genre not in colours:
                    genres.append(genre)
                    colours[genre] = genre_colour(genre, result.genres)
    if any(_segments_unanswered(result, open_set).any() for result in results if result.ok and result.segment_bounds):
        genres.append(NONE_OF_THESE_WORDS)
        colours[NONE_OF_THESE_WORDS] = NONE_OF_THESE_COLOUR
    if not genres:
        return ""
    items = "".join(
        f'<li><span class="swatch" style="background:{colours[genre]}"></span>{escape(genre)}</li>' for genre in genres
    )
    return f'<ul id="legend" aria-label="timeline colours">{items}</ul>'


_HTML_STYLE = """
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; overflow-wrap: anywhere; } h2 { font-size: 1.1em; margin-top: 1.5em; }
#distribution { max-width: 40em; }
.bar-row { display: grid; grid-template-columns: minmax(4em, 9em) 1fr 3.5em; gap: .5em; align-items: center;
  width: 100%; padding: 2px 0; border: 0; background: none; font: inherit; text-align: left; cursor: pointer; }
.bar-row:hover .label, .bar-row:focus .label { text-decoration: underline; }
.bar-row .label { text-align: right; overflow-wrap: anywhere; }
.bar-row .track { display: block; min-width: 0; }
.bar-row .bar { display: block; height: 18px; min-width: 2px; }
.bar-row .count { font-variant-numeric: tabular-nums; }
#legend { list-style: none; padding: 0; margin: .5em 0; display: flex; flex-wrap: wrap; gap: .25em 1em; }
#legend .swatch { display: inline-block; width: 1em; height: 1em; margin-right: .3em; vertical-align: -2px; }
.controls { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center; margin: .5em 0; }
#filter { padding: 3px; width: 24em; max-width: 100%; }
.table-scroll { overflow-x: auto; max-width: 100%; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; }
th, td { padding: 3px 8px; text-align: left; vertical-align: top; border-bottom: 1px solid #ddd; }
th { cursor: pointer; user-select: none; background: #f4f4f4; position: sticky; top: 0; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td { white-space: nowrap; } td.number { text-align: right; }
td.path { white-space: normal; overflow-wrap: anywhere; min-width: 12em; max-width: 30em; }
td.status { white-space: normal; overflow-wrap: anywhere; min-width: 6em; max-width: 18em; }
.timeline-box { overflow-x: auto; max-width: 480px; }
.timeline { display: block; }
.tip { min-height: 1.2em; font-size: 12px; color: #555; }
tr.failed td { color: #a00; }
/* A phone: each track is a card of labelled lines, so nothing is cut and nothing scrolls but a long timeline. */
@media (max-width: 600px) {
  body { margin: .6em; }
  .table-scroll { overflow-x: visible; }
  table, tbody, tr, td { display: block; }
  thead tr { display: flex; flex-wrap: wrap; gap: 2px; }
  th { position: static; border: 0; padding: 2px 6px; }
  tr { border-bottom: 1px solid #ddd; padding: 4px 0; }
  td { border: 0; padding: 1px 4px; white-space: normal; }
  td.number { text-align: left; }
  td[data-label]::before { content: attr(data-label) ": "; color: #666; }
  td.path { min-width: 0; max-width: none; font-weight: 600; }
  td.status { max-width: none; }
  .timeline-box { max-width: 100%; }
}
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
  // Words match the text a row shows (data-search: never the timelines' hidden tooltips);
  // genre:NAME matches the track's genre exactly, as a chart bar sets it.
  function matches(row, word) {
    if (word.indexOf("genre:") === 0) { return row.getAttribute("data-genre") === word.slice(6); }
    return row.getAttribute("data-search").indexOf(word) !== -1;
  }
  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var match = words.every(function (word) { return matches(row, word); });
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
  Array.prototype.forEach.call(document.querySelectorAll(".bar-row"), function (bar) {
    bar.addEventListener("click", function () {
      filter.value = "genre:" + bar.getAttribute("data-genre");
      applyFilter();
    });
  });
  // A timeline block's time, genre and confidence under its timeline, on hover or tap.
  function showTip(event) {
    var tip = event.target.getAttribute && event.target.getAttribute("data-tip");
    if (tip) { event.target.closest("td").querySelector(".tip").textContent = tip; }
  }
  body.addEventListener("mouseover", showTip);
  body.addEventListener("click", showTip);
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


def html_report(results: Sequence[TrackResult], title: str, open_set: float = 0.0) -> str:
    """A self-contained HTML page (no network access) that fits any screen: the genre distribution (a bar
    filters the table to its genre), the timeline colours, a sortable and filterable table of tracks (path,
    genre, confidence, runner-up, duration, status, timeline) in a box that scrolls sideways when narrow.
    A track under the model's ``open_set`` threshold reads "none of these", its best guess beside."""
    from html import escape

    longest = max((result.duration_s for result in results), default=0.0)
    scale = max(HTML_TIMELINE_WIDTH / max(longest, 1.0), HTML_MIN_PX_PER_SECOND)
    rows = []
    for result in results:
        ranked = result.top_k(2) if result.ok else []
        genre, confidence = ranked[0] if ranked else ("", None)
        answer = _answer(result, open_set) if ranked else ""  # its genre, or "none of these" (the filter's key)
        genre_cell = genre if answer == genre else best_genre_text(genre, confidence, open_set, answer)
        runner_up = f"{ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
        status = (
            f"failed: {result.error}" if not result.ok else (f"warning: {result.warning}" if result.warning else "ok")
        )
        timeline = _svg_timeline(result, scale, open_set) if result.ok and result.segment_bounds else ""
        shown_confidence = "" if confidence is None else f"{confidence:.2f}"
        search = " ".join(
            [display_path(result.path), genre_cell, shown_confidence, runner_up, clock(result.duration_s), status]
        ).lower()
        rows.append(
            f'<tr class="{"ok" if result.ok else "failed"}" data-genre="{escape(_genre_key(answer))}" '
            f'data-search="{escape(search)}">'
            f'<td class="path">{escape(display_path(result.path))}</td>'
            f'<td data-label="genre">{escape(genre_cell)}</td>'
            f'<td class="number" data-label="confidence" '
            f'data-value="{confidence if confidence is not None else -1:.4f}">{shown_confidence}</td>'
            f'<td data-label="runner-up">{escape(runner_up)}</td>'
            f'<td class="number" data-label="duration" data-value="{result.duration_s:.2f}">'
            f"{clock(result.duration_s)}</td>"
            f'<td class="status" data-label="status">{escape(status)}</td>'
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
        ("timeline", "timeline"),
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
<p>Click a genre to show only its tracks.</p>
{_distribution(results, open_set)}
<h2>Tracks</h2>
<div class="controls">
<label>Filter: <input id="filter" type="search" placeholder="words, or genre:NAME"></label>
<span><span id="shown">{len(results)}</span> shown; click a column heading to sort.</span>
</div>
<p>Timelines: one block per 10 s segment, coloured by its genre; hover or tap a block for its time,
genre and confidence.</p>
{_legend(results, open_set)}
<div class="table-scroll">
<table id="tracks">
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</div>
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
    from genretag.tagrules import model_open_set

    check_destination("--html", destination)
    choice = choose_model(paths, model)
    results, problems = results_for(paths, choice.name, ScanOptions(jobs, with_segments=True), progress)
    title = "genretag: " + ", ".join(display_path(path) for path in paths)
    Path(destination).write_text(html_report(results, title, model_open_set(choice.name)), encoding="utf-8")
    return HtmlReport(results, problems, choice)
