"""What a trained policy does greedily: one checkpoint, three decoders, the verbs its units choose.

    python bench/greedy_verbs.py runs/pilots/decoding_roaches/ordered --map DefeatRoaches --episodes 20 \
        --out docs/greedy_verbs_DefeatRoaches.json

The same weights play the same seeded episodes three ways: greedy as the policy decodes it (each head's
mode: the likeliest verb, then its likeliest target), greedy by the argmax of the joint (verb, target)
logits, and sampling. For each it records the scores and how often the units that had a choice took each
verb. The joint argmax weighs a verb by its best single target, so a verb whose probability is spread over
many targets (attack over several Roaches, move over 64 cells) loses to no-op; the histogram shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluation.evaluate import EVAL_SEED  # noqa: E402
from bench.learning import kept  # noqa: E402
from bench.pilots import counting_source  # noqa: E402
from bench.provenance import run_info  # noqa: E402


def joint_argmax(logits, layout):
    """The decoder greedy play is compared with: the argmax over the flat joint (verb, target) logits."""
    return logits.argmax(dim=-1)


def play(checkpoint: Path, map_name: str, episodes: int, *, sample: bool, decoder=None) -> dict:
    from agent.evaluation.evaluate import evaluate

    source = counting_source(checkpoint, sample)
    with mock.patch("agent.model.policy.greedy", decoder) if decoder else contextlib.nullcontext():
        summary = evaluate(source, map_name, episodes=episodes, seed=EVAL_SEED, progress=False)
    return {**kept(summary), "verbs": dict(source.verbs),
            "idle_verbs": dict(source.idle_verbs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint or run directory")
    parser.add_argument("--map", required=True)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    record = {**run_info(), "checkpoint": str(args.checkpoint), "map": args.map, "eval_seed": EVAL_SEED,
              "episodes": args.episodes}
    record["greedy_head_modes"] = play(args.checkpoint, args.map, args.episodes, sample=False)
    record["greedy_joint_argmax"] = play(args.checkpoint, args.map, args.episodes, sample=False,
                                         decoder=joint_argmax)
    record["sampled"] = play(args.checkpoint, args.map, args.episodes, sample=True)
    record["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for name in ("greedy_head_modes", "greedy_joint_argmax", "sampled"):
        print(f"{name}: mean {record[name]['mean']:.1f}, verbs {record[name]['verbs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
