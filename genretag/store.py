"""SQLite store: cached track results (incremental rescans) and the tag journal.

One database, ``<data home>/genretag.sqlite``, in WAL mode so readers never block
the writer. Only the parent process of a scan writes; workers return results.
Every table is created in ``SCHEMA`` (one place), with ``CREATE TABLE IF NOT EXISTS``.

Track results are keyed by path and model name; a stored result is *fresh* for a
file when the file's size and mtime (ns), the model's sha256 and the
whole-track mode all match what was stored (the fingerprint changes with the
weights and with how the model card says to read segments), so a rescan only stats files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genretag.classify import TrackResult

DATABASE_NAME = "genretag.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS track_results (
    path TEXT NOT NULL,               -- absolute path
    model TEXT NOT NULL,              -- model name
    model_sha256 TEXT NOT NULL,       -- the model's results fingerprint (its weights' sha256, see ModelIdentity)
    whole_track INTEGER NOT NULL,     -- 1 when probabilities come from one whole-track pass
    size INTEGER NOT NULL,            -- file size and mtime when analysed
    mtime_ns INTEGER NOT NULL,
    genres TEXT NOT NULL,             -- JSON list: the model's genre order
    probabilities BLOB,               -- float32 array aligned with genres; NULL when error is set
    duration_s REAL NOT NULL,
    warning TEXT,
    error TEXT,
    analysed_at REAL NOT NULL,        -- unix time of the latest analysis
    analyses INTEGER NOT NULL,        -- how many times this path was analysed with this model
    PRIMARY KEY (path, model)
);
CREATE TABLE IF NOT EXISTS segment_results (
    path TEXT NOT NULL,
    model TEXT NOT NULL,
    segment INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    probabilities BLOB NOT NULL,      -- float32 array aligned with the track's genres
    PRIMARY KEY (path, model, segment)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL               -- JSON
);
CREATE TABLE IF NOT EXISTS tag_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,             -- one `genretag tag --write` or `genretag undo` run
    kind TEXT NOT NULL,               -- 'tag' or 'undo'
    path TEXT NOT NULL,               -- absolute path, as the results store keys it
    previous_genres TEXT NOT NULL,    -- JSON list: the genre values before this write
    new_genres TEXT NOT NULL,         -- JSON list: the genre values written
    id3_version INTEGER,              -- the file's ID3 version before the write; NULL: no ID3 tag
    old_size INTEGER NOT NULL,        -- the file before the write
    old_mtime_ns INTEGER NOT NULL,
    new_size INTEGER NOT NULL,        -- the file after the write
    new_mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL,              -- 'pending' (replacing), 'done', 'failed'
    error TEXT,                       -- why a write failed
    temp_path TEXT,                   -- the checked copy that replaces the file
    reverts TEXT,                     -- undo only: JSON list of the tag entry ids it reverts
    undone_by INTEGER,                -- tag only: the undo entry that reverted it
    written_at REAL NOT NULL          -- unix time
);
CREATE INDEX IF NOT EXISTS tag_journal_path ON tag_journal (path);
"""


