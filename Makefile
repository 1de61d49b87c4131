# buildsvc — every task of the project, one target each. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help install system-deps services services-stop cluster cluster-stop lint mypy unit test conformance bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

system-deps: ## install the Debian packages the stack needs (docker.io, docker-registry, redis, chromium, git)
	bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

install: system-deps $(VENV)/.installed ## install everything: Debian packages and the Python environment

services: install ## start dockerd, the registry, Redis, the base image and forgesim (idempotent)
	bash scripts/services.sh start

services-stop: ## stop what `make services` started
	bash scripts/services.sh stop

cluster: install ## the production topology locally: haproxy, 2 APIs, 2 workers on 2 engines, PostgreSQL, Redis (CLUSTER_DIR, default var/cluster)
	bash scripts/cluster.sh start

cluster-stop: ## stop what `make cluster` started
	bash scripts/cluster.sh stop

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

mypy: $(VENV)/.installed ## mypy --strict on the packages
	$(VENV)/bin/mypy

unit: $(VENV)/.installed ## fast tests only (no Docker engine)
	$(VENV)/bin/pytest -q -m "not e2e and not browser" tests

test: services lint mypy ## everything: lint, types, unit, integration and end-to-end tests
	$(VENV)/bin/pytest -q tests

conformance: $(VENV)/.installed ## parse every published forge example; compare forgesim's answers with them
	$(PY) -m tests.conformance

bench: services ## run every benchmark (each prints a ratio against its baseline)
	set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

demo: services ## end to end: git push to a GitLab (forgesim) becomes an image in the registry, then run it
	bash scripts/demo.sh

clean: ## remove local state (var/), keep the virtualenv
	rm -rf var
