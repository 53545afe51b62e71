"""Tests for outage_kit.simulation.

* Closed forms: waiting times of the M/M/c queue against Erlang C (mean, probability of
  waiting, 95th percentile), with batch-means confidence intervals computed here.
* Oracles: SimPy models of the same queue, fed the same samples, give the same waiting times
  (FIFO without timeouts) and the same attempt-by-attempt history (timeouts, retries with
  jittered backoff, dropping of expired requests).
* Internal agreement: the recursion and the event loop, numba and plain Python, give
  identical results; conservation holds at every bin boundary; time series agree with counts.
* Behaviour the lessons rely on: retries raise offered load, zombie work wastes capacity,
  dropping expired requests restores goodput; budgets, breakers, admission control and
  slowdown do what their rules say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from outage_kit import _sim_kernel, queueing
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
from outage_kit.simulation import (
    ConstantRate,
    Ramp,
    RateFunction,
    Service,
    Spike,
    simulate,
)

HAVE_NUMBA = _sim_kernel.numba_available()
NUMBA_MODES = [pytest.param(False, id="python"), pytest.param(True, id="numba")]
if not HAVE_NUMBA:
    NUMBA_MODES[1] = pytest.param(
        True, id="numba", marks=pytest.mark.skip(reason="numba not installed")
    )

CONFIDENCE = 0.999  # two-sided level of every statistical check in this file


def t_half_width(samples: np.ndarray) -> float:
    """Half-width of the CONFIDENCE t-interval for the mean of independent samples."""
    n = len(samples)
    return stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * np.std(samples, ddof=1) / np.sqrt(n)


# ---------------------------------------------------------------------------------------------
# Erlang C
# ---------------------------------------------------------------------------------------------

# (workers, utilisation, requests). Batches of >= 10,000 arrivals are hundreds of relaxation
# times long (about 1 / (c mu (1 - sqrt(rho))^2): ~1,500 arrivals at c=10, rho=0.95), so batch
# means are close to independent.
ERLANG_CASES = [(1, 0.5, 500_000), (4, 0.8, 1_000_000), (10, 0.95, 3_000_000), (50, 0.9, 2_000_000)]
N_BATCHES = 20


@pytest.mark.parametrize("workers, utilisation, n_requests", ERLANG_CASES)
def test_waits_match_erlang_c(workers, utilisation, n_requests):
    """Mean wait, P(wait > 0) and 95th-percentile wait inside 99.9% batch-means intervals."""
    service_rate = 1.0
    arrival_rate = utilisation * workers * service_rate
    r = simulate(
        arrivals=arrival_rate,
        service=Service(1.0 / service_rate),
        workers=workers,
        horizon_s=n_requests / arrival_rate,
        seed=1000 + workers,
        record_requests=True,
    )
    assert r.engine == "recursion"
    waits = r.attempts["wait_s"].to_numpy()
    waits = waits[len(waits) // 20 :]  # warm-up from an empty system: drop the first 5%
    batches = np.array_split(waits, N_BATCHES)
    metrics = queueing.mmc_metrics(arrival_rate, service_rate, workers)
    expected = {
        "mean": metrics.mean_wait_s,
        "prob_wait": queueing.mmc_wait_tail(0.0, arrival_rate, service_rate, workers),
        "p95": queueing.mmc_wait_quantile(0.95, arrival_rate, service_rate, workers),
    }
    estimates = {
        "mean": np.array([b.mean() for b in batches]),
        "prob_wait": np.array([np.mean(b > 0) for b in batches]),
        "p95": np.array([np.quantile(b, 0.95) for b in batches]),
    }
    for name, values in estimates.items():
        error = abs(values.mean() - float(expected[name]))
        assert error <= t_half_width(values), (name, values.mean(), expected[name])


# ---------------------------------------------------------------------------------------------
# SimPy oracles
# ---------------------------------------------------------------------------------------------


def simpy_fifo_waits(interarrival_s, service_s, workers):
    """Waiting times of a FIFO queue with ``workers`` servers, modelled in SimPy."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=workers)
    waits = np.full(len(service_s), np.nan)

    def customer(i):
        arrived = env.now
        with server.request() as request:
            yield request
            waits[i] = env.now - arrived
            yield env.timeout(service_s[i])

    def source():
        for i, gap in enumerate(interarrival_s):
            yield env.timeout(gap)
            env.process(customer(i))

    env.process(source())
    env.run()
    return waits


