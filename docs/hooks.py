"""MkDocs hooks: pages generated from the code at build time.

* ``<!-- oracle-catalogue -->`` in a page is replaced by a table of the
  built-in oracles, built from :mod:`imle_solvers.registry` and each oracle
  class's attributes (``sense``/``sense_doc``, ``event_doc``, ``output_doc``,
  ``instance_data``, ``complexity_doc``, ``backend``, ``dependencies``,
  ``device_native``), its constructor's signature and the first sentence of
  its docstring (:func:`oracle_catalogue`).
* every ``examples/*.py`` script (Jupytext percent format) becomes a page
  ``examples/<name>.md`` — its markdown cells as prose, its code cells as
  code — listed under "Examples" in the navigation, so an example added by
  anyone appears without editing ``mkdocs.yml``.
* every executed notebook ``notebooks/*.ipynb`` becomes a site file at
  ``notebooks/<name>.ipynb``, which the mkdocs-jupyter plugin renders with its
  stored outputs (``execute: false``), and ``notebooks/README.md`` becomes the
  section's index page ``notebooks/index.md``. Notebooks are listed in
  ``mkdocs.yml``'s nav by hand (a notebook left out fails ``--strict``).
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("mkdocs.hooks.imle_solvers")

CATALOGUE_MARKER = "<!-- oracle-catalogue -->"
EXAMPLES_DIR = ROOT / "examples"
NOTEBOOK_DIR = ROOT / "notebooks"
#: Pages owned by other work streams; the nav lists them, the build tolerates their absence.


# ---------------------------------------------------------------------- #
# The oracle catalogue
# ---------------------------------------------------------------------- #
def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    text = re.sub(r":(?:class|func|meth|mod|data|attr|exc):`~?([^`]+)`", lambda m: m.group(1).split(".")[-1], text)
    text = text.replace("``", "`")
    match = re.search(r"(?<=[.:])\s", text)
    sentence = text[: match.start()] if match else text
    return sentence.rstrip(":").rstrip(".") + "."


def _options(cls) -> str:
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return ""
    shown = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is inspect.Parameter.empty:
            shown.append(f"`{parameter.name}`")
        else:
            shown.append(f"`{parameter.name}={parameter.default!r}`")
    return ", ".join(shown) or "none"


def _instance_data(cls) -> str:
    data = dict(getattr(cls, "instance_data", {}) or {})
    if not data:
        return ""
    required = set(getattr(cls, "required_data", ()) or ())
    parts = []
    for key, ndim in data.items():
        shape = "scalar" if ndim == 0 else f"{ndim}-d"
        parts.append(f"`{key}` ({shape}{', required' if key in required else ''})")
    return "; data: " + ", ".join(parts)


def oracle_rows() -> list[dict[str, str]]:
    """One row per built-in oracle: the facts the catalogue shows."""
    from imle_solvers import registry

    rows = []
    for name in sorted(registry._BUILTINS):
        cls = registry.get_factory(name)
        path = registry._BUILTINS[name].replace(":", ".")
        public = f"imle_solvers.oracles.{cls.__name__}"
        dependencies = ", ".join(getattr(cls, "dependencies", ()) or ()) or "numpy"
        device = "; on the tensor's device" if cls.device_native else ""
        rows.append(
            {
                "name": name,
                "class": cls.__name__,
                "identifier": public,
                "path": path,
                "summary": _first_sentence(cls.__doc__),
                "sense": getattr(cls, "sense_doc", None) or cls.sense,
                "input": f"`{cls.event_doc}`{_instance_data(cls)}",
                "output": f"`{cls.output_doc or cls.event_doc}`",
                "options": _options(cls),
                "complexity": cls.complexity_doc,
                "backend": f"{cls.backend} ({dependencies}){device}",
            }
        )
    return rows


def oracle_catalogue() -> str:
    """The catalogue as a Markdown table plus one short section per oracle."""
    rows = oracle_rows()
    lines = [
        "| name | sense | input `(*batch, ...)` | output | complexity per instance | backend |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"[`{row['name']}`](#{row['name']})", row["sense"], row["input"], row["output"], row["complexity"],
                 row["backend"]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines.append("")
    for row in rows:
        lines += [
            f"### `{row['name']}` {{#{row['name']}}}",
            "",
            f"{row['summary']} Class [`{row['class']}`][{row['identifier']}].",
            "",
            f"- **options** (`get_oracle({row['name']!r}, ...)`): {row['options']}",
            f"- **sense**: {row['sense']}; **input**: {row['input']}; **output**: {row['output']}",
            f"- **complexity**: {row['complexity']}",
            f"- **backend**: {row['backend']}",
            "",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- #
# Example pages from examples/*.py
# ---------------------------------------------------------------------- #
def example_scripts() -> list[Path]:
    """The example scripts, sorted by name."""
    return sorted(EXAMPLES_DIR.glob("*.py"))


def example_title(script: Path) -> str:
    """The first Markdown heading of a percent-format script, else its name."""
    for line in script.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s+#+\s+(.*)", line)
        if match:
            return match.group(1).strip()
    return script.stem.replace("_", " ")


def example_page(script: Path) -> str:
    """A Markdown page from a Jupytext percent-format script: its title, how
    to run it, then markdown cells as prose and code cells as fenced Python."""
    import jupytext

    notebook = jupytext.reads(script.read_text(encoding="utf-8"), fmt="py:percent")
    name = script.name
    note = (
        f"!!! note \"Run it\"\n    `python examples/{name}` (full) or `python examples/{name} --smoke` "
        f"(under a minute). Open it as a notebook with `jupytext --to notebook examples/{name}`.\n"
    )
    title = f"# {example_title(script)}\n"
    parts = []
    for cell in notebook.cells:
        source = cell.source.strip("\n")
        if not source.strip():
            continue
        if cell.cell_type == "markdown":
            lines = source.splitlines()
            if lines[0].startswith("# ") and not parts:  # the title of the first cell
                title = lines[0] + "\n"
                source = "\n".join(lines[1:]).strip("\n")
                if not source:
                    continue
            parts.append(source + "\n")
        else:
            parts.append(f"```python\n{source}\n```\n")
    return "\n".join([title, note, *parts])


# ---------------------------------------------------------------------- #
# MkDocs events
# ---------------------------------------------------------------------- #
def _walk_nav(nav):
    """The nav with the example pages under "Examples"."""
    out = []
    for item in nav:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                value = _walk_nav(value)
                if not value:
                    continue
            elif value == "examples.md":
                examples = [{example_title(s): f"examples/{s.stem}.md"} for s in example_scripts()]
                value = ["examples.md", *examples]
            out.append({title: value})
        else:
            out.append(item)
    return out


def _use_this_checkout() -> None:
    """Import ``imle_solvers`` from this checkout, not another installed copy
    (MkDocs restores ``sys.path`` after loading the hook module, so this runs
    at ``on_config`` time)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module = sys.modules.get("imle_solvers")
    if module is not None and not str(Path(module.__file__).resolve()).startswith(str(ROOT)):
        raise RuntimeError(f"imle_solvers was imported from {module.__file__}, not from {ROOT}")


