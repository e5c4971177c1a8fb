"""Learning curves: train the default config of each map for a time budget, then evaluate.

    python bench/learning.py        # MoveToBeacon 3 min, CollectMineralShards 30, DefeatRoaches 60
    python bench/learning.py --maps MoveToBeacon --minutes 3 --episodes 100

Each map trains in its own `perceiver-sc2 train` process (its own Ray), then the final checkpoint and the
scripted agent play the same seeded evaluation episodes (greedy policy). Writes runs/bench/<map>/,
docs/learning_<map>.png (training episode score against env steps and minutes) and one JSON summary
per map in docs/learning_<map>.json. The targets are issue 5's acceptance figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# map -> (training minutes, target mean over the evaluation episodes; None = beat the scripted agent)
TARGETS = {
    "MoveToBeacon": (3.0, 25.0),  # issue 5; pysc2 FullyConv 26 (REFERENCE.md section 3)
    "CollectMineralShards": (30.0, 100.0),  # issue 5; pysc2 FullyConv 103
    "DefeatRoaches": (60.0, None),  # issue 5: beat the scripted focus-fire agent's mean
}
EVAL_SEED = 1_000_000  # far from the training seeds (agent/rllib/train_env.py SEED_STRIDE)


def train(map_name: str, minutes: float, run_dir: Path, extra: list[str]) -> float:
    """Run `perceiver-sc2 train` for the map's default config; returns wall-clock seconds."""
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "agent.cli", "train", str(ROOT / "configs" / f"{map_name}.yaml"),
           "--run-dir", str(run_dir), "--set", f"run.max_minutes={minutes}", "--set", "run.max_env_steps=0"]
    for item in extra:
        cmd += ["--set", item]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - started


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def first_reaching(rows: list[dict], target: float) -> dict | None:
    for row in rows:
        if row["episode_score"] is not None and row["episode_score"] >= target:
            return {"env_steps": row["env_steps"], "train_seconds": row["train_seconds"]}
    return None


def checkpoint_curve(run_dir: Path, map_name: str, episodes: int) -> list[dict]:
    """Greedy evaluation of every kept checkpoint: the learning curve of the policy as evaluated."""
    from agent.evaluation.evaluate import evaluate

    curve = []
    for ckpt in sorted((run_dir / "checkpoints").glob("iter_*")):
        state = json.loads((ckpt / "train_state.json").read_text())
        result = evaluate(str(ckpt), map_name, episodes=episodes, seed=EVAL_SEED, progress=False)
        curve.append({"iteration": state["iteration"], "env_steps": state["env_steps"],
                      "train_seconds": state["train_seconds"], "greedy_mean": result["mean"],
                      "ci_low": result["ci_low"], "ci_high": result["ci_high"], "episodes": episodes})
    return curve


def untrained_eval(run_dir: Path, map_name: str, episodes: int) -> dict:
    """The same network with fresh weights (seed 0), greedy: what training adds over the architecture."""
    import gymnasium as gym
    import torch

    import envs  # noqa: F401  (registers the env ids)
    from agent.evaluation.agents import PolicyAgent
    from agent.evaluation.evaluate import summarize
    from agent.evaluation.run_loop import play
    from agent.model.policy import EntityPolicy
    from agent.training.checkpoint import load_policy

    _, meta = load_policy(run_dir)
    torch.manual_seed(0)
    policy = EntityPolicy(**meta["policy_kwargs"]).eval()
    kwargs = {k: v for k, v in meta["env"].items() if k != "map_name" and v is not None}
    env = gym.make(f"perceiver_sc2/{map_name}-v0", **kwargs)
    try:
        return summarize(play(env, PolicyAgent(policy), episodes, EVAL_SEED, progress=False))
    finally:
        env.close()


