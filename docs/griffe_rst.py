"""A griffe extension that lets the API pages render the reST-flavoured bits
of the library's docstrings as Markdown.

The docstrings are written for readers of the source (and ``help()``):
Google-style sections, with a few reStructuredText habits — roles such as
``:class:`~imle_solvers.IMLE``` and ``:func:`get_oracle```, ``.. math::``
blocks, ``::`` before a literal block, and bare ``>>>`` examples in module
docstrings. mkdocstrings renders Markdown, so this extension rewrites, on the
copy that griffe hands to mkdocstrings (the source is untouched):

* roles -> ``<autoref identifier="..." optional><code>name</code></autoref>``:
  a link when the target is rendered on some page, plain code otherwise (no
  warning either way, so ``mkdocs build --strict`` stays quiet about targets
  outside the documented API such as ``scipy.optimize.linear_sum_assignment``);
* ``:math:`x``` -> ``$x$`` and ``.. math::`` blocks -> ``$$ ... $$``
  (rendered by MathJax through ``pymdownx.arithmatex``);
* a paragraph ending in ``::`` -> ``:`` (the indented block below it is a
  Markdown code block already);
* a run of ``>>>`` lines outside an ``Example(s):`` section -> a fenced
  ``pycon`` block (Markdown would read ``>>>`` as nested block quotes).
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|data|attr|exc|obj|const):`(~?)([^`<>]+?)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_SECTION = re.compile(r"^(\s*)(Examples?|Example usage):\s*$")
_ARGS = re.compile(r"^(\s*)(Args|Arguments|Parameters|Keyword Args|Keyword Arguments|Other Parameters):\s*$")
_RETURNS = re.compile(r"^(\s*)(Returns|Yields):\s*$")
_TYPED_ITEM = re.compile(r"^\s*[\w\[\]., |]+:\s")
_JOINT = re.compile(r"^(\s+)((?:\*{0,2}\w+\s*,\s*)+\*{0,2}\w+)(\s*\([^)]*\))?:(\s.*|)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _resolve(obj: griffe.Object, target: str) -> str:
    """The full path of ``target`` as written in ``obj``'s docstring."""
    target = target.strip().rstrip("()")
    if target.startswith("imle_solvers"):
        return target
    head, _, rest = target.partition(".")
    scope = obj
    while scope is not None:
        try:
            path = scope.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError, ValueError, TypeError):
            path = None
        if path:
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    if target.split(".")[0] in ("self", "cls"):
        return target
    # a bare public name: the flat API exports it
    return f"imle_solvers.{target}" if "." not in target else target


def _roles(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match) -> str:
        _, tilde, target = match.groups()
        shown = target.strip().split(".")[-1] if tilde else target.strip()
        identifier = _resolve(obj, target)
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    return _ROLE.sub(replace, text)


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == ".. math::":
            base = _indent(line)
            i += 1
            body: list[str] = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            pad = " " * base
            out.extend([f"{pad}$$", *(f"{pad}{b}" for b in body if b), f"{pad}$$", ""])
            continue
        out.append(line)
        i += 1
    return out


def _literal_markers(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        stripped = line.rstrip()
        if stripped.endswith("::") and not stripped.endswith(":::") and stripped.strip() != "::":
            line = stripped[:-1]
        elif stripped.strip() == "::":
            line = ""
        out.append(line)
    return out


def _fence_bare_doctests(lines: list[str]) -> list[str]:
    """Fence ``>>>`` runs that are not inside an Example(s) section."""
    out: list[str] = []
    section_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip():
            if section_indent is not None and _indent(line) <= section_indent:
                section_indent = None
            match = _SECTION.match(line)
            if match:
                section_indent = len(match.group(1))
                out.append(line)
                i += 1
                continue
        if section_indent is None and line.lstrip().startswith(">>>"):
            pad = " " * _indent(line)
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out.extend([f"{pad}```pycon", *block, f"{pad}```", ""])
            continue
        out.append(line)
        i += 1
    return out


def _examples_heading(lines: list[str]) -> list[str]:
    """``Example:`` (singular) is an admonition to griffe; make it the section."""
    return [re.sub(r"^(\s*)Example:\s*$", r"\1Examples:", line) for line in lines]


def _split_joint_parameters(lines: list[str]) -> list[str]:
    """``a, b: text`` in an Args section -> one entry per name, same text."""
    out: list[str] = []
    section_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() and section_indent is not None and _indent(line) <= section_indent:
            section_indent = None
        header = _ARGS.match(line)
        if header:
            section_indent = len(header.group(1))
            out.append(line)
            i += 1
            continue
        while (section_indent is not None and i + 1 < len(lines)
               and re.fullmatch(r"\s+[\w*]+(?:\s*,\s*[\w*]+)*\s*,", line)):
            line = line.rstrip() + " " + lines[i + 1].strip()  # names wrapped over two lines
            i += 1
        joint = _JOINT.match(line) if section_indent is not None else None
        if joint:
            pad, names, kind, rest = joint.groups()
            body = [rest.strip()]
            i += 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(pad)):
                if not lines[i].strip() and (i + 1 >= len(lines) or _indent(lines[i + 1]) <= len(pad)):
                    break
                body.append(lines[i])
                i += 1
            for name in (n.strip() for n in names.split(",")):
                out.append(f"{pad}{name}{kind or ''}: {body[0]}".rstrip())
                out.extend(body[1:])
            continue
        out.append(line)
        i += 1
    return out


def _join_return_lines(lines: list[str]) -> list[str]:
    """A ``Returns:`` text wrapped over several lines is one value, not one
    per line: indent its continuation lines (unless items are typed)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        header = _RETURNS.match(line)
        if not header:
            continue
        base = len(header.group(1))
        item_indent = None
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            current = lines[i]
            if current.strip():
                if item_indent is None:
                    item_indent = _indent(current)
                    typed = bool(_TYPED_ITEM.match(current))
                elif _indent(current) == item_indent and not typed:
                    current = "    " + current
            elif i + 1 < len(lines) and lines[i + 1].strip() and _indent(lines[i + 1]) <= base:
                out.append(current)
                i += 1
                break
            out.append(current)
            i += 1
    return out


def rewrite(obj: griffe.Object, text: str) -> str:
    """The Markdown form of one docstring (see the module docs)."""
    lines = _examples_heading(text.splitlines())
    lines = _split_joint_parameters(lines)
    lines = _join_return_lines(lines)
    lines = _math_blocks(lines)
    lines = _literal_markers(lines)
    lines = _fence_bare_doctests(lines)
    return _roles(obj, "\n".join(lines))


class RstToMarkdown(griffe.Extension):
    """Rewrite every loaded docstring with :func:`rewrite`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: D102
        docstring = obj.docstring
        if docstring is not None and docstring.value:
            docstring.value = rewrite(obj, docstring.value)
