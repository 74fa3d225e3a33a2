"""The notebooks in notebooks/ run, and their stored .ipynb match their sources.

Conventions (notebooks/README.md): ``notebooks/<name>.py`` is a Jupytext
percent-format script and the source of truth; ``notebooks/<name>.ipynb`` is
generated from it by jupytext and executed in full mode by ``make notebooks``.
Here every source runs as a plain script in smoke mode
(``IMLE_NOTEBOOK_SMOKE=1``) in a fresh interpreter, from a temporary working
directory, importing this checkout's ``imle_solvers``; and every stored
notebook is checked against what jupytext generates from its source today,
for executed code cells with outputs, and for size.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="the docs extra (jupytext) is needed for the notebook checks")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOK_DIR.glob("*.py"))
IDS = [path.stem for path in SOURCES]
# A smoke run takes seconds; the cap only stops a hang on a busy 2-core machine.
TIMEOUT_S = 240
MAX_NOTEBOOK_BYTES = 2_000_000


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_there_are_notebooks():
    assert SOURCES, "notebooks/ has no Jupytext sources"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_source_is_a_percent_script_with_a_header(source):
    text = source.read_text(encoding="utf-8")
    assert text.startswith("# ---\n# jupyter:\n"), f"{source.name}: expected a jupytext header at the top"
    assert "format_name: percent" in text, f"{source.name}: expected the percent format"
    assert 'IMLE_NOTEBOOK_SMOKE") == "1"' in text, f"{source.name}: expected it to read IMLE_NOTEBOOK_SMOKE"
    notebook = jupytext.reads(text, fmt="py:percent")
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        f"{source.name}: expected a markdown cell with a '# title' first (what it reproduces, on which data)"
    )


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_stored_notebook_is_in_sync_and_executed(source):
    stored_path = source.with_suffix(".ipynb")
    assert stored_path.exists(), f"{stored_path.name} is missing: run `make notebooks NOTEBOOKS=notebooks/{source.name}`"
    size = stored_path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{stored_path.name} is {size:,} bytes; keep figures small (lower dpi)"
    stored = nbformat.read(stored_path, as_version=4)
    expected = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    assert _cells(stored) == _cells(expected), (
        f"{stored_path.name} differs from what jupytext generates from {source.name}: "
        f"run `make notebooks NOTEBOOKS=notebooks/{source.name}`"
    )
    code = [cell for cell in stored.cells if cell.cell_type == "code" and cell.source.strip()]
    assert code, f"{stored_path.name} has no code"
    unexecuted = [i for i, cell in enumerate(code) if cell.execution_count is None]
    assert not unexecuted, f"{stored_path.name}: code cells {unexecuted} were not executed"
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{stored_path.name} stored an error: {errors[0].ename}: {errors[0].evalue}"
    assert sum(len(cell.outputs) for cell in code) > 0, f"{stored_path.name} has no stored outputs"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_source_runs_in_smoke_mode(source, tmp_path):
    env = dict(os.environ)
    env["IMLE_NOTEBOOK_SMOKE"] = "1"
    env["MPLBACKEND"] = "Agg"  # plt.show() must not need a display
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    try:
        done = subprocess.run(
            [sys.executable, str(source)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{source.name} in smoke mode ran past {TIMEOUT_S} s; output so far:\n{error.stdout}\n{error.stderr}")
    assert done.returncode == 0, (
        f"{source.name} in smoke mode exited with {done.returncode}\n"
        f"--- stdout (last 3000 chars) ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    )
