"""Learning curves: train the default config of each map for an env-step budget, then evaluate.

    python bench/learning.py        # every map in BUDGETS; a map whose JSON is complete is skipped,
                                    # a map whose training was killed resumes from its last checkpoint
    python bench/learning.py --maps MoveToBeacon --env-steps 80000 --episodes 100

Each map trains in its own `perceiver-sc2 train` process (its own Ray) until the budget in env steps (a
busy machine changes the minutes, not the result; the minutes are reported too). Then the final
checkpoint, greedy and sampling, the scripted agent and the untrained network play the same seeded
evaluation episodes, and every per-episode score goes into the JSON, with the paired policy-minus-scripted
differences. Writes runs/bench/<map>/, docs/learning_<map>.png (training episode score against env steps
and minutes) and docs/learning_<map>.json, which carries the date, command and commit of the run.
`python bench/tables.py` puts the figures into docs/RESULTS.md and README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluation.evaluate import EVAL_SEED  # noqa: E402
from bench.provenance import run_info  # noqa: E402

# map -> (training budget in env steps, target mean over the evaluation episodes; None = the scripted
# agent's mean). The budgets are about the env steps that 3, 30 and 30 minutes of training reach on a
# 2-core machine; the MoveToBeacon and CollectMineralShards targets sit near the pysc2 paper's FullyConv
# agent (26 and 103; Vinyals et al. 2017, Table 1).
BUDGETS = {
    "MoveToBeacon": (80_000, 25.0),
    "CollectMineralShards": (1_150_000, 100.0),
    "DefeatRoaches": (690_000, None),
}
# Per-episode score lists kept for each evaluated agent (everything a paired comparison needs).
SUMMARY_KEYS = ("episodes", "mean", "ci_low", "ci_high", "std", "min", "max", "mean_length", "scores")
REQUEST = "bench_request.json"  # in a run directory: the budget and overrides its training started with


def can_resume(run_dir: Path, request: dict) -> bool:
    """Did `run_dir` start training for the same budget and overrides, and save a checkpoint since?"""
    from agent.training.checkpoint import latest_checkpoint

    try:
        started = json.loads((run_dir / REQUEST).read_text())
    except (OSError, ValueError):
        return False
    return started == request and latest_checkpoint(run_dir) is not None


def train(map_name: str, env_steps: int, run_dir: Path, extra: list[str], *, resume: bool = False) -> float:
    """Run `perceiver-sc2 train` for the map's default config; returns wall-clock seconds. With `resume`, a
    run of the same budget and overrides that was killed part-way goes on from its latest checkpoint."""
    request = {"env_steps": env_steps, "extra": extra}
    cmd = [sys.executable, "-m", "agent.cli", "train", str(ROOT / "configs" / f"{map_name}.yaml"),
           "--run-dir", str(run_dir), "--set", f"run.max_env_steps={env_steps}", "--set", "run.max_minutes=0"]
    for item in extra:
        cmd += ["--set", item]
    if resume and can_resume(run_dir, request):
        cmd.append("--resume")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        (run_dir / REQUEST).write_text(json.dumps(request))
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
        return summarize(play(env, PolicyAgent(policy), episodes, EVAL_SEED, progress=False), seed=EVAL_SEED)
    finally:
        env.close()


def paired(policy: dict, scripted: dict) -> dict:
    """Policy minus scripted agent, game by game on the same seeds: the mean difference with its
    bootstrap 95% CI, and how many games the policy scored more, the same, or less."""
    import numpy as np

    from agent.evaluation.stats import bootstrap_ci

    diff = np.subtract(policy["scores"], scripted["scores"])
    mean, low, high = bootstrap_ci(diff, seed=EVAL_SEED)
    return {"mean_difference": mean, "ci_low": low, "ci_high": high, "higher": int((diff > 0).sum()),
            "equal": int((diff == 0).sum()), "lower": int((diff < 0).sum())}


def final_evaluation(run_dir: Path, map_name: str, episodes: int) -> dict:
    """The final checkpoint greedy and sampling, the scripted agent and the untrained network, all on
    episodes EVAL_SEED..EVAL_SEED+episodes-1."""
    from agent.evaluation.evaluate import evaluate

    runs = {"policy": (str(run_dir), False), "policy_sampled": (str(run_dir), True),
            "scripted": ("scripted", False)}
    evals = {name: evaluate(agent, map_name, episodes=episodes, seed=EVAL_SEED, progress=False, sample=sample)
             for name, (agent, sample) in runs.items()}
    evals["untrained_greedy"] = untrained_eval(run_dir, map_name, episodes)
    out = {name: {k: summary[k] for k in SUMMARY_KEYS} for name, summary in evals.items()}
    out["paired_vs_scripted"] = {"greedy": paired(out["policy"], out["scripted"]),
                                 "sampled": paired(out["policy_sampled"], out["scripted"])}
    return out


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
        ax.axhline(evals["policy_sampled"]["mean"], color="C4", ls=":", label="policy, sampled eval")
        ax.axhline(evals["scripted"]["mean"], color="C1", ls="--", label="scripted agent eval")
        ax.axhline(evals["untrained_greedy"]["mean"], color="grey", ls=":",
                   label="untrained network, greedy eval")
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


def is_complete(path: Path, env_steps: int, episodes: int, extra: list[str]) -> bool:
    """A JSON from a finished run of this budget, evaluation and overrides: nothing to redo."""
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return (done.get("env_steps_budget") == env_steps and done.get("eval_episodes") == episodes
            and done.get("extra_overrides") == extra and "paired_vs_scripted" in done)


def bench_map(map_name: str, env_steps: int, episodes: int, out: Path, extra: list[str],
              curve_episodes: int = 0, skip_train: bool = False) -> dict:
    info = run_info()
    run_dir = ROOT / "runs" / "bench" / map_name
    wall = float("nan") if skip_train else train(map_name, env_steps, run_dir, extra, resume=True)
    rows = read_metrics(run_dir)
    curve = checkpoint_curve(run_dir, map_name, curve_episodes) if curve_episodes else []
    evals = final_evaluation(run_dir, map_name, episodes)
    target = BUDGETS.get(map_name, (None, None))[1]
    goal = target if target is not None else evals["scripted"]["mean"]
    summary = {
        "map": map_name,
        **info,
        "env_steps_budget": env_steps,
        "train_seconds": rows[-1]["train_seconds"] if rows else 0.0,
        "wall_seconds_including_startup": round(wall, 1),
        "env_steps": rows[-1]["env_steps"] if rows else 0,
        "iterations": rows[-1]["iteration"] if rows else 0,
        "target": target,
        "first_training_score_at_target": first_reaching(rows, goal),
        "eval_episodes": episodes,
        "eval_seed": EVAL_SEED,
        **evals,
        "extra_overrides": extra,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],  # 1, 5 and 15 minutes
    }
    summary["curve"] = [{k: r[k] for k in ("iteration", "env_steps", "train_seconds", "episode_score")}
                        for r in rows]
    summary["greedy_curve"] = curve
    out.mkdir(parents=True, exist_ok=True)
    plot(map_name, rows, evals, target, out / f"learning_{map_name}.png", curve)
    (out / f"learning_{map_name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--env-steps", type=int, help="training budget per map (default: the map's budget)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per agent")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where figures and JSON go")
    parser.add_argument("--curve-episodes", type=int, default=0,
                        help="also evaluate every checkpoint greedily with this many episodes (0 = off)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="config override passed to every training run")
    parser.add_argument("--skip-train", action="store_true",
                        help="evaluate the existing runs/bench/<map> run instead of training again")
    parser.add_argument("--force", action="store_true",
                        help="run maps whose JSON is already complete for this budget (default: skip them)")
    args = parser.parse_args(argv)
    import torch

    # One observation per step: a second thread only adds spin-waits on a busy machine.
    torch.set_num_threads(1)
    print("| map | env steps | train min | greedy [95% CI] | sampled [95% CI] | scripted [95% CI] "
          "| untrained |")
    print("|---|---|---|---|---|---|---|")
    for map_name in args.maps:
        env_steps = args.env_steps if args.env_steps is not None else BUDGETS[map_name][0]
        # keep every checkpoint for the greedy curve
        extra = (["run.keep_checkpoints=1000"] if args.curve_episodes else []) + args.extra
        done = is_complete(args.out / f"learning_{map_name}.json", env_steps, args.episodes, extra)
        if done and not args.force:
            print(f"| {map_name} | complete in {args.out}, skipped (--force reruns it) |", flush=True)
            continue
        s = bench_map(map_name, env_steps, args.episodes, args.out, extra, args.curve_episodes,
                      args.skip_train)
        cells = [f"{s[k]['mean']:.1f} [{s[k]['ci_low']:.1f}, {s[k]['ci_high']:.1f}]"
                 for k in ("policy", "policy_sampled", "scripted")]
        print(f"| {map_name} | {s['env_steps']} | {s['train_seconds'] / 60:.1f} | {' | '.join(cells)} | "
              f"{s['untrained_greedy']['mean']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