def simpy_retry_history(interarrival_s, service_table, uniforms, workers, timeout_s, policy, drop):
    """Attempt-by-attempt history of clients with timeouts and retries, modelled in SimPy.

    Returns (arrival, start, end, outcome) arrays of shape (requests, max_attempts); outcome
    is 1 for success, 2 for timeout, 0 for not sent; ``start`` is the service start or drop.
    """
    n, m = service_table.shape
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=workers)
    arrival, start, end = (np.full((n, m), np.nan) for _ in range(3))
    outcome = np.zeros((n, m), dtype=int)

    def serve(i, k, deadline, done):
        with server.request() as request:
            yield request
            start[i, k] = env.now
            if drop and deadline <= env.now:
                return
            yield env.timeout(service_table[i, k])
            end[i, k] = env.now
            if not done.triggered:
                done.succeed()

    def client(i):
        previous = getattr(policy, "base_s", 0.0)
        for k in range(m):
            arrival[i, k] = env.now
            done = env.event()
            env.process(serve(i, k, env.now + timeout_s, done))
            yield done | env.timeout(timeout_s)
            if done.triggered:
                outcome[i, k] = 1
                return
            outcome[i, k] = 2
            if k + 1 == m:
                return
            delay = float(policy.delay_from_uniform_s(uniforms[k, i], k + 1, previous))
            previous = delay
            yield env.timeout(delay)

    def source():
        for i, gap in enumerate(interarrival_s):
            yield env.timeout(gap)
            env.process(client(i))

    env.process(source())
    env.run()
    return arrival, start, end, outcome


@pytest.mark.parametrize("use_numba", NUMBA_MODES)
@pytest.mark.parametrize("engine", ["recursion", "event"])
def test_fifo_waits_equal_simpy(engine, use_numba):
    rng = np.random.default_rng(7)
    n, workers = 5_000, 3
    gaps = rng.exponential(1 / 2.7, n)
    service = rng.exponential(1.0, n)
    r = simulate(
        interarrival_s=gaps,
        service_s=service,
        workers=workers,
        engine=engine,
        use_numba=use_numba,
        record_requests=True,
    )
    expected = simpy_fifo_waits(gaps, service, workers)
    assert np.mean(expected > 0) > 0.3  # the queue is busy enough to test something
    np.testing.assert_allclose(r.attempts["wait_s"].to_numpy(), expected, rtol=0, atol=1e-9)


def attempt_grid(result, n, m, column):
    """Per-attempt column as an (n, m) array (nan where no attempt was sent)."""
    a = result.attempts
    grid = np.full((n, m), np.nan)
    grid[a["request_id"].to_numpy(), a["attempt"].to_numpy() - 1] = a[column].to_numpy()
    return grid


@pytest.mark.parametrize("use_numba", NUMBA_MODES)
@pytest.mark.parametrize(
    "policy, drop",
    [
        (FullJitter(base_s=0.2, cap_s=4.0), False),
        (DecorrelatedJitter(base_s=0.2, cap_s=4.0), True),
        (ExponentialBackoff(base_s=0.5, cap_s=4.0, multiplier=1.6, jitter=0.2), True),
    ],
    ids=["full-jitter", "decorrelated-drop", "grpc-like-drop"],
)
def test_retry_history_equals_simpy(policy, drop, use_numba):
    """Same samples, same uniforms: every attempt's arrival, start, end and outcome agree."""
    rng = np.random.default_rng(11)
    n, m, workers, timeout = 3_000, 4, 4, 2.5
    gaps = rng.exponential(1 / 3.7, n)
    service = rng.exponential(1.0, (n, m))
    seed = 5
    r = simulate(
        interarrival_s=gaps,
        service_s=service,
        workers=workers,
        timeout_s=timeout,
        retry=RetryPolicy(policy, max_attempts=m),
        server_policy=ServerPolicy(drop_expired=drop),
        seed=seed,
        record_requests=True,
        use_numba=use_numba,
    )
    # simulate draws nothing for explicit samples, so its first draw is the backoff uniforms.
    uniforms = np.random.default_rng(seed).random((m - 1, n))
    arrival, start, end, outcome = simpy_retry_history(
        gaps, service, uniforms, workers, timeout, policy, drop
    )
    assert r.summary.n_retries > 300  # retries do happen
    if drop:
        assert r.summary.n_dropped > 10
    np.testing.assert_allclose(attempt_grid(r, n, m, "arrival_s"), arrival, rtol=0, atol=1e-9)
    got_start = attempt_grid(r, n, m, "arrival_s") + attempt_grid(r, n, m, "wait_s")
    np.testing.assert_allclose(got_start, start, rtol=0, atol=1e-9)
    np.testing.assert_allclose(attempt_grid(r, n, m, "end_s"), end, rtol=0, atol=1e-9)
    codes = r.attempts["client_outcome"].cat.codes.to_numpy() + 1  # success 1, timeout 2
    got_outcome = np.zeros((n, m), dtype=int)
    got_outcome[r.attempts["request_id"], r.attempts["attempt"] - 1] = codes
    np.testing.assert_array_equal(got_outcome, outcome)