def data_home() -> Path:
    """``$GENRETAG_HOME`` when set, else the user data folder (platformdirs)."""
    override = os.environ.get("GENRETAG_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("genretag", appauthor=False)


def database_path() -> Path:
    """Where the store lives: ``<data home>/genretag.sqlite``."""
    return data_home() / DATABASE_NAME


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the store, in WAL mode, with every table in place."""
    path = path or database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    # One commit per finished track: NORMAL keeps each commit cheap and, in WAL
    # mode, still never corrupts the database on a crash.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    return connection


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file: its size and modification time."""

    size: int
    mtime_ns: int


def stamp_of(path: str | Path) -> FileStamp:
    """The file's current stamp (raises ``OSError`` when it cannot be stat'ed)."""
    info = os.stat(path)
    return FileStamp(info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class ModelIdentity:
    """Which analysis a stored result belongs to: model name, weights hash, mode.

    ``sha256`` is ``weights.results_fingerprint``: the weights' sha256, or, for a card that
    reads segments its own way, the hash of that and its reading settings.
    """

    name: str
    sha256: str
    whole_track: bool = False


def _as_blob(probabilities: np.ndarray) -> bytes:
    # float32 bytes: exact (reports round only once) and cheap to read back on a rescan.
    return np.asarray(probabilities, dtype=np.float32).tobytes()


def save_result(connection: sqlite3.Connection, result: TrackResult, stamp: FileStamp, model: ModelIdentity) -> None:
    """Store one track's result and segments, replacing older ones, and commit."""
    probabilities = None if result.error else _as_blob(result.probabilities)
    with connection:
        connection.execute(
            """INSERT INTO track_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT (path, model) DO UPDATE SET
                 model_sha256 = excluded.model_sha256, whole_track = excluded.whole_track,
                 size = excluded.size, mtime_ns = excluded.mtime_ns, genres = excluded.genres,
                 probabilities = excluded.probabilities, duration_s = excluded.duration_s,
                 warning = excluded.warning, error = excluded.error,
                 analysed_at = excluded.analysed_at, analyses = analyses + 1""",
            (
                result.path,
                model.name,
                model.sha256,
                int(model.whole_track),
                stamp.size,
                stamp.mtime_ns,
                json.dumps(list(result.genres)),
                probabilities,
                float(result.duration_s),
                result.warning,
                result.error,
                time.time(),
            ),
        )
        connection.execute("DELETE FROM segment_results WHERE path = ? AND model = ?", (result.path, model.name))
        connection.executemany(
            "INSERT INTO segment_results VALUES (?, ?, ?, ?, ?, ?)",
            [
                (result.path, model.name, index, start, end, _as_blob(row))
                for index, ((start, end), row) in enumerate(
                    zip(result.segment_bounds, result.segment_probabilities, strict=True)
                )
            ],
        )


def fresh_stamps(connection: sqlite3.Connection, model: ModelIdentity) -> dict[str, FileStamp]:
    """Path → stamp of every stored result made by exactly this model and mode."""
    rows = connection.execute(
        "SELECT path, size, mtime_ns FROM track_results WHERE model = ? AND model_sha256 = ? AND whole_track = ?",
        (model.name, model.sha256, int(model.whole_track)),
    )
    return {path: FileStamp(size, mtime_ns) for path, size, mtime_ns in rows}


def _segments_of(connection: sqlite3.Connection, path: str, model: str):
    rows = connection.execute(
        "SELECT start_s, end_s, probabilities FROM segment_results WHERE path = ? AND model = ? ORDER BY segment",
        (path, model),
    ).fetchall()
    bounds = [(start, end) for start, end, _ in rows]
    probabilities = np.array([np.frombuffer(p, dtype=np.float32) for _, _, p in rows], dtype=np.float32)
    return bounds, probabilities


def _result_from_row(connection: sqlite3.Connection, row: tuple, with_segments: bool) -> TrackResult:
    path, model, genres, probabilities, duration_s, warning, error = row
    genres = tuple(json.loads(genres))
    result = TrackResult(
        path=path,
        model=model,
        genres=genres,
        duration_s=duration_s,
        probabilities=np.frombuffer(probabilities or b"", dtype=np.float32).copy(),
        warning=warning,
        error=error,
        segment_probabilities=np.zeros((0, len(genres)), dtype=np.float32),
    )
    if with_segments and not error:
        result.segment_bounds, result.segment_probabilities = _segments_of(connection, path, model)
    return result


_RESULT_COLUMNS = "path, model, genres, probabilities, duration_s, warning, error"


def load_results(
    connection: sqlite3.Connection,
    model: str,
    paths: Iterable[str | Path] | None = None,
    with_segments: bool = False,
) -> list[TrackResult]:
    """Stored results of ``model`` (all, or those of ``paths``), ordered by path or as given.

    Freshness is not checked: this is what was stored, for reports and exports.
    Segments are read only when ``with_segments`` (they are many more rows).
    """
    if paths is None:
        rows = connection.execute(
            f"SELECT {_RESULT_COLUMNS} FROM track_results WHERE model = ? ORDER BY path", (model,)
        ).fetchall()
    else:
        query = f"SELECT {_RESULT_COLUMNS} FROM track_results WHERE model = ? AND path = ?"
        rows = [row for path in paths for row in connection.execute(query, (model, str(path)))]
    return [_result_from_row(connection, row, with_segments) for row in rows]


def results_under(
    connection: sqlite3.Connection, model: str, roots: Iterable[str | Path], with_segments: bool = False
) -> list[TrackResult]:
    """Stored results of ``model`` for files equal to or below any of ``roots``, ordered by path."""
    prefixes = [os.path.abspath(root) for root in roots]
    rows = connection.execute(
        f"SELECT {_RESULT_COLUMNS} FROM track_results WHERE model = ? ORDER BY path", (model,)
    ).fetchall()
    selected = [
        row
        for row in rows
        if any(row[0] == prefix or row[0].startswith(prefix.rstrip(os.sep) + os.sep) for prefix in prefixes)
    ]
    return [_result_from_row(connection, row, with_segments) for row in selected]


def stored_stamp(connection: sqlite3.Connection, path: str, model: ModelIdentity) -> FileStamp | None:
    """The stored stamp of one path's result by exactly this model and mode, if any."""
    row = connection.execute(
        """SELECT size, mtime_ns FROM track_results
           WHERE path = ? AND model = ? AND model_sha256 = ? AND whole_track = ?""",
        (path, model.name, model.sha256, int(model.whole_track)),
    ).fetchone()
    return FileStamp(*row) if row else None


def record_scan_roots(connection: sqlite3.Connection, roots: Iterable[str | Path]) -> None:
    """Remember the paths the latest scan was given (absolute), for ``genretag tag``'s default."""
    value = json.dumps([os.path.abspath(root) for root in roots])
    with connection:
        connection.execute(
            "INSERT INTO settings VALUES ('last_scan_roots', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (value,),
        )


def last_scan_roots(connection: sqlite3.Connection) -> list[Path]:
    """The paths given to the latest scan, or an empty list when nothing was scanned yet."""
    row = connection.execute("SELECT value FROM settings WHERE key = 'last_scan_roots'").fetchone()
    return [Path(root) for root in json.loads(row[0])] if row else []


# ---------------------------------------------------------------- tag journal
#
# Every genre write by `genretag tag` or `genretag undo` is one row, written in
# two steps around the atomic replace: 'pending' (the checked copy is on disk),
# then 'done' or 'failed'. A process killed in between leaves 'pending';
# ``resolve_interrupted_writes`` settles such rows from the file itself.


@dataclass(frozen=True)
class JournalEntry:
    """One genre write recorded in the tag journal."""

    id: int
    run_id: str
    kind: str
    path: str
    previous_genres: tuple[str, ...]
    new_genres: tuple[str, ...]
    id3_version: int | None
    old_stamp: FileStamp
    new_stamp: FileStamp
    state: str
    error: str | None
    temp_path: str | None
    reverts: tuple[int, ...]
    undone_by: int | None
    written_at: float


_JOURNAL_COLUMNS = (
    "id, run_id, kind, path, previous_genres, new_genres, id3_version, old_size, old_mtime_ns, new_size, "
    "new_mtime_ns, state, error, temp_path, reverts, undone_by, written_at"
)


def _journal_entry(row: tuple) -> JournalEntry:
    (id_, run_id, kind, path, previous, new, id3_version, old_size, old_mtime, new_size, new_mtime) = row[:11]
    state, error, temp_path, reverts, undone_by, written_at = row[11:]
    return JournalEntry(
        id_,
        run_id,
        kind,
        path,
        tuple(json.loads(previous)),
        tuple(json.loads(new)),
        id3_version,
        FileStamp(old_size, old_mtime),
        FileStamp(new_size, new_mtime),
        state,
        error,
        temp_path,
        tuple(json.loads(reverts)) if reverts else (),
        undone_by,
        written_at,
    )


def new_run_id() -> str:
    """A fresh, sortable id for one tag or undo run."""
    import secrets

    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def journal_pending(
    connection: sqlite3.Connection,
    run_id: str,
    kind: str,
    path: str,
    previous: Iterable[str],
    new: Iterable[str],
    id3_version: int | None,
    old_stamp: FileStamp,
    new_stamp: FileStamp,
    temp_path: str,
    reverts: Iterable[int] = (),
) -> int:
    """Record a write about to replace ``path`` (state 'pending'); returns its entry id."""
    with connection:
        cursor = connection.execute(
            f"INSERT INTO tag_journal ({_JOURNAL_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', "
            "NULL, ?, ?, NULL, ?)",
            (
                run_id,
                kind,
                path,
                json.dumps(list(previous)),
                json.dumps(list(new)),
                id3_version,
                old_stamp.size,
                old_stamp.mtime_ns,
                new_stamp.size,
                new_stamp.mtime_ns,
                temp_path,
                json.dumps(list(reverts)) if kind == "undo" else None,
                time.time(),
            ),
        )
    return cursor.lastrowid


def _settle_done(connection: sqlite3.Connection, entry: JournalEntry) -> None:
    connection.execute("UPDATE tag_journal SET state = 'done', temp_path = NULL WHERE id = ?", (entry.id,))
    # Only the tags changed, not the audio: results of the old file describe the new one.
    connection.execute(
        "UPDATE track_results SET size = ?, mtime_ns = ? WHERE path = ? AND size = ? AND mtime_ns = ?",
        (entry.new_stamp.size, entry.new_stamp.mtime_ns, entry.path, entry.old_stamp.size, entry.old_stamp.mtime_ns),
    )
    for reverted in entry.reverts:
        connection.execute("UPDATE tag_journal SET undone_by = ? WHERE id = ?", (entry.id, reverted))


def journal_entry(connection: sqlite3.Connection, entry_id: int) -> JournalEntry:
    """One journal entry by id."""
    row = connection.execute(f"SELECT {_JOURNAL_COLUMNS} FROM tag_journal WHERE id = ?", (entry_id,)).fetchone()
    return _journal_entry(row)


def journal_done(connection: sqlite3.Connection, entry_id: int) -> None:
    """Mark a write as done: restamp the file's stored results, and mark what an undo reverted."""
    with connection:
        _settle_done(connection, journal_entry(connection, entry_id))


def journal_failed(connection: sqlite3.Connection, entry_id: int, reason: str) -> None:
    """Mark a write as failed (the file was left as it was)."""
    with connection:
        connection.execute(
            "UPDATE tag_journal SET state = 'failed', error = ?, temp_path = NULL WHERE id = ?", (reason, entry_id)
        )


def resolve_interrupted_writes(connection: sqlite3.Connection) -> list[JournalEntry]:
    """Settle 'pending' entries left by a killed process; returns them as settled.

    A file that now has the stamp the write would give was replaced (the entry is
    done); otherwise the replace never happened (failed), and the leftover
    temporary copy is removed.
    """
    pending = journal_entries(connection, states=("pending",))
    for entry in pending:
        try:
            replaced = stamp_of(entry.path) == entry.new_stamp
        except OSError:
            replaced = False
        if replaced:
            journal_done(connection, entry.id)
            continue
        if entry.temp_path:
            Path(entry.temp_path).unlink(missing_ok=True)
        journal_failed(connection, entry.id, "interrupted before the file was replaced; file left as it was")
    return [journal_entry(connection, entry.id) for entry in pending]


def journal_entries(
    connection: sqlite3.Connection,
    kind: str | None = None,
    states: Iterable[str] | None = None,
    path: str | None = None,
) -> list[JournalEntry]:
    """Journal entries, oldest first, optionally only of one kind, some states, or one path."""
    conditions, parameters = [], []
    if kind:
        conditions.append("kind = ?")
        parameters.append(kind)
    if states:
        states = list(states)
        conditions.append(f"state IN ({', '.join('?' * len(states))})")
        parameters.extend(states)
    if path:
        conditions.append("path = ?")
        parameters.append(path)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = connection.execute(f"SELECT {_JOURNAL_COLUMNS} FROM tag_journal {where} ORDER BY id", parameters)
    return [_journal_entry(row) for row in rows]


def undoable_entries(connection: sqlite3.Connection) -> list[JournalEntry]:
    """Tag writes that are done and not yet undone, oldest first."""
    return [entry for entry in journal_entries(connection, "tag", ("done",)) if entry.undone_by is None]
