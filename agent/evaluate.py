"""`perceiver-sc2 evaluate`: play seeded episodes and report the score with a 95% CI.

One agent on one map prints one line (and `--json` writes one summary). Several agents, enemy bots or
maps make a matrix: every agent against every bot on every map, printed as a markdown table, with
`--json`/`--csv` files holding one row per (agent, bot, map).

Episode k is played with seed S + k, so every agent evaluated with the same S meets the same games.
Scores get a percentile-bootstrap 95% CI of the mean, wins (maps with a win condition: 3m, 2s3z) a
Wilson interval; episodes that time out undecided count as not won.
"""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.errors import UserError

BUILTIN_AGENTS = ("scripted", "random")


@dataclass
class Episode:
    score: float
    length: int
    won: bool | None  # None on maps without a win condition or when the episode timed out undecided


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t confidence interval of the mean."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def summarize(episodes: list[Episode], *, has_win: bool = False, seed: int = 0) -> dict:
    """Score statistics (bootstrap CI seeded by `seed`) and, on maps with wins, the win rate."""
    from agent.stats import bootstrap_ci, wilson_interval

    scores = [e.score for e in episodes]
    mean, low, high = bootstrap_ci(scores, seed=seed)
    out = {
        "episodes": len(episodes),
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "ci_method": "percentile bootstrap of the mean, 95%",
        "std": float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
        "min": float(np.min(scores)),
        "max": float(np.max(scores)),
        "mean_length": float(np.mean([e.length for e in episodes])),
        "scores": scores,
    }
    if has_win:  # maps that end in a loss but have no win (DefeatRoaches...) report no win rate
        decided = [e.won for e in episodes if e.won is not None]
        wins = int(sum(decided))
        out.update(wins=wins, decided=len(decided), win_rate=wins / len(episodes))
        out["win_low"], out["win_high"] = wilson_interval(wins, len(episodes))
    return out


def play(env, agent, episodes: int, seed: int, progress: bool = True,
         desc: str = "episodes") -> list[Episode]:
    """Play `episodes` games of `env` with `agent`; episode k uses seed `seed + k`."""
    from tqdm import tqdm

    results = []
    bar = tqdm(range(episodes), desc=desc, unit="ep", disable=not progress, leave=False)
    for k in bar:
        obs, info = env.reset(seed=seed + k)
        agent.reset()
        done, length = False, 0
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs))
            done = terminated or truncated
            length += 1
        results.append(Episode(score=info["score"], length=length, won=info.get("won")))
        bar.set_postfix(score=f"{np.mean([r.score for r in results]):.1f}")
    return results


class PolicyAgent:
    """A trained EntityPolicy acting on one observation at a time: greedy, or sampling with `sample`."""

    def __init__(self, policy, *, sample: bool = False, seed: int = 0):
        import torch

        self.policy = policy
        self.sample = sample
        self.generator = torch.Generator().manual_seed(seed)

    def reset(self) -> None:
        pass

    def act(self, obs: dict) -> np.ndarray:
        return self.policy.act(obs, sample=self.sample, generator=self.generator)[0]


@contextmanager
def inference_threads(source: AgentSource | None, threads: int = 1):
    """Run a checkpoint agent's batch-1 forwards on `threads` torch threads, then restore the setting.

    Intra-op threads only add synchronisation to a forward this small: on the shared 2-core machine
    3 episodes of 3m took 0.2 s on 1 thread and 13-27 s on 2 (2026-11-25, load ~9).
    """
    if source is None or source.policy is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class AgentSource:
    """What `--agent` names: a built-in agent, or a checkpoint loaded once and played on any map."""

    def __init__(self, name: str, *, sample: bool = False):
        self.name = name
        self.sample = sample
        self.policy = self.meta = None
        if name in BUILTIN_AGENTS:
            return
        if not Path(name).exists():
            raise UserError(f"unknown agent {name!r}: use scripted, random or a checkpoint directory")
        from agent.checkpoint import load_policy

        self.policy, self.meta = load_policy(name)

    def env_kwargs(self, map_name: str) -> dict:
        """Env settings the agent needs: a checkpoint keeps its training grid and step_mul everywhere, and
        its entity caps on the map it was trained on (the policy's weights do not depend on the caps)."""
        if self.meta is None:
            return {}
        env = self.meta.get("env", {})
        keys = ["grid_size", "step_mul"]
        if env.get("map_name") == map_name:
            keys += ["max_entities", "max_units"]
        return {k: env[k] for k in keys if env.get(k) is not None}

    def make(self, map_name: str, env, seed: int):
        from agent.scripted import RandomAgent, scripted_agent

        spec = env.unwrapped.entity_spec
        if self.name == "scripted":
            return scripted_agent(map_name, spec, seed)
        if self.name == "random":
            return RandomAgent(spec, seed)
        return PolicyAgent(self.policy, sample=self.sample, seed=seed)


def _check_map(map_name: str) -> None:
    from envs.entity_env import MAP_DEFAULTS

    if map_name not in MAP_DEFAULTS:
        raise UserError(f"unknown map {map_name!r}; known maps: {', '.join(MAP_DEFAULTS)}")


def _map_info(map_name: str, enemy_bot: str | None) -> tuple[bool, str | None]:
    """(the map has a win condition, the bot actually played: the map's default when None)."""
    try:
        from envs.engine import map_spec

        spec = map_spec(map_name)
    except (ImportError, UserError, KeyError):
        return False, enemy_bot  # no engine map data: no win rate, the bot as given
    bot = enemy_bot if enemy_bot is not None else getattr(spec, "default_bot", None)
    return bool(getattr(spec, "has_win", False)), bot


