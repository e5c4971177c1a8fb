"""Mistakes a user can make, through the real command line: one line `perceiver-sc2 CMD: error: ...`, exit
status 2, raised before an episode is played or Ray is started, and nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agent.cli import main
from agent.model.policy import EntityPolicy
from agent.outputs import atomic_path, write_json_atomic
from agent.training.build import env_kwargs, observation_meta, policy_kwargs
from agent.training.checkpoint import POLICY_META, POLICY_WEIGHTS, TRAIN_STATE, save_checkpoint, write_policy
from agent.training.config import config_from_dict, load_config
from agent.training.loop import METRICS, read_metrics
from envs.featurize import ENTITY_FEATURES, NUM_ENTITY_FEATURES
from tests.test_matrix import make_checkpoint

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "MoveToBeacon.yaml"
ABLATION = ROOT / "configs" / "ablation_tiny.yaml"
SMALL = ["model.width=16", "model.key_dim=8", "model.encoder=deepsets", "model.encoder_options={}"]


class WorkStarted(Exception):
    pass


@pytest.fixture
def no_work(monkeypatch):
    """Any episode played or Ray started fails the test: bad input must be refused before either."""
    import agent.ablation.command
    import agent.evaluation.evaluate
    import agent.render.record
    import agent.rllib.ray_session

    def refuse(*args, **kwargs):
        raise WorkStarted("work started before the bad input was refused")

    monkeypatch.setattr(agent.evaluation.evaluate, "play", refuse)
    monkeypatch.setattr(agent.render.record, "play", refuse)
    # train imports start_ray when it runs (after the pysc2 check), so patch it where it lives.
    monkeypatch.setattr(agent.rllib.ray_session, "start_ray", refuse)
    monkeypatch.setattr(agent.ablation.command, "start_ray", refuse)


def error_of(capsys, command: str) -> str:
    """The one error line the CLI printed for `command`, without its prefix."""
    err = capsys.readouterr().err
    prefix = f"perceiver-sc2 {command}: error: "
    assert err.count("\n") == 1 and err.startswith(prefix), err
    return err[len(prefix):-1]


# ---- evaluate / render: seeds ------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["evaluate", "--agent", "scripted", "--map", "3m", "--episodes", "1", "--seed", "-1"],
    ["render", "scripted", "--map", "3m", "--out", "never.gif", "--seed", "-1"],
])
def test_negative_seed(capsys, no_work, argv):
    assert main(argv) == 2
    assert error_of(capsys, argv[0]) == "--seed must be >= 0, got -1"


def test_negative_seed_in_a_real_process():
    argv = ["evaluate", "--agent", "scripted", "--map", "3m", "--seed", "-3"]
    proc = subprocess.run([sys.executable, "-m", "agent.cli", *argv], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["perceiver-sc2 evaluate: error: --seed must be >= 0, got -3"]


def test_unknown_enemy_bot_in_render(capsys, no_work, tmp_path):
    out = str(tmp_path / "x.gif")
    assert main(["render", "scripted", "--map", "3m", "--out", out, "--enemy-bot", "rush"]) == 2
    assert error_of(capsys, "render").startswith("unknown enemy bot 'rush'; known bots: idle")


# ---- output paths: refused before any work -----------------------------------------------------------

def _argv(command: str, option: str, path: Path) -> list[str]:
    return {
        "evaluate": ["evaluate", "--agent", "scripted", "--map", "3m", "--episodes", "1", option, str(path)],
        "render": ["render", "scripted", "--map", "3m", option, str(path)],
        "train": ["train", str(CONFIG), option, str(path)],
        "ablate": ["ablate", str(ABLATION), option, str(path)],
    }[command]


FILE_OPTIONS = [("evaluate", "--json", "out.json"), ("evaluate", "--csv", "out.csv"),
                ("render", "--out", "out.gif")]
DIR_OPTIONS = [("train", "--run-dir"), ("ablate", "--run-dir")]


@pytest.mark.parametrize("command, option, name", FILE_OPTIONS)
def test_output_file_that_is_a_directory(capsys, no_work, tmp_path, command, option, name):
    target = tmp_path / name
    target.mkdir()
    assert main(_argv(command, option, target)) == 2
    assert error_of(capsys, command) == f"{option} {target}: is a directory; give a file name"


@pytest.mark.parametrize("command, option, name", FILE_OPTIONS + [(c, o, "run") for c, o in DIR_OPTIONS])
def test_output_under_a_file(capsys, no_work, tmp_path, command, option, name):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a directory should be\n")
    target = blocker / "sub" / name
    assert main(_argv(command, option, target)) == 2
    assert error_of(capsys, command) == f"{option} {target}: {blocker} is a file, not a directory"
    assert blocker.read_text() == "a file where a directory should be\n"


@pytest.mark.parametrize("command, option", DIR_OPTIONS)
def test_run_dir_that_is_a_file(capsys, no_work, tmp_path, command, option):
    target = tmp_path / "run"
    target.write_text("")
    assert main(_argv(command, option, target)) == 2
    assert error_of(capsys, command) == f"{option} {target}: is a file, not a directory"


@pytest.mark.parametrize("command, option, name", FILE_OPTIONS + [(c, o, "run") for c, o in DIR_OPTIONS])
def test_output_in_a_directory_without_write_permission(capsys, no_work, tmp_path, monkeypatch, command,
                                                         option, name):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: answer for locked/ as the OS does for a user
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    try:
        assert main(_argv(command, option, locked / name)) == 2
    finally:
        locked.chmod(0o700)
    expected = f"{option} {locked / name}: cannot write in {locked} (permission denied)"
    assert error_of(capsys, command) == expected


def test_outputs_are_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"mean": 1.0})
    with pytest.raises(TypeError):  # fails half-way through serialising
        write_json_atomic(path, {"mean": 2.0, "bad": object()})
    assert json.loads(path.read_text()) == {"mean": 1.0}
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as tmp:
        tmp.write_text('{"mean": 3')
        raise KeyboardInterrupt  # a kill between writing and publishing
    assert json.loads(path.read_text()) == {"mean": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_evaluate_writes_its_outputs_only_when_done(tmp_path, capsys):
    out = tmp_path / "new" / "eval.json"  # a missing parent directory is created
    assert main(["evaluate", "--agent", "scripted", "--map", "3m", "--episodes", "1", "--quiet",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["episodes"] == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval.json"]


# ---- train --resume: every file it reads, checked before Ray -----------------------------------------

@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A complete run directory as `train` leaves it (checkpoint at iteration 2), without running Ray; the
    RLlib algorithm state is an empty directory, which nothing here reaches."""
    cfg = load_config(CONFIG, SMALL)
    run = tmp_path / "run"
    policy = EntityPolicy(**policy_kwargs(cfg))

    def write(tmp):
        (tmp / "algorithm").mkdir()
        write_policy(tmp, policy.constructor_kwargs, policy.state_dict(), env=env_kwargs(cfg),
                     config=cfg.to_dict(), iteration=2, observation=observation_meta())
        (tmp / TRAIN_STATE).write_text(json.dumps({"iteration": 2, "env_steps": 512, "train_seconds": 3.5}))

    save_checkpoint(run, 2, write, keep=3)
    (run / "config.json").write_text(json.dumps(cfg.to_dict()))
    rows = [{"iteration": i, "env_steps": 256 * i} for i in (1, 2)]
    (run / METRICS).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return run


