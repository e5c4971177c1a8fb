"""The one run loop: an agent plays seeded episodes of an env (as pysc2's env/run_loop.py does).

An agent is anything with `reset()` and `act(obs) -> actions` (agent/evaluation/agents.py): scripted,
random and trained agents all play through `play`.
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
