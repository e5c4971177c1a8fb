"""Ablation outputs: a table (markdown, CSV, JSON) and plots (learning curves, final scores) per arm.

Scores are the map's episode score, RLlib's running mean over the last 32 finished training games
(agent/rllib/callbacks.py SMOOTHING_EPISODES). Across seeds: the mean and a percentile-bootstrap 95% CI of the
per-seed values (agent/evaluation/stats.py); with 2-3 seeds the interval is crude (it cannot reach beyond the
observed seeds), which the table says by listing the seeds' own scores too.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from agent.benchmarks.encoders import count_forward_flops
from agent.evaluation.stats import bootstrap_ci
from agent.model.policy import EntityPolicy
from agent.outputs import atomic_path, write_json_atomic, write_text_atomic
from agent.training.build import env_kwargs, policy_kwargs
from envs.entity_env import EntityEnv

CURVE_POINTS = 60  # learning curves are resampled onto this many env-step points for the seed bands
COLUMNS = ("arm", "encoder", "seeds", "final_score", "ci_low", "ci_high", "seed_scores", "params",
           "encoder_params", "gflops_per_step", "encoder_gflops_per_step", "steps_per_s", "wall_minutes")


def model_cost(cfg) -> dict:
    """Parameters and forward FLOPs for one env step (one observation, batch 1) of this config's policy."""
    torch.manual_seed(0)
    policy = EntityPolicy(**policy_kwargs(cfg)).eval()
    kwargs = env_kwargs(cfg)
    obs, _ = EntityEnv(kwargs.pop("map_name"), **kwargs).reset(seed=0)
    batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in obs.items()}
    embedded, _, _ = policy.encode(batch)
    mask = batch["entity_mask"].bool()
    return {
        "params": sum(p.numel() for p in policy.parameters()),
        "encoder_params": sum(p.numel() for p in policy.encoder.parameters()),
        "gflops_per_step": count_forward_flops(policy.decode, batch, sample=False) / 1e9,
        "encoder_gflops_per_step": count_forward_flops(policy.encoder, embedded.detach(), mask) / 1e9,
    }


def curve_band(records: list[dict], points: int = CURVE_POINTS):
    """Env-step grid, mean score and bootstrap CI across seeds (curves linearly interpolated)."""
    curves = []
    for rec in records:
        rows = [r for r in rec["curve"] if r["score"] is not None]
        if rows:
            curves.append((np.array([r["env_steps"] for r in rows], float),
                           np.array([r["score"] for r in rows], float)))
    if not curves:
        return None
    start = max(c[0][0] for c in curves)  # every seed has a score from here on
    stop = min(c[0][-1] for c in curves)
    grid = np.linspace(start, stop, points) if stop > start else np.array([start])
    values = np.stack([np.interp(grid, steps, scores) for steps, scores in curves])  # [seeds, points]
    stats = np.array([bootstrap_ci(col, seed=i) for i, col in enumerate(values.T)])
    return grid, stats[:, 0], stats[:, 1], stats[:, 2]


