"""Write the tables of README.md and docs/RESULTS.md from the JSON files the benchmarks wrote.

    python bench/tables.py            # rewrite every generated block in place
    python bench/tables.py --check    # exit 1 naming every block that differs from its source files

A generated block runs from its opening marker to the closing one:

    <!-- generated: NAME (source: docs/a.json, docs/b.json; command: python bench/tables.py) -->
    ...
    <!-- /generated -->

Both markers and everything between them are rewritten from the sources that BLOCKS names; the prose
around a block is hand-written and quotes only figures found in a block or a source file. One comparison
rule holds everywhere: a score "beats" another only when their 95% intervals do not overlap.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.learning import GOALS  # noqa: E402
from bench.provenance import engine_changed_since, engine_commit  # noqa: E402

COMMAND = "python bench/tables.py"
DOCUMENTS = ("README.md", "docs/RESULTS.md")
MARKER = re.compile(r"<!-- generated: (?P<name>[\w-]+)\b.*?-->\n.*?<!-- /generated -->", re.DOTALL)


# ---- formatting -------------------------------------------------------------------------------------

def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def ci(s: dict, digits: int = 1) -> str:
    """'mean [low, high]' of a summary with mean, ci_low and ci_high."""
    return f"{s['mean']:.{digits}f} [{s['ci_low']:.{digits}f}, {s['ci_high']:.{digits}f}]"


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def maps_named(data) -> set[str] | None:
    """The maps a source file names (every string in it that is a map's name or a map's config path, such
    as configs/DefeatRoaches.yaml); None if it names none."""
    from envs.engine.maps import MAPS

    found, todo = set(), [data]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            todo += item
        elif isinstance(item, str):
            found |= {name for name in (item, Path(item).stem) if name in MAPS}
    return found or None


def measured(data: dict, path: str) -> str:
    """One line saying when, on which commit and by which command a source file was written."""
    date = data.get("date") or data.get("meta", {}).get("date")
    commit = data.get("commit")
    if date and commit:
        when = f"Measured {date} at commit {commit[:7]}"
    elif date:
        when = f"Measured {date}, commit not recorded"
    else:
        when = "Date and commit not recorded"
    if data.get("uncommitted"):
        when += " plus uncommitted changes to " + ", ".join(data["uncommitted"])
    commands = data.get("commands") or ([data["command"]] if data.get("command") else [])
    command = "; " + " and ".join(f"`{c}`" for c in commands) if commands else ""
    line = f"{when} ({path}{command})."
    if data.get("engine_commit") and engine_commit() and engine_changed_since(data["engine_commit"],
                                                                              maps_named(data)):
        line += (f" **Stale: the engine's code changed since commit {data['engine_commit'][:7]}**, on "
                 "which this was measured; rerun the command.")
    return line


def compare(a: dict, b: dict) -> str:
    """How score a stands against score b, by their 95% intervals."""
    if a["ci_low"] > b["ci_high"]:
        return "beats"
    if a["ci_high"] < b["ci_low"]:
        return "below"
    if a["mean"] == b["mean"]:
        return "same mean"
    side = "higher" if a["mean"] > b["mean"] else "lower"
    return f"{side} mean, intervals overlap"


# ---- blocks -----------------------------------------------------------------------------------------
# Each renderer gets {source path: parsed JSON} and returns the markdown between the markers.

# What the architectures promise, as (bound, at least?): the transformer needs >= 4x Perceiver IO's FLOPs
# at 512 entities; from 512 to 4096 entities (8x) Perceiver IO's time grows <= 10x (linear in N), the
# transformer's >= 18x (quadratic).
FLOP_RATIO_TARGET = 4
TIME_RATIO_TARGETS = {"perceiver_io": (10, False), "transformer": (18, True)}
ENCODERS = ("perceiver_io", "transformer", "deepsets")
NAMES = {"perceiver_io": "Perceiver IO", "transformer": "transformer"}


def _target_row(what: str, value: float, bound: float, at_least: bool) -> list[str]:
    met = value >= bound if at_least else value <= bound
    return [what, f"{value:.2f}", f"{'>=' if at_least else '<='} {bound}", "yes" if met else "no"]


def encoder_acceptance(src: dict) -> str:
    path = "docs/encoder_scaling.json"
    ratios = src[path]["ratios"]
    rows = [_target_row("transformer FLOPs / Perceiver IO FLOPs at N=512",
                        ratios["flops_transformer_over_pio_n512"], FLOP_RATIO_TARGET, True)]
    for threads in (1, 2):
        for encoder, (bound, at_least) in TIME_RATIO_TARGETS.items():
            for batch in (1, 32):
                plural = "s" if threads > 1 else ""
                what = f"{NAMES[encoder]} time(4096) / time(512), batch {batch}, {threads} thread{plural}"
                value = ratios[f"time_{encoder}_4096_over_512_b{batch}_{threads}T"]
                rows.append(_target_row(what, value, bound, at_least))
    meta = src[path]["meta"]
    note = f"torch {meta['torch']}, the whole run {meta['total_s'] / 60:.0f} min. "
    return table(["ratio", "measured", "target", "met"], rows) + "\n\n" + note + measured(src[path], path)


def _records(src: dict) -> dict:
    return {(r["encoder"], r["n"], r["batch"]): r for r in src["docs/encoder_scaling.json"]["records"]}


def encoder_flops(src: dict) -> str:
    records = _records(src)
    ns = sorted({n for _, n, _ in records})
    params = ", ".join(f"{e} {records[(e, ns[0], 1)]['params']:,}" for e in ENCODERS)
    rows = []
    for n in ns:
        flops = [records[(e, n, 1)]["flops_per_sample"] / 1e9 for e in ENCODERS]
        rows.append([str(n), *(f"{f:.3f}" for f in flops), f"{flops[1] / flops[0]:.2f}"])
    header = ["N", *(f"{e} GFLOP" for e in ENCODERS), "transformer / perceiver_io"]
    return f"Parameters: {params}.\n\n" + table(header, rows)


def encoder_times(src: dict) -> str:
    records = _records(src)
    keys = sorted({(batch, n) for _, n, batch in records})
    header = ["N", "batch", *(f"{e} {t} thr" for e in ENCODERS for t in ("1", "2"))]
    rows = [[str(n), str(batch), *(f"{1000 * records[(e, n, batch)]['time_s'][t]:.1f}"
                                  for e in ENCODERS for t in ("1", "2"))] for batch, n in keys]
    return table(header, rows)


ENGINE_TARGETS = {1: ">= 30,000", 64: ">= 50,000"}  # per CPU-second (one core), by games, maps up to LARGE
LARGE = 32  # units at the start: envs/engine/throughput.py's large battles, without an engine-level target


def engine_throughput(src: dict) -> str:
    """Rows of every file in ENGINE_BENCHES (the economy maps' rows include their scripted players' Python,
    so the engine's targets are for the combat maps only), then one game with cell lists on and off."""
    from envs.engine.maps import ECONOMY_MAP_NAMES

    rows, grid, notes = [], [], []
    for path in ENGINE_BENCHES:
        data = src[path]
        for r in data["results"]:
            combat = r.get("units", 0) <= LARGE and r["map"] not in ECONOMY_MAP_NAMES
            cpu, wall = r["agent_steps_per_cpu_s_median"], r["agent_steps_per_wall_s_median"]
            target = ENGINE_TARGETS.get(r["num_games"], "") if combat else ""
            rows.append([r["map"], str(r.get("units", "")), str(r["num_games"]), f"{cpu:,.0f}",
                         f"{wall:,.0f}", target])
            if "cell_lists_never_agent_steps_per_cpu_s_median" in r:
                on, off = (r[f"cell_lists_{m}_agent_steps_per_cpu_s_median"] for m in ("always", "never"))
                grid.append([r["map"], str(r["units"]), f"{on:,.0f}", f"{off:,.0f}", f"{on / off:.2f}x"])
        load = ", ".join(f"{x:.1f}" for x in data["load_average"])
        notes.append(f"{path}: load average (1, 5, 15 min) at the end {load}. " + measured(data, path))
    header = ["map", "units", "games", "agent-steps per CPU-s", "agent-steps per wall-s", "target (one core)"]
    out = table(header, rows)
    if grid:
        out += "\n\n" + table(["one game", "units", "cell lists: agent-steps per CPU-s", "scan every unit",
                                "cell lists / scan"], grid)
    return out + "\n\n" + "\n\n".join(notes)


ENGINE_BENCHES = ("docs/bench_engine.json",)


def entity_env(src: dict) -> str:
    path = "docs/bench_env.json"
    d = src[path]
    single = table(
        ["workload", "entity env steps/CPU-s", "raw engine steps/CPU-s", "overhead", "target"],
        [["dense: every unit a random legal action", f"{d['single_env_steps_per_cpu_s']:,.0f}",
          f"{d['raw_engine_steps_per_cpu_s']:,.0f} (`Engine.step`)", f"{d['entity_layer_overhead_cpu']:.2f}x",
          "< 2x"],
         ["sparse: 1-3 units act per step", f"{d['sparse_single_env_steps_per_cpu_s']:,.0f}",
          f"{d['sparse_raw_engine_steps_per_cpu_s']:,.0f} (`Engine.step`)",
          f"{d['sparse_entity_layer_overhead_cpu']:.2f}x", "< 2x"],
         ["dense, against the kernel floor", f"{d['single_env_steps_per_cpu_s']:,.0f}",
          f"{d['kernel_floor_steps_per_cpu_s']:,.0f} (`step_grouped`)",
          f"{d['entity_layer_overhead_vs_kernel_floor']:.2f}x", ""]])
    vector = table(["vector env, 64 games, dense random legal actions", "agent-steps per CPU-s", "per wall-s",
                    "target"],
                   [[f"`EntityVectorEnv`, {d['map']}", f"{d['vector_env_64_agent_steps_per_cpu_s']:,.0f}",
                     f"{d['vector_env_64_agent_steps_per_wall_s']:,.0f}", ">= 20,000"]]
                   + ([[f"`EntityVectorEnv`, {d['vector_env_map_2']}",
                        f"{d['vector_env_64_map_2_env_steps_per_cpu_s']:,.0f}",
                        f"{d['vector_env_64_map_2_env_steps_per_wall_s']:,.0f}", ">= 60,000"]]
                      if "vector_env_map_2" in d else [])
                   + ([[f"`EntityVectorEnv`, {d['vector_env_large_map']}",
                        f"{d['vector_env_64_large_map_env_steps_per_cpu_s']:,.0f}",
                        f"{d['vector_env_64_large_map_env_steps_per_wall_s']:,.0f}", ">= 6,000"]]
                      if "vector_env_large_map" in d else []))
    note = f"Load average (1 min): {d['load_average_1min']:.1f}. " + measured(d, path)
    return f"{single}\n\n{vector}\n\n{note}"


def peer_smax(src: dict) -> str:
    path, env_path = "docs/peer_smax.json", "docs/bench_env.json"
    d, env = src[path], src[env_path]
    rows = [[f"JaxMARL SMAX {d['versions'][1]} (jax {d['versions'][0]}), {d['map']}",
             f"{d['env_steps_per_cpu_s_median']:,.0f}", f"{d['load_average'][0]:.1f}"]]
    if env.get("vector_env_map_2") == d["map"]:
        rows.append([f"`EntityVectorEnv`, {d['map']} (observations featurized)",
                     f"{env['vector_env_64_map_2_env_steps_per_cpu_s']:,.0f}",
                     f"{env['load_average_1min']:.1f}"])
    header = [f"{d['games']} games, random legal actions", "env steps per CPU-s", "load average (1 min)"]
    return table(header, rows) + "\n\n" + measured(d, path)


PUBLISHED = ("random", "human", "grandmaster", "fullyconv_lstm", "relational")


def _published(row: dict) -> str:
    pub = row.get("published")
    return " / ".join(str(pub[c]) for c in PUBLISHED) if pub else "-"


def baselines_minigames(src: dict) -> str:
    path = "docs/baselines_minigames.json"
    data = src[path]
    rows = [[r["map"], r["agent"], ci(r), f"{r['min']:g} - {r['max']:g}", _published(r)]
            for r in data["rows"]]
    header = ["map", "agent", f"mean score [95% CI], {data['episodes']} games", "min - max",
              "published: " + " / ".join(PUBLISHED)]
    return table(header, rows) + "\n\n" + measured(data, path)


def baselines_duels(src: dict) -> str:
    path = "docs/baselines_duels.json"
    data = src[path]
    rows = [[r["map"], r["enemy_bot"], r["agent"], ci(r),
             f"{pct(r['win_rate'])} [{pct(r['win_low'])}, {pct(r['win_high'])}]"] for r in data["rows"]]
    header = ["map", "enemy bot", "agent", f"mean score [95% CI], {data['episodes']} games",
              "win rate [95% Wilson]"]
    return table(header, rows) + "\n\n" + measured(data, path)


def pysc2_agents(src: dict) -> str:
    path, ours_path = "docs/baselines_pysc2.json", "docs/baselines_minigames.json"
    data = src[path]
    ours = {r["map"]: r for r in src[ours_path]["rows"] if r["agent"] == "scripted"}
    no_op = {r["map"]: r for r in data["rows"] if r["agent"] == "BaseAgent"}
    rows = []
    for r in data["rows"]:
        if r["agent"] == "BaseAgent":
            continue
        mine = ours[r["map"]]
        same = sum(a == b for a, b in zip(r["scores"], mine["scores"], strict=True))
        pub = r["published"]
        rows.append([r["map"], r["agent"], ci(r), f"{r['min']:g} - {r['max']:g}", ci(no_op[r["map"]]),
                     f"{ci(mine)}; same score in {same} of {len(r['scores'])} games",
                     f"{pub['human']} / {pub['grandmaster']}"])
    header = ["map", "pysc2 agent", f"mean [95% CI], {data['episodes']} games", "min - max",
              "pysc2 no-op BaseAgent", "our scripted agent, same games", "pysc2 paper: human / GrandMaster"]
    return table(header, rows) + "\n\n" + measured(data, path)


def baselines_economy(src: dict) -> str:
    path = "docs/baselines_economy.json"
    data = src[path]
    rows = []
    for r in data["rows"]:
        through = r.get("played_through") or ("engine" if r["agent"] == "scripted" else
                                              "EngineSC2Env + pysc2 run_loop")
        pub = r["published"]
        rows.append([r["map"], r["agent"], through, str(r["episodes"]), ci(r), f"{r['min']:g} - {r['max']:g}",
                     f"{pub['human']} / {pub['grandmaster']}"])
    header = ["map", "agent", "played through", "games", "mean score [95% CI]", "min - max",
              "pysc2 paper: human / GrandMaster"]
    return table(header, rows) + "\n\n" + measured(data, path)


def ablation_grid(src: dict, path: str) -> str:
    """An ablation grid's table and verdicts as `perceiver-sc2 ablate` reports them (from the committed
    copy of its ablation.json), with when its trials finished."""
    from agent.ablation.report import markdown

    data = src[path]
    trials = list(data["trials"].values())
    finished = sorted(t["finished_at"][:10] for t in trials if t.get("finished_at"))
    commits = sorted({t["commit"][:7] for t in trials if t.get("commit")})
    unrecorded = sum(not t.get("commit") for t in trials)
    when = f"{len(trials)} trials"
    if finished:
        when += f", finished {finished[0]}" + (f" to {finished[-1]}" if finished[-1] != finished[0] else "")
    if commits:
        when += f", at commits {', '.join(commits)}"
    if unrecorded:
        when += f" ({unrecorded} finished before trials recorded their commit)"
    return f"{markdown(data)}\n\n{when}. Report: {measured(data, path)}"


def _ablation_paths() -> dict[str, str]:
    """block name -> docs/ablation/<grid>/ablation.json, for each grid whose report is committed."""
    return {f"ablation_{p.parent.name}": str(p.relative_to(ROOT))
            for p in sorted((ROOT / "docs" / "ablation").glob("*/ablation.json"))}


def _learning_paths() -> list[str]:
    """docs/learning/<map>_seed<k>.json in the order of GOALS, then by seed."""
    order = {name: i for i, name in enumerate(GOALS)}
    paths = (ROOT / "docs" / "learning").glob("*_seed*.json")
    runs = [(p.stem.rsplit("_seed", 1), p) for p in paths]
    runs = sorted((order.get(m, len(order)), m, int(k), p) for (m, k), p in runs)
    return [str(p.relative_to(ROOT)) for *_, p in runs]


def _budget(run: dict) -> str:
    return f"{run['env_steps']:,} env steps ({run['train_seconds'] / 60:.0f} min)"


def _play(s: dict, metric: str) -> str:
    """A summary as its mean [CI], and on maps with wins the win rate [Wilson interval] first."""
    if metric == "win_rate":
        return f"win {pct(s['win_rate'])} [{pct(s['win_low'])}, {pct(s['win_high'])}], score {ci(s)}"
    return ci(s)


def _goals(run: dict) -> str:
    checks = run["goals"]
    return "; ".join(f"{c['want']}: {'yes' if c['met'] else 'no'}" for c in checks.values()) or "-"


def learning(src: dict) -> str:
    rows, notes = [], []
    for path in _learning_paths():
        run = src[path]
        metric = run["metric"]
        rows.append([run["map"], str(run["seed"]), _budget(run), _play(run["policy"], metric),
                     _play(run["policy_sampled"], metric), _play(run["scripted"], metric),
                     f"{run['untrained_greedy']['mean']:.1f}", compare(run["policy"], run["scripted"]),
                     _goals(run)])
        notes.append(f"- {run['map']}, seed {run['seed']}: " + measured(run, path))
    if not rows:
        return "No learning run has finished on the current code yet: `python bench/learning.py`."
    header = ["map", "seed", "training", "policy, greedy [95% CI]", "policy, sampled [95% CI]",
              "scripted agent [95% CI]", "untrained, greedy", "greedy score vs scripted", "goals met"]
    out = table(header, rows) + "\n\n" + "\n".join(notes)
    spread = _seed_spread(src)
    if spread:
        out += "\n\nAcross training seeds (each seed's mean over the same 100 games):\n\n" + spread
    paired = [[src[path]["map"], str(src[path]["seed"]), kind,
               f"{p['mean_difference']:+.1f} [{p['ci_low']:+.1f}, {p['ci_high']:+.1f}]",
               f"{p['higher']} / {p['equal']} / {p['lower']}"]
              for path in _learning_paths() for kind, p in src[path]["paired_vs_scripted"].items()]
    if paired:
        out += "\n\nGame by game on the same seeds (policy score minus scripted agent score):\n\n" + table(
            ["map", "seed", "policy", "mean difference [95% CI]", "games higher / equal / lower"], paired)
    return out


def _seed_spread(src: dict) -> str:
    by_map: dict[str, list[dict]] = {}
    for path in _learning_paths():
        by_map.setdefault(src[path]["map"], []).append(src[path])
    rows = []
    for map_name, runs in by_map.items():
        if len(runs) < 2:
            continue
        metric = runs[0]["metric"]
        for kind, label in (("policy", "greedy"), ("policy_sampled", "sampled")):
            means = [r[kind][metric] for r in runs]
            shown = pct if metric == "win_rate" else "{:.1f}".format
            rows.append([map_name, label, str(len(runs)), ", ".join(map(shown, means)),
                         shown(sum(means) / len(means)), f"{shown(min(means))} to {shown(max(means))}"])
    header = ["map", "policy", "seeds", "per seed", "mean over seeds", "range"]
    return table(header, rows) if rows else ""


def _steps_to_80(run: dict) -> str:
    """Env steps of the first kept checkpoint whose greedy score reaches 80% of the final one's."""
    final = run["policy"]["mean"]
    if final <= 0:
        return "- (final score not above 0)"
    hit = next((c for c in run["greedy_curve"] if c["greedy_mean"] >= 0.8 * final), None)
    return "not reached" if hit is None else f"{hit['env_steps']:,}"


def learning_pace(src: dict) -> str:
    """How fast each learning run trained and how soon its greedy play came near its final score: the
    figures the ablation's budgets are chosen from."""
    rows = [[run["map"], str(run["seed"]), run["commit"][:7], f"{run['env_steps']:,}",
             f"{run['train_seconds'] / 60:.0f}", f"{run['env_steps'] / run['train_seconds']:.0f}",
             f"{run['policy']['mean']:.1f}", f"{run['greedy_curve'][0]['env_steps']:,}", _steps_to_80(run)]
            for run in (src[path] for path in _learning_paths())]
    header = ["map", "seed", "commit", "env steps", "training min", "env steps per training s",
              "final greedy score", "first kept checkpoint", "env steps to 80% of final greedy"]
    note = ("One torch thread per run. The greedy curve plays each kept checkpoint on the first 20 "
            "evaluation seeds, so the last column is only as fine as the checkpoints are apart; on 3m and "
            "2s3z it reads the score, not the win rate.")
    return table(header, rows) + "\n\n" + note


def _pilot_paths() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "pilots").glob("*.json"))


