"""SQLite store: cached track results (incremental rescans), scan claims, the last scan's paths.

One database, ``<data home>/genretag.sqlite``, in WAL mode so readers never block
the writer. Only the parent process of a scan writes; workers return results.
Every table is created in ``SCHEMA`` (one place), with ``CREATE TABLE IF NOT EXISTS``;
the rows of ``tag_journal`` are ``journal``'s (the safe write and its recovery).

The schema version is SQLite's ``user_version``, ``SCHEMA_VERSION``: an older store is
migrated on open (missing tables and columns added), a newer one is refused, and a file that
is not a genretag store, or is damaged, raises ``StoreError`` naming the file and how to
recover; a full disk while storing raises ``StoreFull`` (what was stored before stays).

Track results are keyed by path and model name (``result_key``: a whole-track pass is stored
under ``NAME+whole-track``, beside the segment mean, so neither evicts the other); a stored result is *fresh* for a
file when the file's size and mtime (ns), the model's results fingerprint (its
weights' sha256, ``weights.ModelIdentity``) and the whole-track mode all match what
was stored, so a rescan only stats files.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genretag.config import database_path
from genretag.results import TrackResult

if TYPE_CHECKING:
    from genretag.weights import ModelIdentity

# 0: a store made before the version was recorded; 2: restore_ranges in tag_journal.
SCHEMA_VERSION = 2


class StoreError(Exception):
    """The store cannot be used: not a genretag store, damaged, or made by a newer genretag."""

    exit_code = 2


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full: nothing more could be stored; what was stored stays."""

    exit_code = 1


def damaged_message(path: Path, error: Exception) -> str:
    """What to say of a store that SQLite cannot read, and how to recover."""
    return (
        f"{path}: the store is damaged or not a genretag store ({error}). To recover, move it aside "
        f"(mv '{path}' '{path}.damaged') and run again: a new store is made and results are re-computed "
        "as files are scanned; the tag journal it held (what `genretag undo` restores from) is lost with it, "
        "the files keep the tags they have now"
    )


def full_message(path: Path) -> str:
    """What to say when the store's disk is full."""
    return (
        f"{path}: the disk is full, nothing more could be stored; what was stored before stays. "
        "Free some space and run the same command again: it goes on where this one stopped"
    )


