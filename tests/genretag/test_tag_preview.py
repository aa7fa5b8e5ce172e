"""`tag`'s preview shows the same thing whatever the policy and threshold: every file's top-k genres with
their probabilities (those under --min-confidence dim), and a summary without "0 skipped (none)". Real
audio, real tags written by mutagen, the real CLI in a subprocess."""

from __future__ import annotations

import re

import mutagen
import soundfile
from conftest import BRAHMS, VIBE_ACE, excerpt
from test_cli_output import MODEL, RATE, run_cli


def test_the_proposal_is_shown_for_every_policy_and_threshold(tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    soundfile.write(library / "bare.flac", excerpt(VIBE_ACE, 10, 11), RATE)
    soundfile.write(library / "tagged.flac", excerpt(BRAHMS, 10, 11), RATE)
    tagged = mutagen.File(library / "tagged.flac", easy=True)
    tagged["genre"] = "Rock"
    tagged.save()
    assert run_cli("scan", str(library), "--model", MODEL).returncode == 0

    for policy in ("fill", "replace", "append"):
        for threshold in ("0", "0.5", "1"):
            options = ("--policy", policy, "--min-confidence", threshold, "--top-k", "2")
            piped = run_cli("tag", str(library), *options)
            assert piped.returncode == 0, piped.stderr
            header, *lines = piped.stdout.splitlines()
            columns = header.split("\t")
            for line in lines:
                row = dict(zip(columns, line.split("\t"), strict=True))
                assert len(row["proposed_genres"].split("; ")) == 2, (policy, threshold, row)
                assert len(row["proposed_probabilities"].split("; ")) == 2, (policy, threshold, row)
            table = run_cli("tag", str(library), *options, "--format", "table", columns=100)
            body = [line for line in table.stdout.splitlines() if ".flac" in line]
            # each file's line carries its genres' probabilities
            assert len(body) == 2 and all(re.search(r"\b[01]\.\d\d\b", line) for line in body), body

    written = run_cli("tag", str(library / "bare.flac"), "--min-confidence", "0", "--write")
    assert written.returncode == 0, written.stderr
    assert "1 file written, none skipped, 0 errors" in written.stderr