def _pilot_play(s: dict) -> str:
    """Pilots on maps with wins record the win rate too (older records do not)."""
    return _play(s, "win_rate" if "win_rate" in s else "mean")


def pilots(src: dict) -> str:
    """One table per pilot (bench/pilots.py): its variants side by side."""
    sections = []
    for path in _pilot_paths():
        data = src[path]
        rows = []
        for name, v in data["variants"].items():
            settings = ", ".join(f"`{o}`" for o in v["overrides"]) or "the config as is"
            trained = (v.get("trained_on") or {}).get("commit") or "not recorded"
            rows.append([name, settings, f"{v['env_steps']:,}", f"{v['training_score_last'][-1]:.1f}",
                         _pilot_play(v["greedy"]), _pilot_play(v["sampled"]),
                         f"{v['tail'][-1]['vf_explained_var']:.2f}",
                         trained[:7]])
        header = ["variant", "settings over the map's config", "env steps", "training score (last)",
                  "greedy [95% CI]", "sampled [95% CI]", "value EV (last)", "trained at"]
        title = (f"**{data['pilot']}**: {data['map']}, {data['env_steps_budget']:,} env steps, "
                 f"{data['eval_episodes']} evaluation games greedy and sampled per variant, seed 0.")
        note = f" {data['note'][:1].upper()}{data['note'][1:]}." if data.get("note") else ""
        sections.append(title + note + "\n\n" + table(header, rows) + "\n\n" + measured(data, path))
    return "\n\n".join(sections)


