# Two commands do all the set-up:  `make lab`  and  `make test`.
# Both create .venv if it is missing and install the kit into it; a second run reuses it.

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.outage_kit-installed
# JupyterLab refuses to run as root unless told that it is intended.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test lint format lessons slides student bench clean help

help:
	@echo "make lab      install (first time only) and start JupyterLab on lessons/ (PORT=$(PORT))"
	@echo "make test     install (first time only) and run unit, property, doctest and notebook tests"
	@echo "make lessons  re-execute every lesson in place and store its outputs"
	@echo "make slides   export every lesson to an offline reveal.js deck in build/slides/ (npm needed once)"
	@echo "make student  write the student edition (no solutions, re-run) to build/student/"
	@echo "make bench    run the benchmarks in bench/"
	@echo "make lint     ruff check and format check"

$(STAMP): pyproject.toml tools/jupyterlab-overrides.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "outage_kit needs Python >= 3.10; this is " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,accel]'
	@# A classroom is offline: JupyterLab must not ask to fetch news or check for updates.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp tools/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=lessons --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) $(ROOT_FLAG)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest tests outage_kit lessons --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lessons: $(STAMP)
	$(PY) tools/execute_lessons.py lessons/*.ipynb

slides: $(STAMP)
	$(PY) tools/build_slides.py --out build/slides

student: $(STAMP)
	$(PY) tools/build_student.py --out build/student

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf build .pytest_cache
