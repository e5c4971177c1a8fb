"""Ablation outputs in the run directory: ablation.md/.csv/.json and learning_curves.png, final_scores.png.

Final scores are each trial's final checkpoint on the same seeded evaluation episodes, greedy and sampled,
aggregated across training seeds by agent/ablation/aggregate.py. Learning curves are the running mean of
the last sampled training games (agent/rllib/callbacks.py), against env steps and against training minutes.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from agent.ablation.aggregate import improvement_probabilities, interval_estimates, verdict
from agent.ablation.runner import MODES
from agent.benchmarks.encoders import count_forward_flops
from agent.evaluation.stats import bootstrap_ci
from agent.model.policy import EntityPolicy
from agent.outputs import atomic_path, write_json_atomic, write_text_atomic
from agent.training.build import env_kwargs, policy_kwargs
from envs.entity_env import EntityEnv
from envs.run_record import run_info

CURVE_POINTS = 60  # learning curves are resampled onto this many points for the seed bands
COLUMNS = ("arm", "encoder", "seeds", *(f"{m}_{a}{s}" for m in MODES for a in ("mean", "iqm")
                                        for s in ("", "_low", "_high")),
           "greedy_seed_scores", "sampled_seed_scores", "params", "encoder_params", "mflop_forward",
           "mflop_train_per_env_step", "ms_per_env_step", "train_minutes")


def model_cost(cfg) -> dict:
    """Parameters and FLOPs of this config's policy on one observation (batch 1). Training FLOPs per env
    step: one sampling forward, then per SGD epoch a forward and a backward (about twice a forward)."""
    torch.manual_seed(0)
    policy = EntityPolicy(**policy_kwargs(cfg)).eval()
    kwargs = env_kwargs(cfg)
    obs, _ = EntityEnv(kwargs.pop("map_name"), **kwargs).reset(seed=0)
    batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in obs.items()}
    embedded, _, _ = policy.encode(batch)
    mask = batch["entity_mask"].bool()
    forward = count_forward_flops(policy.decode, batch, sample=False)
    return {
        "params": sum(p.numel() for p in policy.parameters()),
        "encoder_params": sum(p.numel() for p in policy.encoder.parameters()),
        "mflop_forward": forward / 1e6,
        "encoder_mflop_forward": count_forward_flops(policy.encoder, embedded.detach(), mask) / 1e6,
        "mflop_train_per_env_step": forward * (1 + 3 * cfg.ppo.num_epochs) / 1e6,
    }


def _curve(record: dict, x: str):
    rows = [r for r in record["curve"] if r["score"] is not None]
    if not rows:
        return None
    scale = 1 / 60 if x == "train_seconds" else 1  # minutes on the plot
    return np.array([r[x] * scale for r in rows], float), np.array([r["score"] for r in rows], float)


def curve_band(records: list[dict], points: int = CURVE_POINTS, x: str = "env_steps"):
    """Grid over `x` (env_steps or train_seconds, shown in minutes), mean score and bootstrap CI across
    seeds, each seed's curve linearly interpolated; None when no seed has a score yet."""
    curves = [c for c in (_curve(r, x) for r in records) if c is not None]
    if not curves:
        return None
    start = max(c[0][0] for c in curves)  # every seed has a score from here on
    stop = min(c[0][-1] for c in curves)
    grid = np.linspace(start, stop, points) if stop > start else np.array([start])
    values = np.stack([np.interp(grid, steps, scores) for steps, scores in curves])  # [seeds, points]
    stats = np.array([bootstrap_ci(col, seed=i) for i, col in enumerate(values.T)])
    return grid, stats[:, 0], stats[:, 1], stats[:, 2]


def scores_at_minutes(records: list[dict], minutes: float) -> list[float]:
    """Each seed's training score at `minutes` of training, interpolated (seeds with no score left out)."""
    curves = [c for c in (_curve(r, "train_seconds") for r in records) if c is not None]
    return [float(np.interp(minutes, m, s)) for m, s in curves]


