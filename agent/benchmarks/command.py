"""`perceiver-sc2 bench WHICH`: dispatch to the named benchmark (engine, env, encoders)."""

from __future__ import annotations

import argparse
import importlib

# benchmark name -> module exposing `add_arguments(parser)` and `run(args)`
BENCHMARKS = {
    "engine": "envs.engine.throughput",
    "env": "envs.env_throughput",
    "encoders": "agent.benchmarks.encoders",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("which", choices=sorted(BENCHMARKS), help="which benchmark to run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for smoke tests")
    parser.add_argument("--maps", nargs="+", metavar="MAP", help="engine: only these maps (default: all)")


def run(args: argparse.Namespace) -> int:
    # Import only the chosen benchmark: the engine's needs no torch, the encoders' no numba.
    return importlib.import_module(BENCHMARKS[args.which]).run(args)
