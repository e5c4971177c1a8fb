"""What an economy policy does in one game: its resources, supply and own units over the game.

    python bench/economy_trace.py runs/bench/BuildMarines/seed0 --sample --out docs/traces/BuildMarines.json

A score of 0 on BuildMarines says nothing of why: no Supply Depot, a depot never finished, a supply cap
filled with SCVs, or a Barracks that never trains. The checkpoint (or run directory: its latest
checkpoint) plays one episode of the evaluation seed on its training map, greedy or sampling, and every
`--every` agent steps the trace records the minerals and gas collected so far, the player's minerals,
supply used and cap, idle workers (now, and worker-seconds so far: what the idle-worker penalty charges),
the worth of what the player has paid for (what the production reward pays on), the score, the own
units by type: finished, and under construction, and what the SCVs are doing (their current orders by
pysc2 name). For each economy verb the trace also sums up, over the unit-steps where it was legal, the
probability the policy gave it and how often it was the unit's likeliest verb: greedy play takes only
likeliest verbs, so a verb spread thin as a rate (a few percent per worker per step) happens under
sampling and never greedily. Writes JSON with the date, command and commit; prints the rows and that
summary.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.learning import EVAL_SEED  # noqa: E402
from bench.provenance import run_info  # noqa: E402
from envs.errors import UserError  # noqa: E402


def _order_name(unit) -> str:
    """A raw unit's current order, as pysc2 names it ("none" without one)."""
    from envs.raw_schema import FeatureUnit as FU
    from envs.raw_schema import OrderId

    if unit[FU.order_length] == 0:
        return "none"
    try:
        return OrderId(int(unit[FU.order_id_0])).name
    except ValueError:  # an order this project does not name
        return str(int(unit[FU.order_id_0]))


def trace(agent: str, *, sample: bool, every: int, seed: int, steps: int | None = None) -> dict:
    import torch

    from agent.evaluation.agents import AgentSource
    from envs.engine.economy_data import SCV
    from envs.engine.economy_obs import S_COLLECTED_MINERALS, S_COLLECTED_VESPENE
    from envs.engine.units import LOOPS_PER_GAME_SECOND, UNIT_TYPES
    from envs.raw_schema import Alliance
    from envs.raw_schema import FeatureUnit as FU
    from envs.raw_schema import Player as PL

    torch.set_num_threads(1)
    source = AgentSource(agent, sample=sample)
    if source.policy is None or not source.policy.economy:
        raise UserError(f"{agent} is not a checkpoint of an economy map")
    name_of = {u.sc2_id: u.name for u in UNIT_TYPES}
    scv = UNIT_TYPES[SCV].sc2_id
    env = source.make_env(source.trained_map).unwrapped
    games = source.make_games()
    obs, _ = env.reset(seed=seed)
    games.start(0, seed)
    rows, rejected, step, done = [], Counter(), 0, False
    idle_seconds, loop = 0.0, int(env.last_raw.game_loop)
    choices = VerbChoices(source.policy)
    while not done:
        state = games.states[0]
        action = games.act([0], [obs])[0]
        choices.add(obs, action, state)
        obs, _, terminated, truncated, info = env.step(action)
        step, done = step + 1, terminated or truncated or step + 1 == steps
        raw = env.last_raw
        rejected.update(why for _, why in raw.action_results)
        # what the idle-worker penalty charges: idle workers as observed, for the loops since the last step
        idle_seconds += raw.player[PL.idle_worker_count] * (int(raw.game_loop) - loop) / LOOPS_PER_GAME_SECOND
        loop = int(raw.game_loop)
        if step % every and not done:
            continue
        own, score = raw.raw_units[raw.raw_units[:, FU.alliance] == Alliance.self], raw.score_cumulative
        finished = own[:, FU.build_progress] == 100
        rows.append({
            "step": step, "game_loop": int(raw.game_loop), "score": float(info["score"]),
            "collected": int(score[S_COLLECTED_MINERALS] + score[S_COLLECTED_VESPENE]),
            "minerals": int(raw.player[PL.minerals]), "food_used": int(raw.player[PL.food_used]),
            "food_cap": int(raw.player[PL.food_cap]), "idle_workers": int(raw.player[PL.idle_worker_count]),
            "idle_worker_seconds": round(float(idle_seconds), 1),
            "value_bought": round(float(env.value_bought), 2),
            "finished": dict(Counter(name_of.get(int(t), str(t)) for t in own[finished, FU.unit_type])),
            "building": dict(Counter(name_of.get(int(t), str(t)) for t in own[~finished, FU.unit_type])),
            "worker_orders": dict(Counter(_order_name(unit) for unit in own if unit[FU.unit_type] == scv)),
        })
    env.close()
    return {"agent": agent, "map": source.trained_map, "sample": sample, "seed": seed, "steps": step,
            "rows": rows, "rejected_commands": dict(rejected), "economy_verbs": choices.summary()}


