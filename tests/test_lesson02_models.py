"""Models behind lesson 02: the contention experiment, retry arithmetic, the spike scenario.

* Contention (``outage_kit.contention``): a SimPy oracle that sends every message of the AWS
  post's optimistic-concurrency model one by one, fed the same random numbers, agrees run by
  run; numba and plain Python agree; drawing numbers in advance does not change results; the
  ranking the lesson states holds by more than the runs' confidence intervals.
* Retry arithmetic (``outage_kit.retries``): closed forms against direct sums and a seeded
  Monte Carlo; the storm threshold against the request-level simulation.
* The server's queue-wait limit (``ServerPolicy(max_wait_s=...)``, added for lesson 02): a
  SimPy oracle, conservation, validation.
* What the lesson claims about its six set-ups, over ten seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy

from outage_kit import _sim_kernel, contention, retries, tables
from outage_kit.policies import (
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FixedDelay,
    FullJitter,
    NoRetry,
    RetryPolicy,
    ServerPolicy,
)
from outage_kit.simulation import Service, simulate

HAVE_NUMBA = _sim_kernel.numba_available()
NUMBA_MODES = [pytest.param(False, id="python"), pytest.param(True, id="numba")]
if not HAVE_NUMBA:
    NUMBA_MODES[1] = pytest.param(
        True, id="numba", marks=pytest.mark.skip(reason="numba not installed")
    )

RULES = contention.aws_backoff_rules()


# ---------------------------------------------------------------------------------------------
# Contention: an oracle that plays every message
# ---------------------------------------------------------------------------------------------


def simpy_occ(net, delays):
    """The AWS post's model in SimPy, message by message: (writes, completion time).

    ``net[k, i, j]`` is message j of attempt k of client i (read request, read response, write
    request, write response); ``delays[k, i]`` the backoff after attempt k fails.
    """
    n_attempts, clients, _ = net.shape
    env = simpy.Environment()
    state = {"version": 0, "writes": 0}
    done = np.full(clients, np.nan)

    def client(i):
        for k in range(n_attempts):
            yield env.timeout(net[k, i, 0])  # read request travels
            seen = state["version"]  # the server reads
            yield env.timeout(net[k, i, 1])  # read response travels
            yield env.timeout(net[k, i, 2])  # write request travels
            state["writes"] += 1
            ok = seen == state["version"]
            if ok:
                state["version"] += 1
            yield env.timeout(net[k, i, 3])  # write response travels
            if ok:
                done[i] = env.now
                return
            yield env.timeout(delays[k, i])
        raise AssertionError("the oracle ran out of attempts")

    for i in range(clients):
        env.process(client(i))
    env.run()
    assert state["version"] == clients
    return state["writes"], float(np.max(done))


def _draws(seed, clients, n_attempts, backoff):
    """The numbers occ_contention draws for one run (same streams, same order)."""
    net_seed, backoff_seed = np.random.SeedSequence(seed).spawn(1)[0].spawn(2)
    net = np.abs(
        np.random.default_rng(net_seed).normal(
            contention.AWS_NETWORK_MEAN_S, contention.AWS_NETWORK_SD_S, (n_attempts, clients, 4)
        )
    )
    uniforms = np.random.default_rng(backoff_seed).random((n_attempts, clients))
    return net, contention._backoff_table(backoff, uniforms)


@pytest.mark.parametrize("name", list(RULES))
def test_contention_equals_a_message_by_message_oracle(name):
    backoff = RULES[name]
    for seed in range(4):
        result = contention.occ_contention(12, backoff, runs=1, seed=seed)
        net, delays = _draws(seed, 12, 256, backoff)
        writes, completion = simpy_occ(net, delays)
        assert result.calls[0] == writes
        assert result.completion_s[0] == pytest.approx(completion, abs=1e-12)


def test_contention_numba_and_python_agree():
    if not HAVE_NUMBA:
        pytest.skip("numba not installed")
    for backoff in RULES.values():
        fast = contention.occ_contention(20, backoff, runs=5, seed=3, use_numba=True)
        slow = contention.occ_contention(20, backoff, runs=5, seed=3, use_numba=False)
        np.testing.assert_array_equal(fast.calls, slow.calls)
        np.testing.assert_array_equal(fast.completion_s, slow.completion_s)
        np.testing.assert_array_equal(fast.max_attempts, slow.max_attempts)


def test_contention_does_not_depend_on_how_much_is_drawn_in_advance(monkeypatch):
    backoff = RULES["exponential, no jitter"]
    reference = contention.occ_contention(30, backoff, runs=3, seed=5)
    monkeypatch.setattr(contention, "_FIRST_ALLOCATION", 1)
    again = contention.occ_contention(30, backoff, runs=3, seed=5)
    np.testing.assert_array_equal(reference.calls, again.calls)
    np.testing.assert_array_equal(reference.completion_s, again.completion_s)
    assert reference.max_attempts.max() > 1  # the reallocation path was used


def test_one_client_never_conflicts():
    r = contention.occ_contention(1, RULES["full jitter"], runs=50, seed=2)
    assert (r.calls == 1).all() and (r.max_attempts == 1).all()
    # Four network delays of |N(10 ms, 2 ms)|.
    assert abs(r.mean_completion_s - 0.040) < 4 * 0.004 / math.sqrt(50)


def test_every_client_writes_once_successfully():
    for backoff in RULES.values():
        r = contention.occ_contention(25, backoff, runs=20, seed=8)
        assert (r.calls >= 25).all()
        assert (r.max_attempts >= 1).all()
        assert (r.completion_s > 0.0).all()


def test_common_random_numbers_across_rules():
    """With zero backoff delays two rules see the same run: same writes, same completion."""
    a = contention.occ_contention(15, FixedDelay(0.0), runs=4, seed=9)
    b = contention.occ_contention(
        15, ExponentialBackoff(base_s=1e-300, cap_s=1e-300), runs=4, seed=9
    )
    np.testing.assert_array_equal(a.calls, b.calls)


def test_aws_rules_follow_the_posts_parameters():
    assert RULES["full jitter"].max_delay_s(1) == pytest.approx(2 * contention.AWS_BASE_S)
    assert RULES["equal jitter"].min_delay_s(1) == pytest.approx(contention.AWS_BASE_S)
    assert RULES["exponential, no jitter"].scale_s(20) == pytest.approx(contention.AWS_CAP_S)
    decorrelated = RULES["decorrelated jitter"]
    assert isinstance(decorrelated, DecorrelatedJitter)
    assert decorrelated.min_delay_s(1) == contention.AWS_BASE_S
    assert isinstance(RULES["equal jitter"], EqualJitter)
    assert isinstance(RULES["full jitter"], FullJitter)


def test_jitter_ranking_that_the_lesson_states():
    """At 50 clients, 100 runs: each gap exceeds the sum of the two 95 % half-widths."""
    t = tables.jitter_experiment([50]).set_index("rule")

    def clearly_less(a, b, value, ci):
        return t.loc[a, value] + t.loc[a, ci] < t.loc[b, value] - t.loc[b, ci]

    calls, calls_ci = "mean_calls", "calls_ci95"
    time, time_ci = "mean_completion_ms", "completion_ci95_ms"
    for rule in ["equal jitter", "full jitter", "decorrelated jitter"]:
        assert clearly_less(rule, "exponential, no jitter", calls, calls_ci)
        assert clearly_less(rule, "exponential, no jitter", time, time_ci)
        assert t.loc[rule, calls] * 1.5 < t.loc["exponential, no jitter", calls]
    assert clearly_less("full jitter", "equal jitter", calls, calls_ci)
    assert clearly_less("full jitter", "decorrelated jitter", calls, calls_ci)
    assert clearly_less("decorrelated jitter", "full jitter", time, time_ci)
    assert clearly_less("full jitter", "equal jitter", time, time_ci)


def test_full_jitter_fewest_writes_from_30_clients_on():
    """Clearly fewest (beyond both 95 % half-widths) from 30 clients; at 10 to 20 clients
    decorrelated jitter is as good (the lesson says so)."""
    t = tables.jitter_experiment([10, 20, 30, 40, 50], runs=100)
    for clients, group in t.groupby("clients"):
        g = group.set_index("rule")
        full = g.loc["full jitter"]
        others = g.drop(index="full jitter")
        if clients >= 30:
            assert (full.mean_calls + full.calls_ci95 < others.mean_calls - others.calls_ci95).all()
        else:
            decorrelated = g.loc["decorrelated jitter"]
            assert decorrelated.mean_calls - decorrelated.calls_ci95 < full.mean_calls


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(clients=0, backoff=RULES["full jitter"]), "clients"),
        (dict(clients=3, backoff=RULES["full jitter"], runs=0), "runs"),
        (dict(clients=3, backoff=RULES["full jitter"], network_mean_s=0.0), "network_mean_s"),
        (dict(clients=3, backoff=RULES["full jitter"], network_sd_s=-1.0), "network_sd_s"),
    ],
)
def test_contention_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        contention.occ_contention(**kwargs)


def test_contention_needs_a_backoff_rule():
    with pytest.raises(TypeError, match="Backoff"):
        contention.occ_contention(3, 0.1)


# ---------------------------------------------------------------------------------------------
# Retry arithmetic
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.0, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("m", [1, 2, 4, 7])
def test_attempts_per_call_is_the_geometric_sum(q, m):
    assert retries.attempts_per_call(q, m) == pytest.approx(sum(q**k for k in range(m)))


@pytest.mark.parametrize("m, n", [(1, 3), (2, 2), (3, 3), (4, 3), (5, 1)])
def test_layered_calls_when_the_bottom_always_fails(m, n):
    assert retries.layered_calls(1.0, m, n) == m**n
    assert retries.layered_calls(0.0, m, n) == 1.0


def test_layered_calls_one_layer_is_attempts_per_call():
    p = np.linspace(0, 1, 11)
    np.testing.assert_allclose(retries.layered_calls(p, 4, 1), retries.attempts_per_call(p, 4))


@pytest.mark.parametrize("p", [0.5, 0.9, 0.99])
def test_layered_calls_monte_carlo_agrees_with_the_closed_form(p):
    """Calls per action lie in [1, 64], so their standard deviation is at most 31.5
    (Popoviciu); 4 standard errors of 200,000 actions is the tolerance."""
    actions = 200_000
    estimate = retries.layered_calls_monte_carlo(p, 4, 3, actions=actions, seed=11)
    assert abs(estimate - retries.layered_calls(p, 4, 3)) < 4 * 31.5 / math.sqrt(actions)


def test_storm_threshold_and_sustains_agree():
    for m in range(1, 6):
        threshold = retries.storm_threshold_utilisation(m)
        assert not retries.storm_sustains(threshold, m)
        assert retries.storm_sustains(threshold + 1e-9, m)
        assert retries.storm_offered_load(60.0, m) == 60.0 * m


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: retries.attempts_per_call(1.5, 3), "probability"),
        (lambda: retries.layered_calls(0.5, 0, 3), "attempts"),
        (lambda: retries.storm_sustains(-0.1, 3), "utilisation"),
        (lambda: retries.storm_offered_load(-1.0, 3), "arrival_rate_per_s"),
    ],
)
def test_retry_arithmetic_rejects_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ---------------------------------------------------------------------------------------------
# The spike scenario against the closed form
# ---------------------------------------------------------------------------------------------

SCENARIO = retries.SpikeScenario()
SETUPS = retries.retry_setups(SCENARIO)


def test_stuck_storm_offers_m_times_the_arrivals():
    r = SCENARIO.run(SETUPS["immediate retries"], seed=3)
    late = r.timeseries[r.timeseries.time_s >= 60.0]
    expected = retries.storm_offered_load(late.arrival_rate_per_s.mean(), 4)
    assert late.offered_rate_per_s.mean() == pytest.approx(expected, rel=0.03)
    assert late.goodput_per_s.max() < 1.0
    assert (late.utilisation > 0.97).all()


def test_below_the_threshold_the_storm_drains_slowly():
    """At 20 % load 4 attempts offer 80 % of capacity: the spike's backlog drains, but only at
    the capacity minus the storm's load, so it takes minutes."""
    light = SCENARIO.replace(base_rate_per_s=20.0, horizon_s=600.0, bin_s=10.0)
    assert not retries.storm_sustains(light.utilisation, 4)
    for seed in range(3):
        r = light.run(SETUPS["immediate retries"], seed=seed)
        assert not retries.is_stuck(r)
        ts = r.timeseries
        back = ts.time_s[(ts.time_s > 30) & (ts.goodput_per_s > 0.9 * ts.arrival_rate_per_s)]
        assert back.min() > 120.0


