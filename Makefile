# graphpde: the two quick-start commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints.txt

.PHONY: demo test test-fast bench lint venv docs clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

# torch goes in first, through the constraints file, so nothing later resolves a
# CUDA build from the registry.
$(VENV)/.torch: $(VENV)/bin/python $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) torch==2.13.0
	touch $@

$(VENV)/.installed: $(VENV)/.torch setup.cfg setup.py
	$(PIP) install -c $(CONSTRAINTS) -e ".[demo]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(PIP) install -c $(CONSTRAINTS) -e ".[test,notebooks,demo,tune,sets,docs,metis,bench]"
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

venv: $(VENV)/.installed

# The documentation packages alone (`make docs` without the test extras).
$(VENV)/.installed-docs: $(VENV)/.installed setup.cfg
	$(PIP) install -c $(CONSTRAINTS) -e ".[docs]"
	touch $@

# The documentation site (docstrings + notebooks, mkdocs-material) into site/; open
# site/index.html. Strict: any warning fails. Needs no network (no fonts, no CDN,
# notebooks are not executed).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

demo: $(VENV)/.installed
	$(PY) -m models.demo --out demo_out

# Lint first (fast, and CI enforces it), then the whole suite, the docstring
# examples (doctests), the notebooks and the strict documentation build.
test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check graphops solvers models tests benchmarks docs conftest.py
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --doctest-modules graphops solvers models docs/_griffe_ext.py
	$(PY) -m pytest -q --nbmake notebooks
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet --site-dir site

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -q -m "not slow" tests

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run_all.py

# Style check with STYLE.md's rule set (configured in ruff.toml); `make test` runs it
# first.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check graphops solvers models tests benchmarks docs conftest.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache build site *.egg-info
