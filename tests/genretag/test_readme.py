"""The README's promises a user copies: the set-up line installs torch's CPU build, the JSON schema is
documented for every listing the CLI prints (in docs/formats.md, which the README links to), and every
relative link in the README and in docs/ leads to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
FORMATS = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
DOCS = sorted((REPO / "docs").glob("*.md"))

# [text](target) and ![alt](target), and <img src="target">
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def relative_links(text: str) -> list[str]:
    links = [a or b for a, b in LINK.findall(text)]
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_setup_line_pins_torch_and_the_readme_says_how_to_get_the_cpu_build():
    # The pinned version installs the CPU build from this project's local wheel (CI's too);
    # PyTorch's own index is not reachable from these machines, so it is advice, not the command.
    setup = next(line for line in README.splitlines() if line.startswith("python3 -m venv .venv"))
    torch = re.search(r"pip install (torch[^&]*)", setup).group(1)
    assert torch.strip() == "torch==2.13.0", setup
    assert "pip install torch==2.13.0 --index-url\nhttps://download.pytorch.org/whl/cpu" in README
    assert "CPU build" in README


def test_the_docs_document_the_json_schema_of_every_listing():
    for kind in ("scan", "tag", "undo", "models", "settings"):
        assert f"| `{kind}`" in FORMATS, kind
    assert '{"schema": 1, "kind": KIND, "rows":' in FORMATS
    assert '{"schema": 1, "kind": "tracks", "tracks": [...]}' in FORMATS


def test_the_readme_links_to_the_schema_page_and_every_other_page_of_docs():
    assert "](docs/formats.md)" in README
    for page in DOCS:
        assert f"](docs/{page.name})" in README, page.name


@pytest.mark.parametrize("page", [REPO / "README.md", *DOCS], ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file_and_a_heading(page: Path):
    text = page.read_text(encoding="utf-8")
    links = relative_links(text)
    assert links, page
    for link in links:
        path, _, anchor = unquote(link).partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_relative_to(REPO) and target.exists(), f"{page.name}: {link}"
        if anchor and target.suffix == ".md":
            assert anchor in anchors(target.read_text(encoding="utf-8")), f"{page.name}: {link}"