# ---------------------------------------------------------------------------------------------
# Engines and runtimes agree
# ---------------------------------------------------------------------------------------------


def test_recursion_and_event_loop_agree_with_timeouts():
    kwargs = dict(arrivals=9.0, service=1.0, workers=10, horizon_s=2_000.0, timeout_s=2.0, seed=3)
    fast = simulate(**kwargs, record_requests=True)
    slow = simulate(**kwargs, record_requests=True, engine="event")
    assert (fast.engine, slow.engine) == ("recursion", "event")
    assert fast.summary.n_abandoned > 100
    pd.testing.assert_frame_equal(fast.attempts, slow.attempts)
    pd.testing.assert_frame_equal(fast.requests, slow.requests)
    pd.testing.assert_frame_equal(fast.counts, slow.counts)
    pd.testing.assert_frame_equal(fast.timeseries, slow.timeseries)


EVERYTHING = dict(
    arrivals=Spike(7.0, 25.0, start_s=50.0, duration_s=20.0),
    service=Service(1.0, "gamma", cv=0.7, slowdown_per_request=0.01),
    workers=8,
    queue_capacity=60,
    timeout_s=3.0,
    retry=RetryPolicy(
        DecorrelatedJitter(0.1, 3.0),
        max_attempts=4,
        budget=RetryBudget(deposit_per_success=0.2, max_tokens=20.0),
        circuit_breaker=CircuitBreaker(failure_threshold=30, open_s=1.0),
    ),
    server_policy=ServerPolicy(
        AdmissionControl(rate_per_s=20.0, burst=10.0, max_queue_length=40), drop_expired=True
    ),
    horizon_s=300.0,
    bin_s=5.0,
)


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_numba_and_python_give_identical_results():
    fast = simulate(**EVERYTHING, seed=8, record_requests=True, use_numba=True)
    slow = simulate(**EVERYTHING, seed=8, record_requests=True, use_numba=False)
    assert fast.accelerated and not slow.accelerated
    s = fast.summary
    assert min(s.n_rejected, s.n_dropped, s.n_retries, s.n_short_circuited, s.n_abandoned) > 0
    pd.testing.assert_frame_equal(fast.attempts, slow.attempts)
    pd.testing.assert_frame_equal(fast.requests, slow.requests)
    pd.testing.assert_frame_equal(fast.counts, slow.counts)


def test_environment_variable_forces_plain_python(monkeypatch):
    monkeypatch.setenv("OUTAGE_KIT_DISABLE_NUMBA", "1")
    r = simulate(arrivals=1.0, service=0.5, horizon_s=50.0, seed=1)
    assert not r.accelerated
    with pytest.raises(ImportError, match="numba"):
        simulate(arrivals=1.0, service=0.5, horizon_s=50.0, seed=1, use_numba=True)


# ---------------------------------------------------------------------------------------------
# Conservation
# ---------------------------------------------------------------------------------------------

CONSERVATION_CASES = {
    "everything": EVERYTHING,
    "no-retry-timeouts": dict(
        arrivals=11.0, service=1.0, workers=10, horizon_s=300.0, timeout_s=2.0, bin_s=3.0
    ),
    "immediate-retries-bounded-queue": dict(
        arrivals=Ramp(2.0, 20.0, 0.0, 200.0),
        service=Service(0.5, "lognormal", cv=1.5),
        workers=4,
        queue_capacity=10,
        timeout_s=1.0,
        retry=RetryPolicy(FixedDelay(0.0), max_attempts=5),
        horizon_s=250.0,
        bin_s=2.5,
    ),
    # Deterministic gaps, service, timeout and delays: many events fall exactly on bin edges.
    "ties-on-bin-edges": dict(
        interarrival_s=np.full(400, 0.25),
        service_s=np.full(400, 1.0),
        workers=3,
        queue_capacity=4,
        timeout_s=1.5,
        retry=RetryPolicy(FixedDelay(0.5), max_attempts=3),
        server_policy=ServerPolicy(drop_expired=True),
        bin_s=0.25,
    ),
}