def readme_results(src: dict) -> str:
    engine = {(r["map"], r["num_games"]): r["agent_steps_per_cpu_s_median"]
              for r in src["docs/bench_engine.json"]["results"]}
    env = src["docs/bench_env.json"]
    ratios = src["docs/encoder_scaling.json"]["ratios"]
    per_cpu_s = "agent-steps per CPU-second"
    rows = [
        ["Engine, one DefeatRoaches game", f"{engine[('DefeatRoaches', 1)]:,.0f} {per_cpu_s}",
         "docs/bench_engine.json"],
        ["Engine, 64 DefeatRoaches games batched", f"{engine[('DefeatRoaches', 64)]:,.0f} {per_cpu_s}",
         "docs/bench_engine.json"],
        ["Entity vector env, 64 games", f"{env['vector_env_64_agent_steps_per_cpu_s']:,.0f} {per_cpu_s}",
         "docs/bench_env.json"],
        ["Entity vector env, 64 games of SMAC's 27m_vs_30m (57 units)",
         f"{env['vector_env_64_large_map_env_steps_per_cpu_s']:,.0f} env steps per CPU-second",
         "docs/bench_env.json"],
        ["Engine, one game of bio_vs_zerg_250 (500 units)",
         f"{engine[('bio_vs_zerg_250', 1)]:,.0f} {per_cpu_s}", "docs/bench_engine.json"],
        ["Entity env cost over the raw engine API",
         f"{env['entity_layer_overhead_cpu']:.2f}x (every unit acts), "
         f"{env['sparse_entity_layer_overhead_cpu']:.2f}x (1-3 units act)", "docs/bench_env.json"],
        ["Encoder FLOPs at 512 entities, transformer / Perceiver IO",
         f"{ratios['flops_transformer_over_pio_n512']:.2f}", "docs/encoder_scaling.json"],
        ["Forward time, 4096 / 512 entities (batch 1, one thread)",
         f"Perceiver IO {ratios['time_perceiver_io_4096_over_512_b1_1T']:.1f}x, "
         f"transformer {ratios['time_transformer_4096_over_512_b1_1T']:.1f}x", "docs/encoder_scaling.json"],
    ]
    for path in _learning_paths():
        run, metric = src[path], src[path]["metric"]
        rows.append([f"PPO on {run['map']} (seed {run['seed']}), {_budget(run)}",
                     f"greedy {_play(run['policy'], metric)}, "
                     f"sampled {_play(run['policy_sampled'], metric)}; "
                     f"scripted agent {_play(run['scripted'], metric)}", path])
    return table(["result", "figure", "source"], rows)


