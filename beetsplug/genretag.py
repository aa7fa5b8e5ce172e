"""genretag inside beets: ``beet genretag [QUERY]`` sets items' genres from their audio.

The matching items go through genretag's own scan (``genretag.scan.scan_files``): the
same store, so a file analysed before (by this plugin or by ``genretag scan``) is not
analysed again, and the same worker processes. The genre goes into beets' database
(the ``genres`` list on beets 2.x, ``genre`` before it), with flexible fields
``genretag_genre``, ``genretag_confidence`` and ``genretag_model`` on every classified
item. A learnt model's "none of these" (its best genre under the card's open-set threshold,
``tagrules.none_of_these``) sets no genre and no ``genretag_genre``: ``genretag_none_of_these``
is true and ``genretag_best_guess`` keeps the best genre (``genretag_confidence`` its probability).
Files are written only by beets: ``beet genretag`` calls beets' own
``item.try_write()`` when ``import.write`` or ``-w`` says so, and the ``auto`` import
stage sets the genres before beets writes the imported files (if that import writes).
A tag write by beets leaves genretag's stored results valid (``store.restamp``).

Configuration (``genretag:`` in beets' config.yaml)::

    genretag:
      model: ''            # '' = genretag's default model
      top_k: 1             # up to this many genres per item...
      min_confidence: 0.5  # ...each with at least this probability
      policy: fill         # fill: only items without a genre; replace; append
      names: {}            # model label -> genre name, e.g. {hiphop: Hip Hop}
      auto: no             # yes: also set genres as `beet import` adds items
      jobs: 0              # worker processes for files not yet analysed (0: all cores)

torch and genretag are imported only when something is classified, so every other
``beet`` command stays as fast with the plugin enabled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from beets import ui
from beets.dbcore import types
from beets.library import Item
from beets.plugins import BeetsPlugin
from beets.util import displayable_path

from genretag.tagrules import DEFAULT_MIN_CONFIDENCE, DEFAULT_TOP_K, Outcome, Policy, TagOptions, none_of_these

# beets before 2.x keeps one genre string; several are joined as lastgenre joins them.
LEGACY_GENRE_SEPARATOR = ", "


@dataclass(frozen=True)
class Settings:
    """What one run uses: the config section, overridden by the command line."""

    model: str
    rule: TagOptions
    jobs: int


@dataclass
class ItemChange:
    """What a run does (or would do) with one item, and why."""

    item: Item
    action: str  # "set", "unchanged", "kept: has genre", "kept: low confidence", "failed"
    current: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    proposed: list[tuple[str, float]] = field(default_factory=list)  # genre names, best first
    genre: str = ""  # the best genre's name
    confidence: float = 0.0
    reason: str = ""
    result: object = None  # genretag's TrackResult
    from_store: bool = False
    open_set: float = 0.0  # the model's open-set threshold (``tagrules.open_set_threshold``)

    @property
    def none_of_these(self) -> bool:
        """Whether the best genre is the model's "none of these" (``tagrules.none_of_these``): no answer."""
        return none_of_these(self.confidence, self.open_set)


@dataclass
class Run:
    """One run over some items: the model (``weights.ModelIdentity``), what happened, how much was analysed."""

    model: object
    changes: list[ItemChange]
    analysed: int  # files analysed now; the others came from genretag's store
    written: int  # files written
    why: str = "named"  # how the model was chosen (``results.ModelChoice.why``)


def has_genres_list() -> bool:
    """Whether this beets keeps genres as a list (``genres``, beets 2.x) rather than one ``genre`` string."""
    return "genres" in Item._fields


def current_genres(item: Item) -> list[str]:
    """The item's own genres in beets' database."""
    if has_genres_list():
        return [value for value in (item.get("genres", with_album=False) or []) if value.strip()]
    value = item.get("genre", with_album=False) or ""
    return [part.strip() for part in value.split(LEGACY_GENRE_SEPARATOR) if part.strip()]