@pytest.mark.parametrize("case", list(CONSERVATION_CASES))
def test_conservation_at_every_bin_boundary(case):
    kwargs = CONSERVATION_CASES[case]
    r = simulate(**kwargs, seed=21)
    c = r.counts
    assert len(c) == len(r.timeseries) + 1
    # Client view: arrivals = completed + abandoned + rejected + still awaited.
    client = c.attempts_succeeded + c.attempts_abandoned + c.attempts_rejected + c.attempts_waiting
    pd.testing.assert_series_equal(c.attempts, client, check_names=False)
    # Server view: arrivals = served + dropped + rejected + queued + in service.
    server = c.served + c.dropped + c.attempts_rejected + c.queue_length + c.in_service
    pd.testing.assert_series_equal(c.attempts, server, check_names=False)
    # User view: requests = succeeded + failed + awaiting a response + backing off.
    users = c.requests_succeeded + c.requests_failed + c.requests_waiting + c.requests_backing_off
    pd.testing.assert_series_equal(c.requests, users, check_names=False)
    assert (c.drop(columns="time_s") >= 0).all().all()
    assert (c.in_service <= r.workers).all()
    if kwargs.get("queue_capacity") is not None:
        assert (c.queue_length <= kwargs["queue_capacity"]).all()
    # Totals at the end of the run (after the drain) match the summary.
    s = r.summary
    assert s.n_requests == s.n_succeeded + s.n_failed
    first_attempts = s.n_attempts - s.n_retries
    # Requests whose first attempt was blocked by the breaker sent none.
    assert s.n_requests - s.n_short_circuited <= first_attempts <= s.n_requests
    assert s.n_attempts == s.n_succeeded + s.n_abandoned + s.n_rejected


@st.composite
def small_models(draw):
    """Random small models exercising every mechanism, with coarse times to force ties."""
    workers = draw(st.integers(1, 4))
    backoff = draw(
        st.sampled_from(
            [FixedDelay(0.0), FixedDelay(0.5), FullJitter(0.1, 2.0), DecorrelatedJitter(0.2, 1.0)]
        )
    )
    retry = RetryPolicy(
        backoff,
        max_attempts=draw(st.integers(1, 4)),
        budget=draw(st.sampled_from([None, RetryBudget(0.5, 1.0, 3.0)])),
        circuit_breaker=draw(st.sampled_from([None, CircuitBreaker(3, 1.0)])),
    )
    admission = draw(
        st.sampled_from([None, AdmissionControl(rate_per_s=3.0, burst=2.0, max_queue_length=2)])
    )
    n = draw(st.integers(0, 120))
    coarse = draw(st.booleans())  # times on a 0.25 s grid: many simultaneous events
    gaps = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    services = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    scale = 0.25 if coarse else 0.2371
    return dict(
        interarrival_s=np.array(gaps, dtype=float) * scale + (0 if coarse else 1e-3),
        service_s=np.array(services, dtype=float) * scale,
        workers=workers,
        queue_capacity=draw(st.sampled_from([None, 0, 3])),
        timeout_s=draw(st.sampled_from([None, 0.5, 1.0, 2.0])),
        retry=retry,
        server_policy=ServerPolicy(admission, drop_expired=draw(st.booleans())),
        horizon_s=40.0,
        bin_s=draw(st.sampled_from([0.25, 1.0, 7.0])),
        seed=draw(st.integers(0, 1000)),
        service=Service(1.0, slowdown_per_request=0.2) if draw(st.booleans()) else None,
    )


@settings(max_examples=40, deadline=None)
@given(model=small_models())
def test_conservation_property(model):
    """Conservation at every bin boundary, an outcome for every request, numba = Python."""
    if model["service"] is not None:
        model = {**model, "service_s": None}
    else:
        model = {**model}
        del model["service"]
    r = simulate(**model, record_requests=True, use_numba=HAVE_NUMBA)
    c = r.counts
    client = c.attempts_succeeded + c.attempts_abandoned + c.attempts_rejected + c.attempts_waiting
    server = c.served + c.dropped + c.attempts_rejected + c.queue_length + c.in_service
    users = c.requests_succeeded + c.requests_failed + c.requests_waiting + c.requests_backing_off
    assert (c.attempts == client).all()
    assert (c.attempts == server).all()
    assert (c.requests == users).all()
    assert (c.in_service <= r.workers).all()
    assert (c.drop(columns="time_s") >= 0).all().all()
    assert r.requests.outcome.notna().all()
    assert r.attempts.client_outcome.notna().all() and r.attempts.server_outcome.notna().all()
    assert (r.requests.attempts <= model["retry"].max_attempts).all()
    if HAVE_NUMBA:  # the plain-Python kernel agrees exactly, edge cases included
        plain = simulate(**model, record_requests=True, use_numba=False)
        pd.testing.assert_frame_equal(r.attempts, plain.attempts)
        pd.testing.assert_frame_equal(r.counts, plain.counts)