def test_what_the_lesson_says_about_the_six_setups():
    tipped = tables.tipping_table(SCENARIO, SETUPS, [SCENARIO.spike_duration_s], seeds=10)
    stuck = dict(zip(tipped.setup, tipped.stuck, strict=True))
    assert stuck == {
        "no retries": 0,
        "immediate retries": 10,
        "backoff with jitter": 10,
        "drop expired": 10,
        "drop late work": 0,
        "retry budget": 0,
    }


def test_drop_expired_serves_requests_too_late_while_overloaded():
    runs = {k: SCENARIO.run(SETUPS[k]) for k in ["drop expired", "drop late work"]}
    summary = tables.storm_summary(runs, after_s=SCENARIO.spike_end_s).set_index("setup")
    assert summary.loc["drop expired", "response_after_s"] > SCENARIO.timeout_s
    assert summary.loc["drop late work", "response_after_s"] < SCENARIO.timeout_s


def test_backoff_absorbs_bigger_triggers_than_immediate_retries():
    small = SCENARIO.replace(spike_rate_per_s=120.0, spike_duration_s=1.0, horizon_s=80.0)
    compared = {k: SETUPS[k] for k in ["immediate retries", "backoff with jitter"]}
    t = tables.tipping_table(small, compared, [1.0], seeds=20).set_index("setup")
    assert (
        t.loc["immediate retries", "stuck_share"]
        >= t.loc["backoff with jitter", "stuck_share"] + 0.3
    )


