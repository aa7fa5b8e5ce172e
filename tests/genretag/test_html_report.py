"""`genretag report PATH... --html FILE`: one self-contained page, rendered by headless Chromium (Debian
package `chromium`, installed by .ci/run), with the genre chart, the sortable and filterable track table,
each track's timeline, and no error in the page. Real audio, a real scan, real subprocesses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import soundfile
from conftest import BRAHMS, VIBE_ACE, excerpt

RATE = 22_050
MODEL = "v-kernel"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genretag", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
    return found


def rendered(page: Path, fragment: str = "") -> tuple[str, str]:
    """The page's DOM after its scripts ran, and Chromium's log."""
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--dump-dom", page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def rows_of(dom: str) -> list[str]:
    body = dom[dom.index("<tbody>") : dom.index("</tbody>")]
    return re.findall(r"<tr\b.*?</tr>", body, flags=re.S)


def test_html_report_renders_with_chart_table_and_timelines(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    soundfile.write(library / "a long piece for strings, 25 s.flac", excerpt(BRAHMS, 5, 25), RATE)
    soundfile.write(library / "jazz <i>not italic & co.wav", excerpt(VIBE_ACE, 10, 11), RATE)
    (library / "broken.ogg").write_bytes(b"OggS" + bytes(3000))
    assert run_cli("scan", str(library), "--model", MODEL, "--jobs", "1").returncode == 1  # broken.ogg failed

    page = tmp_path / "out" / "report.html"
    done = run_cli("report", str(library), "--html", str(page))
    assert done.returncode == 1, done.stderr  # a failed track, reported
    assert f"model: {MODEL} (the model of the stored results for these paths)" in done.stderr
    assert "error: " in done.stderr and "broken.ogg" in done.stderr
    assert f"3 tracks (1 failed) written to {page}" in done.stderr

    html = page.read_text(encoding="utf-8")
    # Self-contained: nothing is fetched when it opens.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html) and "<link" not in html
    assert "@import" not in html and "url(" not in html
    assert "jazz &lt;i&gt;not italic &amp; co.wav" in html  # names are text, not markup

    dom, log = rendered(page)
    body = re.search(r"<body[^>]*>", dom).group(0)  # the page's script marks it when done, and on any error
    assert 'data-ready="yes"' in body and "data-errors" not in body, body
    assert "Uncaught" not in log and ":ERROR:CONSOLE" not in log, log
    rows = rows_of(dom)
    assert len(rows) == 3
    assert len(re.findall(r'<rect class="bar"', dom)) >= 1  # the genre chart
    timelines = re.findall(r'<svg class="timeline".*?</svg>', dom, flags=re.S)
    assert len(timelines) == 2  # the two good tracks; the broken one has none
    assert sorted(timeline.count("<rect") for timeline in timelines) == [1, 3]  # 11 s: 1 segment; 25 s: 3
    assert all("<title>" in timeline for timeline in timelines)

    # A view in the address: sorted by duration, longest first; filtered.
    dom, _ = rendered(page, "#sort=duration&desc=1")
    rows = rows_of(dom)
    assert "25 s.flac" in rows[0] and 'aria-sort="descending"' in dom
    dom, _ = rendered(page, "#filter=broken")
    shown = [row for row in rows_of(dom) if "hidden" not in row.split(">", 1)[0]]
    assert len(shown) == 1 and "broken.ogg" in shown[0] and '<span id="shown">1</span>' in dom
