"""Baselines on every map: the scripted and random agents, and pysc2's own scripted agents on the engine.

    python bench/baselines.py                    # all three files, a few minutes on one core
    python bench/baselines.py --only duels

Every agent plays the same seeded episodes (episode k uses seed 1,000,000 + k, the seeds bench/learning.py
evaluates trained policies on), and every per-episode score is kept, so any two rows of a file can be
compared game by game. Writes, under --out (default docs/):
- baselines_minigames.json: `perceiver-sc2 evaluate --agent scripted random` on the five pysc2 minigames;
- baselines_duels.json: the same on SMAC's 3m, 8m, 2s3z, 3s5z and 27m_vs_30m against each enemy bot (win
  rates);
- baselines_pysc2.json: pysc2's raw-interface scripted agents, unmodified, through `envs.EngineSC2Env` and
  pysc2's `run_loop`, beside pysc2's no-op `BaseAgent`;
- baselines_economy.json: the economy minigames (CollectMineralsAndGas, BuildMarines): `perceiver-sc2
  evaluate --agent scripted random` in the entity env (the scripted players acting through its per-unit
  verbs), our scripted players (envs/scripted_economy.py) with raw commands on the engine, and the same
  players as pysc2 agents (envs/pysc2_scripted.py) through `EngineSC2Env` and `run_loop`, beside the no-op
  agent (on a fifth as many games: pysc2's pure-Python protobuf makes that path slow).
`python bench/tables.py` turns them into the tables of docs/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluation.evaluate import EVAL_SEED  # noqa: E402
from bench.provenance import run_info  # noqa: E402

MINIGAMES = ("MoveToBeacon", "CollectMineralShards", "FindAndDefeatZerglings", "DefeatRoaches",
             "DefeatZerglingsAndBanelings")
DUEL_MAPS = ("3m", "8m", "2s3z", "3s5z", "27m_vs_30m")
ECONOMY_MAPS = ("CollectMineralsAndGas", "BuildMarines")
DUEL_BOTS = ("idle", "attack_nearest", "focus_fire")
# pysc2/agents/scripted_agent.py: the agents written for the raw interface, with the map each one plays.
PYSC2_AGENTS = {
    "DefeatRoaches": "pysc2.agents.scripted_agent.DefeatRoachesRaw",
    "CollectMineralShards": "pysc2.agents.scripted_agent.CollectMineralShardsRaw",
}
PYSC2_NO_OP = "pysc2.agents.base_agent.BaseAgent"
ECONOMY_PYSC2_AGENTS = {
    "CollectMineralsAndGas": "envs.pysc2_scripted.CollectMineralsAndGasRaw",
    "BuildMarines": "envs.pysc2_scripted.BuildMarinesRaw",
}


def ours(maps, bots, episodes: int, seed: int) -> list[dict]:
    from agent.evaluation.evaluate import evaluate_matrix

    return evaluate_matrix(["scripted", "random"], list(maps), list(bots), episodes=episodes, seed=seed,
                           progress=False, on_row=lambda row: print(_line(row), flush=True))


def pysc2_rows(episodes: int, seed: int, agents: dict[str, str] = PYSC2_AGENTS) -> list[dict]:
    """pysc2 agents through pysc2's own run_loop: the engine as an existing pysc2 user would play it."""
    import contextlib
    import importlib
    import io
    import logging

    import envs

    EngineSC2Env = envs.EngineSC2Env  # installs pysc2's Python 3.11 shims before pysc2 is imported
    from pysc2.env import run_loop
    from pysc2.lib import features

    from agent.evaluation.evaluate import summarize
    from agent.evaluation.report import published_scores
    from agent.evaluation.run_loop import Episode

    aif = features.AgentInterfaceFormat(use_raw_units=True, use_raw_actions=True, raw_resolution=64)
    logging.disable(logging.INFO)  # run_loop logs every episode
    rows = []
    for map_name, scripted in agents.items():
        for path in (scripted, PYSC2_NO_OP):
            module, _, name = path.rpartition(".")
            agent_cls = getattr(importlib.import_module(module), name)
            played = []
            for k in range(episodes):
                agent = agent_cls()
                env = EngineSC2Env(map_name=map_name, agent_interface_format=aif, random_seed=seed + k)
                with env, contextlib.redirect_stdout(io.StringIO()):  # run_loop prints an fps line
                    run_loop.run_loop([agent], env, max_episodes=1)
                played.append(Episode(score=float(agent.reward), length=agent.steps, won=None))
            row = summarize(played, seed=seed)
            row.update(agent=name, agent_path=path, map=map_name, seed=seed, backend="engine",
                       enemy_bot="idle", published=published_scores(map_name),
                       played_through="EngineSC2Env + pysc2 run_loop")
            print(_line(row), flush=True)
            rows.append(row)
    return rows


def economy_rows(episodes: int, seed: int) -> list[dict]:
    """The economy minigames: the entity env's scripted and random agents, our scripted players with raw
    commands on the bare engine, then as pysc2 agents."""
    from agent.evaluation.evaluate import summarize
    from agent.evaluation.report import published_scores
    from agent.evaluation.run_loop import Episode
    from envs.engine import Engine
    from envs.scripted_economy import SCRIPTED_ECONOMY

    rows = ours(ECONOMY_MAPS, [None], episodes, seed)
    for row in rows:
        row["played_through"] = "entity env"
    for map_name, player_cls in SCRIPTED_ECONOMY.items():
        played = []
        for k in range(episodes):
            engine, player, steps = Engine(map_name, seed=seed + k), player_cls(), 0
            obs = engine.reset()
            while not obs.done:
                obs = engine.step(player(obs))
                steps += 1
            played.append(Episode(score=float(obs.score_cumulative[0]), length=steps, won=None))
        row = summarize(played, seed=seed)
        row.update(agent="scripted", agent_path=f"envs.scripted_economy.{player_cls.__name__}", map=map_name,
                   seed=seed, backend="engine", enemy_bot="idle", published=published_scores(map_name),
                   played_through="engine, raw commands")
        print(_line(row), flush=True)
        rows.append(row)
    # the pysc2 path (pure-Python protobuf for every call) is slower: a fifth as many games
    return rows + pysc2_rows(max(1, episodes // 5), seed, ECONOMY_PYSC2_AGENTS)


def _line(row: dict) -> str:
    wins = f", won {row['wins']}" if "wins" in row else ""
    return (f"{row['map']} {row['agent']} v {row['enemy_bot']}: {row['mean']:.1f} "
            f"[{row['ci_low']:.1f}, {row['ci_high']:.1f}]{wins}")


SUITES = {
    "minigames": lambda n, s: ours(MINIGAMES, [None], n, s),
    "duels": lambda n, s: ours(DUEL_MAPS, DUEL_BOTS, n, s),
    "pysc2": pysc2_rows,
    "economy": economy_rows,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SUITES), default=list(SUITES))
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="episode k uses seed SEED + k")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    info = run_info()
    # pysc2 first: its protobuf must be the pure-Python one, fixed at the first protobuf import.
    for suite in sorted(args.only, key=lambda s: s not in ("pysc2", "economy")):
        rows = SUITES[suite](args.episodes, args.seed)
        data = {**info, "episodes": args.episodes, "seed": args.seed, "rows": rows}
        path = args.out / f"baselines_{suite}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