TRAIN_SPEED_MAPS = ("DefeatRoaches", "CollectMineralShards")


def _train_speed_paths() -> list[str]:
    return [f"docs/bench_train_{name}.json" for name in TRAIN_SPEED_MAPS]


def _arm_label(arm: dict) -> str:
    s = arm["settings"]
    computation = "unoptimised computation" if arm["reference_computation"] else "optimised computation"
    return (f"{arm['name']}: {computation}, {s['num_epochs']} epochs, minibatch {s['minibatch_size']}, "
            f"{s['torch_threads']} torch thread{'s' if s['torch_threads'] > 1 else ''}")


def train_speed(src: dict) -> str:
    """bench train: each map's arms side by side (speed, time shares, FLOPs, score at the budget)."""
    rows, notes = [], []
    for map_name, path in zip(TRAIN_SPEED_MAPS, _train_speed_paths(), strict=True):
        run = src[path]
        for arm in run["arms"]:
            ev = arm.get("eval", {})
            rows.append([map_name, _arm_label(arm), f"{arm['steps_per_s']:.0f}",
                         f"{arm['steps_per_s_median']:.0f}",
                         f"{pct(arm['shares']['sampler'])} / {pct(arm['shares']['learner'])}",
                         f"{arm['flops']['per_env_step'] / 1e6:.1f}",
                         f"{arm['achieved_gflops']:.2f} ({100 * arm['matmul_fraction']:.2f}%)",
                         ci(ev["greedy"]) if "greedy" in ev else "not measured",
                         ci(ev["sampled"]) if "sampled" in ev else "not measured"])
        base = run["arms"][0]
        for arm in run["arms"][1:]:
            r = run["ratios"][arm["name"]]
            verdicts = [f"{mode} {compare(arm['eval'][mode], base['eval'][mode])}"
                        for mode in ("greedy", "sampled") if mode in arm.get("eval", {})]
            score = (f"score at {run['env_steps_budget']:,} env steps: {', '.join(verdicts)} "
                     f"({run['eval']['episodes']} seeded episodes from seed {run['eval']['seed']:,})"
                     if verdicts else f"{run['env_steps_budget']:,} env steps, score not measured")
            waits = run["environment"].get("OMP_WAIT_POLICY") or "the default"
            notes.append(f"- {map_name}, {arm['name']} over {run['ratios_over']}: env steps/s "
                         f"x{r['steps_per_s']:.2f} over the run, x{r['steps_per_s_median']:.2f} by median "
                         f"iteration; FLOPs per env step x{r['flops_per_env_step']:.2f}; {score}. "
                         f"Machine fp32 matmul: {run['matmul_gflops_machine']:.0f} GFLOP/s; load average "
                         f"{run['load_avg_1min_before']:.1f} before, {run['load_avg_1min_after']:.1f} after "
                         f"(OpenMP wait policy {waits}).")
        notes.append(f"- {map_name}: {measured(run, path)}")
    header = ["map", "arm", "env steps/s (run)", "env steps/s (median iteration)", "sampler / learner time",
              "MFLOP per env step", "GFLOP/s (% of machine matmul)", "greedy [95% CI]", "sampled [95% CI]"]
    return table(header, rows) + "\n\n" + "\n".join(notes)