def test_no_spike_no_storm():
    quiet = SCENARIO.replace(spike_rate_per_s=SCENARIO.base_rate_per_s)
    for seed in range(3):
        assert not retries.is_stuck(quiet.run(SETUPS["immediate retries"], seed=seed))


def test_retry_setups_need_a_timeout_longer_than_the_work():
    with pytest.raises(ValueError, match="timeout"):
        retries.retry_setups(SCENARIO.replace(timeout_s=0.05))


def test_is_stuck_checks_its_window():
    r = SCENARIO.replace(horizon_s=30.0).run(SETUPS["no retries"])
    with pytest.raises(ValueError, match="window_s"):
        retries.is_stuck(r, window_s=60.0)


# ---------------------------------------------------------------------------------------------
# The server's queue-wait limit
# ---------------------------------------------------------------------------------------------


def simpy_wait_limit_history(gaps, service, uniforms, workers, timeout_s, policy, max_wait_s):
    """Clients with timeouts and retries; a worker discards an attempt that waited max_wait_s.

    Returns (arrival, start, end, outcome) of shape (requests, attempts); ``start`` is the
    service start or the drop; outcome 1 success, 2 timeout, 0 not sent.
    """
    n, m = service.shape
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=workers)
    arrival, start, end = (np.full((n, m), np.nan) for _ in range(3))
    outcome = np.zeros((n, m), dtype=int)

    def serve(i, k, done):
        sent = env.now
        with server.request() as request:
            yield request
            start[i, k] = env.now
            if env.now >= sent + max_wait_s:
                return
            yield env.timeout(service[i, k])
            end[i, k] = env.now
            if not done.triggered:
                done.succeed()

    def client(i):
        previous = None
        for k in range(m):
            arrival[i, k] = env.now
            done = env.event()
            env.process(serve(i, k, done))
            yield done | env.timeout(timeout_s)
            if done.triggered:
                outcome[i, k] = 1
                return
            outcome[i, k] = 2
            if k + 1 == m:
                return
            previous = float(policy.delay_from_uniform_s(uniforms[k, i], k + 1, previous))
            yield env.timeout(previous)

    def source():
        for i, gap in enumerate(gaps):
            yield env.timeout(gap)
            env.process(client(i))

    env.process(source())
    env.run()
    return arrival, start, end, outcome


