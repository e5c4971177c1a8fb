"""Learning results: train the default config of each map for its env-step budget, then evaluate.

    python bench/learning.py                  # every map and seed of GOALS; complete ones are skipped,
                                              # a run that was killed resumes from its last checkpoint,
                                              # a result from other defaults is redone, and a kept run
                                              # of other defaults stops it (--force throws that away)
    python bench/learning.py --maps 3m 2s3z   # a subset; on two cores, run two of these side by side
    python bench/learning.py --maps DefeatRoaches --seeds 1 2

Each (map, seed) trains in its own `perceiver-sc2 train` process (its own Ray) with the map's config,
`seed=<seed>` and one torch thread, until the budget in env steps (a busy machine changes the minutes,
not the result; the minutes are reported too). Ctrl-C or `kill` (SIGINT, SIGTERM) stops the training
process after its running iteration, keeping what it finished. Then the final checkpoint, greedy and
sampling, the scripted agent and the untrained network play the same 100 seeded evaluation episodes;
every per-episode score goes into the JSON with the paired policy-minus-scripted differences and the
map's goals, met or not. Kept checkpoints also play the first `--curve-episodes` of those seeds greedily
(the greedy curve beside the training episodes' score, which is sampled play). Writes
runs/bench/<map>/seed<k>/ (`--runs`) and docs/learning/<map>_seed<k>.json and .png, with the date,
command and commit of the run.
`python bench/tables.py` puts the figures into docs/RESULTS.md and README.md. A run that outlasts its
machine moves to the next one in the repository: `python bench/park.py park`, then `unpark` there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.evaluation.evaluate import EVAL_SEED  # noqa: E402
from bench.provenance import run_info  # noqa: E402


@dataclass(frozen=True)
class Goal:
    """A map's training budget and what its final policy must reach on the evaluation episodes. The
    figures are on `metric`: the mean score, or the win rate on maps with a win condition."""

    env_steps: int
    greedy: float | None = None  # greedy play reaches at least this
    sampled: float | None = None  # sampled play reaches at least this
    sampled_fraction: float | None = None  # sampled play reaches at least this fraction of greedy play
    above_scripted: bool = False  # greedy play's mean above the scripted agent's
    seeds: int = 1  # training seeds, to show the spread across them
    metric: str = "mean"


# The project's targets. MoveToBeacon's budget is `make train`'s (configs/MoveToBeacon.yaml; it also
# stops at 3 minutes).
GOALS = {
    "MoveToBeacon": Goal(200_000, greedy=28.0, sampled=27.0),
    "CollectMineralShards": Goal(1_000_000, greedy=165.0, sampled=150.0, seeds=3),
    # 44: pysc2's FullyConv LSTM agent (Vinyals et al. 2017, Table 1)
    "FindAndDefeatZerglings": Goal(2_000_000, greedy=44.0, sampled_fraction=0.8, above_scripted=True),
    # 303: relational agent (Zambaldi et al. 2018, "Relational Deep Reinforcement Learning", Table 1)
    "DefeatRoaches": Goal(1_000_000, greedy=303.0, sampled_fraction=0.8, seeds=3),
    "DefeatZerglingsAndBanelings": Goal(2_000_000, sampled_fraction=0.8, above_scripted=True),
    "3m": Goal(1_000_000, greedy=0.95, sampled=0.90, metric="win_rate"),
    "2s3z": Goal(2_000_000, greedy=0.90, sampled=0.80, metric="win_rate"),
    # 3351 and 6: pysc2's FullyConv LSTM agent (Vinyals et al. 2017, Table 1)
    "CollectMineralsAndGas": Goal(2_000_000, greedy=3351.0, sampled=3351.0),
    "BuildMarines": Goal(2_000_000, greedy=6.0, sampled=6.0),
}
# Per-episode score lists kept for each evaluated agent (everything a paired comparison needs).
SUMMARY_KEYS = ("episodes", "mean", "ci_low", "ci_high", "std", "min", "max", "mean_length", "scores")
WIN_KEYS = ("wins", "decided", "win_rate", "win_low", "win_high")
RUNS = ROOT / "runs" / "bench"  # training runs: RUNS/<map>/seed<k>
REQUEST = "bench_request.json"  # in a run directory: the config its training started with
CHECKPOINTS_PER_RUN = 20  # kept for the greedy curve; also bounds what a killed run loses


def kept(summary: dict) -> dict:
    """What a bench file keeps of an evaluation summary: SUMMARY_KEYS, and WIN_KEYS on maps with a win."""
    return {k: summary[k] for k in SUMMARY_KEYS + WIN_KEYS if k in summary}


def goals_met(goal: Goal, evals: dict) -> dict:
    """Each of the goal's checks on the final evaluation: what was wanted, what was measured, met or not."""
    got = {name: evals[name][goal.metric] for name in ("policy", "policy_sampled")}
    checks = {}
    if goal.greedy is not None:
        checks["greedy"] = {"want": f"{goal.metric} >= {goal.greedy:g}", "got": got["policy"],
                            "met": got["policy"] >= goal.greedy}
    if goal.sampled is not None:
        checks["sampled"] = {"want": f"{goal.metric} >= {goal.sampled:g}", "got": got["policy_sampled"],
                             "met": got["policy_sampled"] >= goal.sampled}
    if goal.sampled_fraction is not None:
        want = goal.sampled_fraction * got["policy"]
        checks["sampled_vs_greedy"] = {"want": f"{goal.metric} >= {goal.sampled_fraction:g} x greedy",
                                       "got": got["policy_sampled"],
                                       "met": bool(got["policy"] > 0 and got["policy_sampled"] >= want)}
    if goal.above_scripted:
        scripted = evals["scripted"][goal.metric]
        checks["greedy_above_scripted"] = {"want": f"{goal.metric} > scripted {scripted:g}",
                                           "got": got["policy"], "met": got["policy"] > scripted}
    return checks


