"""Tests for outage_kit.policies: bounds, reproducibility, means, validation.

Property tests (hypothesis) draw valid parameters and retry numbers and check that every delay
lies within the policy's documented bounds, that the mean does too, and that seeded draws
repeat. Means are checked against Monte Carlo with tolerances from the sampling distribution
(99.9% two-sided normal intervals), and decorrelated jitter's numerical mean against its exact
uncapped form. The simulation kernel's scalar backoff rule is checked against the policies'
vectorised rule, value for value.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from outage_kit import _sim_kernel
from outage_kit.policies import (
    AdmissionControl,
    CircuitBreaker,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FixedDelay,
    FullJitter,
    NoRetry,
    RetryBudget,
    RetryPolicy,
    ServerPolicy,
)

SETTINGS = settings(max_examples=80, deadline=None)
Z_999 = stats.norm.ppf(0.9995)  # two-sided 99.9%

times = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@st.composite
def backoffs(draw):
    """Any backoff policy with valid, varied parameters."""
    kind = draw(st.sampled_from(["fixed", "exp", "full", "equal", "decorrelated"]))
    if kind == "fixed":
        return FixedDelay(draw(st.floats(min_value=0.0, max_value=1e3)))
    base = draw(times)
    cap = base * draw(st.floats(min_value=1.0, max_value=1e4))
    if kind == "decorrelated":
        return DecorrelatedJitter(base_s=base, cap_s=cap)
    multiplier = draw(st.floats(min_value=1.0, max_value=5.0))
    if kind == "exp":
        jitter = draw(st.floats(min_value=0.0, max_value=0.99))
        return ExponentialBackoff(base_s=base, cap_s=cap, multiplier=multiplier, jitter=jitter)
    cls = FullJitter if kind == "full" else EqualJitter
    return cls(base_s=base, cap_s=cap, multiplier=multiplier)


retry_number_arrays = st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=40)


@SETTINGS
@given(policy=backoffs(), n=retry_number_arrays, seed=st.integers(0, 2**32 - 1))
def test_every_delay_within_documented_bounds(policy, n, seed):
    n = np.array(n)
    delays = policy.delays_s(n, rng=seed)
    low, high = policy.min_delay_s(n), policy.max_delay_s(n)
    assert delays.shape == n.shape
    assert np.all(low <= delays), (policy, n[delays < low])
    assert np.all(delays <= high), (policy, n[delays > high])
    assert np.all(0.0 <= low) and np.all(low <= high)


@SETTINGS
@given(policy=backoffs(), n=retry_number_arrays, seed=st.integers(0, 2**32 - 1))
def test_seeded_draws_are_reproducible(policy, n, seed):
    first = policy.delays_s(n, rng=seed)
    again = policy.delays_s(n, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(first, again)


@SETTINGS
@given(policy=backoffs(), n=retry_number_arrays)
def test_mean_within_bounds(policy, n):
    if isinstance(policy, DecorrelatedJitter):
        n = n[:5]  # the numerical mean is checked separately; keep the examples fast
    mean = policy.mean_delay_s(n)
    slack = 1e-9 * policy.max_delay_s(n)
    assert np.all(policy.min_delay_s(n) - slack <= mean)
    assert np.all(mean <= policy.max_delay_s(n) + slack)


@SETTINGS
@given(
    policy=backoffs(),
    u=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    n=st.integers(min_value=1, max_value=60),
    previous_fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_kernel_rule_equals_policy_rule(policy, u, n, previous_fraction):
    """The simulator's compiled scalar rule is the policy's rule, bit for bit."""
    kind, base, cap, jitter = policy._kernel_params()
    previous = base + previous_fraction * (cap - base)  # any reachable previous delay
    expected = policy.delay_from_uniform_s(u, n, previous_delay_s=previous)
    scale = float(policy.scale_s(n))
    got = _sim_kernel.backoff_delay_s(kind, scale, base, cap, jitter, previous, u)
    assert got == float(expected)


@SETTINGS
@given(policy=backoffs(), n=st.integers(min_value=1, max_value=60))
def test_uniform_extremes_reach_the_bounds(policy, n):
    if isinstance(policy, DecorrelatedJitter):
        return  # its bounds depend on the chain, covered by the draws test
    at_zero = policy.delay_from_uniform_s(0.0, n)
    assert at_zero == policy.min_delay_s(n)
    near_one = policy.delay_from_uniform_s(np.nextafter(1.0, 0.0), n)
    assert near_one <= policy.max_delay_s(n)


@pytest.mark.parametrize(
    "policy",
    [
        ExponentialBackoff(base_s=0.5, cap_s=10.0, multiplier=1.6, jitter=0.2),
        FullJitter(base_s=0.1, cap_s=3.0),
        EqualJitter(base_s=0.1, cap_s=3.0),
        DecorrelatedJitter(base_s=0.1, cap_s=3.0),
        DecorrelatedJitter(base_s=1.0, cap_s=1.5),
    ],
    ids=repr,
)
def test_mean_matches_monte_carlo(policy):
    """Documented mean within the 99.9% sampling interval of 100,000 draws per retry number."""
    n = np.repeat(np.arange(1, 9)[None, :], 100_000, axis=0)
    draws = policy.delays_s(n, rng=2024)
    sample_mean = draws.mean(axis=0)
    half_width = Z_999 * draws.std(axis=0, ddof=1) / np.sqrt(draws.shape[0])
    expected = policy.mean_delay_s(np.arange(1, 9))
    assert np.all(np.abs(sample_mean - expected) <= half_width + 1e-12), (
        sample_mean,
        expected,
        half_width,
    )


def test_decorrelated_mean_exact_while_cap_cannot_bind():
    """E[s_n] = 2 b (3/2)^n - b while b 3^n <= cap; the numerics continue it smoothly."""
    policy = DecorrelatedJitter(base_s=1.0, cap_s=3.0**12)
    n = np.arange(1, 13)
    np.testing.assert_allclose(policy.mean_delay_s(n), 2 * 1.5**n - 1, rtol=1e-15)
    # Retry 13 may exceed the cap only with tiny probability: numerical = uncapped to 1e-4.
    huge_cap = DecorrelatedJitter(base_s=1.0, cap_s=1e9)
    np.testing.assert_allclose(huge_cap.mean_delay_s(20), 2 * 1.5**20 - 1, rtol=1e-4)


def test_decorrelated_mean_tends_to_fixed_point_under_tight_cap():
    # cap = base: every delay equals base.
    policy = DecorrelatedJitter(base_s=2.0, cap_s=2.0)
    np.testing.assert_allclose(policy.mean_delay_s([1, 5, 50]), 2.0)
    np.testing.assert_allclose(policy.delays_s([1, 5, 50], rng=0), 2.0)


def test_decorrelated_vectorised_draws_are_independent_chains():
    """delays_s(n) for n = 1 is uniform on [base, min(cap, 3 base)) (one step of the chain)."""
    policy = DecorrelatedJitter(base_s=1.0, cap_s=100.0)
    first = policy.delays_s(np.ones(20_000, dtype=int), rng=5)
    assert first.min() >= 1.0 and first.max() < 3.0
    assert stats.kstest(first, stats.uniform(loc=1.0, scale=2.0).cdf).pvalue > 1e-3


def test_decorrelated_uses_previous_delay():
    policy = DecorrelatedJitter(base_s=1.0, cap_s=100.0)
    # u = 0.5 between base and 3 * previous.
    assert policy.delay_from_uniform_s(0.5, 3, previous_delay_s=4.0) == 1.0 + 0.5 * 11.0
    assert policy.delay_from_uniform_s(0.99, 3, previous_delay_s=60.0) == 100.0  # capped


def test_exponential_without_jitter_is_deterministic_and_capped():
    policy = ExponentialBackoff(base_s=0.25, cap_s=3.0)
    np.testing.assert_array_equal(
        policy.delays_s([1, 2, 3, 4, 5, 1000], rng=1), [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    )


def test_grpc_connection_backoff():
    """gRPC connection-backoff.md: 1 s initial, x1.6, 120 s max, +-20% jitter."""
    g = ExponentialBackoff.grpc()
    assert (g.base_s, g.multiplier, g.cap_s, g.jitter) == (1.0, 1.6, 120.0, 0.2)
    np.testing.assert_allclose(g.mean_delay_s([1, 2, 3]), [1.0, 1.6, 2.56])
    d = g.delays_s(np.full(10_000, 30), rng=3)
    assert d.min() >= 96.0 and d.max() <= 144.0


def test_large_retry_numbers_do_not_overflow():
    for policy in (ExponentialBackoff(1e-3, 1e3, multiplier=10.0), FullJitter(1e-3, 1e3)):
        with np.errstate(all="raise"):
            assert float(policy.max_delay_s(10**6)) == 1e3


def test_shapes_follow_input():
    p = FullJitter(0.1, 1.0)
    assert p.delays_s(3, rng=0).shape == ()
    assert p.delays_s(np.ones((2, 3), dtype=int), rng=0).shape == (2, 3)
    assert p.mean_delay_s([[1, 2]]).shape == (1, 2)


@pytest.mark.parametrize(
    "build",
    [
        lambda: FixedDelay(-1.0),
        lambda: FixedDelay(float("nan")),
        lambda: ExponentialBackoff(base_s=-0.1, cap_s=1.0),
        lambda: ExponentialBackoff(base_s=0.0, cap_s=1.0),
        lambda: ExponentialBackoff(base_s=1.0, cap_s=0.5),
        lambda: ExponentialBackoff(base_s=1.0, cap_s=2.0, multiplier=0.5),
        lambda: ExponentialBackoff(base_s=1.0, cap_s=2.0, jitter=1.0),
        lambda: ExponentialBackoff(base_s=1.0, cap_s=2.0, jitter=-0.1),
        lambda: FullJitter(base_s=1.0, cap_s=0.5),
        lambda: EqualJitter(base_s=-1.0, cap_s=0.5),
        lambda: DecorrelatedJitter(base_s=1.0, cap_s=0.5),
        lambda: DecorrelatedJitter(base_s=0.0, cap_s=1.0),
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(max_attempts=2.5),
        lambda: RetryPolicy(max_attempts=10_000),
        lambda: RetryBudget(deposit_per_success=-0.1),
        lambda: RetryBudget(cost_per_retry=0.0),
        lambda: RetryBudget(max_tokens=0.5, cost_per_retry=1.0),
        lambda: RetryBudget(initial_tokens=11.0, max_tokens=10.0),
        lambda: CircuitBreaker(failure_threshold=0),
        lambda: CircuitBreaker(open_s=0.0),
        lambda: AdmissionControl(rate_per_s=0.0),
        lambda: AdmissionControl(burst=0.5),
        lambda: AdmissionControl(max_queue_length=-1),
    ],
)
def test_invalid_parameters_raise_value_error(build):
    with pytest.raises(ValueError):
        build()


def test_error_messages_name_the_parameter():
    with pytest.raises(ValueError, match="cap_s"):
        FullJitter(base_s=2.0, cap_s=1.0)
    with pytest.raises(ValueError, match="delay_s"):
        FixedDelay(-0.5)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_invalid_retry_numbers_and_draws():
    p = FullJitter(0.1, 1.0)
    with pytest.raises(ValueError, match="retry numbers start at 1"):
        p.delays_s([0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        p.mean_delay_s([1.5])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        p.delay_from_uniform_s(1.0, 1)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="backoff"):
        RetryPolicy(backoff=0.5)
    with pytest.raises(TypeError, match="budget"):
        RetryPolicy(budget=10)
    with pytest.raises(TypeError, match="admission"):
        ServerPolicy(admission=5)


def test_policies_are_immutable_and_hashable():
    p = RetryPolicy(FullJitter(0.1, 1.0), max_attempts=3, budget=RetryBudget())
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_attempts = 5
    assert hash(p) == hash(RetryPolicy(FullJitter(0.1, 1.0), max_attempts=3, budget=RetryBudget()))


def test_no_retry_is_a_single_attempt_policy():
    p = NoRetry()
    assert isinstance(p, RetryPolicy)
    assert p.max_attempts == 1 and p.max_retries == 0
    assert p.budget is None and p.circuit_breaker is None
    with pytest.raises(TypeError):
        NoRetry(max_attempts=3)


def test_retry_budget_rule():
    b = RetryBudget(deposit_per_success=0.2, cost_per_retry=2.0, max_tokens=4.0, initial_tokens=1)
    assert b.retries_per_success == pytest.approx(0.1)
    assert b.start_tokens == 1.0
