"""80 columns, as a terminal shows them: the tag table gives a file name room before the other columns, and
summary lines wrap between words, never inside one. The real CLI on a pseudo-terminal, real audio."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import soundfile
from conftest import VIBE_ACE, excerpt
from test_cli_output import MODEL, RATE, read_until_exit

# Long words: a column too narrow for them breaks them inside.
NAMES = ["01 - Aftermath_main_theme_extended.flac", "02 - Another_long_track_name_here.flac"]


def on_a_terminal(*args: str, columns: int = 80) -> tuple[int, str]:
    """Run genretag with stdout and stderr on a pseudo-terminal ``columns`` wide; (exit code, what it showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "genretag", *args],
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": str(columns), "OMP_NUM_THREADS": "1", "TERM": "dumb"},
    )
    os.close(follower)
    shown = read_until_exit(leader, process)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace")).replace("\r", "")
    return process.returncode, text


def test_the_tag_table_keeps_file_names_whole_and_summaries_wrap_between_words(tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    for name in NAMES:
        soundfile.write(library / name, excerpt(VIBE_ACE, 10, 11), RATE)
    code, shown = on_a_terminal("scan", str(library), "--model", MODEL, "--jobs", "1")
    assert code == 0, shown
    code, shown = on_a_terminal("tag", str(library), "--model", MODEL, "--min-confidence", "0", "--top-k", "2")
    assert code == 0, shown
    lines = shown.splitlines()
    assert all(len(line) <= 80 for line in lines), shown
    tokens = shown.split()
    for name in NAMES:  # each word of a name whole on its line, never broken inside
        assert all(word in tokens for word in name.split()), shown
    # the summary, however it wraps, is its words in order: nothing broken inside a word
    summary = "preview: 2 files to write, none skipped, 0 errors; nothing written (add --write to write)"
    assert summary in " ".join(tokens), shown


def test_a_long_action_folds_instead_of_being_cut_when_file_names_are_long(tmp_path):
    # Long names with spaces claim their 45 % of the width; "skip: low confidence" must still show whole.
    library = tmp_path / "Kevin MacLeod - Royalty-Free Collection, Volume 3 (Remastered)"
    library.mkdir()
    names = [
        "03 - Let's Go Fishin' (Karissa Hobbs, acoustic).flac",
        "07 - Vibe Ace (Extended Club Version, Live at the Old Town Hall).flac",
    ]
    for name in names:
        soundfile.write(library / name, excerpt(VIBE_ACE, 10, 11), RATE)
    code, shown = on_a_terminal("scan", str(library), "--model", MODEL, "--jobs", "1")
    assert code == 0, shown
    code, shown = on_a_terminal("tag", str(library), "--model", MODEL, "--min-confidence", "1")
    assert code == 0, shown
    table = [line for line in shown.splitlines() if not line.startswith("under ")]  # the folder: one line
    assert all(len(line) <= 80 for line in table), shown
    assert shown.count("confidence") >= len(names), shown  # each row's "skip: low confidence", whole