def _resume(run: Path) -> int:
    return main(["train", "--run-dir", str(run), "--resume"])


def test_a_sound_run_directory_passes_every_check_and_reaches_ray(run_dir, no_work):
    # The control for the tests below: only the damage they do makes `train --resume` stop early.
    with pytest.raises(WorkStarted):
        _resume(run_dir)


def _ckpt(run: Path) -> Path:
    return run / "checkpoints" / "iter_000002"


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / "config.json").write_text('{"env": {"map": "MoveToBeacon"'),
     "{run}/config.json: not valid JSON (line 1 column 31: Expecting ',' delimiter); "
     "was it cut short or edited?"),
    (lambda run: (run / "config.json").write_text("[1, 2]"),
     "{run}/config.json: expected a mapping of config keys, got list"),
    (lambda run: (run / "config.json").write_text('{"ppo": {"lr": -1}}'),
     "{run}/config.json: config key 'ppo.lr': expected a number > 0, got -1.0"),
    (lambda run: (_ckpt(run) / TRAIN_STATE).write_text('{"iteration": 2, "env_st'),
     "{ckpt}/train_state.json: not valid JSON (line 1 column 18: Unterminated string starting at); "
     "was it cut short or edited?"),
    (lambda run: (_ckpt(run) / TRAIN_STATE).write_text('{"iteration": "two"}'),
     '{ckpt}/train_state.json: expected iteration, env_steps and train_seconds (numbers >= 0), '
     'got {"iteration": "two"}'),
    (lambda run: (run / METRICS).write_text('{"iteration": 1}\n{"iterat\n{"iteration": 2}\n'),
     "{run}/metrics.jsonl: line 2 is not valid JSON (Unterminated string starting at); was it edited?"),
    (lambda run: (run / METRICS).write_text('{"iteration": 1}\n[2]\n'),
     "{run}/metrics.jsonl: line 2 has no iteration number: [2]"),
    (lambda run: (_ckpt(run) / POLICY_META).write_text("{"),
     "{ckpt}/policy.json: not valid JSON (line 1 column 2: Expecting property name enclosed in double "
     "quotes); was it cut short or edited?"),
    (lambda run: shutil.rmtree(_ckpt(run) / "algorithm"),
     "{ckpt}: no algorithm/ state to resume from (was it copied without it?)"),
    (lambda run: shutil.rmtree(run / "checkpoints"),
     "--resume: no checkpoint in {run}/checkpoints to resume from; train without --resume to start this "
     "run"),
])
def test_damaged_run_directory_on_resume(capsys, no_work, run_dir, damage, message):
    damage(run_dir)
    assert _resume(run_dir) == 2
    expected = message.replace("{run}", str(run_dir)).replace("{ckpt}", str(_ckpt(run_dir)))
    assert error_of(capsys, "train") == expected


