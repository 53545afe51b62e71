"""Tests for outage_kit.queueing: known answers, high-precision oracles, extremes, invariants.

Oracles are independent of the implementation: exact rational arithmetic (fractions) for the
textbook formulas and birth-death balance equations, and mpmath at 50 significant digits for the
Erlang sums (the direct a^k/k! sums for up to 1000 servers; mpmath's own incomplete gamma for
100 000 servers, itself checked against the direct sum).
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from outage_kit import queueing as q

# Any warning raised while these tests run (overflow, invalid value, division by zero) fails them.
pytestmark = pytest.mark.filterwarnings("error")

SETTINGS = settings(max_examples=60, deadline=None)
FIELDS = (
    "utilisation",
    "prob_wait",
    "prob_block",
    "mean_wait_s",
    "mean_response_s",
    "mean_queue_length",
    "mean_in_system",
    "throughput_per_s",
)

mpmath.mp.dps = 50


# ---------------------------------------------------------------------------------------------
# Independent oracles
# ---------------------------------------------------------------------------------------------


def mp_erlang_b_sum(c: int, a) -> mpmath.mpf:
    """Erlang B from the textbook sum (a^c/c!) / sum_k a^k/k!, at 50 digits."""
    a = mpmath.mpf(a)
    term = total = mpmath.mpf(1)
    for k in range(1, c + 1):
        term = term * a / k
        total += term
    return term / total


def mp_erlang_c_sum(c: int, a) -> mpmath.mpf:
    """Erlang C from the textbook sum, at 50 digits."""
    a = mpmath.mpf(a)
    term, below = mpmath.mpf(1), mpmath.mpf(0)
    for k in range(c):
        if k:
            term = term * a / k
        below += term
    top = term * a / c * c / (c - a)
    return top / (below + top)


def mp_poisson_pmf(c: int, a) -> mpmath.mpf:
    a = mpmath.mpf(a)
    return mpmath.exp(c * mpmath.log(a) - a - mpmath.loggamma(c + 1))


def mp_erlang_b_gamma(c: int, a) -> mpmath.mpf:
    """Erlang B as P(N = c) / P(N <= c), N ~ Poisson(a), with mpmath's incomplete gamma."""
    return mp_poisson_pmf(c, a) / mpmath.gammainc(c + 1, a, regularized=True)


def mp_erlang_c_gamma(c: int, a) -> mpmath.mpf:
    """Erlang C as P(N=c) c/(c-a) / (P(N <= c-1) + P(N=c) c/(c-a)), with mpmath."""
    a = mpmath.mpf(a)
    top = mp_poisson_pmf(c, a) * c / (c - a)
    return top / (mpmath.gammainc(c, a, regularized=True) + top)


def birth_death(lam: Fraction, mu: Fraction, c: int, k: int) -> dict[str, Fraction]:
    """Exact M/M/c/K metrics from the balance equations p_n λ = p_{n+1} min(n+1, c) μ."""
    weights = [Fraction(1)]
    for n in range(1, k + 1):
        weights.append(weights[-1] * lam / (min(n, c) * mu))
    total = sum(weights)
    p = [w / total for w in weights]
    admitted = 1 - p[k]
    throughput = lam * admitted
    lq = sum((n - c) * p[n] for n in range(c, k + 1))
    ell = sum(n * p[n] for n in range(k + 1))
    wq = lq / throughput
    return {
        "utilisation": throughput / (c * mu),
        "prob_wait": sum(p[c:k]) / admitted,
        "prob_block": p[k],
        "mean_wait_s": wq,
        "mean_response_s": wq + 1 / mu,
        "mean_queue_length": lq,
        "mean_in_system": ell,
        "throughput_per_s": throughput,
        "p": p,
    }


