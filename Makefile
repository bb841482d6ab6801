# Meshport: build, test and demo. Each target first installs what it is missing:
# Debian packages (with apt-get when run as root; otherwise it prints the command and
# stops) and the venvs. A second run installs nothing.
PYTHON ?= python3
VENV := .venv
VENV_42 := .venv-4.2
MESHPORT_SAMPLE_ASSETS ?= $(abspath $(CURDIR)/../shared/assets)
export MESHPORT_SAMPLE_ASSETS
PYTEST_ARGS ?=

.PHONY: all system-deps venv build test demo bench clean

all: build

# Every Debian package `make test` needs: the bpy module's shared libraries, D-Bus,
# gnome-keyring and secret-tool for the real Secret Service, and redis-server.
system-deps:
	@tools/system_deps.sh test $(PYTHON)

venv: $(VENV)/.installed $(VENV_42)/.installed

# .venv is updated in place; .venv-4.2 is made again from scratch when its list
# changes, so that it never holds a library the extension zip must bring itself.
$(VENV)/.installed: tools/requirements.txt
	@tools/system_deps.sh venv $(PYTHON)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -r tools/requirements.txt
	touch $@

$(VENV_42)/.installed: tools/requirements-4.2.txt
	@tools/system_deps.sh venv $(PYTHON)
	rm -rf $(VENV_42)
	$(PYTHON) -m venv $(VENV_42)
	$(VENV_42)/bin/python -m pip install --quiet -r tools/requirements-4.2.txt
	touch $@

build: $(VENV)/.installed
	$(PYTHON) tools/build_extension.py --python $(VENV)/bin/python

# The whole suite, inside a private D-Bus session with an unlocked gnome-keyring.
test: system-deps venv build
	dbus-run-session -- tools/with_keyring.sh $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: $(VENV)/.installed
	@tools/system_deps.sh demo $(PYTHON)
	bin/meshport-demo

bench: $(VENV)/.installed
	@tools/system_deps.sh bench $(PYTHON)
	$(VENV)/bin/python benchmarks/pipeline.py
	$(VENV)/bin/python benchmarks/download.py

clean:
	rm -rf dist out .pytest_cache
	find . -path ./$(VENV) -prune -o -path ./$(VENV_42) -prune -o \
		-name __pycache__ -type d -prune -exec rm -rf {} +