def test_resume_with_a_config_file_but_no_checkpoint(capsys, no_work, tmp_path):
    assert main(["train", str(CONFIG), "--run-dir", str(tmp_path), "--resume"]) == 2
    assert error_of(capsys, "train") == (f"--resume: no checkpoint in {tmp_path / 'checkpoints'} to resume "
                                         "from; train without --resume to start this run")


def test_a_metrics_line_cut_short_by_a_kill_is_dropped_on_resume(run_dir, no_work):
    with (run_dir / METRICS).open("a") as fh:
        fh.write('{"iteration": 3, "env_st')  # killed while writing iteration 3, before its checkpoint
    assert [row["iteration"] for row in read_metrics(run_dir)] == [1, 2]
    with pytest.raises(WorkStarted):  # not an error: resuming goes on
        _resume(run_dir)


# ---- evaluate / render: checkpoints -----------------------------------------------------------------

@pytest.mark.parametrize("command", ["evaluate", "render"])
def test_missing_checkpoint(capsys, no_work, tmp_path, command):
    path = tmp_path / "runs" / "nothing"
    argv = {"evaluate": ["evaluate", "--agent", str(path), "--map", "3m", "--episodes", "1"],
            "render": ["render", str(path), "--map", "3m", "--out", str(tmp_path / "x.gif")]}[command]
    assert main(argv) == 2
    assert error_of(capsys, command) == (f"unknown agent {str(path)!r}: not scripted or random, and no such "
                                         "checkpoint or run directory")
    (tmp_path / "runs").mkdir()
    empty = tmp_path / "runs"
    assert main([str(empty) if a == str(path) else a for a in argv]) == 2
    expected = f"no policy checkpoint in {empty} (expected policy.pt or a run directory)"
    assert error_of(capsys, command) == expected


def _evaluate(ckpt: Path, map_name: str = "3m", *extra: str) -> int:
    return main(["evaluate", "--agent", str(ckpt), "--map", map_name, "--episodes", "1", "--quiet", *extra])


