"""The beets plugin, run as beets users run it: real `beet` commands on a real beets library.

Each test builds a beets library in tmp_path (BEETSDIR, config.yaml with `plugins: genretag`)
from copies of real audio, imports it with `beet import -A -q`, and checks what beets' database,
genretag's store and the files themselves hold afterwards. What the model answers is read back
from genretag's store, never written into the tests, so they hold for any default model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import mutagen
import pytest
from conftest import BRAHMS, TRUMPET, VIBE_ACE, user_model

from genretag import config, store
from genretag.genres import display_name
from genretag.weights import DEFAULT_MODEL, list_cards, resolve_model

BEET = Path(sys.executable).with_name("beet")
# Three short files (5-30 s: Ogg Vorbis, MP3, AAC in MP4) without tags but ours; the trumpet is tagged "Jazz".
SOURCES = {
    "brahms.ogg": (BRAHMS, "Hungarian Dance No. 5", None),
    "vibe-ace.mp3": (VIBE_ACE, "Vibe Ace", None),
    "trumpet.m4a": (TRUMPET, "Solo Trumpet 06", "Jazz"),
}
FIELDS = "$title|$genres|$genretag_genre|$genretag_confidence|$genretag_model"


class BeetsLibrary:
    """A beets library in a temporary folder, driven through the `beet` command."""

    def __init__(self, root: Path, genretag_config: str) -> None:
        self.root = root
        self.source = root / "incoming"
        self.directory = root / "music"
        self.beetsdir = root / "beetsdir"
        for folder in (self.source, self.directory, self.beetsdir):
            folder.mkdir()
        for name, (original, title, genre) in SOURCES.items():
            # One album per file: beets keeps `genres` per album too, and aligns an album's tracks.
            copy = self.source / Path(name).stem / name
            copy.parent.mkdir()
            shutil.copyfile(original, copy)
            tags = mutagen.File(copy, easy=True)
            if tags.tags is None:
                tags.add_tags()
            tags["title"] = title
            tags["artist"] = "CC"
            tags["album"] = title
            if genre:
                tags["genre"] = genre
            tags.save()
        (self.beetsdir / "config.yaml").write_text(
            f"directory: {self.directory}\n"
            f"library: {self.beetsdir / 'library.db'}\n"
            "plugins: genretag\n"
            "import:\n  copy: yes\n  write: yes\n"
            # One process: the machine running the tests may have few cores to share.
            "genretag:\n  jobs: 1\n" + genretag_config,
            encoding="utf-8",
        )

    def beet(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        environment = {**os.environ, "BEETSDIR": str(self.beetsdir), "OMP_NUM_THREADS": "1"}
        completed = subprocess.run(
            [str(BEET), *arguments], capture_output=True, text=True, env=environment, timeout=300
        )
        if check:
            assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed

    def rows(self, *query: str) -> dict[str, list[str]]:
        """Title -> [genres, genretag_genre, genretag_confidence, genretag_model] as `beet ls -f` prints them."""
        lines = self.beet("ls", "-f", FIELDS, *query).stdout.splitlines()
        return {title: rest for title, *rest in (line.split("|") for line in lines)}

    def files(self) -> dict[str, Path]:
        """Title -> the file in the library, by its own tags."""
        found = {}
        for path in sorted(file for file in self.directory.rglob("*") if file.is_file()):
            found[mutagen.File(path, easy=True)["title"][0]] = path
        return found

    def file_genres(self) -> dict[str, list[str]]:
        return {title: list(mutagen.File(path, easy=True).get("genre", [])) for title, path in self.files().items()}

    def fingerprints(self) -> dict[str, tuple[str, int]]:
        """Title -> (sha256, mtime_ns) of every library file."""
        return {
            title: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for title, path in self.files().items()
        }


def stored_answers(paths, model: str = DEFAULT_MODEL, names=None) -> dict[str, tuple[str, float]]:
    """Path -> (genre name, probability) of the best genre in genretag's store, as the plugin names it."""
    connection = store.connect()
    try:
        results = store.load_results(connection, model, [str(path) for path in paths])
    finally:
        connection.close()
    return {result.path: (display_name(result.genre, names), result.confidence) for result in results}


def analyses(path: Path) -> int:
    """How many times genretag analysed this file."""
    with sqlite3.connect(config.database_path()) as connection:
        row = connection.execute("SELECT SUM(analyses) FROM track_results WHERE path = ?", (str(path),)).fetchone()
    return row[0] or 0


