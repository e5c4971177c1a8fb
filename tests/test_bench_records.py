"""What bench/ writes into its JSON files: provenance, paired comparisons, and when a map's run is done."""

import json
import shutil
import subprocess

import pytest

from agent.evaluation.stats import bootstrap_ci
from bench import learning, provenance


def test_run_info_names_the_command_and_the_checked_out_commit():
    if shutil.which("git") is None or not (provenance.ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    info = provenance.run_info([str(provenance.ROOT / "bench" / "learning.py"), "--maps", "Move To"])
    assert info["command"] == "python bench/learning.py --maps 'Move To'"
    assert info["commit"] == head
    assert len(info["engine_commit"]) == 40 and info["date"].endswith(" UTC")
    assert all(not path.startswith(("docs/", "README")) for path in info["uncommitted"])



def test_engine_commit_is_the_last_change_to_the_simulation_not_to_its_cache_guard(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("no git")

    def commit(path: str, text: str) -> str:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
        subprocess.run([*git, "add", path], check=True, capture_output=True)
        subprocess.run([*git, "commit", "-qm", path], check=True, capture_output=True)
        return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    rules = commit("envs/engine/rules.py", "A = 1\n")
    assert provenance.engine_commit() == rules
    commit("envs/engine/_numba_cache.py", "B = 1\n")  # when kernels recompile, not what they compute
    commit("agent/cli.py", "C = 1\n")
    assert provenance.engine_commit() == rules
    units = commit("envs/engine/units.py", "D = 1\n")
    assert provenance.engine_commit() == units

def test_paired_counts_and_mean_difference_game_by_game():
    out = learning.paired({"scores": [30.0, 10.0, 20.0, 5.0]}, {"scores": [10.0, 10.0, 25.0, 5.0]})
    assert out["mean_difference"] == pytest.approx(3.75)
    assert (out["higher"], out["equal"], out["lower"]) == (1, 2, 1)
    # The interval is the bootstrap of the game-by-game differences, seeded like the evaluation.
    expected = bootstrap_ci([20.0, 0.0, -5.0, 0.0], seed=learning.EVAL_SEED)
    assert (out["mean_difference"], out["ci_low"], out["ci_high"]) == expected


def test_a_map_is_complete_only_for_the_same_budget_episodes_and_overrides(tmp_path):
    path = tmp_path / "learning_MoveToBeacon.json"
    assert not learning.is_complete(path, 80_000, 100, [])
    done = {"env_steps_budget": 80_000, "eval_episodes": 100, "extra_overrides": ["a=1"],
            "paired_vs_scripted": {}}
    path.write_text(json.dumps(done))
    assert learning.is_complete(path, 80_000, 100, ["a=1"])
    assert not learning.is_complete(path, 90_000, 100, ["a=1"])
    assert not learning.is_complete(path, 80_000, 20, ["a=1"])
    assert not learning.is_complete(path, 80_000, 100, [])
    path.write_text(json.dumps({k: v for k, v in done.items() if k != "paired_vs_scripted"}))
    assert not learning.is_complete(path, 80_000, 100, ["a=1"])  # a file from before per-episode scores
