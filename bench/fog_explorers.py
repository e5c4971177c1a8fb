"""What the cells' time since seen is worth on FindAndDefeatZerglings, to a script.

    python bench/fog_explorers.py --episodes 100 --out docs/fog_explorers.json

Two scripted agents play the same seeded evaluation episodes through the entity env; both attack the
visible Zergling with the least health (the nearest on ties) and differ only in where they look when none
is in sight:
- sweep: the scripted agent (agent/evaluation/scripted.py FocusFire), a fixed serpentine over the cells;
- explorer: the cell whose time since seen (the observation's last scalars, envs/featurize.py), capped at
  STALE, less DISTANCE_COST per world unit from the Marines' centroid, is the largest: the same
  information the policy's per-unit gain adds to its cell logits.
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
from agent.evaluation.scripted import FocusFire  # noqa: E402
from agent.outputs import write_json_atomic  # noqa: E402
from bench.learning import kept  # noqa: E402
from bench.provenance import run_info  # noqa: E402
from envs.action_space import Verb  # noqa: E402
from envs.entity_env import EntityEnv  # noqa: E402

MAP = "FindAndDefeatZerglings"


class Explorer(FocusFire):
    """FocusFire that, with no enemy in sight, attack-moves to the stalest cell near the Marines."""

    STALE = 0.5  # a cell unseen for half the episode counts as never seen: Zerglings may be anywhere
    DISTANCE_COST = 0.005  # per world unit: a cell 20 away must be unseen 0.1 of the episode longer

    def act(self, obs):
        units = self._units(obs)
        if len(units) == 0 or len(self._slots(obs, "is_enemy")):
            return super().act(obs)
        cells = self.spec.cell_centres()
        unseen = obs["scalars"][-self.spec.fog_cells:]
        distance = np.linalg.norm(cells - self._xy(obs)[units].mean(axis=0), axis=1)
        cell = int(np.argmax(np.minimum(unseen, self.STALE) - self.DISTANCE_COST * distance))
        return self._all(obs, Verb.ATTACK_POINT, cell)


AGENTS = {"sweep": FocusFire, "explorer": Explorer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "fog_explorers.json")
    args = parser.parse_args(argv)
    env = EntityEnv(MAP)
    rows = []
    for name, agent in AGENTS.items():
        summary = summarize(play(env, agent(env.entity_spec), args.episodes, EVAL_SEED, desc=name))
        rows.append({"agent": name, **kept(summary)})
        print(f"{name}: {summary['mean']:.1f} [{summary['ci_low']:.1f}, {summary['ci_high']:.1f}]")
    env.close()
    write_json_atomic(args.out, {**run_info(), "map": MAP, "episodes": args.episodes, "eval_seed": EVAL_SEED,
                                 "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
