"""`genretag scan --backend dask`: a real Dask cluster on loopback gives the local backend's genres."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas
import pytest
import soundfile
from conftest import BRAHMS, FISHIN, SUGAR_PLUM, VIBE_ACE, excerpt

CLIP_SECONDS = 15.0  # a full segment and a 5 s tail: two segments
RATE = 22_050


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Four 15 s excerpts of real recordings, in four containers, one with a stereo 44.1 kHz source."""
    root = tmp_path_factory.mktemp("dask-library")
    for source, name in ((BRAHMS, "brahms.flac"), (VIBE_ACE, "vibe ace.ogg"), (FISHIN, "fishin.mp3")):
        soundfile.write(root / name, excerpt(source, 0, CLIP_SECONDS), RATE)
    samples = excerpt(SUGAR_PLUM, 0, CLIP_SECONDS)
    upsampled = samples.repeat(2)  # stereo at 44.1 kHz, so the workers' downmix and resampler run too
    soundfile.write(root / "sugar plum.wav", np.stack([upsampled, 0.5 * upsampled], axis=1), 44_100)
    return root


def scan(library: Path, report: Path, home: Path, *options: str) -> pandas.DataFrame:
    """Run the real CLI in a subprocess and read its tracks CSV."""
    completed = subprocess.run(
        [sys.executable, "-m", "genretag", "scan", str(library), "--csv", str(report), *options],
        env={**os.environ, "GENRETAG_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return pandas.read_csv(report).sort_values("path").reset_index(drop=True)


def test_dask_cluster_scan_gives_the_local_genres(library, tmp_path):
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        on_dask = scan(
            library,
            tmp_path / "dask.csv",
            tmp_path / "home-dask",
            "--backend",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
        )
        # The tracks ran on the cluster's worker processes, which loaded the model there.
        loaded = client.run(lambda: len(getattr(sys.modules.get("genretag.scan"), "_LOADED_MODELS", ())))
    local = scan(library, tmp_path / "local.csv", tmp_path / "home-local", "--jobs", "2")

    assert len(on_dask) == len(local) == 4
    assert on_dask["error"].isna().all()
    assert list(on_dask["genre"]) == list(local["genre"])
    assert list(on_dask["duration_s"]) == pytest.approx(list(local["duration_s"]), abs=0.05)
    assert list(on_dask["confidence"]) == pytest.approx(list(local["confidence"]), abs=1e-3)
    assert len(worker_pids) == 2
    assert sum(loaded.values()) >= 1


def test_unreachable_scheduler_is_one_clear_usage_error(library, tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "genretag",
            "scan",
            str(library),
            "--backend",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
        env={**os.environ, "GENRETAG_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_scheduler_without_dask_backend_is_a_usage_error(library):
    completed = subprocess.run(
        [sys.executable, "-m", "genretag", "scan", str(library), "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "--scheduler needs --backend dask" in completed.stderr