def test_counts_and_timeseries_agree():
    r = simulate(**EVERYTHING, seed=4, record_requests=True)
    ts, c = r.timeseries, r.counts
    width = np.diff(c.time_s.to_numpy())
    pairs = {
        "arrival_rate_per_s": "requests",
        "offered_rate_per_s": "attempts",
        "rejected_rate_per_s": "attempts_rejected",
        "throughput_per_s": "served",
        "goodput_per_s": "attempts_succeeded",
        "timeout_rate_per_s": "attempts_abandoned",
        "dropped_rate_per_s": "dropped",
        "failure_rate_per_s": "requests_failed",
    }
    for rate, count in pairs.items():
        np.testing.assert_allclose(ts[rate] * width, np.diff(c[count]), atol=1e-9, err_msg=rate)
    # Time integrals equal per-attempt sums over [0, horizon].
    a = r.attempts
    h = r.horizon_s
    admitted = a[a.server_outcome != "rejected"]
    waited = np.minimum(admitted.arrival_s + admitted.wait_s, h) - np.minimum(admitted.arrival_s, h)
    assert np.sum(ts.queue_length * width) == pytest.approx(waited.sum(), rel=1e-9)
    served = a[a.server_outcome == "served"]
    start = served.arrival_s + served.wait_s
    busy = np.minimum(served.end_s, h) - np.minimum(start, h)
    assert ts.busy_work_s.sum() == pytest.approx(busy.sum(), rel=1e-9)
    zombie = served.zombie
    assert ts.wasted_work_s.sum() == pytest.approx(busy[zombie].sum(), rel=1e-9)
    # Latency percentiles per arrival bin, recomputed with pandas.
    in_window = served[served.arrival_s < h]
    bins = np.searchsorted(c.time_s.to_numpy(), in_window.arrival_s, side="right") - 1
    p95 = in_window.response_s.groupby(bins).quantile(0.95)
    np.testing.assert_allclose(ts.latency_p95_s.to_numpy()[p95.index], p95.to_numpy())


def test_binned_uses_any_bin_width():
    r = simulate(arrivals=5.0, service=0.1, horizon_s=100.0, seed=2)
    ts = r.binned(30.0)
    np.testing.assert_allclose(ts.time_s, [0.0, 30.0, 60.0, 90.0])
    total = np.sum(ts.arrival_rate_per_s * np.diff([0.0, 30.0, 60.0, 90.0, 100.0]))
    assert total == pytest.approx(r.summary.n_requests)
    assert len(r.timeseries) == 100
    with pytest.raises(ValueError, match="bin_s"):
        r.binned(0.0)


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------


def test_same_seed_identical_results():
    a = simulate(**EVERYTHING, seed=99, record_requests=True)
    b = simulate(**EVERYTHING, seed=np.random.default_rng(99), record_requests=True)
    pd.testing.assert_frame_equal(a.attempts, b.attempts)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    c = simulate(**EVERYTHING, seed=100, record_requests=True)
    assert not a.attempts["arrival_s"].equals(c.attempts["arrival_s"])


def test_common_random_numbers_across_policies():
    """Changing only the retry policy keeps every request's arrival and first service time."""
    base = dict(arrivals=9.5, service=1.0, workers=10, horizon_s=200.0, timeout_s=2.0, seed=5)
    plain = simulate(**base, record_requests=True).attempts
    retried = simulate(**base, retry=RetryPolicy(max_attempts=3), record_requests=True).attempts
    first = retried[retried.attempt == 1].reset_index(drop=True)
    np.testing.assert_array_equal(first.arrival_s, plain.arrival_s)
    np.testing.assert_array_equal(first.request_id, plain.request_id)
    # The first attempts that started before any retry arrived were served identically.
    before = plain.arrival_s < retried[retried.attempt > 1].arrival_s.min()
    np.testing.assert_array_equal(first.service_s[before], plain.service_s[before])


# ---------------------------------------------------------------------------------------------
# What the lessons rely on
# ---------------------------------------------------------------------------------------------

STORM = dict(
    arrivals=Spike(8.0, 20.0, start_s=60.0, duration_s=30.0),
    service=1.0,
    workers=10,
    horizon_s=600.0,
    timeout_s=3.0,
    bin_s=30.0,
    seed=11,
)
BACKOFF = FullJitter(base_s=0.1, cap_s=2.0)


def test_retries_raise_offered_load():
    plain = simulate(**STORM)
    retried = simulate(**STORM, retry=RetryPolicy(BACKOFF, max_attempts=4))
    assert retried.summary.attempts_per_request > 2.0
    after_spike = slice(3, None)  # bins after the spike ended at 90 s
    plain_offered = plain.timeseries.offered_rate_per_s[after_spike].mean()
    retried_offered = retried.timeseries.offered_rate_per_s[after_spike].mean()
    assert retried_offered > 2 * plain_offered
    # Retries turn a temporary spike into a lasting outage (metastable failure).
    assert retried.timeseries.goodput_per_s.iloc[-3:].max() < 1.0
    assert plain.timeseries.goodput_per_s.iloc[-3:].min() > 6.0


