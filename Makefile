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

# Two workers, one per core, each taking whole test files (a file's module fixtures are built once); the
# slowest tests are listed at the end, to keep the suite's time in view.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15

# The default agent: Perceiver IO on MoveToBeacon, 3 minutes of PPO, then 100 evaluation games against the
# scripted agent on the same seeds, greedy and then sampling (a policy that has learned scores well both
# ways; docs/RESULTS.md). The scores are kept beside the run's metrics.jsonl (env steps and seconds per
# iteration).
TRAIN_RUN := runs/MoveToBeacon-default
train: $(STAMP)
	rm -rf $(TRAIN_RUN)
	$(VENV)/bin/perceiver-sc2 train configs/MoveToBeacon.yaml --run-dir $(TRAIN_RUN)
	$(VENV)/bin/perceiver-sc2 evaluate --agent $(TRAIN_RUN) scripted --map MoveToBeacon --episodes 100 --seed 1000000 \
		--json $(TRAIN_RUN)/evaluation_greedy.json
	$(VENV)/bin/perceiver-sc2 evaluate --agent $(TRAIN_RUN) --sample --map MoveToBeacon --episodes 100 --seed 1000000 \
		--json $(TRAIN_RUN)/evaluation_sampled.json

# Long: the benches take minutes; the learning table (13M env steps over 7 maps and 11 runs) takes many
# hours on two cores and resumes where it stopped. One core where it matters.
bench: $(STAMP)
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(VENV)/bin/perceiver-sc2 bench engine --json docs/bench_engine.json
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(VENV)/bin/perceiver-sc2 bench env --json docs/bench_env.json
	$(VENV)/bin/perceiver-sc2 bench encoders --json docs/encoder_scaling.json
	$(PY) bench/learning.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
