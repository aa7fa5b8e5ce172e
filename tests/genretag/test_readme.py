"""The README's promises a user copies: the set-up line installs torch's CPU build, and the JSON schema is
documented for every listing the CLI prints."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_setup_line_pins_torch_and_the_readme_says_how_to_get_the_cpu_build():
    # The pinned version installs the CPU build from this project's local wheel (CI's too);
    # PyTorch's own index is not reachable from these machines, so it is advice, not the command.
    setup = next(line for line in README.splitlines() if line.startswith("python3 -m venv .venv"))
    torch = re.search(r"pip install (torch[^&]*)", setup).group(1)
    assert torch.strip() == "torch==2.13.0", setup
    assert "pip install torch==2.13.0 --index-url\nhttps://download.pytorch.org/whl/cpu" in README
    assert "CPU build" in README


def test_the_readme_documents_the_json_schema_of_every_listing():
    for kind in ("scan", "tag", "undo", "models", "settings"):
        assert f"| `{kind}`" in README, kind
    assert '{"schema": 1, "kind": KIND, "rows":' in README
    assert '{"schema": 1, "kind": "tracks", "tracks": [...]}' in README
