# Each target bootstraps .venv itself on a fresh machine.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test train bench lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# torch first: this exact version is on local disk; any other pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

train: $(STAMP)
	$(VENV)/bin/perceiver-sc2 demo --map DefeatRoaches --episodes 5

bench: $(STAMP)
	$(VENV)/bin/perceiver-sc2 bench engine --json docs/bench_engine.json

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