def summarize(spec, records: dict[str, dict]) -> dict:
    """Per-arm rows, pairwise improvement probabilities and plain verdicts, at equal env steps (the final
    checkpoints) and at equal wall-clock (training scores at the minute the fastest-finishing arm stopped)."""
    by_arm = {arm: [r for r in records.values() if r["arm"] == arm] for arm in spec.arms}
    per_seed = {mode: {arm: [r[mode]["mean"] for r in own] for arm, own in by_arm.items()} for mode in MODES}
    estimates = {mode: interval_estimates(per_seed[mode]) for mode in MODES}
    rows = []
    for arm, own in by_arm.items():
        cfg = spec.arm_config(arm)
        row = {"arm": arm, "encoder": cfg.model.encoder, "seeds": len(own)}
        for mode in MODES:
            for metric in ("mean", "iqm"):
                value, low, high = estimates[mode].get(arm, {}).get(metric, (None, None, None))
                name = f"{mode}_{metric}"
                row.update({name: value, f"{name}_low": low, f"{name}_high": high})
            row[f"{mode}_seed_scores"] = [round(s, 2) for s in per_seed[mode][arm]]
        row.update(model_cost(cfg))
        row["ms_per_env_step"] = (statistics.median(1e3 * r["train_seconds"] / r["env_steps"] for r in own)
                                  if own else None)
        row["train_minutes"] = sum(r["train_seconds"] for r in own) / 60 if own else None
        rows.append(row)
    done = [arm for arm, own in by_arm.items() if own]
    equal_minutes = min((statistics.median(r["train_seconds"] for r in by_arm[a]) / 60 for a in done),
                        default=None)
    at_minutes = {arm: scores_at_minutes(by_arm[arm], equal_minutes) for arm in done} if done else {}
    wall = interval_estimates(at_minutes) if at_minutes else {}
    pairs = [(x, y) for i, x in enumerate(done) for y in done[i + 1:]]
    return {
        "rows": rows,
        "improvement": {mode: {f"{x} > {y}": p for (x, y), p in improvement_probabilities(scores).items()}
                        for mode, scores in per_seed.items()},
        "verdicts": {mode: [verdict(x, y, estimates[mode]) for x, y in pairs] for mode in MODES},
        "equal_minutes": equal_minutes,
        "at_equal_minutes": wall,
        "verdicts_equal_minutes": [verdict(x, y, wall) for x, y in pairs if x in wall and y in wall],
    }


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ci(value, low, high) -> str:
    return f"{_fmt(value)} [{_fmt(low)}, {_fmt(high)}]"


