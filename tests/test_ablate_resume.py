"""`perceiver-sc2 ablate` stopped and resumed: a killed grid resumes to the uninterrupted results and
writes the report; SIGTERM keeps the finished trials. (A file of its own: these train for minutes, and
the test workers share files out whole.)"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agent.ablation.spec import load_spec
from agent.model.policy import EntityPolicy
from agent.training.build import policy_kwargs

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "ablation_tiny.yaml"


def _ablate_cmd(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agent.cli", "ablate", str(TINY), "--run-dir", str(run_dir), *extra]


# What a trial record holds besides timings and Tune's bookkeeping: equal whenever the trial is the same.
RESULT_KEYS = ("key", "arm", "seed", "config", "iterations", "env_steps", "greedy", "sampled")


def _results(record: dict) -> dict:
    curve = [(r["iteration"], r["env_steps"], r["score"]) for r in record["curve"]]
    return {**{k: record[k] for k in RESULT_KEYS}, "curve": curve}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, dict]:
    """The tiny grid run once without interruption: its trial records by key."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    out = subprocess.run(_ablate_cmd(run_dir), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / "trials").glob("*.json")}


def _wait_for_a_record(proc, trials: Path, seconds: float = 600) -> None:
    # An upper bound only: a trial of this grid takes about a minute, several on a slow shared machine.
    deadline = time.time() + seconds
    while time.time() < deadline and not list(trials.glob("*.json")):
        if proc.poll() is not None:
            stderr = proc.stderr.read()[-3000:] if proc.stderr else "(not captured)"
            raise AssertionError(f"the ablation exited ({proc.returncode}) before it was stopped: {stderr}")
        time.sleep(0.2)
    assert list(trials.glob("*.json")), f"no trial finished within {seconds} s"


def test_killed_ablation_resumes_to_the_uninterrupted_results_and_writes_the_table_and_plots(
        tmp_path, uninterrupted):
    run_dir = tmp_path / "abl"
    trials = run_dir / "trials"
    proc = subprocess.Popen(_ablate_cmd(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_for_a_record(proc, trials)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
        proc.wait()
    before = {p.name: p.read_bytes() for p in trials.glob("*.json")}
    assert 1 <= len(before) < 4
    started = time.time()
    out = subprocess.run(_ablate_cmd(run_dir, "--resume"), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"4 trials, {len(before)} already finished, {4 - len(before)} to run" in out.stdout
    # Finished trials were reused byte for byte.
    assert all((trials / name).read_bytes() == data for name, data in before.items())
    records = [json.loads(p.read_text()) for p in sorted(trials.glob("*.json"))]
    assert len(records) == 4
    # Killed and resumed, every trial (finished before the kill or after) is the uninterrupted one:
    # same training curve and the same evaluation scores, only timings differ.
    assert {r["key"]: _results(r) for r in records} == {k: _results(r) for k, r in uninterrupted.items()}
    for rec in records:
        assert [r["iteration"] for r in rec["curve"]] == [1, 2]
        assert [r["env_steps"] for r in rec["curve"]] == [256, 512]
        for mode in ("greedy", "sampled"):
            scores = rec[mode]["scores"]
            assert len(scores) == 3 and rec[mode]["mean"] == pytest.approx(np.mean(scores))
    # The table: one row per encoder, two seeds each. With two seeds the stratified bootstrap of the mean
    # (and of the IQM, which trims nothing from two runs) spans exactly the two seeds' scores.
    spec = load_spec(TINY)
    rows = list(csv.DictReader(open(run_dir / "ablation.csv")))
    assert [r["arm"] for r in rows] == ["perceiver_io", "deepsets"]
    for row in rows:
        assert int(row["seeds"]) == 2
        for mode in ("greedy", "sampled"):
            seeds = [rec[mode]["mean"] for rec in records if rec["arm"] == row["arm"]]
            for metric in ("mean", "iqm"):
                assert float(row[f"{mode}_{metric}"]) == pytest.approx(np.mean(seeds))
                assert float(row[f"{mode}_{metric}_low"]) == pytest.approx(min(seeds))
                assert float(row[f"{mode}_{metric}_high"]) == pytest.approx(max(seeds))
        cfg = next(t.cfg for t in spec.trials if t.arm == row["arm"])
        policy = EntityPolicy(**policy_kwargs(cfg))
        assert int(row["params"]) == sum(p.numel() for p in policy.parameters())
        assert int(row["encoder_params"]) == sum(p.numel() for p in policy.encoder.parameters())
        # One sampling forward, then one epoch of forward and backward (about two forwards).
        assert float(row["mflop_train_per_env_step"]) == pytest.approx(4 * float(row["mflop_forward"]))
        own = [rec for rec in records if rec["arm"] == row["arm"]]
        assert float(row["ms_per_env_step"]) == pytest.approx(
            np.median([1e3 * r["train_seconds"] / r["env_steps"] for r in own]))
    table = (run_dir / "ablation.md").read_text()
    assert "| perceiver_io |" in table and "| deepsets |" in table
    report = json.loads((run_dir / "ablation.json").read_text())
    assert report["budget_env_steps"] == 512 and report["map"] == spec.trials[0].cfg.env.map
    for png in ("learning_curves.png", "final_scores.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"resumed part took {time.time() - started:.0f} s")
    # A second run into the same directory without --resume refuses (exit 2, nothing started).
    again = subprocess.run(_ablate_cmd(run_dir), capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_sigterm_ends_an_ablation_like_ctrl_c_keeping_the_finished_trials(tmp_path, uninterrupted):
    run_dir = tmp_path / "abl"
    trials = run_dir / "trials"
    # One seed: two trials; SIGTERM (a scheduler's stop) as soon as the first has finished.
    proc = subprocess.Popen(_ablate_cmd(run_dir, "--set", "seeds=[0]"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_a_record(proc, trials)
        proc.send_signal(signal.SIGTERM)  # the driver alone
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "perceiver-sc2 ablate: interrupted"
    # The trials that finished are on disk, whole, as an uninterrupted run has them; no report was written.
    records = {p.stem: json.loads(p.read_text()) for p in trials.glob("*.json")}
    assert 1 <= len(records) <= 2 and set(records) <= {"perceiver_io__seed0", "deepsets__seed0"}
    for key, record in records.items():
        assert _results(record) == _results(uninterrupted[key])
    assert not list(run_dir.glob("ablation.*")) and not list(trials.glob(".tmp-*"))
