"""Evaluation: play seeded episodes with one agent, or a matrix of agents, bots and maps, and summarise.

A matrix plays every agent against every bot on every map, one summary row per (agent, bot, map).
Episode k is played with seed S + k, so every agent evaluated with the same S meets the same games.
Scores get a percentile-bootstrap 95% CI of the mean, wins (maps with a win condition: 3m, 2s3z) a
Wilson interval; episodes that time out undecided count as not won.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.evaluation.agents import AgentSource, inference_threads
from agent.evaluation.report import published_scores
from agent.evaluation.run_loop import Episode, play, play_games
from agent.evaluation.stats import bootstrap_ci, wilson_interval
from envs.engine import map_spec
from envs.entity_env import check_enemy_bot
from envs.errors import UserError

# Evaluation episodes start here, far from the training games' seeds (agent/rllib/train_env.py SEED_STRIDE),
# so every evaluation of every policy meets the same unseen games.
EVAL_SEED = 1_000_000
GAMES_AT_ONCE = 20  # a checkpoint's engine games played side by side, one batched forward pass per step


def summarize(episodes: list[Episode], *, has_win: bool = False, seed: int = 0) -> dict:
    """Score statistics (bootstrap CI seeded by `seed`) and, on maps with wins, the win rate."""
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


def _map_info(map_name: str, enemy_bot: str | None) -> tuple[bool, str]:
    """(the map has a win condition, the bot actually played: the map's own when None); an unknown map
    is a UserError naming the known ones."""
    spec = map_spec(map_name)
    return spec.has_win, enemy_bot if enemy_bot is not None else spec.default_bot


def evaluate(agent_name: str | AgentSource, map_name: str, *, episodes: int, seed: int,
             backend: str = "engine", enemy_bot: str | None = None, progress: bool = True,
             sample: bool = False, cross_map: bool = False, **env_kwargs) -> dict:
    """Play episodes seed..seed+episodes-1 of `map_name` with one agent and summarise them. A checkpoint
    plays only the map it was trained on unless `cross_map`."""
    has_win, bot = _map_info(map_name, enemy_bot)
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {episodes}")
    source = agent_name if isinstance(agent_name, AgentSource) else AgentSource(agent_name, sample=sample,
                                                                               cross_map=cross_map)
    source.check_map(map_name)
    desc = f"{Path(source.name).name} v {bot} on {map_name}"
    # A checkpoint plays many engine games at once (one forward pass for all); a real game runs alone.
    games = min(GAMES_AT_ONCE, episodes) if source.policy is not None and backend == "engine" else 1
    envs = []
    try:
        for _ in range(games):
            envs.append(source.make_env(map_name, backend=backend, enemy_bot=enemy_bot, **env_kwargs))
        with inference_threads(source):
            if source.policy is not None:
                played = play_games(envs, source.make_games(), episodes, seed, progress, desc)
            else:
                played = play(envs[0], source.make(map_name, envs[0], seed), episodes, seed, progress, desc)
        summary = summarize(played, has_win=has_win, seed=seed)
    finally:
        for env in envs:
            env.close()
    summary.update(agent=source.name, map=map_name, seed=seed, backend=backend, enemy_bot=bot)
    summary["published"] = published_scores(map_name)
    return summary


def evaluate_matrix(agents: list[str], maps: list[str], bots: list[str | None], *, episodes: int, seed: int,
                    backend: str = "engine", sample: bool = False, progress: bool = True,
                    cross_map: bool = False, on_row=None) -> list[dict]:
    """Every agent against every bot on every map, all on episodes seed..seed+episodes-1.

    Rows come map-major, then bot, then agent, so agents playing the same games sit together.
    """
    for map_name in maps:  # fail on a typo before loading checkpoints or playing anything
        map_spec(map_name)
    for bot in bots:
        check_enemy_bot(bot)
    sources = [AgentSource(name, sample=sample, cross_map=cross_map) for name in agents]
    for source in sources:  # a checkpoint on a map it was not trained on fails before any game
        for map_name in maps:
            source.check_map(map_name, note=False)
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
