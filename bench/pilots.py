"""Pilots: short training runs of one map's config under a few named variants, evaluated greedy and sampled.

    python bench/pilots.py kl --map DefeatRoaches --env-steps 80000 \
        --variant joint ppo.kl=joint --variant none ppo.kl=none

Each variant trains in its own `perceiver-sc2 train` process (bench/learning.py `train`) for the same
env-step budget, with the same seed and `--set` overrides on top of configs/<map>.yaml, one after
another. Then its final checkpoint plays the same seeded evaluation episodes greedily and sampling.
Writes docs/pilots/<name>.json: per variant the overrides, the commits it was trained and evaluated on,
the budget reached, the evaluation summaries with every episode's score and how often the units with a
choice took each verb (a greedy policy that never attacks shows there), and the training curve (episode
score, value-function explained variance, return scale, approximate KL, KL coefficient, entropy).
`--evaluate-only` evaluates the existing runs again (after a change to how the policy plays).
The variants of one pilot can also run side by side, one invocation each: each adds its entry to the file.
A pilot is a short run on a shared machine: it can rank variants that differ a lot, no more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.outputs import write_json_atomic  # noqa: E402
from bench.learning import EVAL_SEED, kept, read_metrics, train  # noqa: E402
from bench.provenance import run_info  # noqa: E402

TAIL_KEYS = ("iteration", "env_steps", "train_seconds", "episode_score", "vf_explained_var", "return_scale",
             "approx_kl", "kl", "kl_coeff", "entropy", "vf_loss")
TAIL = 5  # training iterations whose metrics are kept per variant (the curve's end)
CURVE_KEYS = ("env_steps", "episode_score", "vf_explained_var", "approx_kl", "kl_coeff", "return_scale",
              "entropy")


PROVENANCE = ("date", "commit", "engine_commit", "uncommitted")


def counting_source(run_dir: Path, sample: bool):
    """The checkpoint as an evaluation agent source whose agents also count the verbs chosen by the units
    that had more than one legal choice (what the policy does, not only its score): all of them in
    `source.verbs`, those without an order (idle: their no-op leaves them idle) in `source.idle_verbs`."""
    from agent.evaluation.agents import AgentSource
    from envs.action_space import Verb, layout_verbs
    from envs.featurize import entity_features

    class CountingSource(AgentSource):
        def count(self, obs: dict, actions: np.ndarray) -> None:
            layout = self.policy.layout(obs["entities"].shape[0])
            chose = np.asarray(obs["action_mask"]).sum(-1) > 1
            idle = obs["entities"][: len(chose), has_order] == 0
            for counts, units in ((self.verbs, chose), (self.idle_verbs, chose & idle)):
                for verb in layout.verb_of_action[actions[units]]:
                    counts[Verb(int(verb)).name.lower()] += 1

        def make_games(self):
            games = super().make_games()
            act = games.act

            def counted(game_ids, observations):
                actions = act(game_ids, observations)
                for obs, chosen in zip(observations, actions, strict=True):
                    self.count(obs, chosen)
                return actions

            games.act = counted
            return games

    source = CountingSource(str(run_dir), sample=sample)
    economy = source.policy.economy
    has_order = entity_features(economy).index("has_order")
    source.verbs = Counter({verb.name.lower(): 0 for verb in layout_verbs(economy)})
    source.idle_verbs = Counter({verb.name.lower(): 0 for verb in layout_verbs(economy)})
    return source


def evaluate_variant(run_dir: Path, map_name: str, episodes: int) -> dict:
    from agent.evaluation.evaluate import evaluate

    info = run_info()
    out = {"evaluated_on": {k: info[k] for k in PROVENANCE}}
    for name, sample in (("greedy", False), ("sampled", True)):
        source = counting_source(run_dir, sample)
        summary = evaluate(source, map_name, episodes=episodes, seed=EVAL_SEED, progress=False)
        out[name] = kept(summary)
        out[name]["verbs"] = dict(source.verbs)  # per unit-step with a choice, over every episode
        out[name]["idle_verbs"] = dict(source.idle_verbs)  # of those, the units without an order
    return out


def training_summary(run_dir: Path) -> dict:
    rows = read_metrics(run_dir)
    scores = [r["episode_score"] for r in rows if r["episode_score"] is not None]
    return {
        "env_steps": rows[-1]["env_steps"],
        "train_seconds": rows[-1]["train_seconds"],
        # the training episodes are sampled play: the last iterations' scores (RLlib's 32-game means)
        "training_score_last": scores[-TAIL:],
        "tail": [{k: r.get(k) for k in TAIL_KEYS} for r in rows[-TAIL:]],
        "curve": [{k: r.get(k) for k in CURVE_KEYS} for r in rows],
    }


def write_record(out_path: Path, record: dict) -> None:
    """Writes the pilot's record, keeping the variants that another invocation of the same pilot (same
    budget) wrote meanwhile, and every invocation's command in `commands`: the variants of one pilot can
    train in separate processes, one per core."""
    current = json.loads(out_path.read_text()) if out_path.is_file() else {}
    commands = [record["command"]] if record.get("command") else []
    if current.get("env_steps_budget") == record["env_steps_budget"]:
        others = {k: v for k, v in current.get("variants", {}).items() if k not in record["variants"]}
        earlier = current.get("commands") or ([current["command"]] if current.get("command") else [])
        record = {**record, "variants": {**others, **record["variants"]}}
        commands = list(dict.fromkeys(earlier + commands))
    write_json_atomic(out_path, {**record, "commands": commands})


def parse_variants(items: list[list[str]]) -> dict[str, list[str]]:
    variants = {}
    for item in items:
        name, *overrides = item
        if name in variants:
            raise SystemExit(f"variant {name!r} given twice")
        variants[name] = overrides
    return variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the pilot's name: docs/pilots/<name>.json")
    parser.add_argument("--map", required=True)
    parser.add_argument("--env-steps", type=int, required=True)
    parser.add_argument("--episodes", type=int, default=20,
                        help="evaluation episodes, greedy and sampled each")
    parser.add_argument("--variant", nargs="+", action="append", required=True, metavar=("NAME", "KEY=VALUE"),
                        help="a variant: its name, then config overrides (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "pilots")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "pilots", help="where the runs go")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="evaluate the variants' existing runs again with this code, without training")
    parser.add_argument("--note", default="", help="recorded as is, e.g. what code the runs used")
    parser.add_argument("--force", action="store_true",
                        help="throw away a kept run of another config (default: stop, naming what differs)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    variants = parse_variants(args.variant)
    out_path = args.out / f"{args.name}.json"
    done = json.loads(out_path.read_text()) if out_path.is_file() else {}
    record = {"pilot": args.name, "map": args.map, "env_steps_budget": args.env_steps,
              "eval_episodes": args.episodes, "eval_seed": EVAL_SEED, "note": args.note, **run_info(),
              "cpu_count": os.cpu_count(), "variants": {}}
    for name, overrides in variants.items():
        run_dir = args.runs / args.name / name
        previous = done.get("variants", {}).get(name)
        same = (previous is not None and previous["overrides"] == overrides
                and done.get("env_steps_budget") == args.env_steps)
        if args.evaluate_only or same:  # trained before: keep its training record
            entry = {k: v for k, v in previous.items() if k not in ("greedy", "sampled", "evaluated_on")}
            if "run" in entry:  # records written before training and evaluation were told apart
                entry["trained_on"] = entry.pop("run")
        else:
            info = run_info()
            wall = train(args.map, args.env_steps, run_dir,  # a killed pilot goes on where it stopped
                         ["scale.torch_threads=1", "run.progress=false", *overrides], discard=args.force)
            entry = {"overrides": overrides, "trained_on": {k: info[k] for k in PROVENANCE},
                     "wall_seconds_including_startup": round(wall, 1), **training_summary(run_dir)}
        if args.evaluate_only or not (same and done.get("eval_episodes") == args.episodes):
            entry.update(evaluate_variant(run_dir, args.map, args.episodes))
        else:
            entry.update({k: previous[k] for k in ("evaluated_on", "greedy", "sampled") if k in previous})
        record["variants"][name] = entry
        record["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_record(out_path, record)
        print(f"{name}: {entry['env_steps']} steps, greedy {entry['greedy']['mean']:.1f}, sampled "
              f"{entry['sampled']['mean']:.1f}, training {entry['training_score_last'][-1:]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
