# TinyGPT course. Two commands matter: `make demo` and `make test`; `make help` lists the rest.
# Every target runs inside .venv, which is created and installed on first use.

.DEFAULT_GOAL := help
.PHONY: help venv lock demo test test-fast test-deps build check grade handout lint bench clean

# The Pythons the course supports: pyproject.toml's requires-python (both locks are resolved for all of them).
SUPPORTED := CPython 3.11.0 to 3.13
# The newest supported interpreter on PATH, whatever its name (`make PYTHON=/path/to/python3.12 venv` picks one).
PYTHON ?= $(shell for name in python3.13 python3.12 python3.11 python3; do \
	$$name -c 'import sys; v = sys.version_info; (3, 11) <= v[:2] < (3, 14) and print(v[1], sys.executable)' \
	2>/dev/null; done | sort -s -k1,1rn | head -n 1 | cut -d ' ' -f 2)
VENV := .venv
PY := $(VENV)/bin/python
COURSE := $(PY) -m course.cli
# Touched after a successful install: pip runs again only when pyproject.toml or the lock is newer.
INSTALLED := $(VENV)/.installed
# Exact versions of every package (`make lock` rewrites both from pyproject.toml; the student's is a part of it).
LOCK := requirements.lock
# The benchmark scripts `make bench` runs (bench/torch_gpt.py is a long training run: run it by hand).
BENCHMARKS := train_step generation grading cluster ngram

help: ## list the targets
	@echo "TinyGPT course. Start with 'make demo', then 'make test'."
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

UV := $(VENV)/bin/uv
# Tests run on every core, one file's tests on one worker (they share its module fixtures: a graded batch,
# a server, a folder). Not `--dist loadgroup`: pytest 9.2 broke its grouping (pytest-xdist issue 1386).
PYTEST := $(PY) -m pytest -n auto --dist loadfile

$(PY):
	@test -n "$(PYTHON)" || { echo "No supported Python on PATH: the course needs $(SUPPORTED) as python3.13, \
	python3.12, python3.11 or python3 (Debian/Ubuntu: apt-get install python3 python3-venv; else python.org)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) -V))"
	@$(PYTHON) -m venv $(VENV)

# uv (pinned in the lock) installs the lock: a fresh install takes under a minute, a warm one seconds.
$(INSTALLED): pyproject.toml $(LOCK) | $(PY)
	@echo "Installing the course and the exact versions of $(LOCK) into $(VENV)..."
	@$(PY) -m pip install -qq --disable-pip-version-check "$$(grep '^uv==' $(LOCK))"
	@$(UV) pip install --quiet --python $(PY) -r $(LOCK)
	@$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

venv: $(INSTALLED) ## create .venv and install the course (again only when pyproject.toml or the lock changes)

lock: $(INSTALLED) ## re-resolve pyproject.toml with uv for every supported Python and OS (UPGRADE=1: newest)
	$(PY) -m course.lock

demo: $(INSTALLED) ## build the release, grade three sample submissions, print their scores
	$(COURSE) demo

test: test-deps ## run the whole test suite on every core (what CI runs)
	$(PYTEST)

test-fast: $(INSTALLED) ## the inner loop, about a minute: framework, hidden suites on the reference, harness
	$(PYTEST) -m fast

test-deps: $(INSTALLED) ## install the system packages the tests need, when missing: Chromium, PostgreSQL's server
	@-$(PY) -m tests.browser.chromium --install  # without one the browser test fails, saying why
	@sh tests/grader/install_postgres.sh

build: $(INSTALLED) ## regenerate release/ (nbgrader) and solutions/ from source/
	$(COURSE) build

check: $(INSTALLED) ## prove the release, solutions, hidden tests and mutants agree
	$(COURSE) check

grade: $(INSTALLED) ## grade every submission in submitted/ (add FORCE=1 to regrade)
	$(COURSE) grade $(if $(FORCE),--force)

handout: $(INSTALLED) ## build dist/handout/ and dist/handout.zip for students
	$(COURSE) handout

lint: $(INSTALLED) ## ruff style check
	$(VENV)/bin/ruff check .

bench: $(INSTALLED) ## install the optional PyTorch extra and run the benchmarks in bench/
	@$(PY) -m pip install -qq --disable-pip-version-check -e '.[bench]'
	@for name in $(BENCHMARKS); do \
		if [ -f bench/$$name.py ]; then echo "== bench/$$name.py"; $(PY) -m bench.$$name || exit 1; fi; \
	done

clean: ## remove build outputs and caches (never submissions, grades or .venv)
	rm -rf dist build .pytest_cache .hypothesis .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
