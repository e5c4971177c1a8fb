"""PPO on the engine through the batched vector env: tiny budgets, real entry points."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from agent.cli import main
from agent.model.encoders import ENCODERS
from agent.model.sizes import matched_options
from agent.training.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "MoveToBeacon.yaml"
SMALL_ENCODERS = {
    "perceiver_io": "{num_latents: 4, num_layers: 1, self_heads: 2}",
    "transformer": "{num_layers: 1, num_heads: 2, head_dim: 8, mlp_dim: 32}",
    "deepsets": "{}",
    "none": "{}",
}
# MoveToBeacon's 120 game seconds x 16 loops / 32 = 60 agent steps a game (envs/engine/maps.py):
# 4 games x 64 steps an iteration finish every game at least once in two iterations.
TINY = ["env.step_mul=32", "env.num_envs=4", "ppo.train_batch_size=256", "ppo.minibatch_size=128",
        "ppo.num_epochs=1", "model.width=16", "model.key_dim=8", "run.max_minutes=0", "run.max_env_steps=0",
        "ppo.lr_schedule=constant", "run.progress=false", "scale.torch_threads=1"]

RLLIB_EPISODES: list[tuple[int, float, bool]] = []  # (length, return, truncated)


def _recording_callbacks():
    from agent.rllib.callbacks import TrainCallbacks

    class Recording(TrainCallbacks):
        def on_episode_end(self, *, episode, prev_episode_chunks=(), **kwargs):
            super().on_episode_end(episode=episode, **kwargs)
            # An episode spanning several sample() calls arrives in chunks; RLlib's metrics sum them too.
            chunks = [*prev_episode_chunks, episode]
            RLLIB_EPISODES.append((sum(len(c) for c in chunks), float(sum(c.get_return() for c in chunks)),
                                   episode.is_truncated))

    return Recording


@pytest.mark.parametrize("encoder", sorted(SMALL_ENCODERS))
def test_two_ppo_iterations_record_the_engines_episodes(ray_session, tmp_path, encoder):
    from agent.training.checkpoint import load_policy
    from agent.training.loop import Trainer

    cfg = load_config(CONFIG, TINY + [f"model.encoder={encoder}", "run.max_iterations=2",
                                      f"model.encoder_options={SMALL_ENCODERS[encoder]}"])
    RLLIB_EPISODES.clear()
    trainer = Trainer(cfg, tmp_path, callbacks=_recording_callbacks())
    try:
        env = trainer.algo.env_runner.env.unwrapped
        rows, per_iteration, rllib_per_iteration = [], [], []
        for _ in range(2):
            seen, rllib_seen = len(env.finished), len(RLLIB_EPISODES)
            rows.append(trainer.step())
            per_iteration.append(list(env.finished)[seen:])
            rllib_per_iteration.append(RLLIB_EPISODES[rllib_seen:])
        trainer.save()
        engine_episodes = sorted((steps, score) for steps, score, _ in env.finished)
        summed = sorted((steps, total) for steps, _, total in env.finished)
    finally:
        trainer.close()
    assert [r["iteration"] for r in rows] == [1, 2] and rows[-1]["env_steps"] == 2 * 256
    # the second minibatch of each iteration meets a policy the first one moved; no KL penalty by default
    assert all(r["approx_kl"] > 0 and np.isnan(r["kl"]) for r in rows)
    assert len(engine_episodes) >= 4
    # RLlib's whole episodes are the engine's games: same lengths, returns equal to the map's own score;
    # its truncated ones are the staggered starts of games 1-3 of 4, cut after 60 * i // 4 steps.
    whole = sorted((steps, total) for steps, total, truncated in RLLIB_EPISODES if not truncated)
    assert whole == engine_episodes == summed
    assert all(steps == 60 for steps, _ in engine_episodes)
    assert sorted(steps for steps, _, truncated in RLLIB_EPISODES if truncated) == [15, 30, 45]
    for row, finished, ended in zip(rows, per_iteration, rllib_per_iteration, strict=True):
        if finished:  # the score metric: the games that ended in that iteration, not the cut ones
            assert row["episode_score"] == pytest.approx(np.mean([f[1] for f in finished]))
        if ended:  # RLlib's own means: every episode that ended in that iteration, the cut ones too
            assert row["episode_return_mean"] == pytest.approx(np.mean([e[1] for e in ended]))
            assert row["episode_len_mean"] == pytest.approx(np.mean([e[0] for e in ended]))
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in logged] == [1, 2]
    policy, meta = load_policy(tmp_path)
    assert meta["iteration"] == 2 and meta["policy_kwargs"]["encoder"] == encoder
    assert list((tmp_path / "tb").iterdir())


def _readme_encoder_swap() -> list[str]:
    """The README's encoder-swap example, as arguments after `perceiver-sc2`."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("perceiver-sc2 train") and "model.encoder=" in line:
            return shlex.split(line.split("#")[0])[1:]
    raise AssertionError("README.md has no `perceiver-sc2 train ... model.encoder=` example")


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_the_readmes_encoder_swap_trains_every_encoder(ray_session, tmp_path, encoder):
    """The example as written, with the encoder's name swapped in, the run shrunk to one small iteration."""
    args = _readme_encoder_swap()
    args = [a.replace("model.encoder=transformer", f"model.encoder={encoder}") for a in args]
    args[args.index("--run-dir") + 1] = str(tmp_path / "run")
    small = ["env.num_envs=4", "ppo.train_batch_size=256", "ppo.minibatch_size=128", "ppo.num_epochs=1",
             "run.max_iterations=1", "run.max_minutes=0", "run.progress=false", "scale.torch_threads=1"]
    assert main([*args, *(x for o in small for x in ("--set", o))]) == 0
    from agent.training.checkpoint import load_policy

    policy, meta = load_policy(tmp_path / "run")
    assert meta["iteration"] == 1 and meta["policy_kwargs"]["encoder"] == encoder
    assert meta["policy_kwargs"]["encoder_options"] == matched_options(encoder, 64)