def summarize(spec, records: dict[str, dict]) -> list[dict]:
    rows = []
    for arm in spec.arms:
        own = [r for r in records.values() if r["arm"] == arm]
        cfg = spec.arm_config(arm)
        scores = [r["final_score"] for r in own if r["final_score"] is not None]
        mean, low, high = bootstrap_ci(scores) if scores else (None, None, None)
        rows.append({
            "arm": arm, "encoder": cfg.model.encoder, "seeds": len(own),
            "final_score": mean, "ci_low": low, "ci_high": high,
            "seed_scores": [round(s, 2) for s in scores],
            **model_cost(cfg),
            "steps_per_s": statistics.median(r["steps_per_s"] for r in own) if own else None,
            "wall_minutes": sum(r["wall_seconds"] for r in own) / 60.0 if own else None,
        })
    return rows


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(spec, rows: list[dict]) -> str:
    lines = [f"Ablation `{spec.name}`: {spec.budget_env_steps:,} env steps per trial, seeds "
             f"{list(spec.seeds)}. Final score = mean over seeds of the last 32 training games' mean "
             "score, [bootstrap 95% CI across seeds]; MFLOP/step: one forward of the policy (of its "
             "encoder) on one observation; steps/s: env steps per training second, median over seeds; "
             "wall: all seeds' trials, Ray actor start-up included.", "",
             "| arm | final score [95% CI] | per seed | params | MFLOP/step (encoder) | steps/s | wall min |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = f"{_fmt(r['final_score'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        flops = f"{r['gflops_per_step'] * 1e3:.3f} ({r['encoder_gflops_per_step'] * 1e3:.3f})"
        seeds = ", ".join(_fmt(s) for s in r["seed_scores"])
        lines.append(f"| {r['arm']} | {ci} | {seeds} | {r['params']:,} | {flops} | "
                     f"{_fmt(r['steps_per_s'], 0)} | {_fmt(r['wall_minutes'], 1)} |")
    return "\n".join(lines)


def plot(spec, records: dict[str, dict], rows: list[dict], run_dir: Path) -> None:
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for i, arm in enumerate(spec.arms):
        band = curve_band([r for r in records.values() if r["arm"] == arm])
        if band is None:
            continue
        grid, mean, low, high = band
        colour = colours[i % len(colours)]
        seeds = sum(r["arm"] == arm for r in records.values())
        ax.plot(grid, mean, color=colour, label=f"{arm} ({seeds} seeds)")
        ax.fill_between(grid, low, high, color=colour, alpha=0.2, linewidth=0)
    ax.set(xlabel="env steps", ylabel="episode score (last 32 games)")
    ax.set_title(f"{spec.name}: learning curves\nmean and 95% CI across seeds", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(run_dir / "learning_curves.png") as tmp:
        fig.savefig(tmp, dpi=110)

    fig = Figure(figsize=(1.6 + 1.3 * len(rows), 4.2))
    ax = fig.subplots()
    for i, r in enumerate(rows):
        if r["final_score"] is None:
            continue
        colour = colours[i % len(colours)]
        err = [[r["final_score"] - r["ci_low"]], [r["ci_high"] - r["final_score"]]]
        ax.bar(i, r["final_score"], color=colour, alpha=0.7, yerr=err, capsize=6)
        # Seed dots beside the bar, so they do not hide under the CI whiskers (with 2 seeds they coincide).
        ax.plot([i + 0.25] * len(r["seed_scores"]), r["seed_scores"], "k.", label="seeds" if i == 0 else None)
    ax.set_xticks(range(len(rows)), [r["arm"] for r in rows], rotation=20 if len(rows) > 3 else 0)
    ax.set(ylabel="final episode score")
    ax.set_title(f"{spec.name}: final score\nmean and 95% CI across seeds", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    if rows:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(run_dir / "final_scores.png") as tmp:
        fig.savefig(tmp, dpi=110)


def write_report(spec, records: dict[str, dict], run_dir: Path) -> str:
    """Write ablation.md/.csv/.json and the two PNGs into run_dir; return the markdown table."""
    run_dir = Path(run_dir)
    records = {k: r for k, r in records.items() if r["arm"] in spec.arms}
    rows = summarize(spec, records)
    table = markdown(spec, rows)
    write_text_atomic(run_dir / "ablation.md", table + "\n")
    with atomic_path(run_dir / "ablation.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "seed_scores": " ".join(str(s) for s in r["seed_scores"])})
    write_json_atomic(run_dir / "ablation.json",
        {"name": spec.name, "budget_env_steps": spec.budget_env_steps, "seeds": list(spec.seeds),
         "rows": rows, "trials": {k: {x: r[x] for x in ("arm", "seed", "iterations", "env_steps",
                                                         "final_score", "steps_per_s", "wall_seconds")}
                                  for k, r in records.items()}})
    plot(spec, records, rows, run_dir)
    return table