def set_genres(item: Item, values: list[str]) -> None:
    """Set the item's genres in beets' database (not the file)."""
    if has_genres_list():
        item.genres = list(values)
    else:
        item.genre = LEGACY_GENRE_SEPARATOR.join(values)


# The flexible fields of genretag's answer: a genre, or "none of these" and the best guess.
ANSWER_FIELDS = ("genretag_genre", "genretag_none_of_these", "genretag_best_guess")

# What a run calls each outcome of genretag's tag rule.
ACTIONS = {
    Outcome.SET: "set",
    Outcome.UNCHANGED: "unchanged",
    Outcome.HAS_GENRE: "kept: has genre",
    Outcome.LOW_CONFIDENCE: "kept: low confidence",
}


def plan_item(item: Item, result, settings: Settings) -> ItemChange:
    """Decide what to do with one item from its genretag result (a ``TrackResult``), by genretag's tag rule."""
    from genretag.tagrules import propose

    current = current_genres(item)
    if not result.ok:
        return ItemChange(item, "failed", current, reason=result.error or "not analysed")
    ranked = result.top_k(settings.rule.top_k)
    if not ranked:
        return ItemChange(item, "failed", current, reason="no genre probabilities")
    proposal = propose(ranked, current, settings.rule)
    genre, confidence = proposal.best
    return ItemChange(
        item,
        ACTIONS[proposal.outcome],
        current,
        new=list(proposal.new_values),
        proposed=list(proposal.proposed),
        genre=genre,
        confidence=confidence,
        reason=proposal.reason,
        open_set=settings.rule.open_set,
    )


def _file_has_genres(item: Item, genres: list[str]) -> bool:
    """Whether the item's file already holds ``genres`` (compared as genretag compares genre values)."""
    from genretag.genres import same_genres
    from genretag.tags import TagError, read_genres

    try:
        return same_genres(read_genres(os.fsdecode(item.path)), genres)
    except (TagError, OSError):
        return True  # unreadable here: leave the file to beets' own `write`


def item_label(item: Item) -> str:
    """How a line names an item: beets' ``format_item`` when the item has a title, else its path."""
    return str(item) if item.title else displayable_path(item.path)


def change_line(change: ItemChange, pretend: bool) -> str:
    """One item's line: the item, genretag's answer, what happens to its genres."""
    from genretag.render import NONE_OF_THESE_WORDS, best_genre_text

    if change.action == "failed":
        return f"{item_label(change.item)}: failed: {change.reason}"
    answer = ", ".join(f"{name} {probability:.2f}" for name, probability in change.proposed)
    # Nothing passed: the best genre, or "none of these (best guess ...)" as `timeline` says it.
    answer = answer or best_genre_text(change.genre, change.confidence, change.open_set, NONE_OF_THESE_WORDS)
    before = "; ".join(change.current) or "(none)"
    if change.action == "set":
        what = f"genres {before} -> {'; '.join(change.new)}" + (" (pretend)" if pretend else "")
    elif change.action == "kept: low confidence":
        what = f"kept {before}: low confidence ({change.reason})"
    elif change.action == "kept: has genre":
        what = f"kept {before}: has a genre (-f replaces, --keep-existing appends)"
    else:
        what = f"unchanged {before}"
    return f"{item_label(change.item)}: {answer}: {what}"


def model_line(name: str, why: str) -> str:
    """Which model a run used and why, as ``genretag`` itself says it."""
    reason = {
        "named": "",
        "stored": " (the model of the stored results for these items)",
        "default": " (the default model)",
    }[why]
    return f"model: {name}{reason}"


def summary_line(changes: list[ItemChange], analysed: int, pretend: bool, written: int) -> str:
    """The run's totals."""
    from genretag.render import plural

    count = {action: sum(change.action == action for change in changes) for action in {c.action for c in changes}}
    kept = count.get("kept: has genre", 0) + count.get("kept: low confidence", 0)
    line = (
        f"{plural(len(changes), 'item')}: {count.get('set', 0)} {'to set' if pretend else 'set'}, "
        f"{count.get('unchanged', 0)} unchanged, {kept} kept "
        f"({count.get('kept: has genre', 0)} with a genre, {count.get('kept: low confidence', 0)} low confidence), "
        f"{count.get('failed', 0)} failed; {analysed} analysed, {len(changes) - analysed} from genretag's store"
    )
    if pretend:
        return line + "; pretend: nothing changed"
    return line + f"; {plural(written, 'file')} written"