def test_one_iteration_with_a_remote_env_runner(ray_session, tmp_path):
    from agent.training.loop import Trainer

    cfg = load_config(CONFIG, TINY + ["scale.num_env_runners=1", "run.max_iterations=1",
                                      "model.encoder=deepsets", "model.encoder_options={}"])
    trainer = Trainer(cfg, tmp_path)
    try:
        summary = trainer.train()
        assert trainer.algo.env_runner_group.num_remote_env_runners() == 1
    finally:
        trainer.close()
    assert summary["iteration"] == 1 and summary["env_steps"] == 256


def _train_cmd(run_dir: Path, iterations: int, *extra: str) -> list[str]:
    sets = TINY + ["run.checkpoint_every=1", f"run.max_iterations={iterations}", "model.encoder=deepsets",
                   "model.encoder_options={}"]
    cmd = [sys.executable, "-m", "agent.cli", "train", str(CONFIG), "--run-dir", str(run_dir), *extra]
    for item in sets:
        cmd += ["--set", item]
    return cmd


def test_killed_training_resumes_from_the_latest_checkpoint(tmp_path):
    run_dir = tmp_path / "run"  # passed relative, as `make train` does, from the working directory tmp_path
    proc = subprocess.Popen(_train_cmd(Path("run"), 50), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            done = sorted(run_dir.glob("checkpoints/iter_*/train_state.json"))
            if len(done) >= 2:
                break
            assert proc.poll() is None, "training exited before it was killed"
            time.sleep(0.2)
        else:
            pytest.fail("no second checkpoint within 300 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole session: the driver and the Ray it started
        proc.wait()
    pointer = (run_dir / "checkpoints" / "latest").read_text().strip()
    killed_at = int(pointer.split("_")[1])
    assert killed_at >= 2
    out = subprocess.run(_train_cmd(Path("run"), killed_at + 2, "--resume"), capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"(iteration {killed_at})" in out.stdout
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == list(range(1, killed_at + 3))
    steps = [0] + [r["env_steps"] for r in rows]
    assert all(256 <= b - a <= 256 + 3 for a, b in pairwise(steps)), steps  # see the SIGTERM test
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == f"iter_{killed_at + 2:06d}"


def test_fresh_run_refuses_to_overwrite_checkpoints(tmp_path, capsys):
    from agent.cli import main
    from agent.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path, 1, lambda d: (d / "train_state.json").write_text("{}"), keep=1)
    assert main(["train", str(CONFIG), "--run-dir", str(tmp_path)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_sigterm_ends_training_like_ctrl_c_and_checkpoints_what_finished(tmp_path):
    from agent.training.checkpoint import TRAIN_STATE, latest_checkpoint, load_policy

    # No periodic checkpoint: only the one SIGTERM triggers can hold the finished iterations.
    cmd = _train_cmd(tmp_path, 1000) + ["--set", "run.checkpoint_every=1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 300  # a guard against a hang only: a busy 2-core machine needs minutes
        metrics = tmp_path / "metrics.jsonl"
        while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
            assert proc.poll() is None, "training exited before SIGTERM"
            assert time.time() < deadline, "no second iteration within 300 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # the driver alone, as a scheduler would
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "perceiver-sc2 train: interrupted"
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    ckpt = latest_checkpoint(tmp_path)
    state = json.loads((ckpt / TRAIN_STATE).read_text())
    # The checkpoint holds every finished iteration: its counters, the policy and RLlib's state to resume.
    assert state["iteration"] == len(rows) >= 2 and ckpt.name == f"iter_{len(rows):06d}"
    assert state["env_steps"] == rows[-1]["env_steps"]
    # RLlib's env runner samples at least the batch and at most num_envs - 1 (3) steps more
    # (SingleAgentEnvRunner.sample's docstring).
    assert 256 * len(rows) <= state["env_steps"] <= (256 + 3) * len(rows)
    assert state["train_seconds"] == pytest.approx(rows[-1]["train_seconds"], abs=1e-3)
    _, meta = load_policy(ckpt)
    assert meta["iteration"] == len(rows) and meta["policy_kwargs"]["encoder"] == "deepsets"
    assert (ckpt / "algorithm").is_dir() and any((ckpt / "algorithm").iterdir())
