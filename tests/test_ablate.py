"""`perceiver-sc2 ablate`: grid expansion, config errors, the report's numbers, and a killed trial resuming
from its checkpoint (a whole grid stopped and resumed: tests/test_ablate_resume.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from agent.ablation.aggregate import improvement_probabilities, interval_estimates, verdict
from agent.ablation.report import curve_band
from agent.ablation.spec import load_spec, parse_spec
from agent.cli import main
from agent.evaluation.stats import bootstrap_ci
from agent.model.policy import EntityPolicy
from agent.training.build import policy_kwargs
from agent.training.checkpoint import latest_checkpoint
from envs.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "ablation_tiny.yaml"


def _tiny(**changes) -> dict:
    data = yaml.safe_load(TINY.read_text())
    data["train"] = str(TINY.parent / data["train"])  # the test writes its copy elsewhere
    data.update(changes)
    return data


def test_grid_is_arms_by_sweep_values_by_seeds():
    data = _tiny(seeds=[3, 5], sweep={"width": [8, 24]})
    spec = parse_spec(data, base_dir=TINY.parent, default_name="x")
    assert spec.arms == ("perceiver_io/width=8", "perceiver_io/width=24", "deepsets/width=8",
                         "deepsets/width=24")
    assert len(spec.trials) == 8 and len({t.key for t in spec.trials}) == 8
    for trial in spec.trials:
        assert trial.cfg.seed == trial.seed
        assert trial.cfg.model.width == int(trial.arm.split("=")[1])
        assert trial.cfg.model.encoder == trial.arm.split("/")[0]
        # The base config's `set` list applies, and Tune's budget replaces the run's own stops.
        assert trial.cfg.env.num_envs == 4 and trial.cfg.run.max_env_steps == 512
        assert trial.cfg.run.max_minutes == 0
    latents = parse_spec(_tiny(arms={"pio": {"encoder": "perceiver_io"}},
                               sweep={"encoder_options.num_latents": [2, 6]}), base_dir=TINY.parent,
                         default_name="x")
    assert [t.cfg.model.encoder_options["num_latents"] for t in latents.trials] == [2, 2, 6, 6]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("ablation_*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_ablation_builds_each_arms_policy(path):
    spec = load_spec(path)
    assert len(spec.trials) == len(spec.arms) * len(spec.seeds)
    for arm in spec.arms:
        cfg = spec.arm_config(arm)
        assert cfg.run.max_env_steps == spec.budget_env_steps
        EntityPolicy(**policy_kwargs(cfg))  # the encoder options of every arm build a policy


def test_command_line_overrides_change_the_grid():
    spec = load_spec(TINY, ["seeds=[4]", "budget_env_steps=256",
                            "arms={ds: {encoder: deepsets, encoder_options: {}}}"])
    assert [(t.key, t.seed, t.cfg.run.max_env_steps) for t in spec.trials] == [("ds__seed4", 4, 256)]
    assert spec.source["seeds"] == [4]  # what --resume compares against the saved grid
    with pytest.raises(UserError, match="key 'seeds'"):
        load_spec(TINY, ["seeds=zero"])


@pytest.mark.parametrize("changes, message", [
    ({"seeds": []}, "key 'seeds'"),
    ({"seeds": [0, 0]}, "repeated"),
    ({"budget_env_steps": 0}, "key 'budget_env_steps'"),
    ({"arms": {"a": {"encoder": "lstm"}}}, "arm 'a': config key 'model.encoder'"),
    ({"arms": {"a": {"depth": 3}}}, "unknown config key 'model.depth'"),
    ({"arms": {"a": {"encoder": "transformer", "encoder_options": {"num_heads": 0}}}},
     "arm 'a': config key 'model.encoder_options.num_heads': expected an integer >= 1"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"train": "nowhere.yaml"}, "config file not found"),
    ({"sweep": {"width": 8}}, "key 'sweep.width'"),
])
def test_bad_config_is_a_one_line_user_error(tmp_path, capsys, changes, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_tiny(**changes)))
    assert main(["ablate", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_bad_encoder_option_fails_before_ray(tmp_path, capsys):
    data = _tiny(arms={"pio": {"encoder": "perceiver_io", "encoder_options": {"num_latens": 4}}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["ablate", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "num_latens" in capsys.readouterr().err


def test_curve_band_interpolates_seeds_onto_common_steps():
    a = {"curve": [{"env_steps": 100, "score": 0.0}, {"env_steps": 200, "score": 10.0}]}
    b = {"curve": [{"env_steps": 50, "score": None}, {"env_steps": 100, "score": 2.0},
                   {"env_steps": 200, "score": 4.0}, {"env_steps": 300, "score": 6.0}]}
    grid, mean, low, high = curve_band([a, b], points=3)
    # Only the steps every seed covers: 100..200; seed a at 150 is 5, seed b is 3.
    assert grid.tolist() == [100.0, 150.0, 200.0]
    assert mean.tolist() == pytest.approx([1.0, 4.0, 7.0])
    # The band at each step is the bootstrap CI of the seeds' interpolated scores there.
    for i, seeds in enumerate([[0.0, 2.0], [5.0, 3.0], [10.0, 4.0]]):
        assert (low[i], high[i]) == pytest.approx(bootstrap_ci(seeds, seed=1)[1:])


def test_user_error_type_is_the_clis():
    with pytest.raises(UserError, match="expected a mapping"):
        parse_spec([1, 2], base_dir=ROOT, default_name="x")


def test_improvement_probability_is_the_mann_whitney_fraction_of_pairs():
    """P(x > y) counts the run pairs where x scores higher, ties as half (Agarwal et al. 2021, eq. 6)."""
    x, y = [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0, 7.0]
    wins = sum((a > b) + 0.5 * (a == b) for a in x for b in y) / 25  # 3 wins and 3 ties of 25 pairs
    probabilities = improvement_probabilities({"x": x, "y": y})
    assert probabilities[("x", "y")][0] == pytest.approx(wins) == pytest.approx(0.18)
    assert probabilities[("y", "x")][0] == pytest.approx(1 - wins)


def test_iqm_trims_a_quarter_each_side_and_verdicts_need_separate_intervals():
    scores = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]
    shifted = {"b": [s + 0.5 for s in scores], "c": [200.0 + s for s in scores]}
    estimates = interval_estimates({"a": scores, **shifted})
    assert estimates["a"]["iqm"][0] == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0]))  # the middle half
    assert estimates["a"]["mean"][0] == pytest.approx(np.mean(scores))
    assert verdict("a", "b", estimates) == "a vs b: no difference detected"
    assert verdict("a", "c", estimates) == "c beats a"


def test_the_intervals_of_the_same_scores_do_not_depend_on_what_drew_random_numbers_before():
    """A report made twice from the same trials states the same intervals; the caller's global NumPy
    random state is left as it was."""
    scores = {"a": [218.1, 157.3, 179.1, 212.7, 152.2], "b": [254.0, 226.6, 261.3, 194.0, 240.2]}
    np.random.seed(1)
    first = interval_estimates(scores), improvement_probabilities(scores)
    after = np.random.random()
    np.random.seed(1)
    np.random.random(17)  # a different draw history before the second report
    second = interval_estimates(scores), improvement_probabilities(scores)
    assert first == second
    np.random.seed(1)
    interval_estimates(scores)
    assert np.random.random() == after


def test_a_trial_killed_after_a_checkpoint_continues_from_it(tmp_path):
    """One trial of 12 iterations, a checkpoint every iteration, SIGKILL once one is on disk: --resume
    restores the latest and trains only the rest; what was trained before the kill stays in the curve,
    and the record says where it was resumed."""
    run_dir = tmp_path / "abl"
    trial_dir = run_dir / "trials" / "deepsets__seed0"
    data = _tiny(seeds=[0], budget_env_steps=12 * 256, arms={"deepsets": {"encoder": "deepsets"}})
    data["set"] = [*data["set"], "run.checkpoint_every=1"]  # the later override wins
    config = tmp_path / "one_trial.yaml"
    config.write_text(yaml.safe_dump(data))
    command = [sys.executable, "-m", "agent.cli", "ablate", str(config), "--run-dir", str(run_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and latest_checkpoint(trial_dir) is None:
            assert proc.poll() is None, "the ablation exited before it was stopped"
            time.sleep(0.05)
        assert latest_checkpoint(trial_dir) is not None, "no checkpoint within 300 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    kept = (trial_dir / "metrics.jsonl").read_text().splitlines()
    latest = latest_checkpoint(trial_dir)
    latest_env_steps = json.loads((latest / "train_state.json").read_text())["env_steps"]
    assert 1 <= len(kept) < 12 and not (run_dir / "trials" / "deepsets__seed0.json").exists()
    out = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"deepsets__seed0: resumed from {latest.name}" in out.stdout
    record = json.loads((run_dir / "trials" / "deepsets__seed0.json").read_text())
    assert [r["iteration"] for r in record["curve"]] == list(range(1, 13))
    assert record["resumed_at_env_steps"] == [latest_env_steps] and latest_env_steps > 0
    assert (trial_dir / "metrics.jsonl").read_text().splitlines()[0] == kept[0]


def test_without_rliable_ablate_stops_before_any_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rliable", None)  # import rliable now raises ImportError
    assert main(["ablate", str(TINY), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "perceiver-sc2[ablation]" in err and "\n" not in err
    assert not (tmp_path / "run").exists()
