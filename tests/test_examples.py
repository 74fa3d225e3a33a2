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


def _readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _under_main_guard(tree, node) -> bool:
    import ast

    for parent in ast.walk(tree):
        if isinstance(parent, ast.If) and "__name__" in ast.unparse(parent.test) and "__main__" in ast.unparse(parent.test):
            if any(child is node for child in ast.walk(parent)):
                return True
    return False


def test_readme_ten_lines_run_as_a_script_with_pools_under_the_main_guard(tmp_path):
    import ast

    code = _readme_block("Ten lines")
    tree = ast.parse(code)
    pooled = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
              and any(k.arg == "runner" and ast.unparse(k.value) not in ("'serial'", '"serial"') for k in node.keywords)]
    assert pooled, "the README's ten lines no longer show a pool"
    for node in pooled:
        # a spawned worker re-imports the script: a pool asked for at import time only works by luck
        assert _under_main_guard(tree, node), f"{ast.unparse(node)} is not under `if __name__ == \"__main__\":`"
    script = tmp_path / "ten_lines.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "argmin" in done.stdout and "topk" in done.stdout


def test_readme_runner_table_says_when_a_pool_solves_in_the_caller():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in text.split("## Runners\n", 1)[1].splitlines() if line.startswith("| `\"processes\"`")]
    assert table and "adaptive=False" in table[0] and "caller" in table[0]
