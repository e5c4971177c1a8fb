"""Side by side with a peer: run a JaxMARL SMAX throughput script and keep what it prints as JSON.

SMAX (Rutherford et al. 2023, "JaxMARL: Multi-Agent RL Environments in JAX") is not a dependency of
this project; install it in a scratch virtualenv and point --python at it:
    python3 -m venv /tmp/smax && /tmp/smax/bin/pip install jaxmarl==0.2.0 "jax[cpu]"
    python bench/peer_smax.py --python /tmp/smax/bin/python --script smax_bench.py
The script must print one line per repeat, "... N env steps/wall-s, M per CPU-s ...", for `--map`,
`--games` and `--steps` given as its three arguments. It runs on one core (XLA's thread pools off, and
pinned to CPU 0 where `taskset` exists), the way `perceiver-sc2 bench env` measures the vector env.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.provenance import run_info  # noqa: E402

LINE = re.compile(r"([\d,]+) env steps/wall-s, ([\d,]+) per CPU-s")
ONE_CORE = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter that has jaxmarl installed")
    parser.add_argument("--script", required=True, type=Path, help="the SMAX throughput script")
    parser.add_argument("--map", default="2s3z")
    parser.add_argument("--games", type=int, default=64)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "peer_smax.json")
    args = parser.parse_args(argv)
    info = run_info()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    command = [*pin, args.python, str(args.script), args.map, str(args.games), str(args.steps)]
    env = {**os.environ, "XLA_FLAGS": ONE_CORE}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    found = LINE.findall(done.stdout)
    if done.returncode != 0 or not found:
        print(f"the SMAX script failed (exit {done.returncode}): {done.stderr.strip()[-500:]}",
              file=sys.stderr)
        return 1
    versions = subprocess.run([args.python, "-c", "import jax, jaxmarl; print(jax.__version__, "
                               "getattr(jaxmarl, '__version__', '0.2.0'))"], capture_output=True, text=True)
    per_cpu = [_number(c) for _, c in found]
    result = {**info, "peer": "JaxMARL HeuristicEnemySMAX", "versions": versions.stdout.split()[-2:],
              "map": args.map, "games": args.games, "steps_per_game": args.steps,
              "env_steps_per_cpu_s": per_cpu, "env_steps_per_wall_s": [_number(w) for w, _ in found],
              "env_steps_per_cpu_s_median": statistics.median(per_cpu),
              "load_average": os.getloadavg(), "output": done.stdout.strip().splitlines()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"SMAX {args.map}, {args.games} games: {result['env_steps_per_cpu_s_median']:,.0f} env steps per "
          f"CPU-second (median of {len(per_cpu)}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
