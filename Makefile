# PSC Bridge: two commands on a fresh Debian machine: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
SUDO    := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Build dependencies of pyscard (no Linux wheel) and the real parts the tests talk to.
BUILD_PACKAGES := swig libpcsclite-dev gcc
# WeasyPrint (attestation PDF) loads pango/harfbuzz; the report test renders the PDF to PNG with pdftoppm;
# systemd-analyze checks the unit files of deploy/systemd; valgrind counts instructions (bench.instructions).
TEST_PACKAGES  := redis-server pcscd vsmartcard-vpcd chromium libpango-1.0-0 libpangoft2-1.0-0 \
                  libharfbuzz-subset0 poppler-utils systemd valgrind

.PHONY: demo test test-fast fuzz mutate bench lock build-deps test-deps clean

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi
endef

build-deps:
	$(call apt_install,$(BUILD_PACKAGES))

# The interop suite (tests/interop) runs openid-client and oauth4webapi on Node, pinned by its package-lock.json.
# Debian's nodejs + npm, unless a node with npm is already there (NodeSource's nodejs bundles npm and conflicts).
NODE_PACKAGES  := $(if $(shell command -v node && command -v npm),,nodejs npm)

# Also the venv: the test tools of requirements.lock (pytest, playwright, axe-playwright-python...).
test-deps: build-deps venv
	$(call apt_install,$(TEST_PACKAGES))
	$(call apt_install,$(NODE_PACKAGES))
	npm ci --prefix tests/interop/node --no-audit --no-fund --loglevel=error

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: build-deps $(VENV)/.installed

## make demo: bridge on :8000, PSC emulator on :8001, demo apps on :8002 (embedded defaults)
demo: venv
	$(BIN)/python -m bridge.demo

## make test: `ruff check .` ([tool.ruff] in pyproject.toml), then the whole suite against real redis-server, pcscd +
## vpcd, chromium and HTTP(S) issuers, then the line coverage of bridge/ (code run in the pytest process and its
## threads; see [tool.coverage.run] in pyproject.toml)
test: test-deps venv
	$(BIN)/ruff check .
	CI=1 $(BIN)/python -m pytest --cov=bridge --cov-report=term:skip-covered

test-fast: venv
	$(BIN)/python -m pytest -m "not e2e" -x -q

## make fuzz: the Hypothesis targets with 5,000 examples each (make test runs them briefly)
fuzz: venv
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest tests/fuzz -q --timeout=0

## make mutate: mutmut on the pure cores ([tool.mutmut] in pyproject.toml, ~2 min on 2 cores), then killed/total per
## module and the survivors (`$(BIN)/mutmut show <name>` prints one). Starts afresh: mutmut never re-copies a source
## file it already holds in mutants/.
mutate: venv
	rm -rf mutants && mkdir mutants
	$(BIN)/mutmut run >mutants/run.log 2>&1 || { tail -n 20 mutants/run.log; exit 1; }
	@$(BIN)/mutmut results --all true | awk -F': ' ' \
	  { m = $$1; sub(/^ +/, "", m); sub(/__mutmut_[0-9]+$$/, "", m); sub(/\.[^.]*$$/, "", m); n[m]++; all++; \
	    if ($$2 == "killed" || $$2 == "timeout") { k[m]++; dead++ } else left = left "\n" $$0 } \
	  END { for (m in n) printf "%-28s %4d/%-4d killed  %5.1f %%\n", m, k[m], n[m], 100 * k[m] / n[m] | "sort"; \
	        close("sort"); printf "%-28s %4d/%-4d killed  %5.1f %%\n", "total", dead, all, 100 * dead / all; \
	        if (left != "") print "not killed:" left }'

bench: test-deps venv
	$(BIN)/python -m bench --rounds 3

## make lock: re-resolve pinned direct dependencies into requirements.lock
lock:
	rm -rf /tmp/psc-bridge-lock && $(PY) -m venv /tmp/psc-bridge-lock
	/tmp/psc-bridge-lock/bin/pip install -q ".[test]"
	/tmp/psc-bridge-lock/bin/pip freeze --exclude psc-bridge > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache mutants .coverage .coverage.*