def _learner_paths() -> list[str]:
    return [f"docs/bench_learner_{name}.json" for name in TRAIN_SPEED_MAPS]


def learner_update(src: dict) -> str:
    """bench learner: one PPO minibatch update by variant, per map."""
    rows, notes = [], []
    for map_name, path in zip(TRAIN_SPEED_MAPS, _learner_paths(), strict=True):
        run = src[path]
        rows += [[map_name, r["variant"], f"{1000 * r['seconds_median']:.0f}", f"{r['us_per_sample']:.0f}",
                  f"{r['speed_vs_base']:.2f}"] for r in run["records"]]
        compiled = (f" torch.compile took {run['compile_seconds']:.0f} s before its first update."
                    if run.get("compile_seconds") else "")
        waits = run["environment"].get("OMP_WAIT_POLICY") or "the default"
        notes.append(f"- {map_name}: bf16 autocast's largest per-unit log-probability error against fp32 on "
                     f"the same weights {run['bf16_max_logp_error']:.4f}.{compiled} Load average "
                     f"{run['load_avg_1min']:.1f}, OpenMP wait policy {waits}. {measured(run, path)}")
    header = ["map", "variant", "ms per update (median)", "us per sample", "speed over default, 1 thread"]
    return table(header, rows) + "\n\n" + "\n".join(notes)


