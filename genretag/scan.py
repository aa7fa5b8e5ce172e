"""Scanning a library: cached results from the store, the rest analysed in parallel.

The unit of parallel work is one track, ``analyse_track``: a plain top-level
function, so any joblib backend (loky processes here, Dask through
``joblib.parallel_config``) can run it. Each worker process loads the model once
and keeps it. Results stream back as they finish; only the calling process writes
the store, one commit per track, so an interrupted scan keeps what it finished.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from genretag import audio, store
from genretag.classify import classify_file
from genretag.library import walk_audio_files
from genretag.results import ModelChoice, TrackResult
from genretag.weights import LoadedModel, ModelIdentity, load_model, resolve_model

DASK_CONNECT_TIMEOUT_S = 10
CLAIM_POLL_S = 0.5  # how often a scan looks for the results of tracks another scan is analysing


_LOADED_MODELS: dict[ModelIdentity, LoadedModel] = {}


def _end_without_teardown() -> None:
    # Python's teardown of a process that imported torch takes half a second, and the
    # scan waits for its workers to end. A worker holds no open file and no unsent result
    # when its pool shuts it down, so it may skip the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _loaded_model(model: ModelIdentity, worker_process: bool) -> LoadedModel:
    key = model.reading(False)
    if key not in _LOADED_MODELS:
        import torch

        if worker_process and not _LOADED_MODELS:
            atexit.register(_end_without_teardown)
        # Workers run one track each on one core; more threads only contend.
        torch.set_num_threads(1)
        # The identity carries the data home: user models are found there, whatever this process's environment.
        _LOADED_MODELS[key] = load_model(model)
    return _LOADED_MODELS[key]


@contextmanager
def _native_stderr_discarded():
    """Send file descriptor 2 to a scratch file while native decoders run.

    libmpg123 and FFmpeg print warnings from C straight to fd 2; the scan reports
    each problem itself in one line, so their output is dropped.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def analyse_track(
    path: str, model: ModelIdentity, whole_track: bool = False, worker_process: bool = False
) -> TrackResult:
    """Classify one file in the current process; a file that cannot be decoded gives a result with ``error`` set.

    This is the unit of parallel work; ``model`` carries everything a fresh worker needs (its data home
    included). ``WeightsError`` (a broken model) is raised,
    not recorded per file, because it would fail every track the same way.
    ``worker_process``: the caller runs this in a local pool's worker, which then
    ends without Python's teardown when the pool shuts it down.
    """
    loaded = _loaded_model(model, worker_process)
    with _native_stderr_discarded():
        try:
            result = classify_file(path, loaded, whole_track=whole_track)
        except audio.AudioDecodeError as error:
            return TrackResult(path=path, model=model.name, genres=model.genres, error=str(error))
        except OSError as error:
            return TrackResult(path=path, model=model.name, genres=model.genres, error=error.strerror or str(error))
    return result


@dataclass(frozen=True)
class ScanOptions:
    """How a scan gets its results.

    ``jobs``: worker processes (-1: all cores). ``use_cache``: take fresh stored results
    instead of analysing again. ``whole_track``: the bicrnn's one pass over the whole
    track. ``with_segments``: also read the segment timelines of stored results
    (analysed ones always carry theirs). ``backend="dask"`` analyses on a Dask cluster
    (see ``dask_backend``; ``scheduler`` names an existing one, ``jobs`` sizes a local one).
    """

    jobs: int = -1
    use_cache: bool = True
    whole_track: bool = False
    with_segments: bool = False
    backend: str = "local"
    scheduler: str | None = None


@dataclass
class ScanEvent:
    """One file's outcome during a scan; ``from_store`` when no analysis was needed."""

    result: TrackResult
    from_store: bool


def _failed(path: str, model: ModelIdentity, reason: str) -> TrackResult:
    return TrackResult(path=path, model=model.name, genres=model.genres, error=reason)


class NothingFound(ValueError):
    """No audio file lies under the paths given (a usage error: nothing to do)."""


def nothing_found_message(paths: Iterable[str | Path]) -> str:
    """Why nothing was scanned, naming the paths and the extensions looked for."""
    from genretag.library import AUDIO_SUFFIXES

    named = ", ".join(str(path) for path in paths)
    return f"no audio files under {named} (looked for {' '.join(sorted(AUDIO_SUFFIXES))})"


class BackendError(Exception):
    """The Dask backend cannot be used: dask is not installed or the scheduler cannot be reached."""


