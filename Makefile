# Meshport: build, test and demo. Every target installs what it is missing first.
PYTHON ?= python3
VENV := .venv
VENV_42 := .venv-4.2
MESHPORT_SAMPLE_ASSETS ?= $(abspath ../shared/assets)
export MESHPORT_SAMPLE_ASSETS

.PHONY: all venv venv-4.2 system-deps-demo system-deps-test build test demo bench clean

all: build

system-deps-demo:
	@tools/system_deps.sh demo

system-deps-test:
	@tools/system_deps.sh test

venv: $(VENV)/.installed

$(VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r tools/requirements.txt
	touch $@

venv-4.2: $(VENV_42)/.installed

$(VENV_42)/.installed: tools/requirements-4.2.txt
	$(PYTHON) -m venv $(VENV_42)
	$(VENV_42)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_42)/bin/python -m pip install --quiet -r tools/requirements-4.2.txt
	touch $@

build: system-deps-demo venv
	tools/build_extension.sh

test: system-deps-test venv venv-4.2 build
	dbus-run-session -- tools/with_keyring.sh $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: system-deps-demo venv
	bin/meshport-demo

bench: venv
	tools/system_deps.sh bench
	$(VENV)/bin/python benchmarks/pipeline.py
	$(VENV)/bin/python benchmarks/download.py

clean:
	rm -rf dist out .pytest_cache