class GenreTagPlugin(BeetsPlugin):
    """``beet genretag``: genres from the audio, by genretag's networks."""

    # Typed, so `beet ls genretag_confidence:..0.5` compares numbers, not strings.
    item_types = {"genretag_confidence": types.Float(2), "genretag_none_of_these": types.BOOLEAN}

    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "model": "",
                "top_k": DEFAULT_TOP_K,
                "min_confidence": DEFAULT_MIN_CONFIDENCE,
                "policy": Policy.FILL.value,
                "names": {},
                "auto": False,
                "jobs": 0,
            }
        )
        self._stamps_before_write: dict[bytes, object] = {}
        # Results of files the import stage classified, until beets has put the files in the library.
        self._classified_on_import: dict[int, tuple[object, object]] = {}
        self._import_problem = ""
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]
            self.register_listener("import_task_files", self._imported_files_placed)
        self.register_listener("write", self._before_write)
        self.register_listener("after_write", self._after_write)

    # ------------------------------------------------------------ settings

    def settings(self, options=None) -> Settings:
        """The config section, with the command line's options where given; raises ``ui.UserError``."""
        options = options or {}

        def pick(name: str, kind):
            given = options.get(name)
            return given if given is not None else self.config[name].get(kind)

        try:
            model, jobs = pick("model", str) or "", self.config["jobs"].get(int)
            rule = dict(
                policy=pick("policy", str),
                min_confidence=float(pick("min_confidence", float)),
                top_k=pick("top_k", int),
                names={str(label): str(name) for label, name in (self.config["names"].get(dict) or {}).items()},
            )
        except Exception as error:  # confuse's ConfigTypeError and friends
            raise ui.UserError(f"genretag: config: {error}") from None
        try:
            settings = Settings(model, TagOptions(**rule), jobs)
        except ValueError as error:  # a value out of range: the message names the setting
            raise ui.UserError(f"genretag: {error}") from None
        for label, name in settings.rule.names.items():
            if not name.strip():
                raise ui.UserError(f"genretag: names: empty name for {label!r}")
        return settings

    # ------------------------------------------------------------ the command

    def commands(self) -> list[ui.Subcommand]:
        command = ui.Subcommand("genretag", help="set genres from the audio with genretag's networks")
        parser = command.parser
        parser.usage = "beet genretag [options] [QUERY...]"
        parser.add_option(
            "-p", "--pretend", "-n", "--dry-run", action="store_true", help="show what would change; change nothing"
        )
        parser.add_option("-f", "--force", action="store_true", help="replace genres items already have")
        parser.add_option("--keep-existing", action="store_true", help="append to genres items already have")
        parser.add_option("-w", "--write", action="store_true", default=None, help="write the files' tags too")
        parser.add_option("-W", "--nowrite", action="store_false", dest="write", help="do not write the files")
        parser.add_option("-m", "--model", help="genretag model (see `genretag models`; default: its default)")
        parser.add_option("--top-k", dest="top_k", type="int", help="up to K genres per item")
        parser.add_option(
            "--min-confidence", dest="min_confidence", type="float", help="each genre needs this probability"
        )
        command.func = self._command
        return [command]

    def _command(self, lib, options, arguments) -> None:
        overrides = {"model": options.model, "top_k": options.top_k, "min_confidence": options.min_confidence}
        if options.keep_existing and options.force:
            raise ui.UserError("genretag: -f replaces genres, --keep-existing appends to them: give one")
        if options.keep_existing:
            overrides["policy"] = "append"
        elif options.force:
            overrides["policy"] = "replace"
        settings = self.settings(overrides)
        items = list(lib.items(arguments))
        if not items:
            ui.print_("no items match")
            return
        write = ui.should_write(options.write)
        run = self.tag_items(items, settings, options.pretend, write, ui.print_, progress=True)
        ui.print_(model_line(run.model.name, run.why))
        ui.print_(summary_line(run.changes, run.analysed, options.pretend, run.written))
        failed = sum(change.action == "failed" for change in run.changes)
        if failed:
            raise ui.UserError(f"genretag: {failed} of {len(run.changes)} items could not be classified")

    # ------------------------------------------------------------ import

    def imported(self, session, task) -> None:
        """``auto``: set the genres of a task's items as they are imported (beets writes them, if it writes)."""
        items = list(task.imported_items())
        if not items or self._import_problem:
            return
        try:
            run = self.tag_items(items, self.settings(), False, False, self._log.info, False, with_segments=True)
        except ui.UserError as error:
            # A broken setting or model: the import goes on without genres, and says so once.
            self._import_problem = str(error).removeprefix("genretag: ")
            self._log.error("{}; importing without genretag's genres", self._import_problem)
            return
        for change in run.changes:
            if change.result is not None and change.result.ok:
                self._classified_on_import[change.item.id] = (run.model, change.result)

    def _imported_files_placed(self, session, task) -> None:
        """Key the import stage's results by the files' paths in the library (copied or moved there)."""
        from genretag import store

        placed = [(item, self._classified_on_import.pop(item.id, None)) for item in task.imported_items()]
        moved = [(item, found) for item, found in placed if found and found[1].path != os.fsdecode(item.path)]
        if not moved:
            return
        connection = store.connect()
        try:
            for item, (model, result) in moved:
                path = os.fsdecode(item.path)
                try:
                    stamp = store.stamp_of(path)
                except OSError:
                    continue
                # A copy or move of the file analysed: the same audio, whatever tags beets wrote into it.
                result.path = path
                store.save_result(connection, result, stamp, model)
        finally:
            connection.close()

    # ------------------------------------------------------------ the work

    def tag_items(
        self, items, settings: Settings, pretend: bool, write: bool, show, progress: bool, with_segments: bool = False
    ):
        """Classify ``items`` through genretag's store and apply ``settings`` (unless ``pretend``).

        ``show`` receives one line per item. ``with_segments``: stored results come with their
        segment timelines too. Raises ``ui.UserError`` for an unusable model.
        """
        from genretag import scan, store
        from genretag.tagrules import model_open_set
        from genretag.weights import WeightsError, resolve_model

        by_path: dict[str, list[Item]] = {}
        for item in items:
            by_path.setdefault(os.fsdecode(item.path), []).append(item)
        try:
            # genretag's one rule: the model named, else that of the stored results for these files, else the default.
            roots = [os.path.commonpath(list(by_path))] if by_path else []
            choice = scan.choose_model(roots, settings.model or None)
            model = resolve_model(choice.name)
            rule = replace(settings.rule, open_set=model_open_set(choice.name))
            settings = replace(settings, model=choice.name, rule=rule)
        except WeightsError as error:
            raise ui.UserError(f"genretag: {error}") from None
        if settings.rule.top_k > len(model.genres):
            raise ui.UserError(
                f"genretag: top_k {settings.rule.top_k} is more than the model's {len(model.genres)} genres"
            )
        unknown = sorted(set(settings.rule.names) - set(model.genres))
        if unknown:
            # Not an error: one names map serves every model, and another model may not have a label.
            self._log.warning(
                "names: model {} has no genre {} (its genres: {})",
                model.name,
                ", ".join(unknown),
                ", ".join(model.genres),
            )
        changes, analysed, written = [], 0, 0
        connection = store.connect()
        events = scan.scan_files(
            list(by_path), model, connection, scan.ScanOptions(settings.jobs or -1, with_segments=with_segments)
        )
        # Results come as workers finish; items are shown (and changed) in the query's order, each as soon
        # as every item before it is done.
        order, ready, shown = list(by_path), {}, 0
        try:
            with _Progress(len(by_path), progress, show) as bar:
                for event in events:
                    analysed += not event.from_store
                    ready[event.result.path] = event
                    while shown < len(order) and order[shown] in ready:
                        done = ready.pop(order[shown])
                        shown += 1
                        for item in by_path[done.result.path]:
                            change = plan_item(item, done.result, settings)
                            change.result, change.from_store = done.result, done.from_store
                            changes.append(change)
                            bar.show(change_line(change, pretend))
                            if not pretend:
                                written += self._apply(change, model.name, write)
                    bar.advance()
        except WeightsError as error:
            raise ui.UserError(f"genretag: {error}") from None
        finally:
            events.close()  # its own cleanup needs the connection
            connection.close()
        for change in changes:
            if change.action == "failed":
                self._log.error("{}: {}", os.fsdecode(change.item.path), change.reason)
        return Run(model, changes, analysed, written, choice.why)

    def _apply(self, change: ItemChange, model: str, write: bool) -> bool:
        """Store one item's change in beets' database, writing the file when asked; returns whether it was written."""
        if change.action == "failed":
            return False
        item = change.item
        answer = {"genretag_genre": change.genre}
        if change.none_of_these:  # no genre: its best guess, kept apart (never set as a genre, by the rule)
            answer = {"genretag_none_of_these": True, "genretag_best_guess": change.genre}
        for key in (set(ANSWER_FIELDS) - answer.keys()).intersection(item.keys(with_album=False)):
            del item[key]  # left by a run of another model or threshold
        item.update(answer)
        item["genretag_confidence"] = round(change.confidence, 4)
        item["genretag_model"] = model
        written = False
        if change.action == "set":
            set_genres(item, change.new)
            # Only a changed genre is worth a write: the flexible fields live in beets' database alone.
            written = write and item.try_write()
        elif (
            change.action in ("unchanged", "kept: has genre")
            and write
            and change.current
            and not _file_has_genres(item, change.current)
        ):
            # Genres in beets' database that its file lacks (an as-is import): -w writes them, as lastgenre's does.
            written = item.try_write()
        item.store()
        return written

    # ------------------------------------------------------------ keeping the store fresh

    def _before_write(self, item, path, tags) -> None:
        try:
            self._stamps_before_write[path] = os.stat(path)
        except OSError:
            self._stamps_before_write.pop(path, None)

    def _after_write(self, item, path) -> None:
        """A beets write changes only tags: genretag's results for the file as it was still hold."""
        before = self._stamps_before_write.pop(path, None)
        if before is None:
            return
        from genretag import store

        if not store.database_path().is_file():
            return
        try:
            after = os.stat(path)
            connection = store.connect()
            try:
                store.restamp(
                    connection,
                    os.fsdecode(path),
                    store.FileStamp(before.st_size, before.st_mtime_ns),
                    store.FileStamp(after.st_size, after.st_mtime_ns),
                )
            finally:
                connection.close()
        except (OSError, store.sqlite3.Error) as error:
            # The write itself succeeded: the file is only analysed again next time.
            self._log.debug("cannot restamp {}: {}", os.fsdecode(path), error)


class _Progress:
    """A progress bar while items are classified, when stdout is a terminal; item lines print above it."""

    def __init__(self, total: int, enabled: bool, show) -> None:
        self.total, self.enabled, self.show_plain, self.bar = total, enabled, show, None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            console = Console(highlight=False, soft_wrap=True)
            if console.is_terminal:
                self.bar = Progress(
                    TextColumn("genretag"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total} files"),
                    TimeElapsedColumn(),
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
                    console=console,
                    transient=True,
                )
                self.bar.__enter__()
                self.task = self.bar.add_task("genretag", total=self.total)
        return self

    def show(self, line: str) -> None:
        """Print one line (above the bar while there is one)."""
        if self.bar is None:
            self.show_plain(line)
        else:
            self.bar.console.print(line, markup=False)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
