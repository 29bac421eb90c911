# VSION: the two Quick start commands are `make demo` and `make test`.
# Each installs what it needs: Debian packages with apt, Python packages into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
PORT ?= 5000

# OpenCV and MediaPipe wheels need libGL and GLib; venv needs python3-venv on Debian.
APT_RUNTIME := python3-venv libgl1 libglib2.0-0
# Tests and benchmarks: a real RTSP server (gst-rtsp-server), a real browser (Chromium), a real
# redis-server for the Celery job runner and a real PostgreSQL server (tests/postgres.py).
APT_TEST := $(APT_RUNTIME) python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad chromium fonts-dejavu-core redis-server \
	postgresql

# The delivery build (make dist): a C compiler for the Cython core, binutils for PyInstaller.
APT_BUILD := $(APT_RUNTIME) gcc libc6-dev binutils python3-dev
# Everything the delivered folder is made of (a change rebuilds it).
CORE := calibration reconstruction scoring capture live database accounts workcards takes
DIST_INPUTS := $(shell find *.py app.spec requirements.txt requirements-build.txt $(CORE) \
	common config system cli web jobs templates static migrations translations -type f -not -name '*.pyc' -not -name '*.so' -not -name '*.c' 2>/dev/null)

.PHONY: demo serve test test-fast bench translations vendor apt-runtime apt-test apt-build dist clean clean-dist

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

apt-runtime:
	$(call apt_install,$(APT_RUNTIME))

apt-test:
	$(call apt_install,$(APT_TEST))

apt-build:
	$(call apt_install,$(APT_BUILD))

$(VENV)/.runtime: requirements.txt | apt-runtime
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -U pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.build: requirements-build.txt $(VENV)/.runtime | apt-build
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-build.txt
	touch $@

## Start VSION on its built-in demo cameras (prints the URL and the demo logins).
demo: $(VENV)/.runtime
	$(PY) app.py demo --port $(PORT)

## Start VSION with ./config.yaml.
serve: $(VENV)/.runtime
	$(PY) app.py serve --port $(PORT)

## Run the whole test suite (slow end-to-end tests included, as in CI).
test: apt-test $(VENV)/.dev
	$(PY) -m pytest

## The suite without the slow end-to-end tests.
test-fast: apt-test $(VENV)/.dev
	$(PY) -m pytest -m "not slow"

## Benchmarks (JSON on stdout).
bench: apt-test $(VENV)/.dev
	$(PY) bench/live.py
	$(PY) bench/calibration.py
	$(PY) bench/reconstruction.py
	$(PY) bench/faults.py

## The folder to deliver to a site: dist/vsion/ with the executable dist/vsion/vsion (see README).
## The core is compiled out of the source tree (build/core), so the sources stay plain Python.
dist: dist/vsion/vsion

dist/vsion/vsion: $(VENV)/.build $(DIST_INPUTS)
	$(PY) setup.py -q build_ext --build-lib build/core --build-temp build/tmp --parallel 2
	VSION_CORE_DIR=build/core $(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist \
		--workpath build/pyinstaller app.spec
	touch $@
	@du -sh dist/vsion

## Extract the texts again (babel.cfg: web/*.py, templates, static/js), update the French catalog and
## compile it. Commit translations/fr/LC_MESSAGES/messages.po and messages.mo together.
BABEL := $(PY) -m babel.messages.frontend -q
translations: $(VENV)/.runtime
	@mkdir -p build
	$(BABEL) extract -F babel.cfg --add-location=file --sort-output -w 100 \
		-o build/messages.pot .
	$(BABEL) update -i build/messages.pot -d translations -l fr -w 100 --no-fuzzy-matching --ignore-obsolete
	$(BABEL) compile -d translations -l fr --statistics

## Refresh the vendored front-end assets from the npm registry.
vendor:
	@set -e; tmp=$$(mktemp -d); cd $$tmp; \
	npm pack -q socket.io-client@4.8.4 @picocss/pico@2.1.1 three@0.170.0 >/dev/null; \
	mkdir sio pico three; tar xzf socket.io-client-4.8.4.tgz -C sio; tar xzf picocss-pico-2.1.1.tgz -C pico; \
	tar xzf three-0.170.0.tgz -C three; \
	cp sio/package/dist/socket.io.min.js sio/package/LICENSE $(CURDIR)/static/vendor/socket.io-client/; \
	cp pico/package/css/pico.min.css pico/package/LICENSE.md $(CURDIR)/static/vendor/pico/; \
	cp three/package/build/three.module.min.js three/package/LICENSE $(CURDIR)/static/vendor/three/; \
	sed "s#from 'three';#from './three.module.min.js';#" three/package/examples/jsm/controls/OrbitControls.js \
		> $(CURDIR)/static/vendor/three/OrbitControls.js; \
	rm -rf $$tmp; echo "vendored assets refreshed"

## Remove the delivery build, and compiled modules left next to the sources by build_ext --inplace.
clean-dist:
	rm -rf build dist
	find $(CORE) -maxdepth 1 \( -name '*.so' -o -name '*.c' -o -name '*.pyd' \) -delete
	rm -f *.so *.pyd

clean: clean-dist
	rm -rf $(VENV) .pytest_cache
