# The two commands a new user needs: `make demo` and `make test`.
# Both create .venv and install the pinned dependencies when needed (idempotent).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYWB_VENV := .venv-pywb
PYWB_STAMP := $(PYWB_VENV)/.installed

.PHONY: demo test venv pywb devtools sysdeps lint format bench clean

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

# Checking tools the replay tests use (py-wacz, cdxj-indexer, FastWARC): their own virtualenv.
DEV_VENV := .venv-dev
DEV_STAMP := $(DEV_VENV)/.installed
# A venv whose pip came out broken (seen once here) is made again, once.
$(DEV_STAMP): requirements-dev.lock
	test -x $(DEV_VENV)/bin/python || $(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.lock || \
	  { rm -rf $(DEV_VENV) && $(PYTHON) -m venv $(DEV_VENV) && \
	    $(DEV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.lock; }
	touch $(DEV_STAMP)

# ReplayWeb.page's static build (npm package), served on loopback by the WACZ test.
RWP_VERSION := 2.4.6
RWP_DIR := $(DEV_VENV)/replaywebpage
$(RWP_DIR)/index.html:
	@if command -v npm >/dev/null; then \
	  (mkdir -p $(RWP_DIR) && cd $(DEV_VENV) && npm pack -q replaywebpage@$(RWP_VERSION) >/dev/null && \
	  tar xzf replaywebpage-$(RWP_VERSION).tgz -C replaywebpage --strip-components=1 && \
	  rm replaywebpage-$(RWP_VERSION).tgz) || echo "npm pack replaywebpage failed: its test will say so"; \
	else echo "npm missing: the ReplayWeb.page test is skipped"; fi

devtools: $(DEV_STAMP) $(RWP_DIR)/index.html

# Debian packages the tests use (real servers and tools); installed when run as root.
SYSDEPS := cron chromium redis-server
sysdeps:
	@missing=""; for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1; \
	else echo "not root: for the full suite install:$$missing (tests needing them are skipped)"; fi

demo: venv
	$(VENV)/bin/newsarchive demo

# Tests wait on crawls and servers more than on the CPU: 3 workers fit 2 cores. By file, so
# a module's shared crawl fixture runs once.
TEST_WORKERS ?= 3
test: venv pywb devtools sysdeps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

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
	rm -rf $(VENV) $(PYWB_VENV) $(DEV_VENV) warc/*.warc.gz* warc/*.cdxj archive.duckdb*