def seeds_of(map_name: str, chosen: list[int] | None) -> list[int]:
    return chosen if chosen is not None else list(range(GOALS[map_name].seeds))


def budget_overrides(env_steps: int, extra: list[str]) -> list[str]:
    """What a run sets over its map's config: the env-step budget (and no time limit), then `extra`."""
    return [f"run.max_env_steps={env_steps}", "run.max_minutes=0", *extra]


def training_config(map_name: str, env_steps: int, extra: list[str]) -> dict:
    """The whole config a run trains with: the map's YAML over the shared defaults, the budget, the
    overrides. Results and killed runs are reused only for the same config."""
    from agent.training.config import load_config

    return load_config(ROOT / "configs" / f"{map_name}.yaml", budget_overrides(env_steps, extra)).to_dict()


def interface(map_name: str) -> dict:
    """What a policy on the map observes and can do: its entity and scalar features and its verbs. A new
    feature or verb changes what a network is, not its config, so results and killed runs are reused only
    for the same interface too."""
    from envs.entity_env import entity_spec

    spec = entity_spec(map_name)
    return {"verbs": [verb.name for verb in spec.layout.verbs], "entity_features": list(spec.entity_features),
            "scalar_features": list(spec.scalar_features)}


def trained_config(run_dir: Path) -> dict:
    """The config the run's final checkpoint was trained with."""
    from agent.training.checkpoint import load_policy

    return load_policy(run_dir)[1]["config"]


