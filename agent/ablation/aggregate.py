"""Across-seed statistics of an ablation, as Agarwal et al. 2021 ("Deep RL at the edge of the statistical
precipice") recommend, computed with their library, rliable.

Each training seed contributes one score per evaluation mode: the mean of its final checkpoint over the
same seeded episodes. Per arm: the mean and the interquartile mean (IQM) over seeds, each with a
stratified-bootstrap 95% CI; per pair of arms: the probability that a run of one scores higher than a run
of the other (Mann-Whitney), with its CI.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

from envs.errors import UserError

REPS = 5000  # bootstrap resamples: CI ends settle to about 1% of their width


def check_available() -> None:
    """The library is an extra: a missing one is a one-line UserError before any trial trains."""
    _rliable()


def _rliable():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the bootstrap backend's deprecation notices
            from rliable import library, metrics
    except ImportError as err:
        raise UserError(f"the ablation report needs rliable ({err}); pip install 'perceiver-sc2[ablation]'"
                        ) from None
    return library, metrics


@contextmanager
def _bootstrap_seed(seed: int):
    """rliable's bootstraps draw their resamples from NumPy's global generator (`np.random.choice` in
    rliable 1.2.0's `update_indices`), not from the `random_state` they take: seed it for the call, so
    that a report made twice from the same trials has the same intervals, and restore it after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _matrix(scores) -> np.ndarray:
    """Seeds' scores as rliable's [runs, tasks] matrix (one map: one task)."""
    return np.asarray(scores, dtype=float).reshape(-1, 1)


def interval_estimates(per_seed: dict[str, list[float]], *, seed: int = 0) -> dict[str, dict]:
    """{arm: {"mean": (value, low, high), "iqm": (value, low, high)}} for arms with at least one seed."""
    library, metrics = _rliable()
    scores = {arm: _matrix(s) for arm, s in per_seed.items() if len(s)}
    if not scores:
        return {}

    def aggregates(x):
        return np.array([metrics.aggregate_mean(x), metrics.aggregate_iqm(x)])

    with warnings.catch_warnings(), _bootstrap_seed(seed):
        warnings.simplefilter("ignore")
        points, intervals = library.get_interval_estimates(scores, aggregates, reps=REPS)
    return {arm: {name: (float(points[arm][i]), float(intervals[arm][0, i]), float(intervals[arm][1, i]))
                  for i, name in enumerate(("mean", "iqm"))} for arm in scores}


def improvement_probabilities(per_seed: dict[str, list[float]], *, seed: int = 0) -> dict[tuple, tuple]:
    """{(x, y): (P(a run of x scores higher than a run of y), low, high)} for every ordered pair."""
    library, metrics = _rliable()
    arms = [arm for arm, s in per_seed.items() if len(s)]
    pairs = {f"{x}\t{y}": (_matrix(per_seed[x]), _matrix(per_seed[y])) for x in arms for y in arms if x != y}
    if not pairs:
        return {}
    with warnings.catch_warnings(), _bootstrap_seed(seed):
        warnings.simplefilter("ignore")
        points, intervals = library.get_interval_estimates(
            pairs, metrics.probability_of_improvement, reps=REPS)
    return {tuple(key.split("\t")): (float(points[key]), *map(float, intervals[key][:, 0])) for key in pairs}


def verdict(x: str, y: str, estimates: dict[str, dict], metric: str = "iqm") -> str:
    """Plain words for two arms' intervals: 'x beats y' only when they separate."""
    (_, x_low, x_high), (_, y_low, y_high) = estimates[x][metric], estimates[y][metric]
    if x_low > y_high:
        return f"{x} beats {y}"
    if y_low > x_high:
        return f"{y} beats {x}"
    return f"{x} vs {y}: no difference detected"