def markdown(summary: dict) -> str:
    """The report's table and verdicts from its JSON (`ablation.json`: the grid's name, budget, seeds and
    evaluation episodes beside `summarize`'s output), so that docs can render a committed copy."""
    rows = summary["rows"]
    first = summary["eval_seed"]
    lines = [f"Ablation `{summary['name']}`: {summary['budget_env_steps']:,} env steps per trial, training "
             f"seeds {summary['seeds']}; each trial's final checkpoint plays episodes {first}.."
             f"{first + summary['eval_episodes'] - 1}. Per seed: the mean score of those episodes; across "
             "seeds: mean and interquartile mean (IQM) with stratified-bootstrap 95% CIs (rliable).", "",
             "| arm | seeds | greedy mean [95% CI] | greedy IQM | sampled mean [95% CI] | sampled IQM "
             "| params (encoder) | MFLOP forward | MFLOP train / env step | ms / env step | train min |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        names = [f"{m}_{a}" for m in MODES for a in ("mean", "iqm")]
        cells = [_ci(r[n], r[f"{n}_low"], r[f"{n}_high"]) for n in names]
        lines.append(f"| {r['arm']} | {r['seeds']} | {' | '.join(cells)} | {r['params']:,} "
                     f"({r['encoder_params']:,}) | {r['mflop_forward']:.2f} | "
                     f"{r['mflop_train_per_env_step']:.1f} | {_fmt(r['ms_per_env_step'])} | "
                     f"{_fmt(r['train_minutes'], 1)} |")
    lines += ["", "Per seed (greedy; sampled):", ""]
    lines += [f"- {r['arm']}: {', '.join(map(_fmt, r['greedy_seed_scores']))}; "
              f"{', '.join(map(_fmt, r['sampled_seed_scores']))}" for r in rows]
    if len(rows) < 2 or not summary["verdicts"]["greedy"]:
        return "\n".join(lines)  # one arm, or arms without finished trials: nothing to compare
    for mode in MODES:
        verdicts = "; ".join(summary["verdicts"][mode])
        lines += ["", f"At equal env steps, {mode} (IQM intervals): {verdicts}."]
        lines += [f"- P({pair}) = {_ci(*p)}" for pair, p in summary["improvement"][mode].items()]
    if summary["equal_minutes"] is not None:
        lines += ["", f"At equal wall-clock ({summary['equal_minutes']:.1f} training minutes, the median "
                  "finishing time of the fastest arm; training scores, IQM intervals): "
                  + "; ".join(summary["verdicts_equal_minutes"]) + "."]
    return "\n".join(lines)


def plot(spec, records: dict[str, dict], summary: dict, run_dir: Path) -> None:
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharey=True)
    axis_labels = {"env_steps": "env steps", "train_seconds": "training minutes"}
    for ax, (x, label) in zip(axes, axis_labels.items(), strict=True):
        for i, arm in enumerate(spec.arms):
            own = [r for r in records.values() if r["arm"] == arm]
            band = curve_band(own, x=x)
            if band is None:
                continue
            grid, mean, low, high = band
            ax.plot(grid, mean, color=colours[i % len(colours)], label=f"{arm} ({len(own)} seeds)")
            ax.fill_between(grid, low, high, color=colours[i % len(colours)], alpha=0.2, linewidth=0)
        ax.set(xlabel=label)
        ax.grid(True, alpha=0.3)
    axes[0].set(ylabel="training score (last 32 games)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{spec.name}: learning curves, mean and 95% CI across seeds", fontsize=10)
    fig.tight_layout()
    with atomic_path(run_dir / "learning_curves.png") as tmp:
        fig.savefig(tmp, dpi=110)

    rows = summary["rows"]
    fig = Figure(figsize=(2 + 2.2 * len(rows), 4.2))
    ax = fig.subplots()
    for i, r in enumerate(rows):
        for j, mode in enumerate(MODES):
            value = r[f"{mode}_iqm"]
            if value is None:
                continue
            x = i + (j - 0.5) * 0.4
            err = [[value - r[f"{mode}_iqm_low"]], [r[f"{mode}_iqm_high"] - value]]
            ax.bar(x, value, width=0.38, color=colours[j], alpha=0.7, yerr=err, capsize=5,
                   label=mode if i == 0 else None)
            seeds = r[f"{mode}_seed_scores"]
            ax.plot([x] * len(seeds), seeds, "k.", label="seeds" if i == 0 and j == 0 else None)
    ax.set_xticks(range(len(rows)), [r["arm"] for r in rows], rotation=20 if len(rows) > 3 else 0)
    ax.set(ylabel="final checkpoint score (IQM across seeds)")
    ax.set_title(f"{spec.name}: final checkpoints, IQM and 95% CI across seeds", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(run_dir / "final_scores.png") as tmp:
        fig.savefig(tmp, dpi=110)


def write_report(spec, records: dict[str, dict], run_dir: Path) -> str:
    """Write ablation.md/.csv/.json and the two PNGs into run_dir; return the markdown."""
    run_dir = Path(run_dir)
    records = {k: r for k, r in records.items() if r["arm"] in spec.arms}
    summary = {"name": spec.name, "map": spec.arm_config(spec.arms[0]).env.map,
               "budget_env_steps": spec.budget_env_steps, "seeds": list(spec.seeds),
               "eval_episodes": spec.eval_episodes, "eval_seed": spec.eval_seed, **summarize(spec, records)}
    table = markdown(summary)
    write_text_atomic(run_dir / "ablation.md", table + "\n")
    with atomic_path(run_dir / "ablation.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in summary["rows"]:
            seeds = {f"{m}_seed_scores": " ".join(map(str, r[f"{m}_seed_scores"])) for m in MODES}
            writer.writerow({**r, **seeds})
    keep = ("arm", "seed", "iterations", "env_steps", "train_seconds", "greedy", "sampled", "finished_at",
            "commit")
    write_json_atomic(run_dir / "ablation.json", {
        **run_info(), **summary,
        "trials": {k: {x: r.get(x) for x in keep} for k, r in records.items()}})
    plot(spec, records, summary, run_dir)
    return table