def test_zombie_work_wastes_capacity():
    r = simulate(**STORM)
    ts = r.timeseries
    overloaded = ts.utilisation > 0.99
    assert overloaded.sum() >= 3
    # Workers are saturated, yet little of their work reaches a client.
    assert (ts.goodput_per_s[overloaded] < 0.5 * ts.throughput_per_s[overloaded]).all()
    assert (ts.wasted_work_s[overloaded] > 0.5 * ts.busy_work_s[overloaded]).all()
    assert r.summary.wasted_fraction > 0.3


def test_dropping_expired_requests_restores_goodput():
    zombie = simulate(**STORM)
    dropping = simulate(**STORM, server_policy=ServerPolicy(drop_expired=True))
    assert dropping.summary.n_dropped > 0
    assert dropping.summary.success_fraction > zombie.summary.success_fraction + 0.15
    assert dropping.summary.wasted_work_s < 0.7 * zombie.summary.wasted_work_s
    # After the spike, goodput returns to the arrival rate far sooner when dropping.
    first_recovered = {}
    for name, r in {"zombie": zombie, "dropping": dropping}.items():
        ts = r.timeseries
        recovered = (ts.time_s > 90.0) & (ts.goodput_per_s > 0.8 * ts.arrival_rate_per_s)
        first_recovered[name] = ts.time_s[recovered].min()
    assert first_recovered["dropping"] + 90.0 < first_recovered["zombie"]


def test_retry_budget_caps_retries():
    budget = RetryBudget(deposit_per_success=0.1, cost_per_retry=1.0, max_tokens=10.0)
    r = simulate(**STORM, retry=RetryPolicy(BACKOFF, max_attempts=4, budget=budget))
    s = r.summary
    assert s.n_retries <= budget.start_tokens + budget.retries_per_success * s.n_succeeded
    assert s.attempts_per_request < 1.2
    assert simulate(**STORM, retry=RetryPolicy(BACKOFF, max_attempts=4)).summary.n_retries > (
        5 * s.n_retries
    )


def test_circuit_breaker_rule_exactly():
    """Every attempt fails: 3 failures open the breaker for 10 s, then one probe re-opens it."""
    n = 40
    r = simulate(
        interarrival_s=np.ones(n),  # arrivals at 1, 2, ..., 40 s
        service_s=np.full(n, 1000.0),  # the first request occupies the only worker for good
        workers=1,
        timeout_s=0.5,
        retry=RetryPolicy(max_attempts=1, circuit_breaker=CircuitBreaker(3, open_s=10.0)),
        record_requests=True,
    )
    outcome = r.requests.set_index("request_id").outcome
    sent = r.requests.arrival_s[outcome != "short_circuited"].to_numpy()
    # Failures at 1.5, 2.5, 3.5 open it until 13.5; the probe at 14 fails at 14.5, and so on.
    np.testing.assert_array_equal(sent, [1.0, 2.0, 3.0, 14.0, 25.0, 36.0])
    assert r.summary.n_short_circuited == n - 6


def test_circuit_breaker_protects_goodput():
    plain = simulate(**STORM, retry=RetryPolicy(BACKOFF, max_attempts=4))
    breaker = CircuitBreaker(failure_threshold=10, open_s=2.0)
    guarded = simulate(**STORM, retry=RetryPolicy(BACKOFF, max_attempts=4, circuit_breaker=breaker))
    assert guarded.summary.n_short_circuited > 0
    assert guarded.summary.success_fraction > plain.summary.success_fraction + 0.3


def test_admission_control_limits_rate_and_queue():
    admission = AdmissionControl(rate_per_s=6.0, burst=5.0, max_queue_length=3)
    r = simulate(
        **{**STORM, "server_policy": ServerPolicy(admission)}, retry=RetryPolicy(max_attempts=2)
    )
    c = r.counts
    admitted = c.attempts - c.attempts_rejected
    elapsed = c.time_s.to_numpy()
    assert np.all(admitted.to_numpy() <= admission.burst + admission.rate_per_s * elapsed + 1e-9)
    assert (c.queue_length <= admission.max_queue_length).all()
    assert r.summary.n_rejected > 0


def test_bounded_queue_rejects_exactly_when_full():
    r = simulate(
        interarrival_s=[1.0, 1.0, 1.0, 1.0],
        service_s=[10.0, 1.0, 1.0, 1.0],
        workers=1,
        queue_capacity=2,
        record_requests=True,
    )
    a = r.attempts
    assert a.server_outcome.tolist() == ["served", "served", "served", "rejected"]
    np.testing.assert_allclose(a.wait_s[:3], [0.0, 9.0, 9.0])