def _nav_paths(nav) -> set[str]:
    """Every page path a nav lists."""
    paths = set()
    for item in nav or []:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            paths |= _nav_paths(value)
        elif isinstance(value, str):
            paths.add(value)
    return paths


def notebooks_missing_from_nav(nav) -> list[str]:
    """The ``notebooks/<name>.ipynb`` pages that the nav does not list."""
    listed = _nav_paths(nav)
    return [f"notebooks/{path.name}" for path in notebook_files() if f"notebooks/{path.name}" not in listed]


def on_config(config, **kwargs):
    _use_this_checkout()
    config["nav"] = _walk_nav(config["nav"])
    for page in notebooks_missing_from_nav(config["nav"]):
        # a warning fails `mkdocs build --strict`
        log.warning("%s is not in mkdocs.yml's nav: add it under 'Notebooks'", page)
    return config


def notebook_files() -> list[Path]:
    """The executed notebooks, sorted by name."""
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


# Before the mkdocs-jupyter plugin's on_files (priority 0), which turns the
# notebook files added here into pages.
@event_priority(50)
def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for script in example_scripts():
        files.append(File.generated(config, f"examples/{script.stem}.md", content=example_page(script)))
    for notebook in notebook_files():
        files.append(File(f"notebooks/{notebook.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    readme = NOTEBOOK_DIR / "README.md"
    if readme.exists():
        files.append(File.generated(config, "notebooks/index.md", content=readme.read_text(encoding="utf-8")))
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    if CATALOGUE_MARKER in markdown:
        markdown = markdown.replace(CATALOGUE_MARKER, oracle_catalogue())
    return markdown
