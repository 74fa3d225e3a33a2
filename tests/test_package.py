"""The package as a user meets it at a prompt: ``dir()`` and ``--version``."""

from __future__ import annotations

import pytest

import imle_solvers
from imle_solvers.cli import main


def test_dir_shows_the_public_names_and_no_helper_imports():
    names = dir(imle_solvers)
    for helper in ("Any", "annotations", "importlib"):
        assert helper not in names
    assert set(imle_solvers.__all__) <= set(names)
    assert "__version__" in names and "errors" in names  # dunders and our own submodules stay


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"imle-solvers {imle_solvers.__version__}"
