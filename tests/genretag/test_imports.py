"""``genretag --help`` stays fast: importing the command line loads none of the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "torch", "pandas", "rich", "mutagen", "librosa", "matplotlib", "soundfile", "av", "joblib")


def test_importing_the_cli_loads_no_heavy_library():
    code = "import sys, json, genretag.cli; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {name.split(".")[0] for name in json.loads(output)}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
