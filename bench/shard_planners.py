"""How far scripted planning gets on CollectMineralShards, and what the decision interval costs it.

    python bench/shard_planners.py --episodes 50 --out docs/shard_planners.json

Two planners play the same seeded evaluation episodes at several `step_mul` (game loops between two
decisions; pysc2's minigame scores are at 8):
- nearest: the scripted agent (agent/evaluation/scripted.py), each Marine to its nearest shard not
  claimed by the other;
- pair: both Marines at once, to the two distinct shards that minimise the sum of their distances;
- route: each Marine keeps a route of up to three shards no one else has on theirs, one order a decision:
  an idle Marine moves to the nearest such shard, a busy one queues the nearest to its route's end.
A Marine sent to a shard stops when it takes it and waits for the next decision, so a coarser interval
leaves it idle longer: the gap between step_mul 8 and 2 bounds what the first two lose to waiting, and
the route planner's queued moves are the entity action space's way not to wait.
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
from agent.evaluation.scripted import CollectMineralShards, F  # noqa: E402
from agent.outputs import write_json_atomic  # noqa: E402
from bench.learning import kept  # noqa: E402
from bench.provenance import run_info  # noqa: E402
from envs.action_space import Verb  # noqa: E402
from envs.entity_env import EntityEnv  # noqa: E402
from envs.entity_kernels import OFFSET_SCALE  # noqa: E402
from envs.unit_memory import QUEUE_LIMIT  # noqa: E402

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


class RoutePlanner(CollectMineralShards):
    """Each Marine's route (its current order and the moves queued behind it) grows by one shard a
    decision up to ROUTE_LENGTH, from the shards on no Marine's route, nearest to where the route ends."""

    ROUTE_LENGTH = 3

    def act(self, obs):
        ents, xy = obs["entities"], self._xy(obs)
        free = [s for s in self._slots(obs, "is_neutral") if ents[s, F["targeted_by"]] == 0]
        actions = np.zeros(self.spec.max_units, dtype=np.int64)
        for unit in self._units(obs):
            busy = ents[unit, F["has_order"]] > 0.5
            queued = round(ents[unit, F["queued_moves"]] * QUEUE_LIMIT)
            if not free or (busy and queued + 1 >= self.ROUTE_LENGTH):
                continue
            end = xy[unit] + ents[unit, [F["end_dx"], F["end_dy"]]] * OFFSET_SCALE if busy else xy[unit]
            nearest = min(free, key=lambda s: np.linalg.norm(xy[s] - end))
            free.remove(nearest)
            verb = Verb.QUEUE_MOVE_ENTITY if busy else Verb.MOVE_ENTITY
            actions[unit] = self.layout.encode(verb, int(nearest))
        return actions


PLANNERS = {"nearest": CollectMineralShards, "pair": PairPlanner, "route": RoutePlanner}


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
                         **kept(summary)})
            print(f"{name:8s} step_mul {step_mul}: {summary['mean']:.1f} "
                  f"[{summary['ci_low']:.1f}, {summary['ci_high']:.1f}]", flush=True)
        env.close()
    write_json_atomic(args.out, {**run_info(), "map": MAP, "episodes": args.episodes, "eval_seed": EVAL_SEED,
                                 "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