ENCODER_STEP = "docs/bench_learner_encoders_500.json"
ENCODER_STEP_TARGET = 3  # transformer policy over Perceiver IO policy, one training step at 500 entities


def encoder_step(src: dict) -> str:
    """bench learner --encoders on a 500-entity map: one training step of the policy by encoder."""
    run = src[ENCODER_STEP]
    first = run["encoders"][0]
    by_name = {r["variant"]: r for r in run["records"]}
    rows, ratios = [], []
    for r in run["records"]:
        encoder = r["variant"].split()[0]
        ref = by_name[f"{first} {r['threads']}T mb{r['minibatch']}"]
        ratio = r["seconds_median"] / ref["seconds_median"]
        rows.append([encoder, str(r["threads"]), f"{1000 * r['seconds_median']:.0f}", f"{ratio:.2f}",
                     f"{run['parameters'][encoder]:,}"])
        if encoder == "transformer":
            met = "met" if ratio >= ENCODER_STEP_TARGET else "missed"
            ratios.append(f"{r['threads']} thread{'s' * (r['threads'] > 1)}: x{ratio:.2f} ({met})")
    header = ["encoder", "torch threads", "ms per update (median)", f"time over {first}", "policy parameters"]
    overrides = ", ".join(run.get("overrides") or []) or "none"
    allocator = run.get("environment", {}).get("LD_PRELOAD") or "glibc's"
    note = (f"Minibatch {run['records'][0]['minibatch']}, {run['rounds']} timed updates per variant taken in "
            f"turn; config {run['config']}, overrides {overrides}; memory allocator {allocator}; load "
            f"average {run['load_avg_1min']:.1f}. "
            f"Transformer over Perceiver IO (target >= {ENCODER_STEP_TARGET}): {'; '.join(ratios)}. "
            f"{measured(run, ENCODER_STEP)}")
    return table(header, rows) + "\n\n" + note


