"""How far scripted planning gets on CollectMineralShards, and what the decision interval costs it.

    python bench/shard_planners.py --episodes 50 --out docs/shard_planners.json

Two planners play the same seeded evaluation episodes at several `step_mul` (game loops between two
decisions; pysc2's minigame scores are at 8):
- nearest: the scripted agent (agent/evaluation/scripted.py), each Marine to its nearest shard not
  claimed by the other;
- pair: both Marines at once, to the two distinct shards that minimise the sum of their distances.
A Marine sent to a shard stops when it takes it and waits for the next decision, so a coarser interval
leaves it idle longer: the gap between step_mul 8 and 2 bounds what any one-order-per-decision planner
loses to waiting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluation.evaluate import EVAL_SEED, summarize  # noqa: E402
from agent.evaluation.run_loop import play  # noqa: E402
from agent.evaluation.scripted import CollectMineralShards  # noqa: E402
from agent.outputs import write_json_atomic  # noqa: E402
from bench.learning import SUMMARY_KEYS  # noqa: E402
from bench.provenance import run_info  # noqa: E402
from envs.action_space import Verb  # noqa: E402
from envs.entity_env import EntityEnv  # noqa: E402

MAP = "CollectMineralShards"


class PairPlanner(CollectMineralShards):
    """Both Marines to the two distinct shards with the least summed distance (the nearest-shard agent's
    rule when fewer than two Marines or shards are left)."""

    def act(self, obs):
        shards, units = self._slots(obs, "is_neutral"), self._units(obs)
        if len(shards) < 2 or len(units) != 2:
            return super().act(obs)
        xy = self._xy(obs)
        d0, d1 = (np.linalg.norm(xy[shards] - xy[u], axis=1) for u in units)
        total = d0[:, None] + d1[None, :]
        np.fill_diagonal(total, np.inf)
        i, j = np.unravel_index(np.argmin(total), total.shape)
        actions = np.zeros(self.spec.max_units, dtype=np.int64)
        actions[units[0]] = self.layout.encode(Verb.MOVE_ENTITY, int(shards[i]))
        actions[units[1]] = self.layout.encode(Verb.MOVE_ENTITY, int(shards[j]))
        return actions


PLANNERS = {"nearest": CollectMineralShards, "pair": PairPlanner}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--step-muls", type=int, nargs="+", default=[8, 4, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "shard_planners.json")
    args = parser.parse_args(argv)
    rows = []
    for step_mul in args.step_muls:
        env = EntityEnv(MAP, step_mul=step_mul)
        for name, planner in PLANNERS.items():
            episodes = play(env, planner(env.entity_spec), args.episodes, EVAL_SEED,
                            desc=f"{name} at step_mul {step_mul}")
            summary = summarize(episodes)
            rows.append({"planner": name, "step_mul": step_mul,
                         **{k: summary[k] for k in SUMMARY_KEYS}})
            print(f"{name:8s} step_mul {step_mul}: {summary['mean']:.1f} "
                  f"[{summary['ci_low']:.1f}, {summary['ci_high']:.1f}]", flush=True)
        env.close()
    write_json_atomic(args.out, {**run_info(), "map": MAP, "episodes": args.episodes, "eval_seed": EVAL_SEED,
                                 "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
