"""Evaluation statistics against hand-computed cases and an independent implementation."""

import itertools

import numpy as np
import pytest
from scipy.stats import binomtest

from agent.evaluation.stats import bootstrap_ci, normal_quantile, wilson_interval


def test_normal_quantile_is_the_familiar_1_96():
    assert normal_quantile(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.90) == pytest.approx(1.644854, abs=1e-6)


def test_wilson_8_of_10_by_hand():
    # z = 1.959964, z^2 = 3.841459, n = 10, p = 0.8:
    # centre = (0.8 + 0.1920729) / 1.3841459 = 0.7167401
    # half = 1.959964 / 1.3841459 * sqrt(0.016 + 0.0096036) = 1.4160078 * 0.1600113 = 0.2265777
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.7167401 - 0.2265777, abs=2e-6)
    assert high == pytest.approx(0.7167401 + 0.2265777, abs=2e-6)


def test_wilson_no_successes_is_zero_to_z2_over_n_plus_z2():
    # p = 0: centre = half = (z^2 / 2n) / (1 + z^2 / n), so high = z^2 / (n + z^2) = 3.841459 / 13.841459.
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775328, abs=1e-6)
    assert wilson_interval(10, 10) == pytest.approx((1 - 0.2775328, 1.0), abs=1e-6)


@pytest.mark.parametrize("k, n", [(1, 3), (5, 7), (45, 100), (99, 100), (3, 1000)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(4, 3)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_bootstrap_of_a_constant_sample_has_zero_width():
    assert bootstrap_ci([7.5] * 20) == (7.5, 7.5, 7.5)
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)


def _exact_bootstrap_quantile(sample, q):
    """Inverse CDF of the exact bootstrap distribution of the mean: all n^n resamples, equally likely."""
    means = sorted(round(sum(r) / len(sample), 9) for r in itertools.product(sample, repeat=len(sample)))
    return means[int(np.ceil(q * len(means))) - 1]


@pytest.mark.parametrize("seed", range(4))
def test_seeded_bootstrap_matches_the_enumerated_bootstrap_distribution(seed):
    # [0, 1, 3, 10]: 256 equally likely resamples. The 2.5% point lies inside the atom 0.5 (CDF 0.0195
    # to 0.0430) and the 97.5% point inside 7.75 (CDF 0.9648 to 0.9805), both several Monte Carlo standard
    # errors (0.0016 at 10k resamples) from an edge, so the sampled interval must hit those atoms.
    sample = [0.0, 1.0, 3.0, 10.0]
    low_exact = _exact_bootstrap_quantile(sample, 0.025)
    high_exact = _exact_bootstrap_quantile(sample, 0.975)
    assert (low_exact, high_exact) == (0.5, 7.75)
    mean, low, high = bootstrap_ci(sample, seed=seed)
    assert mean == 3.5
    assert low == pytest.approx(low_exact) and high == pytest.approx(high_exact)


def test_bootstrap_is_deterministic_given_the_seed():
    x = np.random.default_rng(5).normal(size=25)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    assert bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials, covered = 300, 0
    for t in range(trials):
        x = rng.exponential(2.0, size=40)  # skewed, true mean 2
        _, low, high = bootstrap_ci(x, resamples=2000, seed=t)
        covered += low <= 2.0 <= high
    # Percentile intervals undercover slightly for skewed data at n = 40 (about 93%); the binomial noise
    # of 300 trials is about 1.5 points.
    assert 0.88 <= covered / trials <= 0.98, covered / trials
