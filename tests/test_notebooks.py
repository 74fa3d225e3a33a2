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

import json
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


def _write_beer_files(folder: Path, num_reviews: int = 60) -> None:
    """A few reviews in the original BeerAdvocate format (made up), with annotations and word vectors."""
    rng = __import__("random").Random(0)
    words = "the beer pours amber with citrus pine nose and a thin head".split()
    lines, annotations = [], []
    for _ in range(num_reviews):
        tokens = [rng.choice(words) for _ in range(rng.randint(5, 20))]
        ratings = [round(rng.random(), 2) for _ in range(5)]
        lines.append(" ".join(map(str, ratings)) + "\t" + " ".join(tokens))
        annotations.append({"x": tokens, "y": ratings, "0": [], "1": [[0, 2]], "2": []})
    (folder / "reviews.aspect1.train.txt").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    (folder / "reviews.aspect1.heldout.txt").write_text("\n".join(lines[40:]) + "\n", encoding="utf-8")
    (folder / "annotations.json").write_text("".join(json.dumps(a) + "\n" for a in annotations[40:]), encoding="utf-8")
    vectors = [f"{word} " + " ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(8)) for word in words[:-2]]
    (folder / "review+wiki.filtered.200.txt").write_text("\n".join(vectors) + "\n", encoding="utf-8")


def test_l2x_notebook_trains_on_beer_files_when_they_are_present(tmp_path):
    """Part 2 of notebooks/l2x.py takes the original-data branch (frozen word vectors) given IMLE_BEER_DIR."""
    source = NOTEBOOK_DIR / "l2x.py"
    if not source.exists():
        pytest.skip("notebooks/l2x.py is not in this checkout")
    data = tmp_path / "beer"
    data.mkdir()
    _write_beer_files(data)
    env = dict(os.environ, IMLE_NOTEBOOK_SMOKE="1", MPLBACKEND="Agg", IMLE_BEER_DIR=str(data))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, str(source)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"BeerAdvocate files found in {data}" in done.stdout
    assert "word vectors for 10 of 15 words (frozen, as in the original)" in done.stdout
    assert "40 training reviews, 20 held out, 20 annotated" in done.stdout


def test_every_notebook_is_in_the_docs_nav():
    """The site lists every executed notebook (docs/hooks.py also warns, failing ``mkdocs build --strict``)."""
    yaml = pytest.importorskip("yaml")
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    class Loader(yaml.SafeLoader):  # mkdocs.yml may hold !!python/name tags: read them as None
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)["nav"]
    assert hooks.notebooks_missing_from_nav(nav) == []
    assert hooks.notebooks_missing_from_nav([{"Home": "index.md"}]) == [
        f"notebooks/{path.name}" for path in sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    ]
