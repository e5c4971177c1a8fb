"""bench/park.py: unfinished learning runs survive a move to a fresh machine, and resume from there."""

import json

from agent.training.checkpoint import latest_checkpoint, save_checkpoint
from bench import park
from bench.learning import REQUEST

CONFIG = {"run": {"max_env_steps": 1000}}


def make_run(runs, name, iterations, *, steps_per_iteration=100):
    run_dir = runs / name / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / REQUEST).write_text(json.dumps({"config": CONFIG}))
    (run_dir / "metrics.jsonl").write_text("{}\n")
    for iteration in iterations:
        def contents(tmp, iteration=iteration):
            (tmp / "algorithm").mkdir()
            (tmp / "algorithm" / "state.pkl").write_bytes(b"optimizer" * iteration)
            for name in park.POLICY_FILES:
                (tmp / name).write_text(json.dumps({"env_steps": iteration * steps_per_iteration}))
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
