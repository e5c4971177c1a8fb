"""`perceiver-sc2 bench train CONFIG`: training speed and learning, the baseline against the defaults.

The arms train the same config from the same seed to the same env-step budget, in one process, one PPO
iteration each in turn (agent/benchmarks/train_measure.py):
- baseline: the settings the project trained with before its speed work (BASELINE_SETTINGS) computed the
  unoptimised way (agent/benchmarks/reference.py): what training cost before;
- default: the config as it is;
- any `--arm NAME:KEY=VALUE,...`: the config with those overrides (to measure a setting).
Per arm: env steps/s (over the whole run, and the median iteration), the share of time spent sampling
and learning, FLOPs per env step, the GFLOP/s that makes and its fraction of the machine's fp32 matmul
rate (measured in the same run), and the final policy's score on the same seeded evaluation episodes,
greedy and sampled, with 95% CIs, so that a speed-up that costs learning shows. `--json PATH` writes
every figure with the date, the git commit and the command.

    perceiver-sc2 bench train configs/DefeatRoaches.yaml --env-steps 200000 \
        --json docs/bench_train_DefeatRoaches.json
    perceiver-sc2 bench train --quick          # a tiny MoveToBeacon run, for tests
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

from envs.errors import UserError

# What main's configs trained with before the speed work; the baseline arm sets them explicitly.
BASELINE_SETTINGS = ("scale.torch_threads=2", "scale.num_env_runners=0", "env.num_envs=32",
                     "ppo.train_batch_size=2048", "ppo.minibatch_size=256", "ppo.num_epochs=4")
DEFAULT_ENV_STEPS = 200_000
# Recorded with every run: how many threads there are and how they wait, and the memory allocator
# (LD_PRELOAD: tcmalloc or jemalloc keep freed memory, where glibc returns large blocks to the system).
RUNTIME_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS",
                     "LD_PRELOAD")
EVAL_SEED = 1_000_000  # far from the training seeds (agent/rllib/train_env.py SEED_STRIDE)
ROOT = Path(__file__).resolve().parents[2]
QUICK_CONFIG = ROOT / "configs" / "MoveToBeacon.yaml"
# A tiny MoveToBeacon: 4 games of 60 steps, 256-step iterations, a 16-wide DeepSets policy.
QUICK = ("env.step_mul=32", "env.num_envs=4", "ppo.train_batch_size=256", "ppo.minibatch_size=128",
         "ppo.num_epochs=2", "model.width=16", "model.key_dim=8", "model.encoder=deepsets",
         "model.encoder_options={}", "run.progress=false")
QUICK_BASELINE = ("scale.torch_threads=1", "scale.num_env_runners=0", "env.num_envs=4",
                  "ppo.train_batch_size=256", "ppo.minibatch_size=128", "ppo.num_epochs=2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="YAML training config (e.g. configs/DefeatRoaches.yaml)")
    parser.add_argument("--env-steps", type=int, help=f"env steps per arm (default {DEFAULT_ENV_STEPS:,})")
    parser.add_argument("--episodes", type=int, default=100,
                        help="evaluation episodes per arm, greedy and sampled (0: no evaluation)")
    parser.add_argument("--arm", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="one more arm: the config with these overrides (repeatable)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key in every arm (repeatable)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the baseline arm (ratios are then over the default arm)")
    parser.add_argument("--run-dir", help="where the arms' runs go (default runs/bench-train/<config name>)")


def parse_arm(text: str) -> tuple[str, list[str]]:
    """'fast:ppo.num_epochs=2,env.num_envs=64' -> ('fast', ['ppo.num_epochs=2', 'env.num_envs=64'])."""
    name, sep, rest = text.partition(":")
    if not sep or not name.strip() or name.strip() in ("baseline", "default"):
        raise UserError(f"--arm expects NAME:KEY=VALUE,... with a new name, got {text!r}")
    return name.strip(), [item.strip() for item in rest.split(",") if item.strip()]


def provenance() -> dict:
    """bench/provenance.py's run_info (date, commit, the engine's last commit, uncommitted code files) with
    the command as the CLI ran it. The bench writes its JSON into a checkout: bench/ is loaded from there."""
    import importlib.util

    path = ROOT / "bench" / "provenance.py"
    if not path.exists():
        raise UserError(f"the training benchmarks need a checkout: {path} not found")
    spec = importlib.util.spec_from_file_location("bench_provenance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {**module.run_info(), "command": "perceiver-sc2 " + shlex.join(sys.argv[1:])}


def cpu_info() -> dict:
    flags, model = set(), platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(),
            "flags": sorted(f for f in flags if f.startswith(("avx512_bf16", "amx", "avx512f")))}


def _arm_configs(args) -> list[tuple[str, bool, list[str]]]:
    """(name, reference computation, overrides) of every arm, baseline first."""
    quick = list(QUICK) if args.quick else []
    arms = [("default", False, quick)]
    if not args.no_baseline:
        arms.insert(0, ("baseline", True, quick + list(QUICK_BASELINE if args.quick else BASELINE_SETTINGS)))
    names = {"baseline", "default"}
    for text in args.arm:
        name, overrides = parse_arm(text)
        if name in names:
            raise UserError(f"--arm {text!r}: the name {name!r} is taken")
        names.add(name)
        arms.append((name, False, quick + overrides))
    return arms


def run(args: argparse.Namespace) -> int:
    from agent.training.config import load_config

    if args.config is None and not args.quick:
        raise UserError("give a config file (e.g. configs/DefeatRoaches.yaml), or --quick")
    config_path = Path(args.config) if args.config else QUICK_CONFIG
    arms = [(name, reference, load_config(config_path, overrides + list(args.overrides)))
            for name, reference, overrides in _arm_configs(args)]
    env_steps = args.env_steps or (512 if args.quick else DEFAULT_ENV_STEPS)
    episodes = min(args.episodes, 5) if args.quick else args.episodes
    if env_steps < 1 or episodes < 0:
        raise UserError("--env-steps must be at least 1 and --episodes at least 0")
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / "bench-train" / arms[0][2].name
    record = measure(arms, env_steps=env_steps, episodes=episodes, run_dir=run_dir, quick=args.quick)
    record.update(config=str(config_path))
    print_summary(record)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1))
        print(f"wrote {path}")
    return 0


def measure(arms, *, env_steps: int, episodes: int, run_dir: Path, quick: bool) -> dict:
    import torch

    from agent.benchmarks import train_measure as tm
    from agent.evaluation.evaluate import evaluate
    from agent.rllib.ray_session import start_ray
    from agent.training.build import env_kwargs
    from agent.training.checkpoint import load_policy
    from envs.compile_kernels import compile_kernels
    from envs.vector_env import EntityVectorEnv

    size, repeats = (256, 3) if quick else (2048, 10)
    cores = os.cpu_count() or 1

    def matmul() -> dict:
        return {"1": tm.matmul_gflops(1, size, repeats), str(cores): tm.matmul_gflops(cores, size, repeats)}

    record = {"benchmark": "train", **provenance(), "torch": torch.__version__, "cpu": cpu_info(),
              "quick": quick, "env_steps_budget": env_steps,
              "eval": {"episodes": episodes, "seed": EVAL_SEED},
              "load_avg_1min_before": os.getloadavg()[0], "matmul_size": size,
              "environment": {key: os.environ.get(key) for key in RUNTIME_VARIABLES}}
    compile_kernels()  # before the timed runs, so no arm's time includes numba compiling
    matmul_before = matmul()
    shutil.rmtree(run_dir, ignore_errors=True)
    start_ray(arms[0][2].scale)
    runs = [tm.ArmRun(name, cfg, reference, (run_dir / name).absolute()) for name, reference, cfg in arms]
    started = time.perf_counter()
    try:
        tm.train_interleaved(runs, env_steps)
        checkpoints = [run.trainer.save() for run in runs]
    finally:
        for run in runs:
            run.trainer.close()
    record["train_wall_s"] = time.perf_counter() - started
    record["matmul_gflops"] = {"before": matmul_before, "after": matmul()}
    machine_rate = max(rates[str(cores)] for rates in record["matmul_gflops"].values())
    record["matmul_gflops_machine"] = machine_rate

    # FLOPs on one probe batch, played by the default arm's final policy.
    default = next(i for i, (name, _, _) in enumerate(arms) if name == "default")
    default_cfg = arms[default][2]
    probe_policy, _ = load_policy(checkpoints[default])
    kwargs = {k: v for k, v in env_kwargs(default_cfg).items() if k != "map_name"}
    env = EntityVectorEnv(default_cfg.env.map, default_cfg.env.num_envs, **kwargs)
    try:
        obs, actions = tm.collect_probe(probe_policy, env, default_cfg.ppo.train_batch_size
                                        // default_cfg.env.num_envs, EVAL_SEED)
    finally:
        env.close()
    record["arms"] = []
    for (name, reference, cfg), run, checkpoint in zip(arms, runs, checkpoints, strict=True):
        policy, _ = load_policy(checkpoint)
        policy.train()
        flops = tm.flops_per_env_step(policy, reference, obs, actions, num_envs=cfg.env.num_envs,
                                      minibatch=cfg.ppo.minibatch_size, num_epochs=cfg.ppo.num_epochs)
        arm = {"name": name, "reference_computation": reference, "settings": tm.arm_settings(cfg),
               "config": cfg.to_dict(), "checkpoint": str(checkpoint), **run.summary(), "flops": flops}
        arm["achieved_gflops"] = flops["per_env_step"] * arm["steps_per_s"] / 1e9
        arm["matmul_fraction"] = arm["achieved_gflops"] / machine_rate
        if episodes:
            arm["eval"] = {mode: evaluate(str(checkpoint), cfg.env.map, episodes=episodes, seed=EVAL_SEED,
                                          progress=False, sample=mode == "sampled")
                           for mode in ("greedy", "sampled")}
        record["arms"].append(arm)
    base = record["arms"][0]
    record["ratios_over"] = base["name"]
    record["ratios"] = {
        arm["name"]: {"steps_per_s": arm["steps_per_s"] / base["steps_per_s"],
                      "steps_per_s_median": arm["steps_per_s_median"] / base["steps_per_s_median"],
                      "flops_per_env_step": arm["flops"]["per_env_step"] / base["flops"]["per_env_step"]}
        for arm in record["arms"][1:]}
    record["load_avg_1min_after"] = os.getloadavg()[0]
    return tm.numeric(record)


def print_summary(record: dict) -> None:
    print(f"\n{record['env_steps_budget']:,} env steps per arm; machine fp32 matmul "
          f"{record['matmul_gflops_machine']:.0f} GFLOP/s")
    print("| arm | steps/s (median it.) | steps/s (run) | sampler | learner | MFLOP/env step | GFLOP/s "
          "(% of matmul) | greedy [95% CI] | sampled [95% CI] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arm in record["arms"]:
        scores = []
        for mode in ("greedy", "sampled"):
            s = arm.get("eval", {}).get(mode)
            scores.append(f"{s['mean']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}]" if s else "-")
        print(f"| {arm['name']} | {arm['steps_per_s_median']:.0f} | {arm['steps_per_s']:.0f} | "
              f"{arm['shares']['sampler']:.0%} | {arm['shares']['learner']:.0%} | "
              f"{arm['flops']['per_env_step'] / 1e6:.1f} | {arm['achieved_gflops']:.1f} "
              f"({arm['matmul_fraction']:.1%}) | {scores[0]} | {scores[1]} |")
    for name, ratios in record["ratios"].items():
        print(f"{name} / {record['ratios_over']}: steps/s x{ratios['steps_per_s_median']:.2f} (median "
              f"iteration), x{ratios['steps_per_s']:.2f} (run); FLOPs per env step "
              f"x{ratios['flops_per_env_step']:.2f}")
