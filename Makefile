# Two commands a newcomer needs:
#   make demo   set up .venv and run the main job: learn shortest paths on
#               12x12 grid maps from the paths alone (about 2-3 minutes on
#               2 CPU cores; results in runs/demo/)
#   make test   set up .venv and run the test suite
# Also: make oracles (the table of registered oracles), make oracles-doc (rewrite
# the catalogue in docs/oracles.md), make lint, make docs,
# make browser (Debian's chromium, for the docs test that renders a page),
#   make notebooks  regenerate notebooks/*.ipynb from their Jupytext sources
#               and execute them (full runs: minutes each; see notebooks/README.md);
#               one of them: make notebooks NOTEBOOKS=notebooks/synthetic_topk.py
# Torch is installed first from a pin you can override, e.g.
#   make test TORCH_SPEC="torch==2.14.1"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,distributed,bench

BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.imle-solvers-installed

.PHONY: install browser test demo oracles oracles-doc lint docs notebooks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install when the project's requirements change.
$(STAMP): pyproject.toml tests/plugin/pyproject.toml | $(PY)
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	$(PIP) install --quiet -e tests/plugin
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the docs test that opens a built page (tests/test_docs.py),
# from Debian's packages; skipped when a Chromium is on the PATH, and left to the
# test (which then skips, saying why) where apt-get or root is missing.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
			|| echo "make browser: could not install chromium; the docs browser test will skip"; \
	else echo "make browser: no chromium, and no root apt-get to install it; the docs browser test will skip"; fi

test: install browser
	$(PY) -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site -q

# Build the documentation site into .venv/site (open .venv/site/index.html),
# or serve it with live reload: .venv/bin/mkdocs serve
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site

# Each notebooks/NAME.py (the source of truth) becomes notebooks/NAME.ipynb,
# executed in full mode (IMLE_NOTEBOOK_SMOKE unset) by the venv's python3
# kernel in the notebooks/ folder, outputs stored.
NOTEBOOKS ?= $(wildcard notebooks/*.py)
notebooks: install
	@set -e; for source in $(NOTEBOOKS); do \
		echo "notebook $$source"; \
		$(BIN)/jupytext --quiet --to ipynb "$$source"; \
		env -u IMLE_NOTEBOOK_SMOKE PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" MPLBACKEND=module://matplotlib_inline.backend_inline \
			$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=3600 \
			--ExecutePreprocessor.record_timing=False "$${source%.py}.ipynb"; \
	done

demo: install
	$(BIN)/imle-solvers train-grid --output runs/demo

oracles: install
	$(BIN)/imle-solvers oracles

# Rewrite the oracle catalogue committed in docs/oracles.md (after adding or
# changing an oracle; tests/test_docs.py fails while it is out of date).
oracles-doc: install
	$(PY) docs/hooks.py

lint: install
	$(BIN)/ruff check imle_solvers tests benchmarks examples notebooks

clean:
	rm -rf $(VENV) build *.egg-info
