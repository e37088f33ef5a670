# TinyGPT course. Two commands matter: `make demo` and `make test`; `make help` lists the rest.
# Every target runs inside .venv, which is created and installed on first use.

.DEFAULT_GOAL := help
.PHONY: help venv lock demo test build check grade handout lint bench clean

BASE_PYTHON := $(shell command -v python3.11 || command -v python3)
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
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	$(BASE_PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml $(LOCK) | $(PY)
	@echo "Installing the course and the exact versions of $(LOCK) into $(VENV) (a fresh install takes 1-3 minutes)..."
	@$(PY) -m pip install -qq --disable-pip-version-check -r $(LOCK)
	@$(PY) -m pip install -qq --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(INSTALLED) ## create .venv and install the course (pip runs again only when pyproject.toml or the lock changes)

lock: $(INSTALLED) ## re-resolve pyproject.toml: rewrite requirements.lock and requirements-student.lock
	$(PY) -m course.lock

demo: $(INSTALLED) ## build the release, grade three sample submissions, print their scores
	$(COURSE) demo

test: $(INSTALLED) ## run the whole test suite (installs a Chromium, the postgres extra and a PostgreSQL server if missing)
	-$(PY) -m tests.browser.chromium --install  # without one the browser test fails, saying why
	@$(PY) -c "import psycopg" 2>/dev/null || $(PY) -m pip install -qq --disable-pip-version-check -e '.[postgres]'
	@sh tests/grader/install_postgres.sh
	$(PY) -m pytest

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
