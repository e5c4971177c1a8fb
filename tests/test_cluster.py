"""Scale-out on a real Ray cluster: `perceiver-sc2 train` joins a two-node cluster through scale.address,
samples with one env runner per node, and goes on when one node's env runner is killed mid-run.

Each node has one CPU and an env runner needs one, so Ray must place one runner on each node; the
metrics say which node sampled what (`env_steps_by_node`, keyed by Ray node id).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agent.training.checkpoint import TRAIN_STATE, latest_checkpoint, load_policy
from tests.ray_cluster import local_cluster, worker_processes
from tests.test_train import CONFIG, TINY

BATCH = 256  # ppo.train_batch_size in TINY
RUNNER = "SnapshotEnvRunner"  # agent/rllib/env_runner.py: the env runner actor's class
PROTOBUF = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"
# Only against hangs: each wait below takes seconds on two free cores, but a machine shared with other
# jobs (three Python processes import torch and RLlib before the first iteration) can take minutes.
HANG_GUARD_S = 600


def _rows(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _wait(condition, proc: subprocess.Popen, what: str, log: Path, seconds: float = HANG_GUARD_S):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def test_two_nodes_sample_and_training_survives_a_killed_env_runner(tmp_path):
    run_dir, log = tmp_path / "run", tmp_path / "train.log"
    # An engine run needs none of pysc2's protobuf setting (the test session selects it for everything).
    env = {name: value for name, value in os.environ.items() if name != PROTOBUF}
    with local_cluster(1, 1, without_env=(PROTOBUF,)) as cluster:
        head, worker, address = cluster.head_node, next(iter(cluster.worker_nodes)), cluster.address
        sets = TINY + [f"scale.address={address}", "scale.num_env_runners=2",
                       "scale.restart_delay_s=1", "model.encoder=deepsets", "model.encoder_options={}",
                       "run.checkpoint_every=1", "run.keep_checkpoints=1000", "run.max_iterations=1000"]
        cmd = [sys.executable, "-m", "agent.cli", "train", str(CONFIG), "--run-dir", str(run_dir)]
        for item in sets:
            cmd += ["--set", item]
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            # Both nodes' runners sample, and an iteration they both fed is checkpointed.
            def both_nodes_checkpointed():
                for row in _rows(run_dir):
                    fed = [row["env_steps_by_node"].get(node.node_id, 0) for node in (head, worker)]
                    ckpt = run_dir / "checkpoints" / f"iter_{row['iteration']:06d}"
                    if min(fed) > 0 and (ckpt / TRAIN_STATE).is_file():
                        return row["iteration"]
                return None

            before = _wait(both_nodes_checkpointed, proc, "an iteration sampled on both nodes", log)
            [victim] = worker_processes(worker, RUNNER)
            os.kill(victim, signal.SIGKILL)
            killed_after = len(_rows(run_dir))  # iteration killed_after + 1 may hold samples from before

            # Training goes on, Ray restarts the runner on its node, and the new runner samples. The worker
            # node has one CPU, room for one runner: its samples after the kill come from the restarted one.
            # (Found by its samples, not its process: a restarted actor's process need not be the raylet's
            # child, so a search by parent misses it.)
            def restarted_runner_sampled():
                return any(row["env_steps_by_node"].get(worker.node_id, 0)
                           for row in _rows(run_dir) if row["iteration"] > killed_after + 1)

            _wait(restarted_runner_sampled, proc, "samples from the restarted env runner", log)
            # Stop with Ctrl-C. A metrics line was just written, so the interrupt lands after that
            # iteration's bookkeeping: the stop checkpoints every finished iteration.
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=HANG_GUARD_S)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    output = log.read_text()
    assert proc.returncode == 130 and "interrupted" in output, output[-3000:]

    rows = _rows(run_dir)
    assert [row["iteration"] for row in rows] == list(range(1, len(rows) + 1))
    previous_steps = [0] + [row["env_steps"] for row in rows[:-1]]
    for row, previous in zip(rows, previous_steps, strict=True):
        fed = row["env_steps_by_node"]
        assert set(fed) <= {head.node_id, worker.node_id}
        assert row["env_steps"] - previous == sum(fed.values()) >= BATCH  # every step sampled on a node
    assert all(min(row["env_steps_by_node"].values()) > 0 for row in rows[:before])

    # The checkpoint from before the failure and the final one both load; their counters match the log.
    ckpt_before = run_dir / "checkpoints" / f"iter_{before:06d}"
    final = latest_checkpoint(run_dir)
    for ckpt, row in ((ckpt_before, rows[before - 1]), (final, rows[-1])):
        state = json.loads((ckpt / TRAIN_STATE).read_text())
        assert (state["iteration"], state["env_steps"]) == (row["iteration"], row["env_steps"])
    policy_before, meta_before = load_policy(ckpt_before)
    policy_final, meta_final = load_policy(final)
    assert (meta_before["iteration"], meta_final["iteration"]) == (before, len(rows))
    assert meta_final["config"]["scale"]["address"] == address
    before_weights, final_weights = policy_before.state_dict(), policy_final.state_dict()
    assert any(not torch.equal(before_weights[k], final_weights[k]) for k in before_weights)


def test_scale_keys_reach_rllib():
    from agent.rllib.ppo_config import build_ppo_config
    from agent.training.config import load_config

    cfg = load_config(CONFIG, ["scale.num_learners=2", "scale.num_gpus_per_learner=1",
                               "scale.restart_env_runners=false", "scale.restart_delay_s=2.5"])
    ppo = build_ppo_config(cfg)
    assert (ppo.num_learners, ppo.num_gpus_per_learner) == (2, 1)
    assert (ppo.restart_failed_env_runners, ppo.delay_between_env_runner_restarts_s) == (False, 2.5)
    assert ppo.env_config["backend"] == "engine"
    assert build_ppo_config(load_config(CONFIG)).restart_failed_env_runners


def test_a_local_ray_that_times_out_starting_is_started_again_and_other_errors_are_not_retried(
        monkeypatch, capsys):
    import agent.rllib.ray_session as session

    calls = []

    def init(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise Exception("The current node timed out during startup. This could happen because ...")

    monkeypatch.setattr(session.ray, "init", init)
    monkeypatch.setattr(session.ray, "shutdown", lambda: calls.append("shutdown"))
    session.start_local_ray(2)
    assert len(calls) == 3 and calls[1] == "shutdown" and calls[2]["num_cpus"] == 2
    assert "attempt 1 of 3" in capsys.readouterr().err

    def always_late(**kwargs):
        raise Exception("The current node timed out during startup.")

    monkeypatch.setattr(session.ray, "init", always_late)
    with pytest.raises(Exception, match="timed out during startup"):
        session.start_local_ray(2)

    def broken(**kwargs):
        calls.append("broken")
        raise ValueError("num_cpus must be positive")

    calls.clear()
    monkeypatch.setattr(session.ray, "init", broken)
    with pytest.raises(ValueError, match="num_cpus"):
        session.start_local_ray(0)
    assert calls == ["broken"]
