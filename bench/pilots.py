"""Pilots: short training runs of one map's config under a few named variants, evaluated greedy and sampled.

    python bench/pilots.py kl --map DefeatRoaches --env-steps 80000 \
        --variant joint ppo.kl=joint --variant off ppo.kl=off

Each variant trains in its own `perceiver-sc2 train` process (bench/learning.py `train`) for the same
env-step budget, with the same seed and `--set` overrides on top of configs/<map>.yaml, one after
another. Then its final checkpoint plays the same seeded evaluation episodes greedily and sampling.
Writes docs/pilots/<name>.json: per variant the overrides, the commit it ran on, the budget reached,
the evaluation summaries with every episode's score, and the last training iterations' metrics (episode
score, value-function explained variance, return scale, KL and its coefficient, entropy).
A pilot is a short run on a shared machine: it can rank variants that differ a lot, no more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.learning import EVAL_SEED, SUMMARY_KEYS, read_metrics, train  # noqa: E402
from bench.provenance import run_info  # noqa: E402

TAIL_KEYS = ("iteration", "env_steps", "train_seconds", "episode_score", "vf_explained_var", "return_scale",
             "kl", "kl_coeff", "entropy", "vf_loss")
TAIL = 5  # training iterations whose metrics are kept per variant (the curve's end)


def evaluate_variant(run_dir: Path, map_name: str, episodes: int) -> dict:
    from agent.evaluation.evaluate import evaluate

    out = {}
    for name, sample in (("greedy", False), ("sampled", True)):
        summary = evaluate(str(run_dir), map_name, episodes=episodes, seed=EVAL_SEED, progress=False,
                           sample=sample)
        out[name] = {k: summary[k] for k in SUMMARY_KEYS}
    return out


def run_variant(map_name: str, name: str, overrides: list[str], env_steps: int, episodes: int,
                runs: Path) -> dict:
    run_dir = runs / name
    info = run_info()
    wall = train(map_name, env_steps, run_dir, ["scale.torch_threads=1", "run.progress=false", *overrides])
    rows = read_metrics(run_dir)
    scores = [r["episode_score"] for r in rows if r["episode_score"] is not None]
    return {
        "overrides": overrides,
        "run": {k: info[k] for k in ("date", "commit", "engine_commit", "uncommitted")},
        "env_steps": rows[-1]["env_steps"],
        "train_seconds": rows[-1]["train_seconds"],
        "wall_seconds_including_startup": round(wall, 1),
        # the training episodes are sampled play: the mean of the last iterations' smoothed scores
        "training_score_last": scores[-TAIL:],
        "tail": [{k: r.get(k) for k in TAIL_KEYS} for r in rows[-TAIL:]],
        "curve": [{k: r.get(k) for k in ("env_steps", "episode_score", "vf_explained_var", "kl_coeff",
                                          "return_scale")} for r in rows],
        **evaluate_variant(run_dir, map_name, episodes),
    }


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
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    variants = parse_variants(args.variant)
    out_path = args.out / f"{args.name}.json"
    done = json.loads(out_path.read_text()) if out_path.is_file() else {}
    record = {"pilot": args.name, "map": args.map, "env_steps_budget": args.env_steps,
              "eval_episodes": args.episodes, "eval_seed": EVAL_SEED, **run_info(),
              "cpu_count": os.cpu_count(), "variants": {}}
    for name, overrides in variants.items():
        previous = done.get("variants", {}).get(name)
        same = (previous is not None and previous["overrides"] == overrides
                and done.get("env_steps_budget") == args.env_steps
                and done.get("eval_episodes") == args.episodes)
        if same:  # a finished variant of the same pilot: kept, not rerun, with the code it ran on
            previous.setdefault("run", {k: done.get(k) for k in ("date", "commit", "engine_commit",
                                                                 "uncommitted")})
            record["variants"][name] = previous
        else:
            record["variants"][name] = run_variant(args.map, name, overrides, args.env_steps, args.episodes,
                                                   ROOT / "runs" / "pilots" / args.name)
        record["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        args.out.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(record, indent=1) + "\n")
        v = record["variants"][name]
        print(f"{name}: {v['env_steps']} steps, greedy {v['greedy']['mean']:.1f}, sampled "
              f"{v['sampled']['mean']:.1f}, training {v['training_score_last'][-1:]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