@pytest.fixture
def library(tmp_path) -> BeetsLibrary:
    # min_confidence 0: every classified item gets a genre, whatever the model's confidence.
    beets = BeetsLibrary(tmp_path, "  min_confidence: 0.0\n")
    beets.beet("import", "-A", "-q", str(beets.source))
    return beets


def test_pretend_changes_nothing_then_genretag_sets_genres_and_beet_write_writes_them(library):
    before_rows, before_files = library.rows(), library.fingerprints()
    assert {title: row[0] for title, row in before_rows.items()} == {
        "Hungarian Dance No. 5": "",
        "Vibe Ace": "",
        "Solo Trumpet 06": "Jazz",
    }

    pretend = library.beet("genretag", "-p")
    assert "pretend: nothing changed" in pretend.stdout
    assert "3 items: 2 to set" in pretend.stdout
    assert library.rows() == before_rows
    assert library.fingerprints() == before_files

    # -W: beets' database only; the pretend run already analysed every file.
    tagged = library.beet("genretag", "-W")
    assert "3 items: 2 set, 0 unchanged, 1 kept (1 with a genre" in tagged.stdout
    assert "0 analysed, 3 from genretag's store; 0 files written" in tagged.stdout
    files = library.files()
    answers = stored_answers(files.values())
    rows = library.rows()
    for title, path in files.items():
        genre, probability = answers[str(path)]
        genres, genretag_genre, confidence, model = rows[title]
        assert (genretag_genre, confidence, model) == (genre, f"{probability:.2f}", DEFAULT_MODEL)
        assert genres == ("Jazz" if title == "Solo Trumpet 06" else genre)  # fill: a genre already there stays
        assert analyses(path) == 1
    assert library.fingerprints() == before_files
    # genretag_confidence is a number to beets.
    assert set(library.rows("genretag_confidence:0..1")) == set(files)
    assert library.rows("genretag_confidence:1.01..") == {}

    library.beet("write")
    assert library.file_genres() == {title: [row[0]] for title, row in rows.items()}
    # beets' writes changed only tags: genretag's results still count, nothing is analysed again.
    again = library.beet("genretag")
    assert "0 analysed, 3 from genretag's store" in again.stdout
    assert all(analyses(path) == 1 for path in files.values())
    scanned = subprocess.run(
        [
            str(Path(sys.executable).with_name("genretag")),
            "scan",
            "--model",
            DEFAULT_MODEL,
            "--jobs",
            "1",
            str(library.directory),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    # stdout is a pipe: the table is TSV there and the summary goes to stderr
    assert "0 analysed, 3 from the store" in scanned.stderr, scanned.stdout + scanned.stderr


def test_genretag_writes_through_beets_when_import_write_is_on_and_force_and_keep_existing(library):
    tagged = library.beet("genretag")
    assert "2 files written" in tagged.stdout
    files = library.files()
    answers = stored_answers(files.values())
    genre = {title: answers[str(path)][0] for title, path in files.items()}
    assert library.file_genres() == {
        "Hungarian Dance No. 5": [genre["Hungarian Dance No. 5"]],
        "Vibe Ace": [genre["Vibe Ace"]],
        "Solo Trumpet 06": ["Jazz"],
    }

    library.beet("genretag", "--keep-existing", "title:Trumpet")
    expected = ["Jazz"] if genre["Solo Trumpet 06"] == "Jazz" else ["Jazz", genre["Solo Trumpet 06"]]
    assert library.rows("title:Trumpet")["Solo Trumpet 06"][0] == "; ".join(expected)
    assert library.file_genres()["Solo Trumpet 06"] == expected

    library.beet("genretag", "-f", "title:Trumpet")
    assert library.rows("title:Trumpet")["Solo Trumpet 06"][0] == genre["Solo Trumpet 06"]
    assert library.file_genres()["Solo Trumpet 06"] == [genre["Solo Trumpet 06"]]
    assert all(analyses(path) == 1 for path in files.values())


def test_auto_tags_on_import_and_the_results_follow_the_files_into_the_library(tmp_path):
    beets = BeetsLibrary(tmp_path, "  auto: yes\n  min_confidence: 0.0\n")
    imported = beets.beet("import", "-A", "-q", str(beets.source))
    files = beets.files()
    assert len(files) == 3, imported.stdout + imported.stderr
    answers = stored_answers(files.values())
    for title, (genres, genretag_genre, confidence, model) in beets.rows().items():
        genre, probability = answers[str(files[title])]
        assert (genretag_genre, confidence, model) == (genre, f"{probability:.2f}", DEFAULT_MODEL)
        assert genres == ("Jazz" if title == "Solo Trumpet 06" else genre)
    # An as-is import leaves the files' tags alone; `beet write` writes the genres.
    assert beets.file_genres() == {"Hungarian Dance No. 5": [], "Vibe Ace": [], "Solo Trumpet 06": ["Jazz"]}
    beets.beet("write")
    assert beets.file_genres()["Vibe Ace"] == [answers[str(files["Vibe Ace"])][0]]
    # Each file was analysed once, at its import path; the library's copies reuse that result.
    assert all(analyses(beets.source / Path(name).stem / name) == 1 for name in SOURCES)
    assert "0 analysed, 3 from genretag's store" in beets.beet("genretag").stdout


def test_config_names_top_k_low_confidence_and_another_model(tmp_path):
    labels = resolve_model(DEFAULT_MODEL).genres
    names = {label: f"GT {label.upper()}" for label in labels}
    config = "  names:\n" + "".join(f"    {label}: {name}\n" for label, name in names.items())
    beets = BeetsLibrary(tmp_path, config)
    beets.beet("import", "-A", "-q", str(beets.source))
    assert "pretend: nothing changed" in beets.beet("genretag", "-p").stdout
    files = beets.files()
    answers = {title: stored_answers([path], names=names)[str(path)] for title, path in files.items()}

    # Above the least sure item's best probability: its genres stay, genretag's answer is still recorded.
    unsure = min(answers, key=lambda title: answers[title][1])
    threshold = round((answers[unsure][1] + 1.0) / 2, 6)
    low = beets.beet("genretag", "-f", "--min-confidence", str(threshold), f"title:{unsure}")
    assert "0 set" in low.stdout and "1 low confidence" in low.stdout
    genres, genretag_genre, _, _ = beets.rows(f"title:{unsure}")[unsure]
    assert genres == ("Jazz" if unsure == "Solo Trumpet 06" else "")
    assert genretag_genre == answers[unsure][0] and genretag_genre.startswith("GT ")

    two = beets.beet("genretag", "-f", "--top-k", "2", "--min-confidence", "0", "-W", "title:Vibe")
    assert "1 set" in two.stdout
    genres = beets.rows("title:Vibe")["Vibe Ace"][0].split("; ")
    assert genres[0] == answers["Vibe Ace"][0] and len(genres) == 2 and genres[1] in names.values()

    other = next(card["name"] for card in list_cards() if card["source"] == "shipped" and card["name"] != DEFAULT_MODEL)
    beets.beet("genretag", "--model", other, "-f", "--min-confidence", "0", "-W", "title:Hungarian")
    brahms = beets.rows("title:Hungarian")["Hungarian Dance No. 5"]
    assert (
        brahms[3] == other
        and brahms[0]
        == stored_answers([files["Hungarian Dance No. 5"]], other, names)[str(files["Hungarian Dance No. 5"])][0]
    )

    unknown = beets.beet("genretag", "--model", "no-such-model", check=False)
    assert unknown.returncode == 1 and "no-such-model" in unknown.stderr
    too_many = beets.beet("genretag", "-p", "--top-k", str(len(labels) + 1), check=False)
    assert too_many.returncode == 1 and "top_k" in too_many.stderr


def test_the_plugin_follows_genretags_model_rule_and_says_which_model(tmp_path):
    beets = BeetsLibrary(tmp_path, "  min_confidence: 0.0\n")
    beets.beet("import", "-A", "-q", str(beets.source))
    genretag = str(Path(sys.executable).with_name("genretag"))
    scanned = subprocess.run(
        [genretag, "scan", "--model", "v-kernel", "--jobs", "1", str(beets.directory)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert scanned.returncode == 0, scanned.stderr
    # No model configured: the model of the stored results for these items, as `genretag tag` would use.
    pretend = beets.beet("genretag", "-p")
    assert "model: v-kernel (the model of the stored results for these items)" in pretend.stdout
    assert "0 analysed, 3 from genretag's store" in pretend.stdout
    named = beets.beet("genretag", "-p", "-m", "v-kernel", "title:Vibe")
    assert "model: v-kernel\n" in named.stdout


def test_items_are_listed_in_query_order_usage_names_query_and_force_with_keep_existing_is_refused(library):
    in_query_order = library.beet("ls", "-f", "$title").stdout.splitlines()
    pretend = library.beet("genretag", "-p")  # every file analysed now, the largest first
    titles = [line.split(":")[0].split(" - ")[-1] for line in pretend.stdout.splitlines() if ": " in line]
    listed = [title for title in titles if title in in_query_order]
    assert listed == in_query_order, pretend.stdout

    usage = library.beet("genretag", "-h")
    assert "beet genretag [options] [QUERY...]" in usage.stdout

    both = library.beet("genretag", "-f", "--keep-existing", check=False)
    assert both.returncode != 0 and "give one" in both.stdout + both.stderr


def test_write_after_an_as_is_import_writes_the_genres_the_files_lack(tmp_path):
    beets = BeetsLibrary(tmp_path, "  auto: yes\n  model: v-kernel\n  min_confidence: 0.0\n")
    beets.beet("import", "-A", "-q", str(beets.source))
    rows = beets.rows()
    assert beets.file_genres()["Vibe Ace"] == []  # set in beets' database only
    written = beets.beet("genretag", "-w")
    assert "2 files written" in written.stdout, written.stdout
    genres = beets.file_genres()
    assert genres["Vibe Ace"] == [rows["Vibe Ace"][0]] and genres["Hungarian Dance No. 5"] == [
        rows["Hungarian Dance No. 5"][0]
    ]
    assert genres["Solo Trumpet 06"] == ["Jazz"]
    again = beets.beet("genretag", "-w")  # nothing left to write
    assert "0 files written" in again.stdout


def test_a_learnt_models_none_of_these_sets_no_genre_and_is_marked_with_its_best_guess(tmp_path):
    user_model("mine", threshold=None)  # a learnt model; its open-set threshold comes once its answers are known
    beets = BeetsLibrary(tmp_path, "  model: mine\n  min_confidence: 0.0\n")
    beets.beet("import", "-A", "-q", str(beets.source))
    before = {title: row[0] for title, row in beets.rows().items()}
    beets.beet("genretag", "-p")  # analyses every file: a threshold in the card does not change the results
    files = beets.files()
    answers = {title: stored_answers([path], "mine")[str(path)] for title, path in files.items()}
    *unsure, sure = sorted(answers, key=lambda title: answers[title][1])
    assert answers[sure][1] - answers[unsure[-1]][1] > 0.005, answers  # the threshold parts them clearly
    user_model("mine", threshold=round((answers[unsure[-1]][1] + answers[sure][1]) / 2, 4))
    fields = "$title|$genres|$genretag_genre|$genretag_best_guess|$genretag_confidence|$genretag_none_of_these"

    def rows(*query: str) -> dict[str, list[str]]:
        lines = beets.beet("ls", "-f", fields, *query).stdout.splitlines()
        return {title: rest for title, *rest in (line.split("|") for line in lines)}

    def answered(genre: str, probability: float) -> list[str]:
        """An item's row with ``genre`` its answer, set as its genre (a field it lacks prints as `$field`)."""
        return [genre, genre, "$genretag_best_guess", f"{probability:.2f}", "$genretag_none_of_these"]

    tagged = beets.beet("genretag", "-f")  # replace, min_confidence 0: any answer would be set
    assert f"{len(unsure)} low confidence" in tagged.stdout and "0 analysed" in tagged.stdout, tagged.stdout
    listed, in_files = rows(), beets.file_genres()
    for title in unsure:  # "none of these": no genre set or written; the best guess kept apart, and marked
        genre, probability = answers[title]
        assert f"{title}: none of these (best guess {genre} {probability:.2f}): kept" in tagged.stdout
        assert listed[title] == [before[title], "$genretag_genre", genre, f"{probability:.2f}", "True"]
        assert in_files[title] == ([before[title]] if before[title] else [])
    assert listed[sure] == answered(*answers[sure]) and in_files[sure] == [answers[sure][0]]
    assert set(rows("genretag_none_of_these:true")) == set(unsure)

    user_model("mine", threshold=None)  # no threshold (a shipped model's case): the best genre is the answer
    beets.beet("genretag", "-f")
    listed = rows()
    assert listed == {title: answered(*answer) for title, answer in answers.items()}
    assert rows("genretag_none_of_these:true") == {}