def evaluate(agent_name: str | AgentSource, map_name: str, *, episodes: int, seed: int,
             backend: str = "engine", enemy_bot: str | None = None, progress: bool = True,
             sample: bool = False, **env_kwargs) -> dict:
    """Play episodes seed..seed+episodes-1 of `map_name` with one agent and summarise them."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the env ids)
    from agent.eval_report import published_scores

    _check_map(map_name)
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {episodes}")
    source = agent_name if isinstance(agent_name, AgentSource) else AgentSource(agent_name, sample=sample)
    kwargs = {**source.env_kwargs(map_name), **env_kwargs}
    env = gym.make(f"perceiver_sc2/{map_name}-v0", backend=backend, enemy_bot=enemy_bot, **kwargs)
    has_win, bot = _map_info(map_name, enemy_bot)
    try:
        agent = source.make(map_name, env, seed)
        desc = f"{Path(source.name).name} v {bot} on {map_name}"
        with inference_threads(source):
            episodes_played = play(env, agent, episodes, seed, progress, desc)
        summary = summarize(episodes_played, has_win=has_win, seed=seed)
    finally:
        env.close()
    summary.update(agent=source.name, map=map_name, seed=seed, backend=backend, enemy_bot=bot)
    summary["published"] = published_scores(map_name)
    return summary


def evaluate_matrix(agents: list[str], maps: list[str], bots: list[str | None], *, episodes: int, seed: int,
                    backend: str = "engine", sample: bool = False, progress: bool = True,
                    on_row=None) -> list[dict]:
    """Every agent against every bot on every map, all on episodes seed..seed+episodes-1.

    Rows come map-major, then bot, then agent, so agents playing the same games sit together.
    """
    for map_name in maps:  # fail on a typo before loading checkpoints or playing anything
        _check_map(map_name)
    if backend == "engine":
        from envs.engine import ENEMY_BOTS

        for bot in bots:
            if bot is not None and bot not in ENEMY_BOTS:
                raise UserError(f"unknown enemy bot {bot!r}; known bots: {', '.join(ENEMY_BOTS)}")
    sources = [AgentSource(name, sample=sample) for name in agents]
    rows = []
    for map_name in maps:
        for bot in bots:
            for source in sources:
                row = evaluate(source, map_name, episodes=episodes, seed=seed, backend=backend,
                               enemy_bot=bot, progress=progress)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return rows


def format_summary(s: dict) -> str:
    line = (f"{s['map']} {s['agent']}: mean {s['mean']:.2f} "
            f"(95% CI {s['ci_low']:.2f} to {s['ci_high']:.2f}), "
            f"min {s['min']:g}, max {s['max']:g} over {s['episodes']} episodes")
    if "win_rate" in s:
        line += f", win rate {s['win_rate']:.0%} (95% Wilson {s['win_low']:.0%} to {s['win_high']:.0%})"
    return line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True, action="extend", nargs="+", dest="agents",
                        help="scripted, random, or a checkpoint (or run) directory; repeat for a matrix")
    parser.add_argument("--map", required=True, action="extend", nargs="+", dest="maps",
                        help="map name, e.g. DefeatRoaches; repeat for a matrix")
    parser.add_argument("--enemy-bot", action="extend", nargs="+", dest="bots", default=None,
                        help="idle, attack_nearest or focus_fire (engine only; default: the map's own)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="episode k uses seed SEED + k")
    parser.add_argument("--backend", default="engine", help="engine (default) or pysc2 (needs the game)")
    parser.add_argument("--sample", action="store_true",
                        help="checkpoint agents sample their actions (default: greedy)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--csv", metavar="PATH", help="also write one CSV row per (agent, bot, map) to PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _dedupe(items):
    return list(dict.fromkeys(items))


def run(args: argparse.Namespace) -> int:
    from agent.eval_report import markdown_table, write_csv, write_json

    if args.backend == "pysc2":  # before a checkpoint agent imports ray: pysc2 needs pure-Python protobuf
        from envs import pysc2_compat

        pysc2_compat.install()
    agents, maps = _dedupe(args.agents), _dedupe(args.maps)
    bots = _dedupe(args.bots) if args.bots else [None]
    common = dict(episodes=args.episodes, seed=args.seed, backend=args.backend, sample=args.sample,
                  progress=not args.quiet)
    if len(agents) == len(maps) == len(bots) == 1:
        summary = evaluate(agents[0], maps[0], enemy_bot=bots[0], **common)
        print(format_summary(summary))
        if summary["published"]:
            from agent.eval_report import PUBLISHED_SOURCE, TABLE_PUBLISHED

            pub = ", ".join(f"{k} {summary['published'][k]}" for k in TABLE_PUBLISHED)
            print(f"published: {pub} [{PUBLISHED_SOURCE}]")
        rows, data = [summary], summary  # the single-run JSON is the summary itself (issue 3)
    else:
        rows = evaluate_matrix(agents, maps, bots, **common,
                               on_row=lambda s: print(format_summary(s), file=sys.stderr))
        print(markdown_table(rows))
        data = {"seed": args.seed, "episodes": args.episodes, "backend": args.backend,
                "agents": agents, "maps": maps, "enemy_bots": bots, "rows": rows}
    if args.json:
        write_json(data, args.json)
    if args.csv:
        write_csv(rows, args.csv)
    return 0
