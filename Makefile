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

# Long: about 2 h in all (encoders ~11 min, learning curves ~95 min). One core where it matters.
bench: $(STAMP)
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(VENV)/bin/perceiver-sc2 bench engine --json docs/bench_engine.json
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(VENV)/bin/perceiver-sc2 bench env --json docs/bench_env.json
	$(VENV)/bin/perceiver-sc2 bench encoders --json docs/encoder_scaling.json
	$(PY) bench/learning.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
