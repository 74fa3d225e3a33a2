"""What an oracle factory accepts: its options (with defaults) and its per-call data.

Read from the factory's signature and the :class:`~imle_solvers.oracles.Oracle`
class attributes (``instance_data``, ``required_data``, ``option_aliases``).
:func:`~imle_solvers.get_oracle` uses it to refuse a wrong, missing or
misspelled option with a message that lists what the oracle accepts;
``imle-solvers oracles NAME`` and the documentation's oracle catalogue show
the same facts.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "REQUIRED", "option_defaults", "format_option", "per_call_data", "per_call_hint", "describe_data", "check_options",
    "summary",
]

#: The default of an option that has none (it must be given).
REQUIRED = inspect.Parameter.empty

#: Keywords :func:`get_oracle` takes for every oracle.
COMMON = {"runner": "serial", "timeout": None}


def option_defaults(factory: Any) -> dict[str, Any] | None:
    """``{option: default}`` (``REQUIRED`` when it has none) for the keyword
    options of ``factory`` — an Oracle class or a factory function — without
    the spellings listed in its ``option_aliases``; ``None`` when they cannot
    be known (the factory takes ``**kwargs`` or has no readable signature)."""
    if isinstance(factory, type) and factory.__init__ is object.__init__:
        return {}
    target = factory.__init__ if isinstance(factory, type) else factory
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    if isinstance(factory, type):
        parameters = parameters[1:]  # self
    aliases = aliases_of(factory)
    found: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind is parameter.VAR_KEYWORD:
            return None
        if parameter.kind is parameter.VAR_POSITIONAL or parameter.name in aliases:
            continue
        found[parameter.name] = parameter.default
    return found


def aliases_of(factory: Any) -> Mapping[str, str]:
    """``{other spelling: option}`` (e.g. ``neighborhood`` for ``neighbourhood``)."""
    return dict(getattr(factory, "option_aliases", {}) or {})


def format_option(name: str, default: Any) -> str:
    """``"k (required)"`` or ``"neighbourhood=8"``."""
    return f"{name} (required)" if default is REQUIRED else f"{name}={default!r}"


def per_call_data(factory: Any) -> list[tuple[str, int, bool]]:
    """``(name, per-instance ndim, required)`` for each keyword array the
    oracle takes with each call, in its declared order."""
    data = dict(getattr(factory, "instance_data", {}) or {})
    required = set(getattr(factory, "required_data", ()) or ())
    return [(key, int(ndim), key in required) for key, ndim in data.items()]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def per_call_hint(factory: Any, key: str | None = None) -> str:
    """``"weights and capacity are passed with each call: oracle(theta, weights=..., capacity=...)"``."""
    data = per_call_data(factory)
    names = [name for name, _, required in data if required] or [name for name, _, _ in data]
    if key is not None and key not in names:
        names.append(key)
    verb = "is" if len(names) == 1 else "are"
    arguments = ", ".join(f"{name}=..." for name in names)
    return f"{_and(names)} {verb} passed with each call: oracle(theta, {arguments})"


def describe_options(factory: Any) -> str:
    """The options and their defaults, in words, for an error message."""
    accepted = option_defaults(factory)
    aliases = aliases_of(factory)
    if accepted is None:
        return ""
    shown = []
    for name, default in accepted.items():
        text = format_option(name, default)
        others = [alias for alias, target in aliases.items() if target == name]
        shown.append(text + (f" (also spelled {', '.join(others)})" if others else ""))
    common = ", ".join(format_option(name, default) for name, default in COMMON.items())
    if not shown:
        return f"It takes no options of its own; every oracle takes {common}"
    return f"Its options (with defaults): {', '.join(shown)}; and, for every oracle, {common}"


def check_options(name: str, factory: Any, given: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidInputError` when ``given`` holds an option the
    factory does not take (with a did-you-mean, or the per-call-data hint),
    or lacks a required one. Factories whose options cannot be read pass."""
    accepted = option_defaults(factory)
    if accepted is None:
        return
    aliases = aliases_of(factory)
    data_names = [key for key, _, _ in per_call_data(factory)]
    problems = []
    for key in given:
        if key in accepted or key in aliases:
            continue
        if key in data_names:
            problems.append(f"{key!r} is not an option: {per_call_hint(factory, key)}")
            continue
        close = difflib.get_close_matches(key, [*accepted, *aliases, *COMMON], n=1, cutoff=0.6)
        problems.append(f"unknown option {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if not problems:
        missing = [key for key, default in accepted.items() if default is REQUIRED and key not in given]
        if missing:
            problems.append(f"missing required option{'s' if len(missing) > 1 else ''} "
                            f"{_and([repr(key) for key in missing])}")
    if problems:
        raise InvalidInputError(f"oracle {name!r}: {'; '.join(problems)}. {describe_options(factory)}", oracle=name)


def describe_data(factory: Any) -> str:
    """The per-call data in words, e.g. ``"weights (1-d per instance, required), capacity (scalar ...)"``."""
    parts = []
    for key, ndim, required in per_call_data(factory):
        shape = "scalar" if ndim == 0 else f"{ndim}-d"
        parts.append(f"{key} ({shape} per instance{', required' if required else ''})")
    return ", ".join(parts)


def summary(doc: str | None) -> str:
    """The first sentence of a docstring, Sphinx roles and double backticks made plain Markdown."""
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    text = re.sub(r":(?:class|func|meth|mod|data|attr|exc):`~?([^`]+)`", lambda m: m.group(1).split(".")[-1], text)
    text = text.replace("``", "`")
    match = re.search(r"(?<=[.:])\s", text)
    sentence = text[: match.start()] if match else text
    return sentence.rstrip(":").rstrip(".") + "."
