"""The economy maps through the real entry points: one tiny PPO iteration on each map's config, and
`perceiver-sc2 evaluate` with the scripted and random agents."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agent.cli import main
from agent.training.config import load_config
from envs.action_space import ECONOMY_VERBS
from envs.engine import ECONOMY_MAP_NAMES
from envs.errors import UserError
from envs.featurize import entity_features, scalar_features
from envs.raw_schema import OrderId

ROOT = Path(__file__).resolve().parent.parent
TINY = ["env.num_envs=2", "ppo.train_batch_size=128", "ppo.minibatch_size=64", "ppo.num_epochs=1",
        "model.width=16", "model.key_dim=8", "model.encoder_options={num_latents: 4, num_layers: 1, "
        "self_heads: 2}", "run.max_minutes=0", "run.max_env_steps=0",
        "ppo.lr_schedule=constant", "run.progress=false",
        "scale.torch_threads=1", "run.max_iterations=1"]


@pytest.mark.parametrize("map_name", ECONOMY_MAP_NAMES)
def test_one_ppo_iteration_trains_on_the_maps_config(ray_session, tmp_path, map_name):
    from agent.training.checkpoint import load_policy
    from agent.training.loop import Trainer

    cfg = load_config(ROOT / "configs" / f"{map_name}.yaml", TINY)
    trainer = Trainer(cfg, tmp_path)
    try:
        summary = trainer.train()
    finally:
        trainer.close()
    assert summary["iteration"] == 1 and summary["env_steps"] == 128
    policy, meta = load_policy(tmp_path)
    kwargs = meta["policy_kwargs"]
    assert kwargs["economy"] is True
    assert (kwargs["num_features"], kwargs["num_scalars"]) == (len(entity_features(True)),
                                                                 len(scalar_features(True)))
    assert meta["observation"]["scalar_features"][-5:] == ["minerals", "vespene", "food_used", "food_cap",
                                                           "idle_workers"]
    # an economy policy cannot play a combat map, even when asked to cross maps
    from agent.evaluation.agents import AgentSource

    with pytest.raises(UserError, match="trained on an economy map .* cannot play DefeatRoaches"):
        AgentSource(str(tmp_path), cross_map=True).check_map("DefeatRoaches")
    # the trained policy plays the map: its sampled actions are legal
    env = gym.make(f"perceiver_sc2/{map_name}-v0").unwrapped
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        actions, _ = policy.act(obs, sample=True)
        assert obs["action_mask"][np.arange(len(actions[0])), actions[0]].all()
        obs, _, _, _, info = env.step(actions[0])
        assert info["illegal_actions"] == 0
    # bench/economy_trace.py follows its game: the player's state and own units every `every` steps
    from bench.economy_trace import trace

    record = trace(str(tmp_path), sample=True, every=10, seed=0, steps=25)
    assert record["map"] == map_name and record["steps"] == 25
    assert [row["step"] for row in record["rows"]] == [10, 20, 25]
    first = record["rows"][0]
    assert first["finished"]["CommandCenter"] == 1 and first["finished"]["SCV"] >= 12
    assert first["food_used"] >= 12 and first["food_cap"] >= 15
    assert 0 <= first["collected"] <= record["rows"][-1]["collected"]
    scvs = first["finished"]["SCV"] + first["building"].get("SCV", 0)
    assert sum(first["worker_orders"].values()) == scvs  # one entry per SCV
    assert set(first["worker_orders"]) <= {"none", *(order.name for order in OrderId)}
    last = record["rows"][-1]
    assert first["value_bought"] >= 400  # the starting Command Center, a first of its type (SCVs: workers)
    assert 0 <= first["idle_worker_seconds"] <= last["idle_worker_seconds"] <= 25 * 8 / 16 * last["food_used"]
    # per economy verb, where it was legal: its probability and how often it was the likeliest verb
    verbs = record["economy_verbs"]
    assert set(verbs) == {verb.name for verb in ECONOMY_VERBS}
    assert verbs["GATHER"]["legal_unit_steps"] >= 12 * 25  # every SCV may always gather
    assert verbs["TRAIN_SCV"]["legal_unit_steps"] >= 1  # the Command Center starts with 50 minerals
    for choice in verbs.values():
        if choice["legal_unit_steps"]:
            assert 0 < choice["median_probability"] <= choice["max_probability"] <= 1
            assert 0 <= choice["likeliest_share"] <= 1


@pytest.mark.parametrize("map_name", ECONOMY_MAP_NAMES)
def test_evaluate_plays_the_scripted_and_random_agents(tmp_path, map_name, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--agent", "scripted", "random", "--map", map_name, "--episodes", "1", "--quiet",
                 "--json", str(out)]) == 0
    rows = {r["agent"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["scripted"]["published"]["grandmaster"] in (7566, 133)
    # the scripted player through the verbs far outplays random legal actions
    floor = 100 if map_name == "BuildMarines" else 5000
    assert rows["scripted"]["mean"] > max(10 * rows["random"]["mean"], floor)
    assert "| scripted |" in capsys.readouterr().out


def test_untrained_workers_mine_only_with_the_keep_bias():
    """CollectMineralsAndGas pays when a harvest trip ends, about 25 agent steps after the gather order.
    An untrained policy that re-decides every unit each step from near-uniform verbs cancels every trip;
    with the keep bias a unit that has an order keeps it about 3 times in 4, and trips end."""
    import torch

    from agent.model.policy import EntityPolicy
    from agent.training.build import policy_kwargs

    cfg = load_config(ROOT / "configs" / "CollectMineralsAndGas.yaml", ["model.width=16", "model.key_dim=8"])
    collected = {}
    for keep_bias in (0.0, 3.0):
        torch.manual_seed(0)
        policy = EntityPolicy(**{**policy_kwargs(cfg), "keep_bias": keep_bias}).eval()
        env = gym.make("perceiver_sc2/CollectMineralsAndGas-v0")
        obs, _ = env.reset(seed=0)
        generator = torch.Generator().manual_seed(0)
        total = 0.0
        for _ in range(300):
            actions, _ = policy.act(obs, sample=True, generator=generator)
            obs, reward, *_ = env.step(actions[0])
            total += reward
        env.close()
        collected[keep_bias] = total
    assert collected[0.0] == 0.0
    assert collected[3.0] >= 50.0  # at least ten trips of 5 minerals
