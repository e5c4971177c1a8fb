"""bench/park.py: unfinished learning runs and ablations survive a move to a fresh machine, resume there."""

import json

from agent.ablation.command import SPEC_FILE
from agent.ablation.runner import TRIALS
from agent.training.checkpoint import latest_checkpoint, save_checkpoint
from bench import park
from bench.learning import REQUEST

CONFIG = {"run": {"max_env_steps": 1000}}


def make_run(runs, name, iterations):
    return fill_run(runs / name / "seed0", iterations)


def fill_run(run_dir, iterations):
    """A run directory with its request, metrics and a checkpoint at each of `iterations` (100 env steps
    per iteration)."""
    run_dir.mkdir(parents=True)
    (run_dir / REQUEST).write_text(json.dumps({"config": CONFIG}))
    (run_dir / "metrics.jsonl").write_text("{}\n")
    for iteration in iterations:
        def contents(tmp, iteration=iteration):
            (tmp / "algorithm").mkdir()
            (tmp / "algorithm" / "state.pkl").write_bytes(b"optimizer" * iteration)
            for name in park.POLICY_FILES:
                (tmp / name).write_text(json.dumps({"env_steps": iteration * 100}))
        save_checkpoint(run_dir, iteration, contents, keep=10)
    return run_dir


def test_park_then_unpark_restores_what_a_resume_and_the_curve_need(tmp_path):
    runs, parked, results = tmp_path / "runs", tmp_path / "parked", tmp_path / "results"
    make_run(runs, "DefeatRoaches", [2, 4, 6])
    assert park.park(runs, parked, results) == ["parked DefeatRoaches/seed0 at 600 env steps"]

    fresh = tmp_path / "fresh"
    assert park.unpark(fresh, parked) == ["unparked DefeatRoaches/seed0 at 600 env steps"]
    run_dir = fresh / "DefeatRoaches" / "seed0"
    newest = latest_checkpoint(run_dir)
    assert newest.name == "iter_000006"
    assert (newest / "algorithm" / "state.pkl").read_bytes() == b"optimizer" * 6
    assert json.loads((run_dir / REQUEST).read_text()) == {"config": CONFIG}
    older = run_dir / "checkpoints" / "iter_000002"
    assert sorted(p.name for p in older.iterdir()) == sorted(park.POLICY_FILES)  # no RLlib state


def test_unpark_keeps_a_run_that_is_further_along(tmp_path):
    runs, parked = tmp_path / "runs", tmp_path / "parked"
    make_run(runs, "3m", [2])
    park.park(runs, parked, tmp_path / "results")
    here = tmp_path / "here"
    make_run(here, "3m", [2, 5])
    assert park.unpark(here, parked) == ["kept 3m/seed0: it is at 500 env steps"]
    assert latest_checkpoint(here / "3m" / "seed0").name == "iter_000005"


def test_a_finished_run_is_not_parked_and_its_archive_goes(tmp_path):
    runs, parked, results = tmp_path / "runs", tmp_path / "parked", tmp_path / "results"
    make_run(runs, "2s3z", [3])
    park.park(runs, parked, results)
    results.mkdir()
    result = results / "2s3z_seed0.json"
    result.write_text(json.dumps({"config": {"run": {"max_env_steps": 2000}}, "paired_vs_scripted": {}}))
    assert park.park(runs, parked, results)[0].startswith("parked")  # a result of another config
    result.write_text(json.dumps({"config": CONFIG, "paired_vs_scripted": {}}))
    assert park.park(runs, parked, results) == ["removed 2s3z/seed0 (finished)"]
    assert list((parked / "2s3z").iterdir()) == []


def make_ablation(root, finished, cut_off):
    """An ablation directory: its config, a record beside the run directory of each finished trial, and
    the trial that was cut off."""
    run_dir = root / "ablation_tiny"
    (run_dir / TRIALS).mkdir(parents=True)
    (run_dir / SPEC_FILE).write_text(json.dumps({"name": "ablation_tiny"}))
    for key, iterations in {**{key: [3] for key in finished}, **cut_off}.items():
        fill_run(run_dir / TRIALS / key, iterations)
    for key in finished:
        (run_dir / TRIALS / f"{key}.json").write_text(json.dumps({"key": key}))
    return run_dir


def test_an_ablation_parks_its_records_and_the_cut_off_trial_and_resumes_elsewhere(tmp_path):
    runs, parked = tmp_path / "runs", tmp_path / "parked"
    make_ablation(runs, ["none_s0"], {"perceiver_io_s0": [2, 4]})
    assert park.park_ablations(runs, parked) == ["parked ablation_tiny/perceiver_io_s0 at 400 env steps",
                                                 "parked ablation_tiny: 1 finished trials"]
    copy = parked / park.ABLATIONS / "ablation_tiny" / TRIALS
    assert sorted(p.name for p in copy.iterdir()) == ["none_s0.json", "perceiver_io_s0"]
    assert sorted(p.name for p in (copy / "perceiver_io_s0" / "checkpoints").iterdir()) == [
        "iter_000004", "latest"]  # the newest checkpoint only: the ablation evaluates the final one

    fresh = tmp_path / "fresh"
    assert park.unpark_ablations(fresh, parked) == ["unparked ablation_tiny: 1 finished trials added",
                                                    "unparked ablation_tiny/perceiver_io_s0 at 400 env steps"]
    run_dir = fresh / "ablation_tiny"
    assert json.loads((run_dir / SPEC_FILE).read_text()) == {"name": "ablation_tiny"}
    assert json.loads((run_dir / TRIALS / "none_s0.json").read_text()) == {"key": "none_s0"}
    newest = latest_checkpoint(run_dir / TRIALS / "perceiver_io_s0")
    assert (newest / "algorithm" / "state.pkl").read_bytes() == b"optimizer" * 4
    assert park.unpark_ablations(fresh, parked) == ["unparked ablation_tiny: 0 finished trials added"]

    # the trial finishes on the new machine: parking again drops its checkpoint and keeps its record
    (run_dir / TRIALS / "perceiver_io_s0.json").write_text(json.dumps({"key": "perceiver_io_s0"}))
    assert park.park_ablations(fresh, parked) == ["parked ablation_tiny: 2 finished trials"]
    assert sorted(p.name for p in copy.iterdir()) == ["none_s0.json", "perceiver_io_s0.json"]
