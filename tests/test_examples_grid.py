"""examples/grid_shortest_path.py runs end to end in smoke mode (a few seconds of work)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "grid_shortest_path.py"


def test_grid_example_runs_in_smoke_mode(tmp_path):
    env = {**os.environ, "IMLE_SOLVERS_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE), "--smoke"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    assert re.fullmatch(r"epoch 1/1  loss [\d.]+  test cost-optimal [\d.]+%  exact [\d.]+%  \d+ s", lines[-1]), lines
    assert not any(tmp_path.iterdir()), "smoke mode writes no data cache"


def test_grid_example_is_in_jupytext_percent_format():
    text = EXAMPLE.read_text()
    assert text.startswith("# %% [markdown]\n# # ")
    assert text.count("\n# %%\n") >= 3