def test_slowdown_under_load():
    r = simulate(
        interarrival_s=[0.1, 0.1, 0.1],
        service=Service(1.0, "deterministic", slowdown_per_request=0.5, slowdown_onset=1),
        workers=3,
        record_requests=True,
    )
    # Concurrency 1, 2, 3 when each starts: factors 1, 1.5, 2.
    np.testing.assert_allclose(r.attempts.service_s, [1.0, 1.5, 2.0])
    loaded = simulate(
        arrivals=9.0,
        service=Service(1.0, slowdown_per_request=0.05),
        workers=10,
        horizon_s=300.0,
        seed=1,
    )
    plain = simulate(arrivals=9.0, service=1.0, workers=10, horizon_s=300.0, seed=1)
    assert loaded.summary.mean_response_s > plain.summary.mean_response_s


@pytest.mark.parametrize("use_numba", NUMBA_MODES)
@pytest.mark.parametrize(
    "policy",
    [
        FixedDelay(0.3),
        ExponentialBackoff(0.1, 2.0),
        ExponentialBackoff.grpc(),
        FullJitter(0.1, 2.0),
        EqualJitter(0.1, 2.0, multiplier=3.0),
        DecorrelatedJitter(0.1, 2.0),
    ],
    ids=repr,
)
def test_simulated_retry_delays_follow_the_policy(policy, use_numba):
    """Each retry is sent exactly the policy's delay after its predecessor timed out."""
    n, m, timeout = 50, 6, 1.0
    r = simulate(
        interarrival_s=np.full(n, 0.37),
        service_s=np.full(n, 500.0),  # nothing completes in time: every attempt times out
        workers=1,
        timeout_s=timeout,
        retry=RetryPolicy(policy, max_attempts=m),
        seed=9,
        record_requests=True,
        use_numba=use_numba,
    )
    arrivals = attempt_grid(r, n, m, "arrival_s")
    uniforms = np.random.default_rng(9).random((m - 1, n))
    previous = np.full(n, getattr(policy, "base_s", 0.0))
    for k in range(1, m):
        delay = policy.delay_from_uniform_s(uniforms[k - 1], k, previous)
        np.testing.assert_array_equal(arrivals[:, k], (arrivals[:, k - 1] + timeout) + delay)
        previous = delay
    assert (r.requests.outcome == "exhausted").all()


# ---------------------------------------------------------------------------------------------
# Arrivals and service times
# ---------------------------------------------------------------------------------------------


def poisson_interval(mean: float) -> tuple[float, float]:
    return stats.poisson.ppf((1 - CONFIDENCE) / 2, mean), stats.poisson.ppf(
        (1 + CONFIDENCE) / 2, mean
    )


@pytest.mark.parametrize(
    "process, window, expected",
    [
        (ConstantRate(50.0), (0.0, 100.0), 5000.0),
        (Spike(5.0, 80.0, 20.0, 10.0), (20.0, 30.0), 800.0),
        (Spike(5.0, 80.0, 20.0, 10.0), (30.0, 100.0), 350.0),
        (Ramp(0.0, 100.0, 0.0, 50.0), (0.0, 50.0), 2500.0),
        (Ramp(0.0, 100.0, 0.0, 50.0), (50.0, 100.0), 5000.0),
        (
            RateFunction(lambda t: 40.0 * (t / 100.0) ** 2, max_rate_per_s=40.0),
            (0.0, 100.0),
            4000 / 3,
        ),
    ],
    ids=repr,
)
def test_arrival_counts_match_the_rate(process, window, expected):
    times = process.arrival_times_s(100.0, rng=17)
    assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < 100.0
    count = np.sum((times >= window[0]) & (times < window[1]))
    low, high = poisson_interval(expected)
    assert low <= count <= high


def test_rate_function_above_its_bound_is_an_error():
    process = RateFunction(lambda t: np.full_like(t, 5.0), max_rate_per_s=4.0)
    with pytest.raises(ValueError, match="max_rate_per_s"):
        simulate(arrivals=process, service=1.0, horizon_s=10.0, seed=0)


@pytest.mark.parametrize(
    "service, mean, cv",
    [
        (Service(2.0), 2.0, 1.0),
        (Service(2.0, "deterministic"), 2.0, 0.0),
        (Service(2.0, "lognormal", cv=0.5), 2.0, 0.5),
        (Service(2.0, "gamma", cv=2.0), 2.0, 2.0),
    ],
    ids=repr,
)
def test_service_time_distributions(service, mean, cv):
    samples = service.sample_s(200_000, rng=3)
    assert samples.min() >= 0
    if cv == 0:
        assert np.all(samples == mean)
        return
    assert abs(samples.mean() - mean) <= t_half_width(samples)
    # Variance: CI from the delta method, Var(s^2) ~ (m4 - s^4) / n.
    var = samples.var(ddof=1)
    m4 = np.mean((samples - samples.mean()) ** 4)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    assert abs(var - (cv * mean) ** 2) <= z * np.sqrt((m4 - var**2) / samples.size)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

