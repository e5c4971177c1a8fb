"""The one run loop: an agent plays seeded episodes of an env (as pysc2's env/run_loop.py does).

An agent is anything with `reset()` and `act(obs) -> actions` (agent/evaluation/agents.py): scripted,
random and trained agents all play through `play`. A trained policy also plays many games at once through
`play_games`, where one forward pass serves every running game.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm


@dataclass
class Episode:
    score: float
    length: int
    won: bool | None  # None on maps without a win condition or when the episode timed out undecided


def play(env, agent, episodes: int, seed: int, progress: bool = True, desc: str = "episodes",
         max_steps: int | None = None) -> list[Episode]:
    """Play `episodes` games of `env` with `agent`; episode k uses seed `seed + k`. With `max_steps` an
    episode stops after that many steps, undecided unless the game ended."""
    results = []
    bar = tqdm(range(episodes), desc=desc, unit="ep", disable=not progress, leave=False)
    for k in bar:
        obs, info = env.reset(seed=seed + k)
        agent.reset()
        done, length = False, 0
        while not done and (max_steps is None or length < max_steps):
            obs, _, terminated, truncated, info = env.step(agent.act(obs))
            done = terminated or truncated
            length += 1
        results.append(Episode(score=info["score"], length=length, won=info.get("won")))
        bar.set_postfix(score=f"{np.mean([r.score for r in results]):.1f}")
    return results


def play_games(envs: list, agent, episodes: int, seed: int, progress: bool = True,
               desc: str = "episodes") -> list[Episode]:
    """Play `episodes` games, episode k with seed `seed + k`, with one game running in each of `envs` at a
    time. Each step `agent.act(games, observations)` acts for every running game at once; a game that ends
    starts the next episode not yet begun (`agent.start(game, seed)`). Results come in episode order."""
    results: list[Episode | None] = [None] * episodes
    running: dict[int, list] = {}  # game -> [episode, observation, length]
    bar = tqdm(total=episodes, desc=desc, unit="ep", disable=not progress, leave=False)
    begun = 0

    def begin(game: int) -> None:
        nonlocal begun
        if begun < episodes:
            obs, _ = envs[game].reset(seed=seed + begun)
            agent.start(game, seed + begun)
            running[game] = [begun, obs, 0]
            begun += 1

    for game in range(min(len(envs), episodes)):
        begin(game)
    while running:
        games = list(running)
        for game, action in zip(games, agent.act(games, [running[g][1] for g in games]), strict=True):
            entry = running[game]
            entry[1], _, terminated, truncated, info = envs[game].step(action)
            entry[2] += 1
            if terminated or truncated:
                results[entry[0]] = Episode(score=info["score"], length=entry[2], won=info.get("won"))
                del running[game]
                bar.update(1)
                begin(game)
    bar.close()
    return results
