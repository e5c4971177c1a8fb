"""Per-game random numbers: splitmix64 (Steele, Lea, Flood 2014) with its state in RNG[g] (uint64).

Every game owns its generator, so game i of a batch reproduces a single game with the same seed.
"""

from __future__ import annotations

import numpy as np

from envs.engine.jit import inline

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64 increment (Steele et al. 2014)
_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 mixing constants
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53: 53 random bits -> [0, 1)


def seed_state(seed: int) -> np.uint64:
    """Initial state from a user seed (any Python int)."""
    return np.uint64((int(seed) * 0x2545F4914F6CDD1D + 0x1234567) % (1 << 64))


@inline
def next_u64(rng, g):
    z = rng[g] + _GOLDEN
    rng[g] = z
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@inline
def uniform(rng, g):
    """A float in [0, 1)."""
    return float(next_u64(rng, g) >> _S11) * _INV53


@inline
def randint(rng, g, n):
    """An int in [0, n)."""
    k = int(uniform(rng, g) * n)
    return k if k < n else n - 1
