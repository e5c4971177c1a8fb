"""What bench/ writes into its JSON files: provenance, paired comparisons, verb histograms, and when a
map's run is done or resumes."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from agent.evaluation.stats import bootstrap_ci
from bench import learning, provenance, tables


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



def _commit(repo, path: str, text: str) -> str:
    """Write `text` to `path` in the git repository `repo`, commit it, and return the commit."""
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "add", path], check=True, capture_output=True)
    subprocess.run([*git, "commit", "-qm", path], check=True, capture_output=True)
    done = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    return tmp_path


def test_engine_commit_is_the_last_change_to_the_simulation_not_to_its_cache_guard(repo):
    rules = _commit(repo, "envs/engine/rules.py", "A = 1\n")
    assert provenance.engine_commit() == rules
    _commit(repo, "envs/engine/_numba_cache.py", "B = 1\n")  # when kernels recompile, not what they compute
    _commit(repo, "agent/cli.py", "C = 1\n")
    assert provenance.engine_commit() == rules
    units = _commit(repo, "envs/engine/units.py", "D = 1\n")
    assert provenance.engine_commit() == units


def test_a_comment_does_not_change_the_engine_but_code_does(repo):
    measured = _commit(repo, "envs/engine/rules.py", "# speed in cells per second\nA = 1\n")
    assert not provenance.engine_changed_since(measured)
    _commit(repo, "envs/engine/rules.py", "# speed in game cells per second\nA = 1\n")
    assert not provenance.engine_changed_since(measured)
    (repo / "envs/engine/rules.py").write_text("# speed in game cells per second\nA = 2\n")  # uncommitted
    assert provenance.engine_changed_since(measured)
    _commit(repo, "envs/engine/rules.py", "# speed in game cells per second\nA = 2\n")
    assert provenance.engine_changed_since(measured)
    assert provenance.engine_changed_since("b" * 40)  # a commit this repository does not have


def test_an_engine_change_that_left_a_maps_games_identical_does_not_stale_its_figures(repo):
    measured = _commit(repo, "envs/engine/rules.py", "A = 1\n")
    changed = _commit(repo, "envs/engine/rules.py", "A = 2\n")

    def record(old, new, identical):
        path = repo / "docs" / "engine_equivalence.json"
        path.parent.mkdir(exist_ok=True)
        records = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(records + [{"from": old, "to": new, "identical": identical}]))

    record(measured, changed, ["3m", "2s3z"])
    assert not provenance.engine_changed_since(measured, {"3m"})
    assert not provenance.engine_changed_since(measured, {"3m", "2s3z"})
    assert provenance.engine_changed_since(measured, {"3m", "BuildMarines"})
    assert provenance.engine_changed_since(measured, None)  # a figure whose maps are not known
    later = _commit(repo, "envs/engine/rules.py", "A = 3\n")
    assert provenance.engine_changed_since(measured, {"3m"})  # a change no record has checked
    record(changed, later, ["3m"])
    assert not provenance.engine_changed_since(measured, {"3m"})  # checked step by step
    assert provenance.engine_changed_since(measured, {"2s3z"})
    # a figure measured on another commit with `measured`'s engine shares its records
    again = _commit(repo, "envs/engine/rules.py", "# the engine of `measured`\nA = 1\n")
    _commit(repo, "envs/engine/rules.py", "A = 3\n")
    assert not provenance.engine_changed_since(again, {"3m"})
    assert provenance.engine_changed_since(again, {"2s3z"})


def test_the_equivalence_digest_is_the_same_for_the_same_games_and_differs_for_others():
    from bench.engine_equivalence import digest

    assert digest("3m", 2, 20) == digest("3m", 2, 20)
    assert digest("3m", 2, 20) != digest("3m", 1, 20)
    assert digest("BuildMarines", 1, 20) != digest("CollectMineralsAndGas", 1, 20)


def test_paired_counts_and_mean_difference_game_by_game():
    out = learning.paired({"scores": [30.0, 10.0, 20.0, 5.0]}, {"scores": [10.0, 10.0, 25.0, 5.0]})
    assert out["mean_difference"] == pytest.approx(3.75)
    assert (out["higher"], out["equal"], out["lower"]) == (1, 2, 1)
    # The interval is the bootstrap of the game-by-game differences, seeded like the evaluation.
    expected = bootstrap_ci([20.0, 0.0, -5.0, 0.0], seed=learning.EVAL_SEED)
    assert (out["mean_difference"], out["ci_low"], out["ci_high"]) == expected


def test_a_kept_summary_has_every_games_score_and_win_counts_only_on_maps_with_a_win():
    from agent.evaluation.evaluate import summarize
    from agent.evaluation.run_loop import Episode

    games = [Episode(score=20.0, length=30, won=True), Episode(score=8.0, length=40, won=False)]
    with_win = learning.kept({**summarize(games, has_win=True), "agent": "x", "published": {}})
    assert with_win["scores"] == [20.0, 8.0] and (with_win["wins"], with_win["decided"]) == (1, 2)
    assert set(with_win) == set(learning.SUMMARY_KEYS + learning.WIN_KEYS)
    without = learning.kept(summarize([Episode(score=3.0, length=5, won=None)], has_win=False))
    assert set(without) == set(learning.SUMMARY_KEYS)


def test_a_map_is_complete_only_for_the_same_config_and_episodes(tmp_path):
    path = tmp_path / "learning_MoveToBeacon.json"
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 100, [])
    config = learning.training_config("MoveToBeacon", 80_000, ["seed=1"])
    assert config["seed"] == 1 and config["run"]["max_env_steps"] == 80_000
    done = {"config": config, "interface": learning.interface("MoveToBeacon"), "eval_episodes": 100,
            "paired_vs_scripted": {}}
    path.write_text(json.dumps(done))
    assert learning.is_complete(path, "MoveToBeacon", 80_000, 100, ["seed=1"])
    older = {**done, "interface": {**done["interface"], "verbs": done["interface"]["verbs"][:-1]}}
    path.write_text(json.dumps(older))  # a result from before a verb was added
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 100, ["seed=1"])
    path.write_text(json.dumps(done))
    assert not learning.is_complete(path, "MoveToBeacon", 90_000, 100, ["seed=1"])
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 20, ["seed=1"])
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 100, [])
    assert not learning.is_complete(path, "CollectMineralShards", 80_000, 100, ["seed=1"])
    other_defaults = json.loads(json.dumps(done))
    other_defaults["config"]["ppo"]["num_epochs"] += 1  # a result from before a default changed
    path.write_text(json.dumps(other_defaults))
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 100, ["seed=1"])
    path.write_text(json.dumps({k: v for k, v in done.items() if k != "paired_vs_scripted"}))
    assert not learning.is_complete(path, "MoveToBeacon", 80_000, 100, ["seed=1"])  # evaluation unfinished


def test_a_killed_map_resumes_from_its_checkpoint_only_for_the_same_config(tmp_path, monkeypatch):
    from agent.training.checkpoint import CHECKPOINTS, TRAIN_STATE, checkpoint_name

    commands = []
    monkeypatch.setattr(learning, "run_stoppable", commands.append)
    run_dir = tmp_path / "MoveToBeacon"
    learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"])  # nothing to resume: a new run
    assert "--resume" not in commands[-1] and "run.max_env_steps=1000" in commands[-1]
    ckpt = run_dir / CHECKPOINTS / checkpoint_name(5)
    ckpt.mkdir(parents=True)
    (ckpt / TRAIN_STATE).write_text("{}")  # killed after its fifth iteration
    learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"])
    assert commands[-1][-1] == "--resume" and ckpt.is_dir()
    request = json.loads((run_dir / learning.REQUEST).read_text())
    request["config"]["ppo"]["num_epochs"] += 1  # started before a default changed
    (run_dir / learning.REQUEST).write_text(json.dumps(request))
    with pytest.raises(SystemExit, match=r"ppo\.num_epochs: 5 -> 4.*--force"):
        learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"])  # kept, not thrown away
    assert ckpt.is_dir() and len(commands) == 2
    with pytest.raises(SystemExit, match=r"run\.max_env_steps: 1000 -> 2000"):
        learning.train("MoveToBeacon", 2000, run_dir, ["seed=1"], discard=False)
    request["config"]["ppo"]["num_epochs"] -= 1
    request["interface"]["entity_features"].pop()  # started before a feature was added
    (run_dir / learning.REQUEST).write_text(json.dumps(request))
    with pytest.raises(SystemExit, match="the policy's features or verbs"):
        learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"])
    (run_dir / learning.REQUEST).unlink()
    with pytest.raises(SystemExit, match="the config it started with is unrecorded"):
        learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"])
    learning.train("MoveToBeacon", 1000, run_dir, ["seed=1"], discard=True)  # asked to: starts afresh
    assert "--resume" not in commands[-1] and not ckpt.exists()
    assert json.loads((run_dir / learning.REQUEST).read_text())["config"]["ppo"]["num_epochs"] == 4


def test_a_stop_sent_to_the_bench_alone_reaches_its_training_child_once(tmp_path):
    # The child stands in for `perceiver-sc2 train`: it notes each stop it gets and exits as the loop does.
    stops, ready = tmp_path / "stops", tmp_path / "ready"
    child = ("import signal, sys, time\n"
             "def stop(signum, frame):\n"
             f"    open({str(stops)!r}, 'a').write(str(signum) + '\\n')\n"
             "    sys.exit(1)\n"
             "signal.signal(signal.SIGTERM, stop)\n"
             f"open({str(ready)!r}, 'w').close()\n"
             "time.sleep(120)\n")
    script = f"from bench.learning import run_stoppable; run_stoppable([{sys.executable!r}, '-c', {child!r}])"
    bench = subprocess.Popen([sys.executable, "-c", script], cwd=learning.ROOT, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 120
    while not ready.exists() and time.time() < deadline and bench.poll() is None:
        time.sleep(0.1)
    assert ready.exists(), bench.stderr.read() if bench.poll() is not None else "the child did not start"
    bench.send_signal(signal.SIGTERM)  # to the bench process only, as `kill` sends it
    _, err = bench.communicate(timeout=60)
    assert bench.returncode == 1 and "the same command resumes it" in err
    assert stops.read_text().split() == [str(int(signal.SIGTERM))]


def test_config_changes_names_added_removed_and_changed_settings():
    before = {"ppo": {"lr": 0.1, "old": 1}, "seed": 0}
    after = {"ppo": {"lr": 0.2, "new": 2}, "seed": 0}
    assert learning.config_changes(before, after) == ["ppo.lr: 0.1 -> 0.2", "ppo.new: absent -> 2",
                                                      "ppo.old: 1 -> absent"]


def test_the_verb_histogram_counts_every_unit_step_with_a_choice(tmp_path):
    import torch

    from agent.evaluation.evaluate import evaluate
    from agent.model.policy import EntityPolicy
    from agent.training.build import env_kwargs, observation_meta, policy_kwargs
    from agent.training.checkpoint import write_policy
    from agent.training.config import load_config
    from bench.pilots import counting_source

    cfg = load_config(None, ["env.step_mul=32", "model.width=16", "model.key_dim=8", "model.encoder=deepsets",
                             "model.encoder_options={}"])
    torch.manual_seed(0)
    kwargs = policy_kwargs(cfg)
    write_policy(tmp_path, kwargs, EntityPolicy(**kwargs).state_dict(), env=env_kwargs(cfg),
                 config=cfg.to_dict(), iteration=1, observation=observation_meta())
    source = counting_source(tmp_path, sample=True)
    summary = evaluate(source, "MoveToBeacon", episodes=2, seed=0, progress=False)
    # MoveToBeacon's one Marine always has a choice: one verb per step, of several kinds when sampling
    assert sum(source.verbs.values()) == 2 * summary["mean_length"] > 0
    assert sum(count > 0 for count in source.verbs.values()) >= 2
    # the idle Marine's choices are among them: at its first step it has no order yet, and after the
    # beacon is reached (its move order done) it is idle again
    assert 2 <= sum(source.idle_verbs.values()) < sum(source.verbs.values())
    assert all(source.idle_verbs[verb] <= count for verb, count in source.verbs.items())


def test_goals_are_checked_on_the_maps_metric_against_greedy_sampled_and_scripted_play():
    def evals(greedy, sampled, scripted, key="mean"):
        return {"policy": {key: greedy}, "policy_sampled": {key: sampled}, "scripted": {key: scripted}}

    roaches = learning.goals_met(learning.GOALS["DefeatRoaches"], evals(310.0, 240.0, 280.0))
    assert roaches["greedy"]["met"] and not roaches["sampled_vs_greedy"]["met"]  # 240 < 0.8 x 310 = 248
    zerglings = learning.goals_met(learning.GOALS["FindAndDefeatZerglings"], evals(45.0, 36.0, 45.0))
    assert not zerglings["greedy_above_scripted"]["met"] and zerglings["sampled_vs_greedy"]["met"]
    duel = learning.goals_met(learning.GOALS["3m"], evals(0.96, 0.89, 0.5, key="win_rate"))
    assert duel["greedy"]["met"] and not duel["sampled"]["met"] and duel["sampled"]["got"] == 0.89
    never = learning.goals_met(learning.GOALS["DefeatZerglingsAndBanelings"], evals(0.0, 0.0, 280.0))
    assert not any(check["met"] for check in never.values())  # no play at all is not 0.8 x itself


def test_each_seed_trains_with_its_seed_one_thread_and_checkpoints_spread_over_the_budget():
    extra = learning.run_settings("DefeatRoaches", 2, 1_000_000, 20, ["ppo.lr=1e-4"])
    # 1,000,000 env steps are 488 iterations of 2048: a checkpoint every 24, 25 kept for the curve
    assert extra == ["seed=2", "scale.torch_threads=1", "run.checkpoint_every=24", "run.keep_checkpoints=25",
                     "ppo.lr=1e-4"]
    assert learning.seeds_of("DefeatRoaches", None) == [0, 1, 2] and learning.seeds_of("3m", None) == [0]
    assert learning.seeds_of("3m", [4]) == [4]


def test_a_pilots_variants_written_by_separate_invocations_all_stay_in_its_file(tmp_path):
    from bench.pilots import write_record

    out = tmp_path / "pilot.json"
    write_record(out, {"env_steps_budget": 1000, "command": "run a", "variants": {"a": {"greedy": 1}}})
    write_record(out, {"env_steps_budget": 1000, "command": "run b", "variants": {"b": {"greedy": 2}}})
    record = json.loads(out.read_text())
    assert record["variants"] == {"a": {"greedy": 1}, "b": {"greedy": 2}}
    assert record["commands"] == ["run a", "run b"]  # each variant's command, to reproduce it
    write_record(out, {"env_steps_budget": 1000, "command": "run a", "variants": {"a": {"greedy": 3}}})
    record = json.loads(out.read_text())  # a trained again
    assert record["variants"] == {"a": {"greedy": 3}, "b": {"greedy": 2}}
    assert record["commands"] == ["run a", "run b"]
    write_record(out, {"env_steps_budget": 2000, "command": "run b", "variants": {"b": {"greedy": 4}}})
    record = json.loads(out.read_text())  # another budget
    assert record["variants"] == {"b": {"greedy": 4}} and record["commands"] == ["run b"]
    assert "`run b`" in tables.measured(record, "pilot.json")
