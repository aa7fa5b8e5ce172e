"""The SQLite results store: round trips, freshness keys, WAL, scan roots."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from genretag import config, store
from genretag.genres import GTZAN_GENRES
from genretag.results import TrackResult
from genretag.weights import ModelIdentity

MODEL = ModelIdentity("v-kernel", "a" * 64)


def classified(path, seed: int = 0) -> TrackResult:
    rng = np.random.default_rng(seed)
    segment_probabilities = rng.dirichlet(np.ones(len(GTZAN_GENRES)), size=3).astype(np.float32)
    return TrackResult(
        path=str(path),
        model=MODEL.name,
        genres=GTZAN_GENRES,
        duration_s=27.5,
        segment_bounds=[(0.0, 10.0), (10.0, 20.0), (17.5, 27.5)],
        segment_probabilities=segment_probabilities,
        probabilities=segment_probabilities.mean(axis=0),
        warning="truncated: decoded 27.5 s of the 60.0 s its header declares",
    )


@pytest.fixture
def connection():
    connection = store.connect()
    yield connection
    connection.close()


@pytest.fixture
def track(tmp_path):
    path = tmp_path / "song.flac"
    path.write_bytes(b"not decoded by the store")
    return path


def test_database_lives_in_genretag_home_in_wal_mode(connection, genretag_home):
    assert config.database_path() == genretag_home / "genretag.sqlite"
    assert config.database_path().is_file()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_result_round_trips_with_segments(connection, track):
    original = classified(track)
    store.save_result(connection, original, store.stamp_of(track), MODEL)
    [loaded] = store.load_results(connection, "v-kernel", [track], with_segments=True)
    assert loaded.path == str(track)
    assert loaded.genres == GTZAN_GENRES
    assert loaded.genre == original.genre
    np.testing.assert_allclose(loaded.probabilities, original.probabilities, atol=1e-6)
    np.testing.assert_allclose(loaded.segment_probabilities, original.segment_probabilities, atol=1e-6)
    assert loaded.segment_bounds == original.segment_bounds
    assert loaded.warning == original.warning and loaded.error is None
    [without] = store.load_results(connection, "v-kernel", [track])
    assert without.segment_bounds == [] and without.genre == original.genre


def test_failed_track_is_stored_with_its_reason(connection, track):
    failed = TrackResult(path=str(track), model="v-kernel", genres=GTZAN_GENRES, error="no audio could be decoded")
    store.save_result(connection, failed, store.stamp_of(track), MODEL)
    [loaded] = store.load_results(connection, "v-kernel", with_segments=True)
    assert not loaded.ok and loaded.error == "no audio could be decoded" and loaded.genre is None


def test_freshness_needs_same_size_mtime_model_hash_and_mode(connection, track):
    store.save_result(connection, classified(track), store.stamp_of(track), MODEL)
    stat = track.stat()
    stamp = store.FileStamp(stat.st_size, stat.st_mtime_ns)
    assert store.fresh_stamps(connection, MODEL) == {str(track): stamp}
    assert store.stored_stamp(connection, str(track), MODEL) == stamp
    for other in (
        ModelIdentity("v-kernel", "b" * 64),
        ModelIdentity("v-kernel", "a" * 64, whole_track=True),
        ModelIdentity("crnn", "a" * 64),
    ):
        assert store.fresh_stamps(connection, other) == {}
        assert store.stored_stamp(connection, str(track), other) is None
    os.utime(track, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert store.stamp_of(track) != store.fresh_stamps(connection, MODEL)[str(track)]


def test_reanalysis_replaces_the_row_and_counts_analyses(connection, track):
    store.save_result(connection, classified(track, seed=1), store.stamp_of(track), MODEL)
    store.save_result(connection, classified(track, seed=2), store.stamp_of(track), MODEL)
    rows = connection.execute("SELECT analyses FROM track_results").fetchall()
    assert rows == [(2,)]
    [loaded] = store.load_results(connection, "v-kernel", with_segments=True)
    np.testing.assert_allclose(loaded.probabilities, classified(track, seed=2).probabilities, atol=1e-6)
    assert connection.execute("SELECT count(*) FROM segment_results").fetchone()[0] == 3


def test_results_under_selects_files_below_folders_only(connection, tmp_path):
    inside = tmp_path / "music" / "a.flac"
    sibling = tmp_path / "music-other" / "b.flac"
    for path in (inside, sibling):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        store.save_result(connection, classified(path), store.stamp_of(path), MODEL)
    assert [r.path for r in store.results_under(connection, "v-kernel", [tmp_path / "music"])] == [str(inside)]
    assert len(store.results_under(connection, "v-kernel", [tmp_path])) == 2
    assert store.results_under(connection, "crnn", [tmp_path]) == []


def test_scan_roots_are_remembered_absolute(connection, tmp_path, monkeypatch):
    assert store.last_scan_roots(connection) == []
    monkeypatch.chdir(tmp_path)
    store.record_scan_roots(connection, ["music", tmp_path / "other"])
    store.record_scan_roots(connection, ["music"])
    assert store.last_scan_roots(connection) == [tmp_path / "music"]


def test_a_reader_sees_committed_results_while_the_writer_stays_open(connection, track):
    store.save_result(connection, classified(track), store.stamp_of(track), MODEL)
    reader = sqlite3.connect(config.database_path())
    try:
        assert reader.execute("SELECT count(*) FROM track_results").fetchone()[0] == 1
    finally:
        reader.close()
