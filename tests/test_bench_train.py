"""`perceiver-sc2 bench train --quick`: its record is consistent with itself and with independent counts."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from agent.cli import main

ROOT = Path(__file__).resolve().parent.parent
aten = torch.ops.aten


class MatmulFlops(TorchDispatchMode):
    """2 m k n per matrix product, from the operands' shapes (independent of torch's FlopCounterMode)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        packet = func.overloadpacket
        if packet in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm):
            a, b = args[-2], args[-1]
            self.total += 2 * a.numel() * b.shape[-1]  # batch x m x k elements, times n
        return out


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_train")
    path = out / "bench.json"
    cmd = [sys.executable, "-m", "agent.cli", "bench", "train", "--quick", "--json", str(path),
           "--run-dir", str(out / "runs")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "default / baseline" in proc.stdout
    return json.loads(path.read_text())


def test_rates_and_shares_come_from_the_runs_own_timings(record):
    assert [arm["name"] for arm in record["arms"]] == ["baseline", "default"]
    assert len(record["commit"]) == 40 and record["engine_commit"] and record["date"]
    assert isinstance(record["uncommitted"], list)
    assert record["command"].startswith("perceiver-sc2 bench train")
    for arm in record["arms"]:
        its = arm["per_iteration"]
        assert arm["iterations"] == len(its) >= 2
        assert arm["env_steps"] == sum(it["env_steps"] for it in its) >= record["env_steps_budget"]
        assert arm["train_seconds"] == pytest.approx(sum(it["seconds"] for it in its))
        assert arm["steps_per_s"] == pytest.approx(arm["env_steps"] / arm["train_seconds"])
        assert arm["steps_per_s_median"] == pytest.approx(
            statistics.median(it["env_steps"] / it["seconds"] for it in its))
        shares = arm["shares"]
        assert sum(shares.values()) == pytest.approx(1.0)
        assert shares["sampler"] == pytest.approx(arm["sampler_seconds"] / arm["train_seconds"])
        assert shares["learner"] == pytest.approx(arm["learner_seconds"] / arm["train_seconds"])
        # Neither timing is missing: no machine does an arm's matrix products faster than its measured
        # matmul peak, whatever else loads it; and the two are nearly the whole iteration.
        peak_seconds = arm["env_steps"] / (record["matmul_gflops_machine"] * 1e9)
        flops = arm["flops"]
        assert arm["learner_seconds"] >= flops["num_epochs"] * flops["train_per_sample"] * peak_seconds
        assert arm["sampler_seconds"] >= flops["decode_per_obs"] * peak_seconds
        assert 0 <= shares["other"] < 0.3
        for it in its:
            assert 0 < it["sampler_s"] + it["learner_s"] <= it["seconds"]
    # Each arm draws from its own random state: the same computation samples the same first games, so the
    # first iteration's episodes score the same in both arms.
    firsts = [arm["per_iteration"][0]["episode_score"] for arm in record["arms"]]
    assert firsts[0] is not None and firsts[0] == firsts[1]
    assert record["ratios_over"] == "baseline"
    ratio = record["ratios"]["default"]
    base, default = record["arms"]
    assert ratio["steps_per_s"] == pytest.approx(default["steps_per_s"] / base["steps_per_s"])


def test_flops_and_the_matmul_fraction_are_consistent(record):
    machine = record["matmul_gflops_machine"]
    cores = str(record["cpu"]["cores"])
    assert machine == max(record["matmul_gflops"][when][cores] for when in ("before", "after"))
    for arm in record["arms"]:
        flops = arm["flops"]
        per_step = (flops["decode_per_obs"] + flops["num_epochs"] * flops["train_per_sample"]
                    + flops["value_per_sample"])
        assert flops["per_env_step"] == pytest.approx(per_step)
        assert flops["num_epochs"] == arm["settings"]["num_epochs"]
        # Backward costs about twice the forward: the SGD pass is 2-4 forwards' worth.
        assert 1.5 * flops["value_per_sample"] < flops["train_per_sample"] < 4 * flops["decode_per_obs"]
        assert arm["achieved_gflops"] == pytest.approx(flops["per_env_step"] * arm["steps_per_s"] / 1e9)
        assert arm["matmul_fraction"] == pytest.approx(arm["achieved_gflops"] / machine)
    # The baseline runs every unit slot and entity slot through the network: never fewer FLOPs.
    base, default = record["arms"]
    assert base["flops"]["per_env_step"] > default["flops"]["per_env_step"]


def test_flops_match_an_independent_count_on_the_same_probe(record):
    from agent.benchmarks.train import EVAL_SEED
    from agent.benchmarks.train_measure import collect_probe
    from agent.training.build import env_kwargs
    from agent.training.checkpoint import load_policy
    from agent.training.config import config_from_dict
    from envs.vector_env import EntityVectorEnv

    arm = record["arms"][1]
    cfg = config_from_dict(arm["config"])
    policy, _ = load_policy(arm["checkpoint"])
    policy.train()
    kwargs = {k: v for k, v in env_kwargs(cfg).items() if k != "map_name"}
    env = EntityVectorEnv(cfg.env.map, cfg.env.num_envs, **kwargs)
    obs, actions = collect_probe(policy, env, cfg.ppo.train_batch_size // cfg.env.num_envs, EVAL_SEED)
    env.close()
    n = len(actions)
    assert n == arm["flops"]["probe_samples"]

    decode = MatmulFlops()
    with decode:
        for start in range(0, n, cfg.env.num_envs):
            policy.decode({k: v[start:start + cfg.env.num_envs] for k, v in obs.items()}, sample=True)
    train = MatmulFlops()
    with train:
        for start in range(0, n, cfg.ppo.minibatch_size):
            part = slice(start, start + cfg.ppo.minibatch_size)
            logits, value_in, _ = policy({k: v[part] for k, v in obs.items()}, actions[part])
            logp = torch.log_softmax(logits, -1).gather(-1, actions[part].unsqueeze(-1))
            (logp.sum() + policy.value(value_in).sum()).backward()
    value = MatmulFlops()
    with value:
        policy.value(policy.features(obs))
    assert decode.total > 0 and train.total > 0 and value.total > 0
    assert arm["flops"]["decode_per_obs"] == pytest.approx(decode.total / n)
    assert arm["flops"]["train_per_sample"] == pytest.approx(train.total / n)
    assert arm["flops"]["value_per_sample"] == pytest.approx(value.total / n)


def test_both_arms_were_evaluated_on_the_same_episodes(record):
    for arm in record["arms"]:
        for mode in ("greedy", "sampled"):
            result = arm["eval"][mode]
            assert result["episodes"] == record["eval"]["episodes"] == 5
            assert result["seed"] == record["eval"]["seed"]
            assert result["ci_low"] <= result["mean"] <= result["ci_high"]
            assert Path(result["agent"]) == Path(arm["checkpoint"])


@pytest.mark.parametrize("argv, message", [
    (["bench", "train"], "give a config file"),
    (["bench", "train", "--quick", "--arm", "no-overrides"], "--arm expects"),
    (["bench", "train", "--quick", "--arm", "default:ppo.num_epochs=1"], "--arm expects"),
    (["bench", "train", "--quick", "--arm", "x:ppo.num_epochs=zero"], "ppo.num_epochs"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bench_learner_quick_times_every_variant(tmp_path):
    path = tmp_path / "learner.json"
    assert main(["bench", "learner", "--quick", "--json", str(path)]) == 0
    record = json.loads(path.read_text())
    names = {r["variant"] for r in record["records"]}
    assert names == {f"{v} {t}T mb32" for v in ("baseline", "default", "bf16") for t in (1, 2)} | {
        "default 1T mb16", "default 1T mb64"}
    base = next(r for r in record["records"] if r["variant"] == "default 1T mb32")
    for r in record["records"]:
        assert len(r["seconds"]) == record["rounds"]
        assert r["seconds_median"] == statistics.median(r["seconds"])
        assert r["us_per_sample"] == pytest.approx(r["seconds_median"] / r["minibatch"] * 1e6)
        assert r["speed_vs_base"] == pytest.approx(base["us_per_sample"] / r["us_per_sample"])
    # bf16 autocast changes the numbers, a little: log-probabilities within a few hundredths.
    assert 0 < record["bf16_max_logp_error"] < 0.05


def test_bench_learner_times_each_encoder_on_the_same_samples(tmp_path):
    path = tmp_path / "encoders.json"
    argv = ["bench", "learner", "--quick", "--encoders", "perceiver_io", "none",
            "--set", "ppo.minibatch_size=16", "--json", str(path)]
    assert main(argv) == 0
    record = json.loads(path.read_text())
    assert record["encoders"] == ["perceiver_io", "none"]
    assert record["base_variant"] == "perceiver_io 1T mb16"
    # the control arm is the Perceiver IO policy without its encoder
    assert 0 < record["parameters"]["none"] < record["parameters"]["perceiver_io"]
    names = [r["variant"] for r in record["records"]]
    assert names == [f"{e} {t}T mb16" for e in ("perceiver_io", "none") for t in (1, 2)]
    base = record["records"][0]
    for r in record["records"]:
        assert r["speed_vs_base"] == pytest.approx(base["us_per_sample"] / r["us_per_sample"])


def test_bench_learner_rejects_an_unknown_encoder(capsys):
    assert main(["bench", "learner", "--quick", "--encoders", "perceiver"]) == 2
    err = capsys.readouterr().err.strip()
    assert "perceiver" in err and len(err.splitlines()) == 1
