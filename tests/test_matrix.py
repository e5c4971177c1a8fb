"""`perceiver-sc2 evaluate` matrix mode: shared seeds, checkpoint agents, and the table/JSON/CSV rows."""

import csv
import itertools
import json
import sys

import pytest
import torch

from agent.cli import main
from agent.evaluation.agents import AgentSource, PolicyAgent, PolicyGames
from agent.evaluation.evaluate import evaluate, evaluate_matrix
from agent.evaluation.run_loop import play, play_games
from agent.evaluation.stats import bootstrap_ci, wilson_interval
from agent.model.policy import EntityPolicy
from agent.training.build import env_kwargs, policy_kwargs
from agent.training.checkpoint import write_policy
from agent.training.config import config_from_dict
from envs.entity_env import EntityEnv
from envs.errors import UserError


def make_checkpoint(path, map_name="3m", encoder="perceiver_io", seed=0, memory=False):
    """A checkpoint directory in the training layout (policy.pt + policy.json) holding untrained weights."""
    options = {"perceiver_io": {"num_latents": 4, "num_layers": 1, "self_heads": 2}}.get(encoder, {})
    model = {"width": 16, "key_dim": 8, "encoder": encoder, "encoder_options": options, "memory": memory}
    cfg = config_from_dict({"env": {"map": map_name}, "model": model})
    torch.manual_seed(seed)
    policy = EntityPolicy(**policy_kwargs(cfg))
    path.mkdir(parents=True, exist_ok=True)
    write_policy(path, policy.constructor_kwargs, policy.state_dict(), env=env_kwargs(cfg),
                 config=cfg.to_dict(), iteration=0)
    return path


@pytest.mark.parametrize("agent", ["scripted", "random"])
def test_same_seed_same_scores_and_episode_k_uses_seed_plus_k(agent):
    a = evaluate(agent, "CollectMineralShards", episodes=4, seed=11, progress=False)
    b = evaluate(agent, "CollectMineralShards", episodes=4, seed=11, progress=False)
    assert a["scores"] == b["scores"]
    shifted = evaluate(agent, "CollectMineralShards", episodes=3, seed=12, progress=False)
    if agent == "scripted":  # the random agent's own generator is seeded once, so only games repeat
        assert shifted["scores"] == a["scores"][1:]
    other = evaluate(agent, "CollectMineralShards", episodes=4, seed=50, progress=False)
    assert other["scores"] != a["scores"]  # the seed really changes the games


