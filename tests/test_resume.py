"""--resume continues exactly where the run stopped; a checkpoint this version cannot load says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agent.training.config import load_config
from envs.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "MoveToBeacon.yaml"
TINY = ["env.step_mul=32", "env.num_envs=4", "ppo.train_batch_size=256", "ppo.minibatch_size=128",
        "ppo.num_epochs=2", "model.width=16", "model.key_dim=8", "model.encoder=deepsets",
        "model.encoder_options={}", "scale.torch_threads=1", "run.progress=false", "run.max_minutes=0",
        "run.max_env_steps=0", "ppo.lr_schedule=constant"]


def _snapshot(trainer) -> dict[str, torch.Tensor]:
    """Every number the next update depends on: the learner's weights and buffers, Adam's moments and
    step counts, the KL coefficient, and the acting module's weights."""
    learner = trainer.algo.learner_group._learner
    module = learner.module["default_policy"]
    out = {f"learner/{k}": v.detach().clone() for k, v in module.state_dict().items()}
    optimizer = learner.get_optimizer("default_policy")
    names = {id(p): n for n, p in module.named_parameters()}
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state[param].items():
                out[f"adam/{names[id(param)]}/{key}"] = torch.as_tensor(value).clone()
    out["kl_coeff"] = learner.curr_kl_coeffs_per_module["default_policy"].detach().clone()
    acting = trainer.algo.env_runner.module
    out.update({f"acting/{k}": v.detach().clone() for k, v in acting.state_dict().items()})
    return out


def test_resume_restores_weights_adam_moments_return_scale_and_kl_coefficient_exactly(ray_session, tmp_path):
    from agent.training.loop import Trainer

    cfg = load_config(CONFIG, TINY + ["ppo.kl=joint"])
    first = Trainer(cfg, tmp_path)
    try:
        rows = [first.step() for _ in range(3)]
        saved = first.save()
        before = _snapshot(first)
    finally:
        first.close()
    assert rows[-1]["return_scale"] != 1.0 and rows[-1]["kl_coeff"] != 0.2  # both moved: the test can fail
    assert all(isinstance(r["vf_explained_var"], float) and r["vf_explained_var"] <= 1.0 for r in rows)
    assert float(before["learner/policy.return_scale.updates"]) == 3
    resumed = Trainer(cfg, tmp_path)
    try:
        fresh = _snapshot(resumed)
        resumed.restore(saved)
        after = _snapshot(resumed)
        assert resumed.iteration == 3 and resumed.env_steps == rows[-1]["env_steps"]
        row = resumed.step()  # and it trains on from there
    finally:
        resumed.close()
    assert after.keys() == before.keys() and any(k.startswith("adam/") for k in after)
    differing = [k for k in before if not torch.equal(before[k], after[k])]
    assert differing == []
    assert any(not torch.equal(before[k], fresh[k]) for k in before)  # restore changed something
    assert row["iteration"] == 4 and row["return_scale"] > 0


def test_a_checkpoint_of_another_version_is_a_one_line_error(tmp_path):
    from agent.model.policy import EntityPolicy
    from agent.training.build import env_kwargs, policy_kwargs
    from agent.training.checkpoint import TRAIN_STATE, save_checkpoint, write_policy

    cfg = load_config(CONFIG, TINY)
    kwargs = policy_kwargs(cfg)
    weights = EntityPolicy(**kwargs).state_dict()
    del weights["return_scale.scale"]  # as a checkpoint written before the return scale existed

    def write(directory: Path) -> None:
        write_policy(directory, kwargs, weights, env=env_kwargs(cfg), config=cfg.to_dict(), iteration=1)
        state = {"iteration": 1, "env_steps": 256, "train_seconds": 1.0}
        (directory / TRAIN_STATE).write_text(json.dumps(state))

    run = tmp_path / "run"
    ckpt = save_checkpoint(run, 1, write, keep=1)
    (run / "config.json").write_text(json.dumps(cfg.to_dict()))
    evaluate = ["evaluate", "--agent", str(ckpt), "--map", "MoveToBeacon", "--episodes", "1"]
    for cmd in (["train", "--resume", "--run-dir", str(run)], evaluate):
        out = subprocess.run([sys.executable, "-m", "agent.cli", *cmd], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]  # before Ray starts: no logs
        assert "do not fit the network" in lines[0] and "missing (e.g. return_scale.scale)" in lines[0]
    kwargs["num_features"] -= 3  # as a checkpoint of an older observation
    write_policy(ckpt, kwargs, EntityPolicy(**kwargs).state_dict(), env=env_kwargs(cfg))
    out = subprocess.run([sys.executable, "-m", "agent.cli", *evaluate], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert f"entity features: {kwargs['num_features']} in the checkpoint" in line


def _lr(trainer) -> float:
    return trainer.algo.learner_group._learner.get_optimizer("default_policy").param_groups[0]["lr"]


def test_the_linear_learning_rate_falls_with_env_steps_and_resumes_where_it_was(ray_session, tmp_path):
    from agent.training.loop import Trainer

    cfg = load_config(CONFIG, TINY + ["run.max_env_steps=2048", "ppo.lr_schedule=linear"])
    first = Trainer(cfg, tmp_path)
    try:
        first.step(), first.step()
        saved, second = first.save(), _lr(first)
        first.step()
        third = _lr(first)
    finally:
        first.close()
    resumed = Trainer(cfg, tmp_path)
    try:
        resumed.restore(saved)
        resumed.step()
        assert _lr(resumed) == third
    finally:
        resumed.close()
    # RLlib sets each update's rate from the env steps sampled so far, this iteration's included: 256 per
    # iteration, of a budget of 2048.
    assert (second, third) == pytest.approx((cfg.ppo.lr * (1 - 512 / 2048), cfg.ppo.lr * (1 - 768 / 2048)))


def test_a_linear_learning_rate_needs_a_budget():
    with pytest.raises(UserError, match="ppo.lr_schedule"):
        load_config(CONFIG, ["ppo.lr_schedule=linear", "run.max_env_steps=0"])
    with pytest.raises(UserError, match=r"linear \(the default\)"):
        load_config(CONFIG, ["run.max_env_steps=0"])