GOOD = dict(arrivals=1.0, service=0.5, horizon_s=10.0)


@pytest.mark.parametrize(
    "change, name",
    [
        (dict(arrivals=-1.0), "arrivals"),
        (dict(arrivals=ConstantRate(1.0), horizon_s=-5.0), "horizon_s"),
        (dict(horizon_s=0.0), "horizon_s"),
        (dict(horizon_s=None), "horizon_s"),
        (dict(timeout_s=0.0), "timeout_s"),
        (dict(timeout_s=-1.0), "timeout_s"),
        (dict(workers=0), "workers"),
        (dict(queue_capacity=-1), "queue_capacity"),
        (dict(bin_s=0.0), "bin_s"),
        (dict(engine="fast"), "engine"),
        (dict(service=-0.5), "mean_s"),
        (dict(interarrival_s=[1.0]), "exactly one of arrivals"),
        (dict(service_s=[1.0]), "exactly one of service"),
        (dict(queue_capacity=5, engine="recursion"), "recursion"),
    ],
)
def test_bad_input_names_the_argument(change, name):
    with pytest.raises(ValueError, match=name):
        simulate(**{**GOOD, **change})


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: ConstantRate(-2.0), "rate_per_s"),
        (lambda: Spike(1.0, -1.0, 0.0, 1.0), "spike_rate_per_s"),
        (lambda: Ramp(1.0, 2.0, 5.0, 5.0), "end_s"),
        (lambda: Service(1.0, "pareto"), "distribution"),
        (lambda: Service(0.0), "mean_s"),
        (lambda: Service(1.0, "gamma", cv=0.0), "cv"),
        (lambda: Service(1.0, "exponential", cv=2.0), "cv"),
        (lambda: Service(1.0, slowdown_per_request=-0.1), "slowdown_per_request"),
    ],
)
def test_bad_configuration_names_the_parameter(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_bad_explicit_samples():
    with pytest.raises(ValueError, match="interarrival_s"):
        simulate(interarrival_s=[1.0, -1.0], service_s=[1.0, 1.0])
    with pytest.raises(ValueError, match="service_s"):
        simulate(interarrival_s=[1.0, 1.0], service_s=[1.0])
    with pytest.raises(ValueError, match="service_s"):
        simulate(interarrival_s=[1.0], service_s=[np.nan])
    with pytest.raises(TypeError, match="retry"):
        simulate(**GOOD, retry=FullJitter(0.1, 1.0))


def test_empty_and_tiny_runs():
    r = simulate(arrivals=0.0, service=1.0, horizon_s=10.0, seed=0)
    assert r.summary.n_requests == 0 and len(r.timeseries) == 100
    assert (r.counts.attempts == 0).all()
    one = simulate(interarrival_s=[2.0], service_s=[3.0], timeout_s=1.0, record_requests=True)
    assert one.requests.outcome.tolist() == ["exhausted"]
    assert one.summary.wasted_work_s == 3.0
    assert simulate(**GOOD, seed=0, retry=NoRetry()).summary.n_retries == 0


@pytest.mark.parametrize("use_numba", NUMBA_MODES)
@pytest.mark.parametrize("workers", [1, 2, 7, 40])
def test_recursion_scan_and_heap_agree(workers, use_numba):
    """Both ways of finding the earliest free worker give the same start times."""
    rng = np.random.default_rng(workers)
    arrival = np.cumsum(rng.exponential(1.0 / (0.9 * workers), 3_000))
    service = rng.exponential(1.0, 3_000)
    kernel = _sim_kernel.get_kernel("fifo_start_times", use_numba)
    starts = []
    for linear_scan in (True, False):
        if use_numba:
            out = np.empty(arrival.size)
            kernel(arrival, service, workers, linear_scan, out)
        else:
            out = [0.0] * arrival.size
            kernel(arrival.tolist(), service.tolist(), workers, linear_scan, out)
        starts.append(np.asarray(out))
    np.testing.assert_array_equal(starts[0], starts[1])
    assert np.all(starts[0] >= arrival)


def test_binned_overlap_when_no_interval_lies_within_one_bin():
    # Every interval crosses a bin edge: the per-bin sums are then built from the crossing parts
    # only (a case that once failed on numpy's integer result for an empty bincount).
    from outage_kit.simulation import _binned_overlap

    edges = np.array([0.0, 1.0, 2.0, 3.0])
    total = _binned_overlap(np.array([0.5, 0.25]), np.array([2.5, 1.0 + 0.5]), edges)
    np.testing.assert_allclose(total, [0.5 + 0.75, 1.0 + 0.5, 0.5])