SHARD_PLANNERS = "docs/shard_planners.json"


def shard_planners(src: dict) -> str:
    """bench/shard_planners.py: each scripted planner's CollectMineralShards score at each step_mul."""
    run = src[SHARD_PLANNERS]
    step_muls = sorted({r["step_mul"] for r in run["rows"]}, reverse=True)
    cell = {(r["planner"], r["step_mul"]): ci(r) for r in run["rows"]}
    planners = list(dict.fromkeys(r["planner"] for r in run["rows"]))
    rows = [[p, *(cell.get((p, m), "-") for m in step_muls)] for p in planners]
    note = (f"{run['episodes']} episodes from seed {run['eval_seed']:,} per cell. "
            f"{measured(run, SHARD_PLANNERS)}")
    return table(["planner", *(f"step_mul {m}" for m in step_muls)], rows) + "\n\n" + note


MAKE_TRAIN = "docs/make_train.json"


def make_train(src: dict) -> str:
    run = src[MAKE_TRAIN]
    load = f"{run['load_average_before'][0]:.1f} before, {run['load_average_after'][0]:.1f} after"
    row = [f"{run['env_steps']:,} env steps in {run['train_seconds'] / 60:.1f} min", ci(run["policy"]),
           ci(run["policy_sampled"]), ci(run["scripted"]), _goals(run)]
    return (table(["training", "greedy [95% CI]", "sampled [95% CI]", "scripted agent [95% CI]", "goals met"],
                  [row]) + f"\n\n{run['cpu_count']} CPUs, load average (1 min) {load}. "
            + measured(run, MAKE_TRAIN))