def test_damaged_checkpoint_files(capsys, no_work, tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", "3m", encoder="deepsets")
    weights = (ckpt / POLICY_WEIGHTS).read_bytes()
    (ckpt / POLICY_WEIGHTS).write_bytes(weights[: len(weights) // 2])  # cut short by a full disk
    assert _evaluate(ckpt) == 2
    assert error_of(capsys, "evaluate") == (f"{ckpt / POLICY_WEIGHTS}: not a torch weights file as training "
                                            "saves them; was it cut short or replaced?")
    (ckpt / POLICY_WEIGHTS).write_bytes(weights)
    meta = json.loads((ckpt / POLICY_META).read_text())
    meta["policy_kwargs"]["encoder_options"] = {"hidden_dim": 0}
    (ckpt / POLICY_META).write_text(json.dumps(meta))
    assert _evaluate(ckpt) == 2
    assert error_of(capsys, "evaluate") == (
        f"{ckpt / POLICY_META}: its policy_kwargs do not build this version's network: encoder 'deepsets' "
        "option 'hidden_dim': expected an integer >= 1, got 0")


def test_weights_of_another_network(capsys, no_work, tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", "3m", encoder="deepsets")
    meta = json.loads((ckpt / POLICY_META).read_text())
    narrow = EntityPolicy(**{**meta["policy_kwargs"], "width": 8})
    torch.save(narrow.state_dict(), ckpt / POLICY_WEIGHTS)  # policy.json still says width 16
    assert _evaluate(ckpt) == 2
    message = error_of(capsys, "evaluate")
    wide = EntityPolicy(**meta["policy_kwargs"]).state_dict()
    first = next(k for k, v in narrow.state_dict().items() if v.shape != wide[k].shape)
    assert message == (f"{ckpt / POLICY_WEIGHTS}: the weights do not fit the network policy.json describes: "
                       f"{first} is {list(narrow.state_dict()[first].shape)} in the checkpoint but "
                       f"{list(wide[first].shape)} in the network")


def _checkpoint_from_an_older_observation(path: Path, *, named: bool) -> Path:
    """A checkpoint trained when the observation had two entity features fewer (its last two)."""
    model = {"width": 16, "key_dim": 8, "encoder": "deepsets"}
    cfg = config_from_dict({"env": {"map": "3m"}, "model": model})
    kwargs = {**policy_kwargs(cfg), "num_features": NUM_ENTITY_FEATURES - 2}
    meta = {"env": env_kwargs(cfg), "config": cfg.to_dict(), "iteration": 5}
    if named:
        meta["observation"] = {**observation_meta(), "entity_features": list(ENTITY_FEATURES[:-2])}
    path.mkdir(parents=True)
    write_policy(path, kwargs, EntityPolicy(**kwargs).state_dict(), **meta)
    return path


@pytest.mark.parametrize("named", [True, False])
def test_checkpoint_from_before_the_observation_changed(capsys, no_work, tmp_path, named):
    ckpt = _checkpoint_from_an_older_observation(tmp_path / "old", named=named)
    assert _evaluate(ckpt) == 2
    change = (f"its entity features gained {', '.join(ENTITY_FEATURES[-2:])}" if named else
              f"entity features: {NUM_ENTITY_FEATURES - 2} in the checkpoint, {NUM_ENTITY_FEATURES} now")
    assert error_of(capsys, "evaluate") == (f"checkpoint {ckpt} does not fit this version's observation "
                                            f"({change}): retrain it, or play it with the version that "
                                            "trained it")


# ---- a checkpoint on another map ---------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["evaluate", "--map", "MoveToBeacon", "--episodes", "1", "--agent", "{ckpt}"],
    ["evaluate", "--map", "3m", "MoveToBeacon", "--episodes", "1", "--agent", "scripted", "{ckpt}"],
    ["render", "{ckpt}", "--map", "MoveToBeacon", "--out", "{out}"],
])
def test_checkpoint_on_another_map_is_refused_naming_both(capsys, no_work, tmp_path, argv):
    ckpt = make_checkpoint(tmp_path / "ckpt", "3m", encoder="deepsets")
    argv = [a.format(ckpt=ckpt, out=tmp_path / "x.gif") for a in argv]
    assert main(argv) == 2
    assert error_of(capsys, argv[0]) == (f"checkpoint {ckpt} was trained on 3m, not MoveToBeacon; pass "
                                         "--cross-map to play it on MoveToBeacon anyway")


def test_cross_map_plays_it_and_says_so(capsys, tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", "3m", encoder="deepsets")
    assert _evaluate(ckpt, "MoveToBeacon", "--cross-map") == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"MoveToBeacon {ckpt}: mean ")
    assert err.splitlines() == [f"note: {ckpt} was trained on 3m; playing it on MoveToBeacon (--cross-map) "
                                "with MoveToBeacon's entity caps"]


def test_a_policy_of_a_map_with_fog_is_refused_on_a_map_without_even_across_maps(capsys, no_work, tmp_path):
    # FindAndDefeatZerglings' policy reads a scalar per cell (time since seen) that no other map has.
    ckpt = make_checkpoint(tmp_path / "ckpt", "FindAndDefeatZerglings", encoder="deepsets")
    assert _evaluate(ckpt, "DefeatRoaches", "--cross-map") == 2
    assert error_of(capsys, "evaluate") == (
        f"checkpoint {ckpt} was trained on a combat map with fog (FindAndDefeatZerglings) and cannot play "
        "DefeatRoaches, a combat map without fog")


# ---- ablate --resume ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ablation_config.json", "trials/perceiver_io__seed0.json"])
def test_damaged_ablation_files_on_resume(capsys, no_work, tmp_path, name):
    (tmp_path / "trials").mkdir()
    (tmp_path / name).write_text('{"key": "perceiver_io__seed0", ')  # cut short
    assert main(["ablate", str(ABLATION), "--run-dir", str(tmp_path), "--resume"]) == 2
    assert error_of(capsys, "ablate") == (f"{tmp_path / name}: not valid JSON (line 1 column 32: Expecting "
                                          "property name enclosed in double quotes); was it cut short or "
                                          "edited?")
