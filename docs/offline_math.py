"""MkDocs hook: MathJax served from the site itself, not from a CDN.

A site built or read without a network showed its formulas as raw LaTeX
(``\\(z = \\arg\\max \\langle\\theta, z\\rangle\\)``) when MathJax came
from a CDN. The docs extra installs ``django-static-mathjax`` (a PyPI copy of
MathJax 3's ``es5`` build, no dependencies; its Python package is named
``mathjax``), and this hook adds the parts a page needs to the site under
``javascripts/mathjax/``: the ``tex-mml-chtml`` bundle that ``mkdocs.yml``
loads, the TeX extensions it loads on demand, the CHTML fonts, and the menu
with its accessibility components. ``tests/test_docs.py`` opens the oracle
catalogue in headless Chromium and checks that its formulas are rendered.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

DEST = "javascripts/mathjax"
# What tex-mml-chtml.js loads, at once or on demand (menu, speech, TeX extensions).
PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors")


def mathjax_es5() -> Path:
    """The ``es5`` folder of the installed MathJax copy."""
    try:
        import mathjax
    except ImportError as error:
        raise PluginError(
            "the documentation serves MathJax from the site itself: install the docs extra "
            "(pip install -e '.[docs]', which brings django-static-mathjax)"
        ) from error
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (es5 / PARTS[0]).is_file():
        raise PluginError(f"no MathJax es5 bundle at {es5}: reinstall django-static-mathjax")
    return es5


def on_files(files, config, **kwargs):
    es5 = mathjax_es5()
    for part in PARTS:
        path = es5 / part
        for source in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            uri = f"{DEST}/{source.relative_to(es5).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files