@pytest.mark.parametrize("use_numba", NUMBA_MODES)
def test_wait_limit_history_equals_simpy(use_numba):
    rng = np.random.default_rng(17)
    n, m, workers, timeout, limit = 2_000, 3, 4, 2.5, 1.2
    gaps = rng.exponential(1 / 4.4, n)
    service = rng.exponential(1.0, (n, m))
    policy = FullJitter(base_s=0.2, cap_s=4.0)
    r = simulate(
        interarrival_s=gaps,
        service_s=service,
        workers=workers,
        timeout_s=timeout,
        retry=RetryPolicy(policy, max_attempts=m),
        server_policy=ServerPolicy(max_wait_s=limit),
        seed=5,
        record_requests=True,
        use_numba=use_numba,
    )
    uniforms = np.random.default_rng(5).random((m - 1, n))
    arrival, start, end, outcome = simpy_wait_limit_history(
        gaps, service, uniforms, workers, timeout, policy, limit
    )
    assert r.summary.n_dropped > 50  # the limit does bind
    a = r.attempts
    rows, cols = a["request_id"].to_numpy(), a["attempt"].to_numpy() - 1
    got = {name: np.full((n, m), np.nan) for name in ("arrival", "start", "end")}
    got["arrival"][rows, cols] = a["arrival_s"]
    got["start"][rows, cols] = a["arrival_s"] + a["wait_s"]
    got["end"][rows, cols] = a["end_s"]
    np.testing.assert_allclose(got["arrival"], arrival, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["start"], start, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["end"], end, rtol=0, atol=1e-9)
    codes = np.zeros((n, m), dtype=int)
    codes[rows, cols] = a["client_outcome"].cat.codes.to_numpy() + 1
    np.testing.assert_array_equal(codes, outcome)


