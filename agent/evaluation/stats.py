"""Interval estimates for evaluation: a percentile bootstrap of the mean and the Wilson score interval.

Both are small and dependency-free (numpy and the standard library) so tests can check them by hand.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

# Resamples of the bootstrap: 10k puts the Monte Carlo error of a 2.5% percentile well below the
# interval's own width for the sample sizes we evaluate (Efron & Tibshirani 1993, ch. 19: >= 1000 for
# percentile intervals; more is cheap here).
DEFAULT_RESAMPLES = 10_000


def normal_quantile(confidence: float) -> float:
    """Two-sided standard normal critical value z: P(|Z| <= z) = confidence (1.959964 at 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def bootstrap_ci(values, *, confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> tuple[float, float, float]:
    """Mean of `values` and its percentile-bootstrap confidence interval: -> (mean, low, high).

    Draws `resamples` samples of size n with replacement (numpy's default_rng(seed), indices drawn as
    one [resamples, n] integer array), takes each one's mean, and returns the (1 - c)/2 and (1 + c)/2
    quantiles of those means (numpy's default linear interpolation). Deterministic given `seed`.
    A single value or a constant sample gives a zero-width interval (every resample has the same mean).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(x.mean())
    if np.ptp(x) == 0.0:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, size=(int(resamples), x.size))
    means = x[index].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return mean, float(low), float(high)


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Brown, Cai & DasGupta 2001, eq. 4).

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at 0 or n successes.
    """
    if trials < 1:
        raise ValueError(f"need at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in 0..{trials}, got {successes}")
    z = normal_quantile(confidence)
    n = float(trials)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    # At 0 or n successes the bound is exactly 0 or 1; the formula gets there only up to rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return float(low), float(high)