SCHEMA = """
CREATE TABLE IF NOT EXISTS track_results (
    path TEXT NOT NULL,               -- absolute path
    model TEXT NOT NULL,              -- model name
    model_sha256 TEXT NOT NULL,       -- the model's results fingerprint (weights.ModelIdentity.fingerprint)
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
    state TEXT NOT NULL,              -- 'pending', 'writing' (original being rewritten), 'done', 'failed'
    error TEXT,                       -- why a write failed
    temp_path TEXT,                   -- the checked new content, copied into the file in place
    reverts TEXT,                     -- undo only: JSON list of the tag entry ids it reverts
    undone_by INTEGER,                -- tag only: the undo entry that reverted it
    written_at REAL NOT NULL,         -- unix time
    backup_path TEXT,                 -- a verified copy of the original while it is rewritten
    writer_pid INTEGER,               -- the process writing (a live one's pending entry is not settled)
    old_sha256 TEXT,                  -- the whole file before and after the write
    new_sha256 TEXT,
    restore_offset INTEGER,           -- exact undo: the original bytes that differ from the new file,
    restore_tail INTEGER,             -- between restore_offset and the last restore_tail bytes
    restore_bytes BLOB,               -- (older genretag; NULL when that region was too large to keep)
    restore_ranges BLOB               -- exact undo: bytediff.ByteChanges (NULL: over 16 MiB, or settled without)
);
CREATE INDEX IF NOT EXISTS tag_journal_path ON tag_journal (path);
CREATE TABLE IF NOT EXISTS scan_claims (
    path TEXT NOT NULL,               -- a track one scan is analysing: another scan waits for its result
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    whole_track INTEGER NOT NULL,
    pid INTEGER NOT NULL,             -- the scanning process (a dead one's claims are void)
    claimed_at REAL NOT NULL,
    PRIMARY KEY (path, model, model_sha256, whole_track)
);
"""


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the store, in WAL mode, with every table in place.

    Raises ``StoreError`` for a file that is not a genretag store, a damaged one or a newer one,
    ``StoreFull`` when there is no room to create or migrate it.
    """
    path = path or database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # One commit per finished track: NORMAL keeps each commit cheap and, in WAL
        # mode, still never corrupts the database on a crash.
        connection.execute("PRAGMA synchronous=NORMAL")
        _open_schema(connection, path)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise store_error(path, error) from None
    except StoreError:
        connection.close()
        raise
    return connection


def store_error(path: Path, error: sqlite3.Error) -> Exception:
    """The ``StoreError`` for an SQLite error of the store at ``path`` (a busy store's error as it is)."""
    message = str(error)
    if "full" in message:
        return StoreFull(full_message(path))
    if "locked" in message or "busy" in message:
        return error
    if "unable to open" in message:
        return StoreError(f"{path}: cannot open the store ({message})")
    return StoreError(damaged_message(path, error))


def _columns(connection: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")} for table in tables}


@functools.cache
def _expected_columns() -> dict[str, set[str]]:
    fresh = sqlite3.connect(":memory:")
    try:
        fresh.executescript(SCHEMA)
        return {table: columns for table, columns in _columns(fresh).items() if table != "sqlite_sequence"}
    finally:
        fresh.close()


def _open_schema(connection: sqlite3.Connection, path: Path) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: the store was made by a newer genretag (schema {version}; this one knows up to "
            f"{SCHEMA_VERSION}): upgrade genretag, or set GENRETAG_HOME to another folder"
        )
    connection.executescript(SCHEMA)
    if version < SCHEMA_VERSION:
        _add_missing_columns(connection)
    present = _columns(connection)
    for table, columns in _expected_columns().items():
        missing = columns - present.get(table, set())
        if missing:
            raise StoreError(damaged_message(path, f"table {table} lacks {', '.join(sorted(missing))}"))
    if version < SCHEMA_VERSION:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# Columns added to tables after their first release: a store made by an older
# genretag gets them on its first open (SQLite has no ADD COLUMN IF NOT EXISTS).
_LATER_COLUMNS = {
    "tag_journal": (
        "backup_path TEXT",
        "writer_pid INTEGER",
        "old_sha256 TEXT",
        "new_sha256 TEXT",
        "restore_offset INTEGER",
        "restore_tail INTEGER",
        "restore_bytes BLOB",
        "restore_ranges BLOB",
    ),
}


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    for table, columns in _LATER_COLUMNS.items():
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column.split()[0] not in present:
                try:
                    with connection:
                        connection.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                except sqlite3.OperationalError as error:  # another process added it first
                    if "duplicate column" not in str(error):
                        raise


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file: its size and modification time."""

    size: int
    mtime_ns: int


def stamp_of(path: str | Path) -> FileStamp:
    """The file's current stamp (raises ``OSError`` when it cannot be stat'ed)."""
    info = os.stat(path)
    return FileStamp(info.st_size, info.st_mtime_ns)


def _as_blob(probabilities: np.ndarray) -> bytes:
    # float32 bytes: exact (reports round only once) and cheap to read back on a rescan.
    return np.asarray(probabilities, dtype=np.float32).tobytes()


WHOLE_TRACK_SUFFIX = "+whole-track"  # model names never hold '+' (learn.valid_model_name)


def result_key(model: ModelIdentity) -> str:
    """The ``model`` column of a model's results: its name, with ``WHOLE_TRACK_SUFFIX`` for a whole-track pass."""
    return model.name + (WHOLE_TRACK_SUFFIX if model.whole_track else "")


def save_result(connection: sqlite3.Connection, result: TrackResult, stamp: FileStamp, model: ModelIdentity) -> None:
    """Store one track's result and segments, replacing older ones, and commit."""
    probabilities = None if result.error else _as_blob(result.probabilities)
    try:
        _save_result(connection, result, stamp, model, probabilities)
    except sqlite3.OperationalError as error:
        if "full" not in str(error):
            raise
        raise StoreFull(full_message(database_file(connection))) from None


def database_file(connection: sqlite3.Connection) -> Path:
    """The file of the store ``connection`` is open on."""
    return Path(connection.execute("PRAGMA database_list").fetchone()[2])


def _save_result(connection, result: TrackResult, stamp: FileStamp, model: ModelIdentity, probabilities) -> None:
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
                result_key(model),
                model.fingerprint,
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
        connection.execute("DELETE FROM segment_results WHERE path = ? AND model = ?", (result.path, result_key(model)))
        connection.executemany(
            "INSERT INTO segment_results VALUES (?, ?, ?, ?, ?, ?)",
            [
                (result.path, result_key(model), index, start, end, _as_blob(row))
                for index, ((start, end), row) in enumerate(
                    zip(result.segment_bounds, result.segment_probabilities, strict=True)
                )
            ],
        )


def fresh_stamps(connection: sqlite3.Connection, model: ModelIdentity) -> dict[str, FileStamp]:
    """Path → stamp of every stored result made by exactly this model and mode."""
    rows = connection.execute(
        "SELECT path, size, mtime_ns FROM track_results WHERE model = ? AND model_sha256 = ? AND whole_track = ?",
        (result_key(model), model.fingerprint, int(model.whole_track)),
    )
    return {path: FileStamp(size, mtime_ns) for path, size, mtime_ns in rows}


def restamp(connection: sqlite3.Connection, path: str, old: FileStamp, new: FileStamp) -> int:
    """Carry a file's stored results over a write that changed only its tags (another tagger's, such as beets').

    Results of every model stored for the ``old`` version now name the ``new`` one, so the next scan
    does not analyse the file again; results of any other version are left stale. Returns how many changed.
    """
    with connection:
        cursor = connection.execute(
            "UPDATE track_results SET size = ?, mtime_ns = ? WHERE path = ? AND size = ? AND mtime_ns = ?",
            (new.size, new.mtime_ns, path, old.size, old.mtime_ns),
        )
    return cursor.rowcount


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
        model=model.removesuffix(WHOLE_TRACK_SUFFIX),
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


def stored_results(
    model: str, paths: Iterable[str | Path] | None = None, with_segments: bool = True
) -> list[TrackResult]:
    """Stored results of ``model`` for files equal to or below ``paths`` (default: all), for ``export``."""
    connection = connect()
    try:
        if paths:
            return results_under(connection, model, paths, with_segments=with_segments)
        return load_results(connection, model, with_segments=with_segments)
    finally:
        connection.close()


def stored_stamp(connection: sqlite3.Connection, path: str, model: ModelIdentity) -> FileStamp | None:
    """The stored stamp of one path's result by exactly this model and mode, if any."""
    row = connection.execute(
        """SELECT size, mtime_ns FROM track_results
           WHERE path = ? AND model = ? AND model_sha256 = ? AND whole_track = ?""",
        (path, result_key(model), model.fingerprint, int(model.whole_track)),
    ).fetchone()
    return FileStamp(*row) if row else None


def claim_tracks(
    connection: sqlite3.Connection, paths: Iterable[str], model: ModelIdentity
) -> tuple[list[str], list[str]]:
    """Claim ``paths`` for analysis by this process; returns (claimed, held by another running scan).

    Two scans of one library then analyse each track once: the second waits for the
    first's results (``release_claims`` when done; a dead process's claims are taken over).
    """
    key = (model.name, model.fingerprint, int(model.whole_track))
    mine, theirs = [], []
    with connection:
        connection.execute("BEGIN IMMEDIATE")  # one claimer at a time
        for path in paths:
            if _claimed_by_a_live_process(connection, path, key):
                theirs.append(path)
                continue
            connection.execute(
                "INSERT OR REPLACE INTO scan_claims VALUES (?, ?, ?, ?, ?, ?)", (path, *key, os.getpid(), time.time())
            )
            mine.append(path)
    return mine, theirs


def release_claims(connection: sqlite3.Connection, paths: Iterable[str], model: ModelIdentity) -> None:
    """Drop this process's claims on ``paths``."""
    key = (model.name, model.fingerprint, int(model.whole_track), os.getpid())
    with connection:
        connection.executemany(
            "DELETE FROM scan_claims WHERE path = ? AND model = ? AND model_sha256 = ? AND whole_track = ? AND pid = ?",
            [(path, *key) for path in paths],
        )


def claimed_by_others(connection: sqlite3.Connection, paths: Iterable[str], model: ModelIdentity) -> set[str]:
    """Which of ``paths`` a running scan other than this one has claimed."""
    key = (model.name, model.fingerprint, int(model.whole_track))
    return {path for path in paths if _claimed_by_a_live_process(connection, path, key)}


def _claimed_by_a_live_process(connection: sqlite3.Connection, path: str, key: tuple) -> bool:
    """Whether a running process (this one included) holds the claim on ``path`` for the model ``key``."""
    row = connection.execute(
        "SELECT pid FROM scan_claims WHERE path = ? AND model = ? AND model_sha256 = ? AND whole_track = ?",
        (path, *key),
    ).fetchone()
    return bool(row) and process_alive(row[0])


def record_scan_roots(connection: sqlite3.Connection, roots: Iterable[str | Path]) -> None:
    """Remember the paths the latest scan was given (absolute), for ``genretag tag``'s default."""
    value = json.dumps([os.path.abspath(root) for root in roots])
    with connection:
        connection.execute(
            "INSERT INTO settings VALUES ('last_scan_roots', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (value,),
        )


def latest_model_under(connection: sqlite3.Connection, roots: Iterable[str | Path]) -> str | None:
    """The model of the latest stored analysis of a file equal to or below any of ``roots``, if any."""
    prefixes = [os.path.abspath(root).rstrip(os.sep) for root in roots]
    rows = connection.execute("SELECT path, model FROM track_results ORDER BY analysed_at DESC")
    for path, model in rows:
        if any(path == prefix or path.startswith(prefix + os.sep) for prefix in prefixes):
            return model.removesuffix(WHOLE_TRACK_SUFFIX)
    return None


def last_scan_roots(connection: sqlite3.Connection) -> list[Path]:
    """The paths given to the latest scan, or an empty list when nothing was scanned yet."""
    row = connection.execute("SELECT value FROM settings WHERE key = 'last_scan_roots'").fetchone()
    return [Path(root) for root in json.loads(row[0])] if row else []


def process_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a running process on this machine other than this one."""
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


# ---------------------------------------------------------------- the store in numbers


@dataclass(frozen=True)
class JournalSize:
    """How much the tag journal holds: its entries, and the bytes of originals kept for exact undo."""

    entries: int
    undoable: int
    kept_bytes: int


def journal_size(connection: sqlite3.Connection) -> JournalSize:
    """The tag journal's size (``undo --prune`` reports it; ``genretag store`` shows it)."""
    entries, kept = connection.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(restore_ranges)), 0) + COALESCE(SUM(LENGTH(restore_bytes)), 0) "
        "FROM tag_journal"
    ).fetchone()
    # As ``journal.undoable_entries`` counts them: tag writes done and not undone.
    undoable = connection.execute(
        "SELECT COUNT(*) FROM tag_journal WHERE kind = 'tag' AND state = 'done' AND undone_by IS NULL"
    ).fetchone()[0]
    return JournalSize(entries, undoable, kept)


@dataclass(frozen=True)
class StoreOverview:
    """``genretag store``: where the store is, how big, its schema version, its results and its journal."""

    path: Path
    file_bytes: int  # the database file with its write-ahead log
    schema_version: int
    results: int  # stored track results, every model
    journal: JournalSize


def store_overview() -> StoreOverview:
    """The store and the tag journal in it, in numbers (raises ``StoreError`` for an unusable store)."""
    connection = connect()
    try:
        path = database_file(connection)
        sizes = [os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}")]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        results = connection.execute("SELECT COUNT(*) FROM track_results").fetchone()[0]
        return StoreOverview(path, sum(sizes), version, results, journal_size(connection))
    finally:
        connection.close()
