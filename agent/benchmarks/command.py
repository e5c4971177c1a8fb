"""`perceiver-sc2 bench WHICH`: dispatch to the named benchmark (engine, env, encoders, learner, train)."""

from __future__ import annotations

import argparse
import importlib

# benchmark name -> (module exposing `run(args)`, one-line help)
BENCHMARKS = {
    "engine": ("envs.engine.throughput", "engine agent-steps per second, 1 and 64 games"),
    "env": ("envs.env_throughput", "cost of the entity env over the raw engine on the same games"),
    "encoders": ("agent.benchmarks.encoders", "FLOPs and CPU latency of the entity encoders by entity count"),
    "learner": ("agent.benchmarks.learner_step",
                "one PPO minibatch update by variant: baseline, default, bf16, compiled; threads; minibatch"),
    "train": ("agent.benchmarks.train",
              "training env steps/s, time shares, FLOPs and score at a budget: baseline against defaults"),
}
# Benchmarks with options of their own; their modules import nothing heavy at the top.
OWN_OPTIONS = {"learner": "agent.benchmarks.learner_step", "train": "agent.benchmarks.train"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="which", required=True, metavar="WHICH")
    for name, (_, help_text) in BENCHMARKS.items():
        bench = sub.add_parser(name, help=help_text, description=help_text)
        bench.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
        bench.add_argument("--quick", action="store_true", help="fewer repeats, for smoke tests")
        if name == "engine":
            bench.add_argument("--maps", nargs="+", metavar="MAP", help="only these maps (default: all)")
        if name in OWN_OPTIONS:
            importlib.import_module(OWN_OPTIONS[name]).add_arguments(bench)


def run(args: argparse.Namespace) -> int:
    # Import only the chosen benchmark: the engine's needs no torch, the encoders' no numba.
    return importlib.import_module(BENCHMARKS[args.which][0]).run(args)