# name -> (source files, renderer)
BLOCKS: dict[str, tuple[tuple[str, ...], Callable[[dict], str]]] = {
    "encoder_acceptance": (("docs/encoder_scaling.json",), encoder_acceptance),
    "encoder_flops": (("docs/encoder_scaling.json",), encoder_flops),
    "encoder_times": (("docs/encoder_scaling.json",), encoder_times),
    "engine_throughput": (ENGINE_BENCHES, engine_throughput),
    "entity_env": (("docs/bench_env.json",), entity_env),
    "peer_smax": (("docs/peer_smax.json", "docs/bench_env.json"), peer_smax),
    "pysc2_agents": (("docs/baselines_pysc2.json", "docs/baselines_minigames.json"), pysc2_agents),
    "baselines_minigames": (("docs/baselines_minigames.json",), baselines_minigames),
    "baselines_duels": (("docs/baselines_duels.json",), baselines_duels),
    "baselines_economy": (("docs/baselines_economy.json",), baselines_economy),
    **{name: ((path,), lambda src, path=path: ablation_grid(src, path))
       for name, path in _ablation_paths().items()},
    "learning": (tuple(_learning_paths()), learning),
    "learning_pace": (tuple(_learning_paths()), learning_pace),
    "pilots": (tuple(_pilot_paths()), pilots),
    "train_speed": (tuple(_train_speed_paths()), train_speed),
    "learner_update": (tuple(_learner_paths()), learner_update),
    "encoder_step": ((ENCODER_STEP,), encoder_step),
    "shard_planners": ((SHARD_PLANNERS,), shard_planners),
    "make_train": ((MAKE_TRAIN,), make_train),
    "readme_results": (("docs/bench_engine.json", "docs/bench_env.json", "docs/encoder_scaling.json",
                        *_learning_paths()), readme_results),
}


# ---- rewriting --------------------------------------------------------------------------------------

def render_block(name: str, root: Path = ROOT) -> str:
    """The whole block, both markers included, as the sources on disk make it."""
    if name not in BLOCKS:
        raise KeyError(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
    sources, render = BLOCKS[name]
    src = {path: json.loads((root / path).read_text()) for path in sources}
    opening = f"<!-- generated: {name} (source: {', '.join(sources)}; command: {COMMAND}) -->"
    return f"{opening}\n{render(src).rstrip()}\n<!-- /generated -->"


def regenerate(text: str, root: Path = ROOT) -> str:
    """`text` with every generated block rewritten from its sources."""
    return MARKER.sub(lambda m: render_block(m["name"], root), text)


def block_names(text: str) -> list[str]:
    return [m["name"] for m in MARKER.finditer(text)]


def stale_blocks(text: str, root: Path = ROOT) -> list[str]:
    """Names of the blocks of `text` whose content differs from what their sources give."""
    return [m["name"] for m in MARKER.finditer(text) if m[0] != render_block(m["name"], root)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a block is out of date")
    args = parser.parse_args(argv)
    placed, failed = set(), False
    for doc in DOCUMENTS:
        path = ROOT / doc
        text = path.read_text()
        placed.update(block_names(text))
        if args.check:
            for name in stale_blocks(text):
                print(f"{doc}: block {name!r} differs from its sources; run {COMMAND}")
                failed = True
        else:
            new = regenerate(text)
            if new != text:
                path.write_text(new)
                print(f"rewrote {doc}")
    for name in sorted(set(BLOCKS) - placed):
        print(f"block {name!r} is placed in none of {', '.join(DOCUMENTS)}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