def plot(map_name: str, rows: list[dict], evals: dict, target, path: Path, curve: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    pts = [(r["env_steps"], r["train_seconds"] / 60, r["episode_score"]) for r in rows
           if r["episode_score"] is not None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, col, label in ((axes[0], 0, "env steps"), (axes[1], 1, "training minutes (2 shared cores)")):
        ax.plot([p[col] for p in pts], [p[2] for p in pts], label="policy (training episodes, sampled)")
        if curve:
            xs = [c["env_steps"] if col == 0 else c["train_seconds"] / 60 for c in curve]
            ax.errorbar(xs, [c["greedy_mean"] for c in curve], fmt="o-", ms=3, color="C2",
                        yerr=[[c["greedy_mean"] - c["ci_low"] for c in curve],
                              [c["ci_high"] - c["greedy_mean"] for c in curve]],
                        label=f"checkpoints, greedy ({curve[0]['episodes']} episodes, 95% CI)")
        ax.axhline(evals["policy"]["mean"], color="C0", ls=":", label="policy, greedy eval")
        ax.axhline(evals["scripted"]["mean"], color="C1", ls="--", label="scripted agent eval")
        ax.axhline(evals["untrained"]["mean"], color="grey", ls=":", label="untrained network, greedy eval")
        if target is not None:
            ax.axhline(target, color="C3", ls="-.", lw=0.8, label="target")
        ax.set_xlabel(label)
        if col == 0:  # 350000 -> 350k: full numbers collide on the axis
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.set_ylabel("episode score")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{map_name}: PPO, Perceiver IO policy (configs/{map_name}.yaml)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bench_map(map_name: str, minutes: float, episodes: int, out: Path, extra: list[str],
              curve_episodes: int = 0, skip_train: bool = False) -> dict:
    from agent.evaluation.evaluate import evaluate

    run_dir = ROOT / "runs" / "bench" / map_name
    if curve_episodes:  # keep every checkpoint for the greedy curve
        extra = ["run.keep_checkpoints=1000", *extra]
    wall = float("nan") if skip_train else train(map_name, minutes, run_dir, extra)
    rows = read_metrics(run_dir)
    curve = checkpoint_curve(run_dir, map_name, curve_episodes) if curve_episodes else []
    evals = {name: evaluate(agent, map_name, episodes=episodes, seed=EVAL_SEED, progress=False)
             for name, agent in (("policy", str(run_dir)), ("scripted", "scripted"))}
    evals["untrained"] = untrained_eval(run_dir, map_name, episodes)
    target = TARGETS.get(map_name, (None, None))[1]
    goal = target if target is not None else evals["scripted"]["mean"]
    summary = {
        "map": map_name,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "train_minutes_budget": minutes,
        "train_seconds": rows[-1]["train_seconds"] if rows else 0.0,
        "wall_seconds_including_startup": round(wall, 1),
        "env_steps": rows[-1]["env_steps"] if rows else 0,
        "iterations": rows[-1]["iteration"] if rows else 0,
        "target": goal,
        "first_training_score_at_target": first_reaching(rows, goal),
        "eval_episodes": episodes,
        "eval_seed": EVAL_SEED,
        "policy": {k: evals["policy"][k] for k in ("mean", "ci_low", "ci_high", "std")},
        "scripted": {k: evals["scripted"][k] for k in ("mean", "ci_low", "ci_high", "std")},
        "untrained_greedy": {k: evals["untrained"][k] for k in ("mean", "ci_low", "ci_high", "std")},
        "reached": evals["policy"]["mean"] >= goal if target is not None else
        evals["policy"]["mean"] > evals["scripted"]["mean"],
        "extra_overrides": extra,
        "cpu_note": f"{os.cpu_count()} cores; load average over the last 15 min: {os.getloadavg()[2]:.1f}",
    }
    summary["curve"] = [{k: r[k] for k in ("iteration", "env_steps", "train_seconds", "episode_score")}
                        for r in rows]
    summary["greedy_curve"] = curve
    out.mkdir(parents=True, exist_ok=True)
    plot(map_name, rows, evals, goal, out / f"learning_{map_name}.png", curve)
    (out / f"learning_{map_name}.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--minutes", type=float, help="training budget per map (default: the map's target)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per agent")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where figures and JSON go")
    parser.add_argument("--curve-episodes", type=int, default=0,
                        help="also evaluate every checkpoint greedily with this many episodes (0 = off)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="config override passed to every training run")
    parser.add_argument("--skip-train", action="store_true",
                        help="evaluate the existing runs/bench/<map> run instead of training again")
    args = parser.parse_args(argv)
    import torch

    # One observation per step: a second thread only adds spin-waits on a busy machine.
    torch.set_num_threads(1)
    print("| map | train min | env steps | policy mean [95% CI] | scripted | untrained | target | reached |")
    print("|---|---|---|---|---|---|---|---|")
    for map_name in args.maps:
        minutes = args.minutes if args.minutes is not None else TARGETS[map_name][0]
        s = bench_map(map_name, minutes, args.episodes, args.out, args.extra, args.curve_episodes,
                      args.skip_train)
        p, sc = s["policy"], s["scripted"]
        goal = "n/a" if s["target"] is None or math.isnan(s["target"]) else f"{s['target']:.1f}"
        untrained = s["untrained_greedy"]["mean"]
        print(f"| {map_name} | {s['train_seconds'] / 60:.1f} | {s['env_steps']} | {p['mean']:.1f} "
              f"[{p['ci_low']:.1f}, {p['ci_high']:.1f}] | {sc['mean']:.1f} | {untrained:.1f} | "
              f"{goal} | {s['reached']} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