def test_matrix_plays_every_agent_on_the_same_games(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", "3m")
    rows = evaluate_matrix(["scripted", "random", str(ckpt)], ["3m"], [None], episodes=3, seed=4,
                           progress=False)
    alone = {name: evaluate(name, "3m", episodes=3, seed=4, progress=False)["scores"]
             for name in ("scripted", str(ckpt))}
    by_agent = {r["agent"]: r for r in rows}
    # Deterministic agents (scripted, greedy checkpoint) score the same alone and inside the matrix.
    assert by_agent["scripted"]["scores"] == alone["scripted"]
    assert by_agent[str(ckpt)]["scores"] == alone[str(ckpt)]
    assert all(r["seed"] == 4 and r["episodes"] == 3 for r in rows)


def test_checkpoint_agent_greedy_is_deterministic_and_sample_differs(tmp_path):
    ckpt = str(make_checkpoint(tmp_path / "ckpt", "3m", encoder="deepsets"))
    threads = torch.get_num_threads()
    greedy = [evaluate(ckpt, "3m", episodes=2, seed=0, progress=False) for _ in range(2)]
    assert torch.get_num_threads() == threads  # evaluation's single-thread inference is undone
    assert greedy[0]["scores"] == greedy[1]["scores"]
    assert greedy[0]["mean_length"] == greedy[1]["mean_length"]
    # On one observation: greedy always picks the same actions, `--sample` draws varied ones.
    source = AgentSource(ckpt, sample=True)
    env = EntityEnv("3m")
    obs, _ = env.reset(seed=0)
    greedy_agent = PolicyAgent(source.policy, sample=False)
    sampling_agent = source.make("3m", env, seed=0)
    assert len({tuple(greedy_agent.act(obs)) for _ in range(10)}) == 1
    assert len({tuple(sampling_agent.act(obs)) for _ in range(10)}) > 1
    # Another map than its own only when asked for (the policy's weights do not depend on the entity caps).
    with pytest.raises(UserError, match="trained on 3m, not MoveToBeacon; pass --cross-map"):
        evaluate(ckpt, "MoveToBeacon", episodes=1, seed=0, progress=False)
    assert evaluate(ckpt, "MoveToBeacon", episodes=1, seed=0, progress=False, cross_map=True)["episodes"] == 1


@pytest.mark.parametrize("memory", [False, True])
@pytest.mark.parametrize("sample", [False, True])
def test_a_checkpoint_plays_each_episode_the_same_however_many_games_run_at_once(tmp_path, monkeypatch,
                                                                                sample, memory):
    ckpt = str(make_checkpoint(tmp_path / "ckpt", "3m", memory=memory))
    runs = {}
    for games in (1, 3):  # 3 games for 5 episodes: two games start a second episode mid-run
        monkeypatch.setattr(sys.modules["agent.evaluation.evaluate"], "GAMES_AT_ONCE", games)
        runs[games] = evaluate(ckpt, "3m", episodes=5, seed=7, progress=False, sample=sample)
    assert runs[1]["scores"] == runs[3]["scores"]
    assert runs[1]["mean_length"] == runs[3]["mean_length"]
    # Episode 2 (seed 9) played on its own through `play`, by the one-game agent seeded with its seed.
    source = AgentSource(ckpt, sample=sample)
    env = source.make_env("3m")
    (alone,) = play(env, PolicyAgent(source.policy, sample=sample, seed=9), 1, 9, progress=False)
    env.close()
    assert alone.score == runs[3]["scores"][2]


def test_games_played_at_once_each_carry_their_own_memory_from_a_fresh_start(tmp_path):
    source = AgentSource(str(make_checkpoint(tmp_path / "ckpt", "3m", memory=True)))
    trace = {}  # episode seed -> the memory state (h) each step acted from

    class Recording(PolicyGames):
        def start(self, game, seed):
            super().start(game, seed)
            self.seed_of = {**getattr(self, "seed_of", {}), game: seed}

        def act(self, games, observations):
            h = self._state_of(games)[0]
            for row, game in enumerate(games):
                trace.setdefault(self.seed_of[game], []).append(h[row])
            return super().act(games, observations)

    envs = [source.make_env("3m") for _ in range(2)]
    play_games(envs, Recording(source.policy), 4, 20, progress=False)  # episodes 2 and 3 reuse a game
    solo = []

    class Solo(PolicyAgent):
        def act(self, obs):
            solo.append(torch.zeros(16) if self.state is None else self.state[0][0])
            return super().act(obs)

    for seed in (22, 23):
        solo.clear()
        play(envs[0], Solo(source.policy, seed=seed), 1, seed, progress=False)
        assert len(solo) == len(trace[seed]) > 1
        assert not torch.equal(solo[0], solo[-1])  # the state moves during an episode
        torch.testing.assert_close(torch.stack(trace[seed]), torch.stack(solo))
    for env in envs:
        env.close()


def test_matrix_cli_writes_every_agent_bot_map_row(tmp_path, capsys):
    out_json, out_csv = tmp_path / "m.json", tmp_path / "m.csv"
    agents, bots, maps = ["scripted", "random"], ["idle", "attack_nearest"], ["3m", "MoveToBeacon"]
    argv = ["evaluate", "--agent", *agents, "--enemy-bot", bots[0], "--enemy-bot", bots[1],
            "--map", maps[0], "--map", maps[1], "--episodes", "3", "--seed", "2", "--quiet",
            "--json", str(out_json), "--csv", str(out_csv)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    expected = set(itertools.product(agents, bots, maps))

    data = json.loads(out_json.read_text())
    assert {(r["agent"], r["enemy_bot"], r["map"]) for r in data["rows"]} == expected
    assert len(data["rows"]) == len(expected)
    with out_csv.open() as fh:
        csv_rows = list(csv.DictReader(fh))
    assert {(r["agent"], r["enemy_bot"], r["map"]) for r in csv_rows} == expected

    lines = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]
    assert {(c[0], c[1], c[2]) for c in cells} == expected
    for r in data["rows"]:
        # The interval is the bootstrap of the very per-episode scores the row reports.
        assert len(r["scores"]) == r["episodes"] == 3
        assert (r["mean"], r["ci_low"], r["ci_high"]) == bootstrap_ci(r["scores"], seed=2)
        if r["map"] == "3m":  # a map with wins: Wilson interval of wins over all episodes
            assert (r["win_low"], r["win_high"]) == pytest.approx(wilson_interval(r["wins"], r["episodes"]))
            assert r["published"] is None
        else:
            assert "win_rate" not in r
            assert r["published"]["grandmaster"] == 28  # Vinyals et al. 2017, Table 1, MoveToBeacon
    beacon_csv = next(r for r in csv_rows if r["map"] == "MoveToBeacon")
    assert beacon_csv["published_human"] == "26" and beacon_csv["win_rate"] == ""


def test_single_agent_json_is_one_summary(tmp_path, capsys):
    out = tmp_path / "one.json"
    assert main(["evaluate", "--agent", "scripted", "--map", "MoveToBeacon", "--episodes", "3",
                 "--quiet", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert {"mean", "ci_low", "ci_high", "episodes", "scores"} <= set(summary)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("MoveToBeacon scripted: mean") and "published" in lines[1]


def test_unknown_map_or_bot_in_a_matrix_fails_before_playing(tmp_path):
    with pytest.raises(UserError, match="unknown map 'Nope'"):
        evaluate_matrix(["scripted"], ["3m", "Nope"], [None], episodes=1, seed=0, progress=False)
    with pytest.raises(UserError, match="unknown enemy bot 'rush'"):
        evaluate_matrix(["scripted"], ["3m"], ["idle", "rush"], episodes=1, seed=0, progress=False)
    assert main(["evaluate", "--agent", "scripted", "--agent", str(tmp_path / "missing"), "--map", "3m",
                 "--episodes", "1"]) == 2
