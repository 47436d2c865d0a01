# Two commands on a fresh machine with Python 3.11:
#   make run   - set up, load the demo, send demo traffic, serve on http://127.0.0.1:8000
#   make test  - set up and run the whole test suite on PostgreSQL
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/countersign

.PHONY: run test install lint format schema clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo

test: $(STAMP)
	@command -v chromium >/dev/null || { echo 'Installing Chromium for the browser tests (apt)'; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); }
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} DEBUG=false \
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} \
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: $(STAMP)
	DEBUG=true $(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
