# The two commands a new user needs: `make demo` and `make test`.
# Both create .venv and install the pinned dependencies when needed (idempotent).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYWB_VENV := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed

.PHONY: demo test venv pywb sysdeps lint format bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# pywb pins old libraries, so it lives in a virtualenv of its own (used by replay tests).
$(PYWB_STAMP): requirements-pywb.lock
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-pywb.lock
	touch $(PYWB_STAMP)

pywb: $(PYWB_STAMP)

# Debian packages the tests use (real servers and tools); installed when run as root.
SYSDEPS := cron chromium
sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1; \
	else echo "not root: for the full suite install:$$missing (tests needing them are skipped)"; fi

demo: venv
	$(VENV)/bin/newsarchive demo

test: venv pywb sysdeps
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) bench/extraction.py
	$(PY) bench/index.py

clean:
	rm -rf $(VENV) $(PYWB_VENV) warc/*.warc.gz* warc/*.cdxj archive.duckdb*