def config_changes(before: dict, after: dict, prefix: str = "") -> list[str]:
    """Each setting that differs between two nested configs, as `key: before -> after`."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, "absent"), after.get(key, "absent")
        if isinstance(old, dict) and isinstance(new, dict):
            changes += config_changes(old, new, f"{prefix}{key}.")
        elif old != new:
            changes.append(f"{prefix}{key}: {old} -> {new}")
    return changes


def train(map_name: str, env_steps: int, run_dir: Path, extra: list[str], *, discard: bool = False) -> float:
    """Run `perceiver-sc2 train` for the map's default config; returns wall-clock seconds. A run of the same
    config that was killed part-way goes on from its latest checkpoint. A kept run of another config is
    thrown away only with `discard`: otherwise this stops and names what differs."""
    from agent.training.checkpoint import latest_checkpoint

    request = {"config": training_config(map_name, env_steps, extra), "interface": interface(map_name)}
    cmd = [sys.executable, "-m", "agent.cli", "train", str(ROOT / "configs" / f"{map_name}.yaml"),
           "--run-dir", str(run_dir)]
    for item in budget_overrides(env_steps, extra):
        cmd += ["--set", item]
    kept = run_dir.is_dir() and latest_checkpoint(run_dir) is not None
    try:
        started = json.loads((run_dir / REQUEST).read_text())
    except (OSError, ValueError):
        started = None
    if kept and started == request:
        cmd.append("--resume")
    elif kept and not discard:
        changes = (config_changes(started["config"], request["config"]) if started
                   else ["the config it started with is unrecorded"])
        if started and started.get("interface") != request["interface"]:
            changes.append("the policy's features or verbs")
        raise SystemExit(f"{run_dir} holds a run trained with another config ({'; '.join(changes)}): "
                         "pass --force to throw it away and train afresh, or --runs to train elsewhere")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        (run_dir / REQUEST).write_text(json.dumps(request))
    started_at = time.perf_counter()
    run_stoppable(cmd)
    return time.perf_counter() - started_at


def run_stoppable(cmd: list[str]) -> None:
    """Run the training command as a child that a stop reaches: SIGINT or SIGTERM to this process (Ctrl-C,
    `kill`, a scheduler) is passed on once, the child saves its finished iterations and exits, and this
    process stops saying so. The child has its own process group, so a terminal's Ctrl-C reaches it only
    through here (twice, it would stop at once instead of after its running iteration)."""
    child = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    stops = []

    def pass_on(signum, frame):
        if not stops:
            child.send_signal(signum)
        stops.append(signum)

    previous = {signum: signal.signal(signum, pass_on) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stops:
        raise SystemExit("stopped: the run kept its finished iterations; the same command resumes it")
    if code != 0:
        raise subprocess.CalledProcessError(code, cmd)


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def first_reaching(rows: list[dict], target: float) -> dict | None:
    for row in rows:
        if row["episode_score"] is not None and row["episode_score"] >= target:
            return {"env_steps": row["env_steps"], "train_seconds": row["train_seconds"]}
    return None


def progress(message: str) -> None:
    """One line on stderr per finished evaluation: the table on stdout waits for the whole map."""
    print(message, file=sys.stderr, flush=True)


def checkpoint_curve(run_dir: Path, map_name: str, episodes: int) -> list[dict]:
    """Greedy evaluation of every kept checkpoint: the learning curve of the policy as evaluated."""
    from agent.evaluation.evaluate import evaluate

    curve = []
    for ckpt in sorted((run_dir / "checkpoints").glob("iter_*")):
        state = json.loads((ckpt / "train_state.json").read_text())
        result = evaluate(str(ckpt), map_name, episodes=episodes, seed=EVAL_SEED, progress=False)
        progress(f"{map_name}: checkpoint {ckpt.name} ({state['env_steps']:,} env steps) greedy "
                 f"{result['mean']:.1f} over {episodes} episodes")
        curve.append({"iteration": state["iteration"], "env_steps": state["env_steps"],
                      "train_seconds": state["train_seconds"], "greedy_mean": result["mean"],
                      "ci_low": result["ci_low"], "ci_high": result["ci_high"], "episodes": episodes,
                      **{k: result[k] for k in ("win_rate",) if k in result}})
    return curve


def untrained_eval(run_dir: Path, map_name: str, episodes: int) -> dict:
    """The same network with fresh weights (seed 0), greedy: what training adds over the architecture."""
    import torch

    from agent.evaluation.agents import AgentSource
    from agent.evaluation.evaluate import evaluate
    from agent.model.policy import EntityPolicy

    source = AgentSource(str(run_dir))  # the checkpoint's network and env settings, its weights replaced
    torch.manual_seed(0)
    source.policy = EntityPolicy(**source.meta["policy_kwargs"]).eval()
    return evaluate(source, map_name, episodes=episodes, seed=EVAL_SEED, progress=False)


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
    evals = {}
    for name, (agent, sample) in runs.items():
        evals[name] = evaluate(agent, map_name, episodes=episodes, seed=EVAL_SEED, progress=False,
                               sample=sample)
        progress(f"{map_name}: {name} {evals[name]['mean']:.1f} over {episodes} episodes")
    evals["untrained_greedy"] = untrained_eval(run_dir, map_name, episodes)
    out = {name: kept(summary) for name, summary in evals.items()}
    out["paired_vs_scripted"] = {"greedy": paired(out["policy"], out["scripted"]),
                                 "sampled": paired(out["policy_sampled"], out["scripted"])}
    return out


def plot(map_name: str, seed: int, rows: list[dict], evals: dict, goal: Goal, path: Path,
         curve: list[dict]) -> None:
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
        if goal.greedy is not None and goal.metric == "mean":
            ax.axhline(goal.greedy, color="C3", ls="-.", lw=0.8, label="greedy goal")
        ax.set_xlabel(label)
        if col == 0:  # 350000 -> 350k: full numbers collide on the axis
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.set_ylabel("episode score")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{map_name}: PPO, Perceiver IO policy (configs/{map_name}.yaml), seed {seed}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def is_complete(path: Path, map_name: str, env_steps: int, episodes: int, extra: list[str]) -> bool:
    """A JSON from a finished run of this config (defaults, budget, overrides), interface and evaluation:
    nothing to redo."""
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return (done.get("config") == training_config(map_name, env_steps, extra)
            and done.get("interface") == interface(map_name)
            and done.get("eval_episodes") == episodes and "paired_vs_scripted" in done)


def bench_map(map_name: str, seed: int, env_steps: int, episodes: int, out: Path, extra: list[str],
              curve_episodes: int = 0, skip_train: bool = False, runs: Path = RUNS,
              force: bool = False) -> dict:
    info = run_info()
    run_dir = runs / map_name / f"seed{seed}"
    wall = float("nan") if skip_train else train(map_name, env_steps, run_dir, extra, discard=force)
    rows = read_metrics(run_dir)
    curve = checkpoint_curve(run_dir, map_name, curve_episodes) if curve_episodes else []
    evals = final_evaluation(run_dir, map_name, episodes)
    goal = GOALS[map_name]
    summary = {
        "map": map_name,
        "seed": seed,
        **info,
        "env_steps_budget": env_steps,
        "train_seconds": rows[-1]["train_seconds"] if rows else 0.0,
        "wall_seconds_including_startup": round(wall, 1),
        "env_steps": rows[-1]["env_steps"] if rows else 0,
        "iterations": rows[-1]["iteration"] if rows else 0,
        "metric": goal.metric,
        "goals": goals_met(goal, evals),
        "eval_episodes": episodes,
        "eval_seed": EVAL_SEED,
        **evals,
        "extra_overrides": extra,
        "config": trained_config(run_dir),
        "interface": json.loads((run_dir / REQUEST).read_text()).get("interface"),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],  # 1, 5 and 15 minutes
    }
    summary["curve"] = [{k: r.get(k) for k in ("iteration", "env_steps", "train_seconds", "episode_score",
                                               "vf_explained_var")} for r in rows]
    summary["greedy_curve"] = curve
    out.mkdir(parents=True, exist_ok=True)
    plot(map_name, seed, rows, evals, goal, out / f"{map_name}_seed{seed}.png", curve)
    (out / f"{map_name}_seed{seed}.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def run_settings(map_name: str, seed: int, env_steps: int, curve_episodes: int,
                 extra: list[str]) -> list[str]:
    """The overrides a (map, seed) trains with: its seed, one torch thread (two runs share two cores),
    checkpoints spread over the budget and all kept when they feed the greedy curve, then the user's."""
    from agent.training.config import load_config

    iterations = env_steps // load_config(ROOT / "configs" / f"{map_name}.yaml").ppo.train_batch_size
    every = max(5, iterations // CHECKPOINTS_PER_RUN)
    kept = [f"run.keep_checkpoints={CHECKPOINTS_PER_RUN + 5}"] if curve_episodes else []
    return [f"seed={seed}", "scale.torch_threads=1", f"run.checkpoint_every={every}", *kept, *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=list(GOALS), choices=list(GOALS))
    parser.add_argument("--seeds", nargs="+", type=int, help="training seeds (default: 0..the map's count-1)")
    parser.add_argument("--env-steps", type=int, help="training budget per run (default: the map's budget)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per agent")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "learning",
                        help="where figures and JSON go")
    parser.add_argument("--curve-episodes", type=int, default=20,
                        help="evaluate each kept checkpoint greedily with this many episodes (0 = off)")
    parser.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                        help="config override passed to every training run")
    parser.add_argument("--runs", type=Path, default=RUNS,
                        help="training runs go to RUNS/<map>/seed<k> (a variant with --set needs its own)")
    parser.add_argument("--skip-train", action="store_true",
                        help="evaluate the existing RUNS/<map>/seed<k> run instead of training again")
    parser.add_argument("--force", action="store_true",
                        help="run maps whose JSON is already complete for this budget (default: skip "
                             "them), and throw away a kept run of another config (default: stop, naming "
                             "what differs)")
    args = parser.parse_args(argv)
    import torch

    # One observation per step: a second thread only adds spin-waits on a busy machine.
    torch.set_num_threads(1)
    print("| map | seed | env steps | train min | greedy [95% CI] | sampled [95% CI] | scripted [95% CI] "
          "| goals met |")
    print("|---|---|---|---|---|---|---|---|")
    for map_name in args.maps:
        env_steps = args.env_steps if args.env_steps is not None else GOALS[map_name].env_steps
        for seed in seeds_of(map_name, args.seeds):
            extra = run_settings(map_name, seed, env_steps, args.curve_episodes, args.extra)
            path = args.out / f"{map_name}_seed{seed}.json"
            if is_complete(path, map_name, env_steps, args.episodes, extra) and not args.force:
                print(f"| {map_name} | {seed} | complete in {args.out}, skipped (--force reruns it) |",
                      flush=True)
                continue
            s = bench_map(map_name, seed, env_steps, args.episodes, args.out, extra, args.curve_episodes,
                          args.skip_train, args.runs, args.force)
            cells = [f"{s[k]['mean']:.1f} [{s[k]['ci_low']:.1f}, {s[k]['ci_high']:.1f}]"
                     for k in ("policy", "policy_sampled", "scripted")]
            met = sum(c["met"] for c in s["goals"].values())
            print(f"| {map_name} | {seed} | {s['env_steps']} | {s['train_seconds'] / 60:.1f} | "
                  f"{' | '.join(cells)} | {met} of {len(s['goals'])} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
