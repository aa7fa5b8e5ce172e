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
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from genretag.genres import COLOURS, OTHER_COLOURS
from genretag.results import TrackResult

TRACK_COLUMNS = ("path", "genre", "confidence", "genre_2", "confidence_2", "duration_s", "n_segments", "model", "error")
SEGMENT_COLUMNS = ("path", "segment", "start_s", "end_s", "genre", "confidence")
DECIMALS = 4


def genre_colour(genre: str, genres: Sequence[str]) -> str:
    """A stable hex colour for ``genre``; genres outside GTZAN get one by their position."""
    if genre in COLOURS:
        return COLOURS[genre]
    return OTHER_COLOURS[list(genres).index(genre) % len(OTHER_COLOURS)]


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


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


def write_csv(frame, destination: str | Path | TextIO) -> None:
    """Write a report DataFrame as CSV to a file path (folders created) or an open text stream."""
    frame.to_csv(_prepared(destination), index=False)


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
