"""The README's promises a user copies: the set-up line installs torch's CPU build, and the JSON schema is
documented for every listing the CLI prints."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_setup_line_installs_torchs_cpu_build():
    setup = next(line for line in README.splitlines() if line.startswith("python3 -m venv .venv"))
    torch = re.search(r"pip install (torch[^&]*)", setup).group(1)
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch, setup
    assert "CPU build" in README


def test_the_readme_documents_the_json_schema_of_every_listing():
    for kind in ("scan", "tag", "undo", "models", "settings"):
        assert f"| `{kind}`" in README, kind
    assert '{"schema": 1, "kind": KIND, "rows":' in README
    assert '{"schema": 1, "kind": "tracks", "tracks": [...]}' in README