@contextmanager
def dask_backend(scheduler: str | None = None, workers: int | None = None) -> Iterator[None]:
    """Run the per-track work of ``scan_files`` on a Dask cluster inside the block.

    With ``scheduler`` (``tcp://HOST:PORT``) the cluster is an existing one; without
    it a local cluster of ``workers`` single-threaded processes (default: one per
    core) is started and closed afterwards. Each worker must see the scanned files
    at the same paths and have this genretag installed: the weights travel with the
    package, and a worker whose weights or model card differ from the client's fails the
    scan. Results come back to this process, which alone writes the store.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise BackendError("the dask backend needs dask: pip install 'genretag[dask]'") from None
    from joblib import parallel_config

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(scheduler or cluster, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, RuntimeError) as error:
        if cluster is not None:
            cluster.close()
        where = f"reach the Dask scheduler at {scheduler}" if scheduler else "start a local Dask cluster"
        raise BackendError(f"cannot {where}: {error}") from None
    try:
        with parallel_config(backend="dask"):
            yield
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def scan_files(
    files: Iterable[str | Path],
    model: ModelIdentity,
    connection: sqlite3.Connection,
    options: ScanOptions | None = None,
) -> Iterator[ScanEvent]:
    """Results for ``files``: fresh stored ones first, then the others as workers finish them.

    Every analysed result is committed to the store as it arrives.
    """
    options = options or ScanOptions()
    identity = model.reading(options.whole_track)
    stored = store.fresh_stamps(connection, identity) if options.use_cache else {}
    fresh: list[str] = []
    pending: dict[str, store.FileStamp] = {}
    for file in files:
        path = str(file)
        try:
            stamp = store.stamp_of(path)
        except OSError as error:
            yield ScanEvent(_failed(path, model, f"cannot read: {error.strerror or error}"), from_store=False)
            continue
        if stored.get(path) == stamp:
            fresh.append(path)
        elif stamp.size == 0:
            empty = _failed(path, model, "empty file (0 bytes)")
            store.save_result(connection, empty, stamp, identity)
            yield ScanEvent(empty, from_store=False)
        else:
            pending[path] = stamp
    for result in store.load_results(
        connection, store.result_key(identity), fresh, with_segments=options.with_segments
    ):
        yield ScanEvent(result, from_store=True)
    if not pending:
        return
    # Another scan of the same files at the same time: each track is analysed by one of them only.
    mine, theirs = store.claim_tracks(connection, list(pending), identity)
    try:
        yield from _analyse({path: pending[path] for path in mine}, model, connection, identity, options)
    finally:
        store.release_claims(connection, mine, identity)
    yield from _wait_for_other_scans({path: pending[path] for path in theirs}, model, connection, identity, options)


def _wait_for_other_scans(waiting, model, connection, identity, options: ScanOptions) -> Iterator[ScanEvent]:
    """Results of tracks another running scan claimed: read from the store when it saved them, else analysed here."""
    while waiting:
        fresh = store.fresh_stamps(connection, identity)
        done = [path for path, stamp in waiting.items() if fresh.get(path) == stamp]
        for result in store.load_results(
            connection, store.result_key(identity), done, with_segments=options.with_segments
        ):
            yield ScanEvent(result, from_store=True)
        held = store.claimed_by_others(connection, waiting, identity)
        orphaned = {path: stamp for path, stamp in waiting.items() if path not in done and path not in held}
        if orphaned:  # the other scan ended or died without a result for them
            here = replace(options, jobs=1, backend="local", scheduler=None)
            yield from _analyse(orphaned, model, connection, identity, here)
        waiting = {path: stamp for path, stamp in waiting.items() if path in held and path not in done}
        if waiting:
            time.sleep(CLAIM_POLL_S)


def _analyse(pending, model, connection, identity, options: ScanOptions) -> Iterator[ScanEvent]:
    if not pending:
        return
    from joblib import Parallel, delayed, effective_n_jobs

    jobs = options.jobs
    if options.backend == "dask":
        context, workers = dask_backend(options.scheduler, jobs if jobs > 0 else None), -1  # -1: every cluster core
    else:
        # A single pending track is analysed in this process: starting workers would cost more than it.
        context, workers = nullcontext(), min(effective_n_jobs(jobs), len(pending))
    in_local_workers = options.backend != "dask" and workers > 1
    with context:
        # One track per task so each result streams back (and is stored) as soon as it is done; the
        # largest files first, so that no worker is left with a long track while the others idle.
        parallel = Parallel(n_jobs=workers, return_as="generator_unordered", batch_size=1)
        largest_first = sorted(pending, key=lambda path: pending[path].size, reverse=True)
        tasks = (delayed(analyse_track)(path, model, options.whole_track, in_local_workers) for path in largest_first)
        for result in parallel(tasks):
            store.save_result(connection, result, pending[result.path], identity)
            yield ScanEvent(result, from_store=False)


def choose_model(paths: Iterable[str | Path], model: str | None) -> ModelChoice:
    """The one rule for which model a command uses (scan, tag, report, export, timeline, the beets plugin):
    the model named (command line or config file), else the one the latest stored results under ``paths``
    came from, else the default. ``ModelChoice.why`` says which, for the command to tell the user.

    Raises ``WeightsError`` for a model that does not exist (named, or stored by a model since removed).
    """
    from genretag.weights import DEFAULT_MODEL, WeightsError, find_card

    if model:
        find_card(model)
        return ModelChoice(model, "named")
    connection = store.connect()
    try:
        stored = store.latest_model_under(connection, paths)
    finally:
        connection.close()
    if stored:
        try:
            find_card(stored)
            return ModelChoice(stored, "stored")
        except WeightsError:  # the model of those results is gone: fall back to the default
            pass
    return ModelChoice(DEFAULT_MODEL, "default")


def results_for(
    paths: Iterable[str | Path],
    model: str | ModelIdentity | None = None,
    options: ScanOptions | None = None,
    progress: Callable[[ScanEvent, int], None] | None = None,
) -> tuple[list[TrackResult], list[tuple[Path, str]]]:
    """Walk ``paths`` and return every audio file's result in walk order, analysing only what the store lacks.

    ``model``: a name (default: ``weights.DEFAULT_MODEL``) or an identity already resolved; ``options``: how
    (default ``ScanOptions()``: all cores, fresh stored results taken as they are). Also returns the
    walk's problems (unreadable folders). ``progress(event, total)`` is called for every file as its result
    comes. Raises ``library.LibraryPathError`` for a missing path, ``WeightsError`` for a bad model,
    ``NothingFound`` when there is no audio file under ``paths``.
    """
    walk = walk_audio_files(paths)
    if not walk.files and not walk.problems:
        raise NothingFound(nothing_found_message(paths))
    identity = model if isinstance(model, ModelIdentity) else resolve_model(model)
    connection = store.connect()
    try:
        by_path = {}
        for event in scan_files(walk.files, identity, connection, options):
            by_path[event.result.path] = event.result
            if progress:
                progress(event, len(walk.files))
    finally:
        connection.close()
    return [by_path[str(file)] for file in walk.files], walk.problems


@dataclass
class LibraryScan:
    """A scan ready to run: the model resolved, the paths walked; ``run`` yields one ``ScanEvent`` per file.

    What ``run`` has yielded so far stays: ``results`` (in walk order), ``analysed`` (the paths analysed
    now, not taken from the store) and ``stored_problems``.
    """

    paths: list[Path]
    model: ModelIdentity
    files: list[Path]
    problems: list[tuple[Path, str]]
    options: ScanOptions = field(default_factory=ScanOptions)
    choice: ModelChoice | None = None  # how the model was chosen (``choose_model``)
    analysed: set[str] = field(default_factory=set, init=False)
    _by_path: dict[str, TrackResult] = field(default_factory=dict, init=False, repr=False)

    def run(self) -> Iterator[ScanEvent]:
        """Results from the store or analysed, as they come; the scan roots are recorded for ``tag``."""
        connection = store.connect()
        try:
            if self.files:
                store.record_scan_roots(connection, self.paths)
            for event in scan_files(self.files, self.model, connection, self.options):
                self._by_path[event.result.path] = event.result
                if not event.from_store:
                    self.analysed.add(event.result.path)
                yield event
        finally:
            connection.close()

    @property
    def results(self) -> list[TrackResult]:
        """The results so far, in walk order (the order ``files`` lists them)."""
        return [self._by_path[str(file)] for file in self.files if str(file) in self._by_path]

    def stored_problems(self) -> list[tuple[str, str, str]]:
        """``(kind, path, reason)``: the error or warning of every result taken from the store, in walk order.

        A file analysed now reports its own problem as it comes; one from the store would
        otherwise say nothing of it, so its reason ends in ``(stored result)``.
        """
        problems = []
        for result in self.results:
            if result.path not in self.analysed and result.error:
                problems.append(("error", result.path, f"{result.error} (stored result)"))
            elif result.path not in self.analysed and result.warning:
                problems.append(("warning", result.path, f"{result.warning} (stored result)"))
        return problems


def plan_scan(
    paths: Iterable[str | Path],
    model: str | None = None,
    options: ScanOptions | None = None,
) -> LibraryScan:
    """Resolve the model (``choose_model``: the same rule as every command's) and walk ``paths`` for
    ``genretag scan``; nothing is analysed until ``run``.

    Raises ``WeightsError`` (bad model), ``library.LibraryPathError`` (missing path),
    ``NothingFound`` (no audio under ``paths``) or ``ValueError`` (options that do not fit together or the model).
    """
    options = options or ScanOptions()
    paths = [Path(path) for path in paths]
    choice = choose_model(paths, model)
    identity = resolve_model(choice.name)
    walk = walk_audio_files(paths)
    if not walk.files and not walk.problems:  # not recorded as the last scan: `tag` keeps the one before
        raise NothingFound(nothing_found_message(paths))
    if options.whole_track and identity.architecture != "bicrnn":
        raise ValueError(
            f"--whole-track needs the bicrnn architecture; model {identity.name!r} is {identity.architecture}"
        )
    if options.scheduler and options.backend != "dask":
        raise ValueError("--scheduler needs --backend dask")
    return LibraryScan(paths, identity, walk.files, walk.problems, options, choice)
