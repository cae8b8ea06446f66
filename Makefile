# nozama developer targets. Run as root on Debian 12 (the scripts apt-get what
# is missing and start dockerd / PostgreSQL by hand: there is no systemd).
#
#   make venv        .venv with the package (editable) and its test extras
#   make run         nozama up: the API on :4566, the load balancers and 3 agents (Docker)
#   make test        full suite: Docker, test image and PostgreSQL set up first;
#                    TEST_WORKERS pytest-xdist workers (the tests mostly wait), then
#                    the few marked `alone` in one process
#   make test-unit   tests/unit only, no services
#   make bench       every bench/*.py (installs wrk, HAProxy and nginx to compare with)
#   make clean       remove the venv and build/test caches (keeps .nozama-data)
#
# PYTEST_ARGS="-k foo -x" passes arguments to pytest; TEST_WORKERS=0 runs in one process.
# HYPOTHESIS_PROFILE=full runs the fuzzers with their full example counts.

# The command `make run` starts (one line to change when the CLI changes).
RUN_CMD ?= .venv/bin/nozama up --port 4566 --data-dir .nozama-data

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Twice the cores: the integration tests spend most of their time waiting on servers.
TEST_WORKERS ?= 4
# Tests marked `alone` (they assert request rates) run after the others, in one process;
# exit status 5 is pytest's "nothing selected" (PYTEST_ARGS may select none of them).
PYTEST = NOZAMA_TEST_POSTGRES_URL='$(NOZAMA_TEST_POSTGRES_URL)' $(VPY) -m pytest -q
# This machine's pip config names an index folder that may not exist; pip then
# prints one warning per package. Drop those lines, keep everything else.
PIP_FILTER := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

export NOZAMA_TEST_POSTGRES_URL ?= postgresql+psycopg://nozama:nozama@127.0.0.1:5432/nozama_test
export DEBIAN_FRONTEND := noninteractive
export NEEDRESTART_SUSPEND := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: venv run test test-unit bench clean

venv: $(VENV)/.installed

$(VPY):
	@if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
		echo "installing python3-venv ..."; \
		apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null; \
	fi
	$(PYTHON) -m venv $(VENV)

# Re-run pip only when pyproject.toml is newer than the stamp.
$(VENV)/.installed: pyproject.toml | $(VPY)
	@echo "$(VPY) -m pip install -e '.[test]'"
	@$(VPY) -m pip install -q -e '.[test]' $(PIP_FILTER)
	@touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	@echo "$(VPY) -m pip install -e '.[bench]'"
	@$(VPY) -m pip install -q -e '.[bench]' $(PIP_FILTER)
	@touch $@

run: venv
	bash scripts/install-docker.sh
	bash scripts/install-haproxy.sh
	bash scripts/install-docker-registry.sh
	bash scripts/install-busybox-static.sh
	$(RUN_CMD)

test: venv
	bash scripts/setup-test-services.sh
	rc=0; \
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup -m 'not alone' $(PYTEST_ARGS) || rc=$$?; \
	$(PYTEST) -m alone $(PYTEST_ARGS) || [ $$? -eq 5 ] || rc=1; \
	exit $$rc

test-unit: venv
	$(VPY) -m pytest -q tests/unit $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench
	bash scripts/setup-test-services.sh
	bash scripts/install-bench-tools.sh
	@shopt -s nullglob; files=(bench/*.py); failed=(); \
	if [ $${#files[@]} -eq 0 ]; then echo "no bench/*.py"; exit 0; fi; \
	for f in "$${files[@]}"; do \
		case "$$(basename "$$f")" in _*) continue;; esac; \
		echo "=== $$f"; \
		$(VPY) "$$f" || failed+=("$$f"); \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then echo "bench failures: $${failed[*]}"; exit 1; fi

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