def test_dropped_before_the_timeout_the_client_still_times_out():
    """The worker frees at 3.0 s; the second attempt has waited 2.5 s >= 2 s, so it is dropped
    then, and its client, not told, times out at 3.5 s."""
    r = simulate(
        interarrival_s=[0.5, 0.0],
        service_s=[2.5, 1.0],
        workers=1,
        timeout_s=3.0,
        server_policy=ServerPolicy(max_wait_s=2.0),
        record_requests=True,
    )
    first, second = r.attempts.iloc[0], r.attempts.iloc[1]
    assert first.client_outcome == "success" and first.server_outcome == "served"
    assert second.server_outcome == "dropped" and second.wait_s == 2.5
    assert second.client_outcome == "timeout"
    assert r.requests.iloc[1].end_s == 3.5


def test_wait_limit_conserves_attempts_and_requests():
    r = SCENARIO.run(SETUPS["drop late work"], seed=4)
    c = r.counts
    client = c.attempts_succeeded + c.attempts_abandoned + c.attempts_rejected + c.attempts_waiting
    server = c.served + c.dropped + c.attempts_rejected + c.queue_length + c.in_service
    users = c.requests_succeeded + c.requests_failed + c.requests_waiting + c.requests_backing_off
    pd.testing.assert_series_equal(c.attempts, client, check_names=False)
    pd.testing.assert_series_equal(c.attempts, server, check_names=False)
    pd.testing.assert_series_equal(c.requests, users, check_names=False)
    assert r.summary.n_dropped > 0