def assert_little(m: q.QueueMetrics, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(
        m.mean_in_system, m.throughput_per_s * m.mean_response_s, rtol=rtol, atol=1e-300
    )
    np.testing.assert_allclose(
        m.mean_queue_length, m.throughput_per_s * m.mean_wait_s, rtol=rtol, atol=1e-300
    )


def strict_numpy():
    """Overflow, invalid operations and division by zero raise (underflow to 0 is allowed)."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


def invert_erlang_b(c: int, blocking: float) -> float:
    """The offered load at which erlang_b(c, load) == blocking (bisection)."""
    low, high = 0.0, 10.0 * c + 10.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if q.erlang_b(c, mid) < blocking:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


# ---------------------------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------------------------

# The classical Erlang B table, 1 % blocking column (offered Erlangs for c trunks), e.g. as
# printed in T. S. Rappaport, "Wireless Communications: Principles and Practice", 2nd ed.
# (Prentice Hall, 2002), Table 3.4 "Capacity of an Erlang B system". Each value was re-derived
# here by solving the exact sum with mpmath; the table's 3 significant figures agree.
ERLANG_B_TABLE_1PCT = [
    (2, 0.153),
    (4, 0.869),
    (5, 1.36),
    (10, 4.46),
    (20, 12.0),
    (24, 15.3),
    (40, 29.0),
    (70, 56.1),
    (100, 84.1),
]


@pytest.mark.parametrize(("servers", "table_load"), ERLANG_B_TABLE_1PCT)
def test_erlang_b_matches_classical_table_at_one_percent(servers, table_load):
    load = invert_erlang_b(servers, 0.01)
    digits = 2 - math.floor(math.log10(table_load))  # the table gives 3 significant figures
    assert round(load, digits) == pytest.approx(table_load, abs=1e-12)


def test_erlang_b_four_figure_values():
    # Same table to more figures (c = 10: 4.461, c = 100: 84.06 Erlangs), and the Westbay Erlang B
    # calculator manual: 15 lines at 1 % blocking carry 8.108 Erlangs
    # (https://erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm).
    assert invert_erlang_b(10, 0.01) == pytest.approx(4.4612, abs=5e-5)
    assert invert_erlang_b(100, 0.01) == pytest.approx(84.064, abs=5e-4)
    assert invert_erlang_b(15, 0.01) == pytest.approx(8.108, abs=5e-4)


def test_erlang_b_exact_small_cases():
    # B(1, a) = a/(1 + a); B(2, a) = (a^2/2)/(1 + a + a^2/2) (Gross et al., Fundamentals of
    # Queueing Theory, 4th ed., ch. 2, Erlang's loss formula).
    for a in (Fraction(1, 3), Fraction(1), Fraction(7, 2), Fraction(1000)):
        assert q.erlang_b(1, float(a)) == pytest.approx(float(a / (1 + a)), rel=1e-14)
        exact = (a**2 / 2) / (1 + a + a**2 / 2)
        assert q.erlang_b(2, float(a)) == pytest.approx(float(exact), rel=1e-14)


@pytest.mark.parametrize(
    "rho", [Fraction(1, 10), Fraction(1, 2), Fraction(4, 5), Fraction(99, 100)]
)
def test_mm2_closed_forms(rho):
    # M/M/2 closed forms (Gross et al., Fundamentals of Queueing Theory, 4th ed., ch. 2;
    # Kleinrock, Queueing Systems vol. 1, ch. 3): P(wait) = 2ρ²/(1+ρ), Lq = 2ρ³/(1-ρ²),
    # L = 2ρ/(1-ρ²), with ρ = λ/(2μ).
    mu = Fraction(3, 2)
    lam = 2 * mu * rho
    m = q.mmc_metrics(float(lam), float(mu), 2)
    assert q.erlang_c(2, float(2 * rho)) == pytest.approx(float(2 * rho**2 / (1 + rho)), rel=1e-13)
    assert m.prob_wait == pytest.approx(float(2 * rho**2 / (1 + rho)), rel=1e-13)
    assert m.mean_queue_length == pytest.approx(float(2 * rho**3 / (1 - rho**2)), rel=1e-12)
    assert m.mean_in_system == pytest.approx(float(2 * rho / (1 - rho**2)), rel=1e-12)
    assert m.mean_wait_s == pytest.approx(float(2 * rho**3 / (1 - rho**2) / lam), rel=1e-12)


def test_erlang_c_call_centre_example_exact():
    # The call-centre example of the classic "Erlang-C formula" web tutorials: 360 calls per
    # half hour, 240 s per call (48 Erlangs), 55 agents. Checked against Erlang C evaluated in
    # exact rational arithmetic.
    a, c = Fraction(360, 1800) * 240, 55
    below = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    exact = top / (below + top)
    assert q.erlang_c(c, float(a)) == pytest.approx(float(exact), rel=1e-13)
    # and with rates: mean wait = C / (cμ - λ)
    m = q.mmc_metrics(0.2, 1 / 240, c)
    assert m.mean_wait_s == pytest.approx(float(exact / (Fraction(c, 240) - Fraction(1, 5))))


def test_mm1_textbook_values():
    # M/M/1 with λ = 0.8, μ = 1 (Kleinrock, Queueing Systems vol. 1, ch. 3; Gross et al. ch. 2):
    # L = ρ/(1-ρ) = 4, W = 1/(μ-λ) = 5, Lq = ρ²/(1-ρ) = 3.2, Wq = ρ/(μ-λ) = 4.
    m = q.mm1_metrics(0.8, 1.0)
    assert m.utilisation == pytest.approx(0.8)
    assert m.prob_wait == pytest.approx(0.8)
    assert m.mean_in_system == pytest.approx(4.0)
    assert m.mean_response_s == pytest.approx(5.0)
    assert m.mean_queue_length == pytest.approx(3.2)
    assert m.mean_wait_s == pytest.approx(4.0)
    assert m.throughput_per_s == pytest.approx(0.8)
    assert m.prob_block == 0.0


@pytest.mark.parametrize(("lam", "mu"), [(0.0, 1.0), (0.3, 1.0), (8.0, 10.0), (0.999, 1.0)])
def test_mmc_with_one_server_equals_mm1(lam, mu):
    one, general = q.mm1_metrics(lam, mu), q.mmc_metrics(lam, mu, 1)
    for field in FIELDS:
        assert getattr(general, field) == pytest.approx(getattr(one, field), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("rho", "k", "p_block", "mean_in_system"),
    [
        # M/M/1/K (Gross et al., Fundamentals of Queueing Theory, 4th ed., ch. 2):
        # p_K = (1-ρ)ρ^K / (1-ρ^(K+1)), L = ρ/(1-ρ) - (K+1)ρ^(K+1) / (1-ρ^(K+1)); at ρ = 1,
        # p_K = 1/(K+1) and L = K/2.
        (Fraction(1, 2), 4, Fraction(1, 31), Fraction(1) - Fraction(5, 31)),
        (Fraction(1), 4, Fraction(1, 5), Fraction(2)),
        (Fraction(2), 3, Fraction(8, 15), Fraction(34, 15)),
        (Fraction(9, 10), 1, Fraction(9, 19), Fraction(9, 19)),
    ],
)
def test_mm1k_closed_form(rho, k, p_block, mean_in_system):
    if rho != 1:
        assert p_block == (1 - rho) * rho**k / (1 - rho ** (k + 1))  # the formula itself
    m = q.mmck_metrics(float(rho), 1.0, 1, k)
    assert m.prob_block == pytest.approx(float(p_block), rel=1e-13)
    assert m.mean_in_system == pytest.approx(float(mean_in_system), rel=1e-13)
    assert m.throughput_per_s == pytest.approx(float(rho * (1 - p_block)), rel=1e-13)


@pytest.mark.parametrize(
    ("lam", "mu", "c", "k"),
    [
        (Fraction(3, 2), Fraction(1), 1, 5),
        (Fraction(9), Fraction(2), 3, 10),
        (Fraction(12), Fraction(1), 4, 4),  # no waiting room: Erlang loss system
        (Fraction(5), Fraction(1), 5, 25),  # offered utilisation exactly 1
        (Fraction(30), Fraction(1), 10, 40),  # offered utilisation 3
        (Fraction(100), Fraction(3), 7, 60),
        (Fraction(1, 1000), Fraction(1), 6, 9),  # nearly idle
        (Fraction(999, 100), Fraction(1), 10, 12),  # utilisation just below 1
    ],
)
def test_mmck_matches_exact_birth_death_solution(lam, mu, c, k):
    exact = birth_death(lam, mu, c, k)
    m = q.mmck_metrics(float(lam), float(mu), c, k)
    for field in FIELDS:
        assert getattr(m, field) == pytest.approx(float(exact[field]), rel=1e-12, abs=1e-300)


def test_mmck_without_waiting_room_is_erlang_b():
    loads = np.linspace(0.0, 50.0, 11)
    m = q.mmck_metrics(loads, 1.0, 20, 20)
    np.testing.assert_allclose(m.prob_block, q.erlang_b(20, loads), rtol=1e-13)
    assert np.all(m.prob_wait == 0) and np.all(m.mean_wait_s == 0)


# ---------------------------------------------------------------------------------------------
# High-precision oracle
# ---------------------------------------------------------------------------------------------

LOAD_FACTORS = [1e-9, 1e-3, 0.1, 0.5, 0.9, 0.99, 0.999999, 1.0, 1.000001, 1.01, 1.5, 3.0, 100.0]


@pytest.mark.parametrize("c", [1, 2, 15, 16, 150, 1000])
def test_erlang_b_against_exact_sum(c):
    for factor in LOAD_FACTORS:
        a = c * factor
        exact = mp_erlang_b_sum(c, a)
        if exact < mpmath.mpf("1e-290"):  # below the normal double range
            assert q.erlang_b(c, a) < 1e-280
            continue
        assert q.erlang_b(c, a) == pytest.approx(float(exact), rel=1e-10), (c, a)


@pytest.mark.parametrize("c", [1, 2, 15, 150, 1000])
def test_erlang_c_against_exact_sum(c):
    loads = [c * f for f in LOAD_FACTORS if f < 1.0]
    got = q.erlang_c(c, np.array(loads))
    for a, value in zip(loads, got, strict=True):
        exact = mp_erlang_c_sum(c, a)
        if exact < mpmath.mpf("1e-290"):
            assert value < 1e-280
            continue
        assert value == pytest.approx(float(exact), rel=1e-10), (c, a)


def test_mpmath_gamma_oracle_agrees_with_direct_sum():
    # the oracle used for 100 000 servers, checked where the direct sum is affordable
    for c, a in [(1000, 950.0), (1000, 1000.0), (1000, 1300.0), (150, 149.0)]:
        assert mp_erlang_b_gamma(c, a) == pytest.approx(mp_erlang_b_sum(c, a), rel=1e-40)
    assert mp_erlang_c_gamma(1000, 990.0) == pytest.approx(mp_erlang_c_sum(1000, 990.0), rel=1e-40)


def test_erlang_b_and_c_at_100000_servers():
    c = 100_000
    loads = np.array([90_000.0, 99_000.0, 99_900.0, 99_999.5, 100_000.0, 100_500.0, 150_000.0])
    got_b = q.erlang_b(c, loads)
    for a, value in zip(loads, got_b, strict=True):
        assert value == pytest.approx(float(mp_erlang_b_gamma(c, a)), rel=1e-10), a
    near = loads[loads < c]
    got_c = q.erlang_c(c, near)
    for a, value in zip(near, got_c, strict=True):
        assert value == pytest.approx(float(mp_erlang_c_gamma(c, a)), rel=1e-10), a


# ---------------------------------------------------------------------------------------------
# Extremes: finite, in [0, 1], no warnings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 10, 150, 1000, 100_000])
def test_erlang_extremes_are_finite_probabilities(c):
    loads = np.concatenate([[0.0, 1e-300, 1e-9], np.geomspace(1e-6, 1e5, 60), [c, c * 1.000001]])
    with strict_numpy():
        blocking = q.erlang_b(c, loads)
        light = loads[loads < c]
        waiting = q.erlang_c(c, light)
    assert np.all(np.isfinite(blocking)) and np.all((blocking >= 0) & (blocking <= 1))
    assert np.all(np.isfinite(waiting)) and np.all((waiting >= 0) & (waiting <= 1))
    # the loss system with a >> c blocks almost everything: 1 - c/a <= B(c, a) <= 1
    heavy = loads > c
    assert np.all(blocking[heavy] >= 1 - c / loads[heavy] - 1e-15)


def test_erlang_b_heavy_overload_and_tiny_load():
    assert q.erlang_b(10, 1e5) == pytest.approx(float(mp_erlang_b_sum(10, 1e5)), rel=1e-13)
    assert q.erlang_b(1, 1e-9) == pytest.approx(1e-9 / (1 + 1e-9), rel=1e-13)
    assert q.erlang_b(100_000, 1e-9) == 0.0  # true value ~ 1e-1356000
    assert q.erlang_b(3, 0.0) == 0.0 and q.erlang_c(3, 0.0) == 0.0


@pytest.mark.parametrize("c", [1, 10, 1000])
@pytest.mark.parametrize("extra", [0, 1, 50, 10**9])
def test_mmck_extremes_are_finite(c, extra):
    loads = np.concatenate([[0.0, 1e-12], np.geomspace(1e-3, 1e5, 40), [c, c * (1 + 1e-12)]])
    with strict_numpy():
        m = q.mmck_metrics(loads, 1.0, c, c + extra)
    for field in FIELDS:
        value = np.asarray(getattr(m, field))
        assert np.all(np.isfinite(value)), field
    for field in ("utilisation", "prob_wait", "prob_block"):
        value = getattr(m, field)
        assert np.all((value >= 0) & (value <= 1)), field


def test_mmck_huge_capacity_overloaded():
    # M/M/1/K at ρ = 2 with K = 10^12: half the arrivals are lost, the server never idles, and
    # almost all of the 10^12 places are full.
    m = q.mmck_metrics(2.0, 1.0, 1, 10**12)
    assert m.prob_block == pytest.approx(0.5, rel=1e-12)
    assert m.utilisation == pytest.approx(1.0, rel=1e-12)
    assert m.mean_in_system == pytest.approx(10**12 - 1, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Invariants (hypothesis)
# ---------------------------------------------------------------------------------------------

servers_st = st.integers(min_value=1, max_value=2000)
load_st = st.floats(min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False)
rho_st = st.floats(min_value=0.0, max_value=0.999, allow_nan=False)


@SETTINGS
@given(servers_st, load_st, load_st)
def test_erlang_b_is_a_probability_increasing_in_load(c, a1, a2):
    low, high = sorted((a1, a2))
    b_low, b_high = q.erlang_b(c, low), q.erlang_b(c, high)
    assert 0.0 <= b_low <= 1.0 and 0.0 <= b_high <= 1.0
    assert b_low <= b_high * (1 + 1e-12)


@SETTINGS
@given(servers_st, load_st)
def test_erlang_b_decreases_with_servers(c, a):
    assert q.erlang_b(c + 1, a) <= q.erlang_b(c, a) * (1 + 1e-12)


@SETTINGS
@given(servers_st, rho_st)
def test_erlang_c_is_at_least_erlang_b(c, rho):
    a = rho * c
    waiting = q.erlang_c(c, a)
    assert 0.0 <= waiting <= 1.0
    assert waiting >= q.erlang_b(c, a) * (1 - 1e-12)


@SETTINGS
@given(st.integers(1, 500), rho_st, rho_st, st.floats(0.01, 100.0))
def test_mmc_mean_wait_increases_with_arrival_rate(c, rho1, rho2, mu):
    low, high = sorted((rho1, rho2))
    waits = q.mmc_metrics(np.array([low, high]) * c * mu, mu, c).mean_wait_s
    assert waits[0] <= waits[1] * (1 + 1e-12)


@SETTINGS
@given(st.integers(1, 500), rho_st, st.floats(0.01, 100.0))
def test_littles_law_holds_for_mm1_and_mmc(c, rho, mu):
    assert_little(q.mmc_metrics(rho * c * mu, mu, c))
    assert_little(q.mm1_metrics(rho * mu, mu))


@SETTINGS
@given(
    st.integers(1, 200),
    st.integers(0, 500),
    st.floats(0.0, 50.0, allow_nan=False),
    st.floats(0.01, 100.0),
)
def test_mmck_littles_law_throughput_and_probabilities(c, extra, offered_rho, mu):
    lam = offered_rho * c * mu
    m = q.mmck_metrics(lam, mu, c, c + extra)
    assert_little(m)
    assert m.throughput_per_s == pytest.approx(lam * (1 - m.prob_block), rel=1e-12, abs=1e-300)
    assert m.throughput_per_s <= c * mu * (1 + 1e-12)
    for p in (m.utilisation, m.prob_wait, m.prob_block):
        assert 0.0 <= p <= 1.0


@SETTINGS
@given(st.integers(1, 50), st.floats(0.0, 0.9), st.floats(0.01, 100.0))
def test_mmck_tends_to_mmc_as_capacity_grows(c, rho, mu):
    lam = rho * c * mu
    finite, infinite = q.mmck_metrics(lam, mu, c, c + 3000), q.mmc_metrics(lam, mu, c)
    assert finite.prob_block < 0.9**3000 * 1e3  # ρ^(K-c) scale: effectively never full
    for field in FIELDS:
        if field != "prob_block":
            assert getattr(finite, field) == pytest.approx(
                getattr(infinite, field), rel=1e-9, abs=1e-300
            ), field


@SETTINGS
@given(
    st.floats(0.01, 1000.0),
    st.floats(0.01, 10.0),
    st.floats(1e-4, 10.0),
)
def test_servers_for_mean_wait_is_minimal(lam, mu, target_in_service_times):
    target = target_in_service_times / mu
    c = q.servers_for_mean_wait(lam, mu, target)
    assert isinstance(c, int)
    assert q.mmc_metrics(lam, mu, c).mean_wait_s <= target
    if c - 1 > lam / mu:  # c - 1 servers would be stable, so they must miss the target
        assert q.mmc_metrics(lam, mu, c - 1).mean_wait_s > target


@SETTINGS
@given(
    st.floats(0.01, 1000.0),
    st.floats(0.01, 10.0),
    st.floats(0.0, 10.0),
    st.floats(1e-6, 1.0),
)
def test_servers_for_wait_tail_is_minimal(lam, mu, wait_in_service_times, p):
    t = wait_in_service_times / mu
    c = q.servers_for_wait_tail(lam, mu, t, p)
    assert q.mmc_wait_tail(t, lam, mu, c) <= p
    if c - 1 > lam / mu:
        assert q.mmc_wait_tail(t, lam, mu, c - 1) > p


@SETTINGS
@given(st.integers(1, 200), rho_st, st.floats(0.0, 0.999999))
def test_wait_quantile_inverts_wait_tail(c, rho, quantile):
    lam = rho * c
    t = q.mmc_wait_quantile(quantile, lam, 1.0, c)
    assert t >= 0.0
    if t > 0:
        assert q.mmc_wait_tail(t, lam, 1.0, c) == pytest.approx(1 - quantile, rel=1e-9)
    else:
        assert q.erlang_c(c, lam) <= 1 - quantile


# ---------------------------------------------------------------------------------------------
# Waiting- and response-time distributions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.8, 1.0, 1), (8.0, 1.0, 10), (3.0, 2.0, 2)])
def test_tail_integrals_give_the_means(lam, mu, c):
    # E[X] = ∫ P(X > t) dt for X >= 0
    m = q.mmc_metrics(lam, mu, c)
    wait, _ = quad(lambda t: q.mmc_wait_tail(t, lam, mu, c), 0, np.inf, epsrel=1e-11)
    response, _ = quad(lambda t: q.mmc_response_tail(t, lam, mu, c), 0, np.inf, epsrel=1e-11)
    assert wait == pytest.approx(m.mean_wait_s, rel=1e-8)
    assert response == pytest.approx(m.mean_response_s, rel=1e-8)


def test_response_tail_matches_textbook_form_and_its_special_case():
    # Away from θ = μ: (1-C) e^{-μt} + C (θ e^{-μt} - μ e^{-θt}) / (θ - μ), θ = cμ - λ.
    lam, mu, c = 5.0, 1.0, 8
    t = np.array([0.0, 0.3, 1.0, 4.0])
    big_c, theta = q.erlang_c(c, lam / mu), c * mu - lam
    expected = (1 - big_c) * np.exp(-mu * t) + big_c * (
        theta * np.exp(-mu * t) - mu * np.exp(-theta * t)
    ) / (theta - mu)
    np.testing.assert_allclose(q.mmc_response_tail(t, lam, mu, c), expected, rtol=1e-12)
    # At λ = (c - 1)μ, θ = μ and the waiting part is Erlang-2: e^{-μt}(1 + μt).
    lam = 7.0
    big_c = q.erlang_c(c, lam)
    expected = (1 - big_c) * np.exp(-t) + big_c * np.exp(-t) * (1 + t)
    np.testing.assert_allclose(q.mmc_response_tail(t, lam, mu, c), expected, rtol=1e-13)
    # and it is continuous through the special case
    for nearby in (7.0 - 1e-7, 7.0 + 1e-7):
        np.testing.assert_allclose(q.mmc_response_tail(t, nearby, mu, c), expected, rtol=1e-6)


def test_response_tail_dominates_wait_tail_and_starts_at_one():
    t = np.linspace(0, 20, 41)
    response, wait = q.mmc_response_tail(t, 9.0, 1.0, 10), q.mmc_wait_tail(t, 9.0, 1.0, 10)
    assert response[0] == pytest.approx(1.0)
    assert np.all(response >= wait) and np.all(np.diff(response) <= 0)


@pytest.mark.parametrize(("lam", "c", "k"), [(0.5, 1, 4), (6.0, 3, 9), (30.0, 10, 25), (3.0, 2, 2)])
def test_mmck_wait_tail_against_exact_sum(lam, c, k):
    exact = birth_death(Fraction(lam), Fraction(1), c, k)
    p = exact["p"]
    admitted = 1 - p[k]
    for t in (0.0, 0.1, 1.0, 5.0):
        expected = sum(
            mpmath.mpf(p[c + j] / admitted) * mpmath.gammainc(j + 1, c * t, regularized=True)
            for j in range(k - c)
        )
        got = q.mmck_wait_tail(t, lam, 1.0, c, k)
        assert got == pytest.approx(float(expected), rel=1e-12, abs=1e-300)


def test_mmck_wait_tail_consistency():
    lam, mu, c, k = 9.0, 1.0, 10, 40
    m = q.mmck_metrics(lam, mu, c, k)
    assert q.mmck_wait_tail(0.0, lam, mu, c, k) == pytest.approx(m.prob_wait, rel=1e-12)
    mean, _ = quad(lambda t: q.mmck_wait_tail(t, lam, mu, c, k), 0, np.inf, epsrel=1e-11)
    assert mean == pytest.approx(m.mean_wait_s, rel=1e-8)
    # a large waiting room behaves like the infinite queue
    t = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(
        q.mmck_wait_tail(t, 5.0, 1.0, 10, 3000), q.mmc_wait_tail(t, 5.0, 1.0, 10), rtol=1e-10
    )


# ---------------------------------------------------------------------------------------------
# Little's law helpers
# ---------------------------------------------------------------------------------------------


def test_littles_law_helpers():
    assert q.littles_law_number(200.0, 0.05) == pytest.approx(10.0)
    assert q.littles_law_time(300.0, 100.0) == pytest.approx(3.0)
    assert q.littles_law_rate(50.0, 0.25) == pytest.approx(200.0)
    rates = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(q.littles_law_number(rates, 0.5), [0.5, 5.0, 50.0])


@SETTINGS
@given(st.floats(1e-6, 1e6), st.floats(1e-6, 1e6))
def test_littles_law_helpers_round_trip(rate, time_s):
    number = q.littles_law_number(rate, time_s)
    assert q.littles_law_time(number, rate) == pytest.approx(time_s, rel=1e-12)
    assert q.littles_law_rate(number, time_s) == pytest.approx(rate, rel=1e-12)


@SETTINGS
@given(st.floats(0.0, 1e5), st.floats(0.0, 10.0), st.floats(0.01, 0.99))
def test_workers_needed_is_minimal(rate, time_s, utilisation):
    c = q.workers_needed(rate, time_s, utilisation)
    busy = rate * time_s
    assert isinstance(c, int) and c >= 1
    assert busy / c <= utilisation
    if c > 1:
        assert busy / (c - 1) > utilisation


def test_workers_needed_examples_and_arrays():
    assert q.workers_needed(200.0, 0.05) == 13  # 10 busy at 80 %
    assert q.workers_needed(100.0, 0.08, 0.8) == 10  # 8 busy / 0.8, despite rounding
    assert q.workers_needed(0.0, 1.0) == 1
    np.testing.assert_array_equal(q.workers_needed([0.0, 10.0, 100.0], 1.0, 0.5), [1, 20, 200])


# ---------------------------------------------------------------------------------------------
# Types and shapes
# ---------------------------------------------------------------------------------------------


def test_scalars_give_floats_and_arrays_keep_their_shape():
    assert type(q.erlang_b(10, 5)) is float
    assert type(q.erlang_c(10, np.float64(5.0))) is float
    grid = np.linspace(0.1, 9.0, 12).reshape(3, 4)
    assert q.erlang_b(10, grid).shape == (3, 4)
    assert q.erlang_c(10, grid).shape == (3, 4)
    m = q.mmc_metrics(grid, 1.0, 10)
    assert all(np.shape(getattr(m, f)) == (3, 4) for f in FIELDS)
    assert all(type(getattr(q.mm1_metrics(0.5, 1.0), f)) is float for f in FIELDS)
    assert q.erlang_b(10, [1.0, 2.0]).shape == (2,)


def test_server_counts_accept_numpy_integers_and_whole_floats():
    assert q.erlang_b(np.int64(10), 5.0) == q.erlang_b(10, 5.0)
    assert q.erlang_b(np.uint16(10), 5.0) == q.erlang_b(10, 5.0)
    assert q.erlang_b(10.0, 5.0) == q.erlang_b(10, 5.0)
    assert q.mmck_metrics(1.0, 1.0, 2.0, 5.0) == q.mmck_metrics(1.0, 1.0, 2, 5)


def test_metrics_are_frozen():
    m = q.mm1_metrics(0.5, 1.0)
    with pytest.raises(AttributeError):
        m.utilisation = 0.1  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("servers", [0, -3, 2.5, float("nan"), float("inf")])
def test_bad_server_count_raises_value_error(servers):
    with pytest.raises(ValueError, match="servers"):
        q.erlang_b(servers, 1.0)
    with pytest.raises(ValueError, match="servers"):
        q.mmc_metrics(0.1, 1.0, servers)


@pytest.mark.parametrize("servers", [True, "3", None, np.array([3]), [3]])
def test_wrong_server_type_raises_type_error(servers):
    with pytest.raises(TypeError, match="servers"):
        q.erlang_c(servers, 1.0)
    with pytest.raises(TypeError, match="servers"):
        q.mmck_metrics(1.0, 1.0, servers, 5)


@pytest.mark.parametrize("load", [-1.0, float("nan"), float("inf"), [1.0, -2.0], [0.5, np.nan]])
def test_bad_offered_load_raises_value_error(load):
    with pytest.raises(ValueError, match="offered_load"):
        q.erlang_b(5, load)


@pytest.mark.parametrize("load", ["4", None, [1.0, "a"], True, 1 + 2j])
def test_wrong_offered_load_type_raises_type_error(load):
    with pytest.raises(TypeError, match="offered_load"):
        q.erlang_b(5, load)


@pytest.mark.parametrize(
    ("function", "args"),
    [
        (q.mm1_metrics, (0.5, 1.0)),
        (q.mmc_metrics, (0.5, 1.0, 2)),
        (q.mmck_metrics, (0.5, 1.0, 2, 4)),
        (q.mmc_wait_tail, (1.0, 0.5, 1.0, 2)),
        (q.mmc_response_tail, (1.0, 0.5, 1.0, 2)),
        (q.mmck_wait_tail, (1.0, 0.5, 1.0, 2, 4)),
    ],
)
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_rates_name_the_argument(function, args, bad):
    offset = 1 if function in (q.mmc_wait_tail, q.mmc_response_tail, q.mmck_wait_tail) else 0
    arrival = list(args)
    arrival[offset] = bad
    with pytest.raises(ValueError, match="arrival_rate"):
        function(*arrival)
    service = list(args)
    service[offset + 1] = bad
    with pytest.raises(ValueError, match="service_rate"):
        function(*service)


def test_zero_service_rate_and_bool_rates_are_rejected():
    with pytest.raises(ValueError, match="service_rate must be finite and > 0"):
        q.mmc_metrics(1.0, 0.0, 3)
    with pytest.raises(TypeError, match="arrival_rate"):
        q.mm1_metrics(True, 2.0)
    with pytest.raises(TypeError, match="service_rate"):
        q.mmc_metrics(1.0, "fast", 3)


def test_capacity_checks():
    with pytest.raises(ValueError, match=r"capacity .* must be >= servers = 4, got 3"):
        q.mmck_metrics(1.0, 1.0, 4, 3)
    with pytest.raises(ValueError, match="capacity"):
        q.mmck_metrics(1.0, 1.0, 4, 6.5)
    with pytest.raises(TypeError, match="capacity"):
        q.mmck_wait_tail(0.0, 1.0, 1.0, 4, "10")


def test_unstable_queue_reports_its_utilisation():
    with pytest.raises(ValueError, match=r"utilisation 1\.05 ≥ 1.*no steady state exists"):
        q.mmc_metrics(10.5, 1.0, 10)
    with pytest.raises(ValueError, match=r"utilisation 1\.05 ≥ 1"):
        q.erlang_c(10, 10.5)
    with pytest.raises(ValueError, match=r"utilisation 1 ≥ 1"):
        q.mm1_metrics(2.0, 2.0)
    with pytest.raises(ValueError, match=r"utilisation 1\.2 ≥ 1 \(element 2\)"):
        q.mmc_metrics([1.0, 2.0, 12.0], 1.0, 10)
    for function, args in [
        (q.mmc_wait_tail, (0.0, 3.0, 1.0, 2)),
        (q.mmc_wait_quantile, (0.5, 3.0, 1.0, 2)),
        (q.mmc_response_tail, (0.0, 3.0, 1.0, 2)),
    ]:
        with pytest.raises(ValueError, match=r"utilisation 1\.5 ≥ 1"):
            function(*args)


def test_finite_queue_answers_beyond_saturation():
    m = q.mmck_metrics([5.0, 10.0, 20.0], 1.0, 10, 30)  # offered utilisation 0.5, 1, 2
    assert np.all(np.isfinite(m.mean_wait_s))
    assert m.prob_block[2] == pytest.approx(0.5, rel=1e-6)  # half of 20/s turned away
    assert m.throughput_per_s[2] == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("quantile", [1.0, -0.1, 1.5, float("nan")])
def test_bad_quantile(quantile):
    with pytest.raises(ValueError, match="quantile"):
        q.mmc_wait_quantile(quantile, 1.0, 1.0, 2)


def test_bad_times_and_targets():
    with pytest.raises(ValueError, match="wait_s"):
        q.mmc_wait_tail(-1.0, 1.0, 1.0, 2)
    with pytest.raises(ValueError, match="time_s"):
        q.mmc_response_tail(float("inf"), 1.0, 1.0, 2)
    with pytest.raises(ValueError, match="max_mean_wait_s"):
        q.servers_for_mean_wait(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="max_probability"):
        q.servers_for_wait_tail(1.0, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="max_probability"):
        q.servers_for_wait_tail(1.0, 1.0, 1.0, 1.5)
    with pytest.raises(TypeError, match="arrival_rate"):
        q.servers_for_mean_wait([1.0, 2.0], 1.0, 0.1)
    with pytest.raises(ValueError, match="arrival_rate"):
        q.littles_law_time(3.0, 0.0)
    with pytest.raises(ValueError, match="time_s"):
        q.littles_law_rate(3.0, 0.0)
    with pytest.raises(ValueError, match="number"):
        q.littles_law_time(-1.0, 1.0)
    with pytest.raises(ValueError, match="max_utilisation"):
        q.workers_needed(1.0, 1.0, 1.0)


def test_staffing_edge_cases():
    assert q.servers_for_mean_wait(0.0, 1.0, 0.1) == 1
    assert q.servers_for_wait_tail(0.0, 1.0, 0.0, 0.5) == 1
    # p = 1 is met by the smallest stable pool
    assert q.servers_for_wait_tail(9.5, 1.0, 0.0, 1.0) == 10
    # an integral offered load needs one more server than the load
    assert q.servers_for_mean_wait(10.0, 1.0, 1e9) == 11


def test_no_silent_nan_anywhere():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [
            q.erlang_b(5, np.array([0.0, 1e-300, 1e300])),
            q.mmck_metrics(np.array([0.0, 1e-300, 1e10]), 1.0, 3, 10).mean_wait_s,
            q.mmc_wait_quantile(np.array([0.0, 0.5, 0.999999]), 0.0, 1.0, 3),
            q.mmc_response_tail(np.array([0.0, 1e300]), 1.0, 1.0, 3),
            q.mmck_wait_tail(np.array([0.0, 1e300]), 1e10, 1.0, 3, 10),
        ]
    for value in values:
        assert not np.any(np.isnan(value))