class VerbChoices:
    """Per economy verb, over the unit-steps where it was legal: p(verb) as the unit drew its action, and
    whether the verb was the unit's likeliest (what greedy play would take)."""

    def __init__(self, policy):
        from envs.action_space import ECONOMY_VERBS

        self.policy, self.verbs = policy, ECONOMY_VERBS
        self.probabilities: dict[str, list[float]] = {verb.name: [] for verb in ECONOMY_VERBS}
        self.likeliest: dict[str, int] = dict.fromkeys(self.probabilities, 0)

    def add(self, obs: dict, action, state) -> None:
        import numpy as np
        import torch

        from agent.model.deciding import choosing
        from agent.model.policy import to_tensors

        batch = {key: np.asarray(value)[None] for key, value in obs.items()}
        if not choosing(torch.as_tensor(batch["action_mask"]).bool()).any():
            return  # every unit has its one legal action (builders keep building)
        with torch.no_grad():  # the distributions the units drew from, given the claims of those before
            chosen = self.policy.choosing_forward(to_tensors(batch), torch.as_tensor(action)[None], state)
        factors = chosen.factors
        verb_p, legal = factors.verb_log_probs().exp(), factors.verb_legal()  # [L, V] of the deciding units
        likeliest = verb_p.argmax(-1)  # the verb greedy play takes
        for verb in self.verbs:
            here = legal[:, verb]
            self.probabilities[verb.name] += verb_p[here, verb].tolist()
            self.likeliest[verb.name] += int((likeliest[here] == verb).sum())

    def summary(self) -> dict:
        import numpy as np

        return {name: {"legal_unit_steps": len(p),
                       "median_probability": round(float(np.median(p)), 4) if p else None,
                       "max_probability": round(max(p), 4) if p else None,
                       "likeliest_share": round(self.likeliest[name] / len(p), 4) if p else None}
                for name, p in self.probabilities.items()}


def main(argv: list[str] | None = None) -> int:
    from agent.outputs import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", help="a checkpoint or run directory trained on an economy map")
    parser.add_argument("--sample", action="store_true", help="sample the policy's actions (default: greedy)")
    parser.add_argument("--every", type=int, default=150, help="agent steps between rows")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="the episode's seed")
    parser.add_argument("--steps", type=int, help="stop after this many agent steps (default: the game)")
    parser.add_argument("--out", type=Path, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.every < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--every and --steps must be at least 1")
    try:
        record = {**run_info(), **trace(args.agent, sample=args.sample, every=args.every, seed=args.seed,
                                         steps=args.steps)}
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for row in record["rows"]:
        print(row["step"], {k: v for k, v in row.items() if k != "step"})
    print("rejected commands:", record["rejected_commands"])
    for verb, choice in record["economy_verbs"].items():
        print(verb, choice)
    if args.out:
        write_json_atomic(args.out, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
