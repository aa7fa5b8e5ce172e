"""A store that cannot be used is one clear error: not SQLite, truncated, a renamed column, newer, disk full.

Real SQLite files in the test's genretag home, damaged the way disks and people damage them.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from genretag import config, store
from genretag.cli import app
from genretag.genres import GTZAN_GENRES
from genretag.results import TrackResult
from genretag.weights import ModelIdentity

MODEL = ModelIdentity("v-kernel", "a" * 64)


def invoke(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args], env={"COLUMNS": "300"})


def result_for(path: str, seed: int, segments: int = 30) -> TrackResult:
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(len(GTZAN_GENRES)), size=segments).astype(np.float32)
    return TrackResult(
        path=path,
        model=MODEL.name,
        genres=GTZAN_GENRES,
        duration_s=10.0 * segments,
        segment_bounds=[(10.0 * index, 10.0 * index + 10) for index in range(segments)],
        segment_probabilities=probabilities,
        probabilities=probabilities.mean(axis=0),
    )


def filled_store(tracks: int = 200) -> None:
    connection = store.connect()
    for index in range(tracks):
        store.save_result(connection, result_for(f"/music/{index:04d}.flac", index), store.FileStamp(1, index), MODEL)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def assert_one_clear_error(result, *phrases, exit_code=2):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


@pytest.mark.parametrize("command", [["store"], ["export"], ["undo", "--all"], ["tag", "--write"]])
def test_a_text_file_as_the_store_is_one_clear_error(command, genretag_home):
    database = config.database_path()
    database.write_text("my notes, saved under the wrong name\n" * 50)

    result = invoke(*command)

    assert_one_clear_error(
        result, str(database), "damaged or not a genretag store", f"mv '{database}' '{database}.damaged'"
    )
    assert "results are re-computed" in result.output and "tag journal" in result.output
    assert database.read_text().startswith("my notes")  # never overwritten


def test_a_half_truncated_store_is_one_clear_error(genretag_home):
    filled_store()
    database = config.database_path()
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 2])

    result = invoke("export", "--model", "v-kernel")

    assert_one_clear_error(result, str(database), "damaged or not a genretag store")


def test_a_renamed_column_is_one_clear_error(genretag_home):
    filled_store(3)
    with sqlite3.connect(config.database_path()) as connection:
        connection.execute("ALTER TABLE track_results RENAME COLUMN duration_s TO length_s")

    result = invoke("export", "--model", "v-kernel")

    assert_one_clear_error(result, "damaged or not a genretag store", "track_results lacks duration_s")


def test_a_store_of_a_newer_genretag_is_refused_and_an_older_one_migrated(genretag_home):
    filled_store(3)
    with sqlite3.connect(config.database_path()) as connection:
        connection.execute("PRAGMA user_version = 99")
    assert_one_clear_error(invoke("store"), "made by a newer genretag (schema 99", "upgrade genretag")

    # An older store: no version recorded, and the journal without its later columns.
    with sqlite3.connect(config.database_path()) as connection:
        connection.execute("PRAGMA user_version = 0")
        connection.execute("ALTER TABLE tag_journal DROP COLUMN restore_ranges")
    result = invoke("store")

    assert result.exit_code == 0, result.output
    assert f"schema {store.SCHEMA_VERSION}" in result.output and "3 track results" in result.output
    with sqlite3.connect(config.database_path()) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert "restore_ranges" in {row[1] for row in connection.execute("PRAGMA table_info(tag_journal)")}


def test_a_full_store_says_so_and_keeps_what_was_stored(genretag_home):
    connection = store.connect()
    # SQLite's own limit on the file's size: the same SQLITE_FULL a full disk gives.
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages + 40}")
    stored = 0
    with pytest.raises(store.StoreFull, match="the disk is full") as raised:
        for index in range(1000):
            store.save_result(connection, result_for(f"/music/{index:04d}.flac", index), store.FileStamp(1, 1), MODEL)
            stored += 1
    connection.close()

    assert str(config.database_path()) in str(raised.value) and raised.value.exit_code == 1
    assert 0 < stored < 1000
    connection = store.connect()
    assert len(store.load_results(connection, MODEL.name)) == stored
    connection.close()
