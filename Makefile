# EDMS — the two commands a newcomer needs:
#   make run    set up, initialise and serve on http://127.0.0.1:8000 (embedded default)
#   make test   set up and run the whole test suite (starts its own SeaweedFS S3 server)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

# In CI a missing PostgreSQL is a failure, not a skip.
ifdef CI
export EDMS_REQUIRE_POSTGRES := 1
endif

.PHONY: setup run test test-slow lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/system-deps.sh assets/package-lock.json
	@scripts/system-deps.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e ".[dev]"
	@# front-end files served by EDMS itself (no CDN): the interactive API page
	@if command -v npm >/dev/null; then \
	  (cd assets && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error); \
	else echo "npm not found: /api/v1/docs will load Swagger UI from its CDN" >&2; fi
	@touch $(STAMP)

run: setup
	$(VENV)/bin/edms init
	@# the development TSA/OCSP/CRL responder runs beside the API and stops with it
	$(VENV)/bin/edms dev-services & DEV=$$!; trap "kill $$DEV 2>/dev/null" EXIT INT TERM; \
	  $(VENV)/bin/edms serve --host $(HOST) --port $(PORT)

# The gates (format, lint, types) run first; the import contracts are a pytest test
# (tests/test_architecture.py).
GATES = $(VENV)/bin/ruff format --check . && $(VENV)/bin/ruff check . \
        && $(VENV)/bin/mypy edms signing storage api

test: setup
	@scripts/test-services.sh
	$(GATES)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	@scripts/test-services.sh
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(GATES)

bench: setup
	$(PY) bench/storage.py
	$(PY) bench/sign.py
	$(PY) bench/cli.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache assets/node_modules
