"""Every script in examples/ runs to completion in its smoke mode.

The list is the glob ``examples/*.py``, so an example added by anyone is run
too. Each runs in a fresh interpreter with ``--smoke`` and ``IMLE_SMOKE=1``
from the repository root, importing this checkout's ``imle_solvers``, and
must exit with status 0 (the examples assert what they show, e.g. that two
runners give the same answers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# Generous: a smoke run takes 5-25 s on 2 busy cores; the cap only stops a hang.
TIMEOUT_S = 240


def test_there_are_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("script", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs_in_smoke_mode(script):
    env = dict(os.environ)
    env["IMLE_SMOKE"] = "1"
    env["MPLBACKEND"] = "Agg"  # examples that plot must not need a display
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    try:
        done = subprocess.run(
            [sys.executable, str(script), "--smoke"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{script.name} --smoke ran past {TIMEOUT_S} s; output so far:\n{error.stdout}\n{error.stderr}")
    assert done.returncode == 0, (
        f"{script.name} --smoke exited with {done.returncode}\n"
        f"--- stdout (last 3000 chars) ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    )