def test_wait_limit_longer_than_the_timeout_equals_drop_expired():
    kwargs = dict(
        arrivals=150.0,
        service=Service(0.1, "gamma", cv=0.5),
        workers=10,
        horizon_s=20.0,
        timeout_s=0.3,
        retry=RetryPolicy(FixedDelay(0.0), max_attempts=3),
        seed=1,
        record_requests=True,
    )
    a = simulate(**kwargs, server_policy=ServerPolicy(drop_expired=True))
    b = simulate(**kwargs, server_policy=ServerPolicy(drop_expired=True, max_wait_s=10.0))
    pd.testing.assert_frame_equal(a.attempts, b.attempts)


def test_wait_limit_needs_the_event_engine():
    kwargs = dict(arrivals=5.0, service=1.0, workers=10, horizon_s=50.0, seed=1)
    assert simulate(**kwargs, server_policy=ServerPolicy(max_wait_s=1.0)).engine == "event"
    assert simulate(**kwargs, server_policy=ServerPolicy(drop_expired=True)).engine == "recursion"
    with pytest.raises(ValueError, match="recursion"):
        simulate(**kwargs, server_policy=ServerPolicy(max_wait_s=1.0), engine="recursion")


def test_server_policy_checks_the_wait_limit():
    with pytest.raises(ValueError, match="max_wait_s"):
        ServerPolicy(max_wait_s=0.0)
    assert ServerPolicy(max_wait_s=2.0).drop_wait_s(None) == 2.0
    assert ServerPolicy(drop_expired=True).drop_wait_s(None) == math.inf
    assert ServerPolicy(drop_expired=True, max_wait_s=5.0).drop_wait_s(1.0) == 1.0


# ---------------------------------------------------------------------------------------------
# Tables for the lesson's charts
# ---------------------------------------------------------------------------------------------


def test_storm_traces_are_long_and_small_enough_to_chart():
    runs = {name: SCENARIO.run(setup) for name, setup in SETUPS.items()}
    traces = tables.storm_traces(runs)
    assert len(traces) == len(runs) * len(tables.STORM_MEASURES) * 60
    assert len(traces) < 5000
    assert set(traces.measure) == set(tables.STORM_MEASURES.values())
    no_retry = traces[(traces.setup == "no retries") & (traces.measure == "attempts sent")]
    arrivals = traces[(traces.setup == "no retries") & (traces.measure == "new requests")]
    np.testing.assert_array_equal(no_retry.rate_per_s.to_numpy(), arrivals.rate_per_s.to_numpy())


def test_storm_summary_columns_and_values():
    runs = {"none": SCENARIO.run((NoRetry(), ServerPolicy()))}
    summary = tables.storm_summary(runs, after_s=SCENARIO.spike_end_s)
    row = summary.iloc[0]
    assert row.attempts_per_request == 1.0
    assert 0 < row.work_wasted < 1
    assert row.back_after_s > 0
    assert row.goodput_after_share == pytest.approx(
        row.goodput_after / runs["none"].timeseries.query("time_s >= 30").arrival_rate_per_s.mean()
    )


def test_amplification_table_matches_the_closed_form():
    t = tables.amplification_table([0.0, 0.5, 1.0], 3, [1, 2])
    assert list(t.bottom_calls[t.failure_probability == 1.0]) == [3.0, 9.0]
