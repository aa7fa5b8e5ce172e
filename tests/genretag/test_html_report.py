"""`genretag report PATH... --html FILE`: one self-contained page, rendered by headless Chromium (Debian
package `chromium`, installed by .ci/run), with the genre chart, the sortable and filterable track table,
each track's timeline, and no error in the page. Real audio, a real scan, real subprocesses."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
from conftest import BRAHMS, VIBE_ACE, excerpt

from genretag import report
from genretag.results import TrackResult

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

    (tmp_path / "out").mkdir()
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
    assert len(re.findall(r'<button type="button" class="bar-row"', dom)) >= 1  # the genre chart
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


# ---------------------------------------------------------------- filtering, and every screen width

GENRES = ("classical", "jazz", "rock")


def made_up_result(path: str, rows: list[list[float]], warning: str | None = None) -> TrackResult:
    """A track result as the store holds one: 10 s segments with these probabilities, their mean the track's."""
    probabilities = np.array(rows, dtype=np.float32)
    bounds = [(10.0 * index, 10.0 * (index + 1)) for index in range(len(rows))]
    return TrackResult(
        path, MODEL, GENRES, 10.0 * len(rows), bounds, probabilities, probabilities.mean(axis=0), warning
    )


def a_library_page(tmp_path: Path) -> Path:
    """A report of made-up results: one classical track with a rock segment (rock only in a tooltip), jazz
    runner-ups, a long warning, long names and a 12-minute track."""
    classical = [0.7, 0.2, 0.1]
    results = [
        made_up_result("/music/a very long folder name for an album/01 first piece.flac", [classical] * 5
                       + [[0.2, 0.2, 0.6]]),
        made_up_result("/music/b/02 second.flac", [classical] * 72, warning="truncated: decoding stopped at 11:04 "
                       "of 12:00 (the rest of the file is damaged: invalid frame header at byte 10485760)"),
        made_up_result("/music/c/03_a_name_without_any_spaces_that_goes_on_and_on_and_on.flac", [[0.1, 0.8, 0.1]] * 3),
    ]  # fmt: skip
    page = tmp_path / "report.html"
    page.write_text(report.html_report(results, "genretag: /music"), encoding="utf-8")
    return page


def shown_rows(dom: str) -> list[str]:
    return [row for row in rows_of(dom) if " hidden" not in row.split(">", 1)[0]]


def test_the_filter_matches_what_a_row_shows_and_a_chart_bar_filters_its_genre(tmp_path):
    page = a_library_page(tmp_path)
    dom, _ = rendered(page, "#filter=rock")  # rock is only in a timeline's tooltip
    assert shown_rows(dom) == [] and '<span id="shown">0</span>' in dom
    dom, _ = rendered(page, "#filter=jazz")  # jazz: one track's genre, and two tracks' runner-up
    assert len(shown_rows(dom)) == 3
    dom, _ = rendered(page, "#filter=genre:jazz")  # what the jazz bar sets
    assert len(shown_rows(dom)) == 1 and "03_a_name" in shown_rows(dom)[0]


WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" src="PAGE" width="WIDTH" height="900" style="border:0"></iframe>
<script>
window.addEventListener("load", function () {
  var frame = document.getElementById("page"), doc = frame.contentDocument, win = frame.contentWindow;
  function rights(selector) {
    return Array.prototype.map.call(doc.querySelectorAll(selector), function (e) {
      return e.getBoundingClientRect().right; });
  }
  var out = {
    viewport: win.innerWidth,
    pageWidth: doc.documentElement.scrollWidth,
    clientWidth: doc.documentElement.clientWidth,
    counts: rights(".bar-row .count"),
    labels: rights(".bar-row .label"),
    timelines: rights(".timeline-box"),
    scrollBox: win.getComputedStyle(doc.querySelector(".table-scroll")).overflowX,
    tableWidth: doc.getElementById("tracks").scrollWidth,
    boxWidth: doc.querySelector(".table-scroll").clientWidth,
    errors: doc.body.getAttribute("data-errors")
  };
  var bars = doc.querySelectorAll(".bar-row");
  out.bars = Array.prototype.map.call(bars, function (bar) {
    bar.click();
    return [bar.querySelector(".count").textContent, doc.getElementById("shown").textContent];
  });
  document.body.setAttribute("data-layout", JSON.stringify(out));
});
</script></body></html>"""


def layout_at(page: Path, width: int) -> dict:
    wrapper = page.with_name(f"at-{width}.html")
    wrapper.write_text(WRAPPER.replace("PAGE", page.name).replace("WIDTH", str(width)), encoding="utf-8")
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=5000", f"--window-size={width + 40},1000", "--dump-dom", wrapper.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, done.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


def test_no_horizontal_overflow_at_1280_and_390_pixels(tmp_path):
    page = a_library_page(tmp_path)
    for width in (1280, 390):
        layout = layout_at(page, width)
        assert layout["errors"] is None, layout
        assert layout["viewport"] == width
        visible = layout["clientWidth"]  # the width less a scrollbar, if the page has one
        assert layout["pageWidth"] <= visible, (width, layout)  # the page itself never scrolls sideways
        assert max(layout["counts"]) <= visible and max(layout["labels"]) <= visible, (width, layout)  # chart whole
        assert [count for count, shown in layout["bars"]] == [shown for _, shown in layout["bars"]]  # bar → filter
        # Nothing cut: the table fits its box (a long warning wraps; at 390 px each track is a card), and
        # every timeline's box is on screen (a long track's timeline scrolls inside it).
        assert layout["tableWidth"] <= layout["boxWidth"], (width, layout)
        assert max(layout["timelines"]) <= visible, (width, layout)
        if width == 1280:  # were the table wider than a screen, its box would scroll
            assert layout["scrollBox"] == "auto"
