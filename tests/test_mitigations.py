"""Tests of outage_kit.mitigations: each defence as a parameter of the 2015 scenario, the delay
floors it adds to the population model, the staged rollout's halt, the scorecard and its
metrics, the cost table, and the searches over combinations of defences."""

from __future__ import annotations

import csv
import itertools
import math
import random
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from outage_kit import _storm_kernel, data, mitigations, services
from outage_kit.mitigations import (
    BASELINE_ROW,
    DEFENCES,
    METRICS,
    AdmissionControl,
    BoundedQueue,
    Bulkheads,
    CapacityHeadroom,
    CircuitBreaker,
    ClientBackoff,
    DropExpired,
    HealthCheck,
    RetryBudget,
    StagedRollout,
    apply_all,
    cheapest_defences,
    cost,
    defence_breaking_point,
    load_mitigation_costs,
    parse_defence,
    score,
    score_combination,
    scorecard,
)
from outage_kit.policies import ExponentialBackoff, FixedDelay, FullJitter, ServerPolicy
from outage_kit.scenarios import skype_2015
from outage_kit.storm import (
    ConfigPush,
    DelayFloor,
    ServerPolicyAt,
    StormParams,
    VersionMix,
    _stage_tables,
    run_storm,
)

HAVE_NUMBA = _storm_kernel.numba_available()
MINUTES_IN_DAY = 24 * 60
STAGED = StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=1800.0)
SINGLES = {
    "staged rollout": [STAGED],
    "client backoff": [ClientBackoff()],
    "retry budget": [RetryBudget()],
    "circuit breaker": [CircuitBreaker()],
    "admission control 0.3": [AdmissionControl(rate_share=0.3)],
    "admission control 0.5": [AdmissionControl(rate_share=0.5)],
    "drop expired": [DropExpired()],
    "bounded queue 10 s": [BoundedQueue(max_wait_s=10.0)],
    "capacity x2": [CapacityHeadroom(factor=2.0)],
    "bulkheads": [Bulkheads()],
}


@pytest.fixture(scope="module")
def base():
    return skype_2015()


@pytest.fixture(scope="module")
def replay(base):
    return base.run()


@pytest.fixture(scope="module")
def card():
    return scorecard(SINGLES).set_index("name")


# --------------------------------------------------------------------------------------------
# Each defence changes the scenario as documented, and only that
# --------------------------------------------------------------------------------------------


def same_graph(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    return nx.utils.graphs_equal(a, b)


def test_client_backoff_replaces_the_backoff_rule_only(base):
    s = ClientBackoff().apply(base)
    assert s.params.retry == ExponentialBackoff(
        base_s=data.parameter("grpc_initial_backoff_s"),
        cap_s=data.parameter("grpc_max_backoff_s"),
        multiplier=data.parameter("grpc_backoff_multiplier"),
        jitter=data.parameter("grpc_jitter_fraction"),
    )
    assert s.params.with_(retry=base.params.retry) == base.params
    assert s.with_(params=base.params) == base


@pytest.mark.parametrize(
    ("defence", "floor"),
    [
        (RetryBudget(tokens=5, refill_per_s=0.1), DelayFloor(6, 10.0)),
        (RetryBudget(tokens=0, refill_per_s=0.5), DelayFloor(1, 2.0)),
        (CircuitBreaker(failure_threshold=3, cooldown_s=45.0), DelayFloor(3, 45.0)),
    ],
)
def test_retry_budget_and_breaker_add_a_delay_floor_only(base, defence, floor):
    s = defence.apply(base)
    assert s.params.delay_floors == (floor,)
    assert s.params.with_(delay_floors=()) == base.params
    assert s.with_(params=base.params) == base


def server_policies(scenario):
    """The starting server policy and those of every ServerPolicyAt action."""
    actions = (*scenario.params.actions, *scenario.actions)
    later = [a.policy for a in actions if isinstance(a, ServerPolicyAt)]
    assert later  # the 2015 rebalancing
    return [scenario.params.server_policy, *later]


def test_admission_control_from_the_start_and_kept_by_the_rebalancing(base):
    cap = base.params.signin_capacity_per_s
    rebalancing = base.actions[0].policy.admission.rate_per_s
    s = AdmissionControl(rate_share=0.3).apply(base)
    assert s.params.server_policy == ServerPolicy(
        admission=s.params.server_policy.admission, drop_expired=False, max_wait_s=None
    )
    assert s.params.server_policy.admission.rate_per_s == pytest.approx(0.3 * cap)
    # the later rebalancing (0.5) keeps the stricter rate
    assert s.actions[0].time_s == base.actions[0].time_s
    assert s.actions[0].policy.admission.rate_per_s == pytest.approx(min(rebalancing, 0.3 * cap))
    looser = AdmissionControl(rate_share=0.9).apply(base)
    assert looser.actions[0].policy.admission.rate_per_s == rebalancing
    only = s.with_(
        params=s.params.with_(server_policy=base.params.server_policy), actions=base.actions
    )
    assert only == base


@pytest.mark.parametrize(
    ("defence", "field", "value"),
    [(DropExpired(), "drop_expired", True), (BoundedQueue(max_wait_s=7.0), "max_wait_s", 7.0)],
)
def test_server_drop_defences_stay_on_after_the_rebalancing(base, defence, field, value):
    s = defence.apply(base)
    for policy in server_policies(s):
        assert getattr(policy, field) == value
    assert s.params.server_policy.admission is None
    # the rebalancing keeps its admission rate
    assert s.actions[0].policy.admission == base.actions[0].policy.admission
    undo = s.with_(
        params=s.params.with_(server_policy=base.params.server_policy), actions=base.actions
    )
    assert undo == base


def test_bounded_queue_keeps_the_shorter_wait():
    p = StormParams(1e6, 1000.0, 20.0, server_policy=ServerPolicy(max_wait_s=3.0))
    s = skype_2015().with_(params=p.with_(horizon_s=86_400.0))
    assert BoundedQueue(10.0).apply(s).params.server_policy.max_wait_s == 3.0
    assert BoundedQueue(2.0).apply(s).params.server_policy.max_wait_s == 2.0


def test_capacity_headroom_scales_capacity_queue_admission_and_sign_in_workers(base):
    s = CapacityHeadroom(factor=2.0).apply(base)
    p, q = base.params, s.params
    assert q.signin_capacity_per_s == 2 * p.signin_capacity_per_s
    assert q.max_queue_length == 2 * p.max_queue_length
    assert (
        s.actions[0].policy.admission.rate_per_s == 2 * base.actions[0].policy.admission.rate_per_s
    )
    assert (
        q.with_(signin_capacity_per_s=p.signin_capacity_per_s, max_queue_length=p.max_queue_length)
        == p
    )
    private = {"sign_in", "auth", "client_config"}
    for node, attrs in base.graph.nodes(data=True):
        factor = 2 if node in private else 1
        assert s.graph.nodes[node]["workers"] == factor * attrs["workers"], node
    assert set(s.graph.edges) == set(base.graph.edges)
    assert base.graph.nodes["sign_in"]["workers"] == 345  # the base is not changed in place


def test_bulkheads_split_the_shared_services_and_change_nothing_else(base):
    s = Bulkheads().apply(base)
    assert s.params == base.params and s.actions == base.actions
    g0, g = base.graph, s.graph
    pools = [n for n in g if n.endswith("_for_sign_in")]
    assert {p.removesuffix("_for_sign_in") for p in pools} == {
        "presence",
        "contact_list",
        "instant_messaging",
        "notification_hub",
        "message_store",
        "user_directory",
    }
    for pool in pools:
        original = pool.removesuffix("_for_sign_in")
        total = g.nodes[pool]["workers"] + g.nodes[original]["workers"]
        assert total == g0.nodes[original]["workers"]
        assert not g.nodes[pool]["entry"] and g.nodes[pool]["stack"] == "consumer"
    # sign-in's requests only reach its own pools (and the services only it uses)
    reach = nx.descendants(g, "sign_in")
    assert reach == {"auth", "client_config", *pools}
    # the load on everything else is what the other entry points send
    rates = services.baseline_client_rates(g)
    without = dict(rates, sign_in=0.0)
    load0 = services.propagate_load(g0, dict(services.baseline_client_rates(g0), sign_in=0.0))
    load = services.propagate_load(g, without)
    for node in g0:
        assert load[node] == pytest.approx(load0[node]), node
    state = services.steady_state(g)
    assert set(state.nodes["health"]) == {"healthy"}


def test_bulkheads_for_an_entry_point_that_others_call_too():
    # Messaging and calls call presence: the calls presence makes for them are presence's too.
    g0 = services.load_service_graph()
    g = services.with_bulkheads(g0, ["sign_in", "presence"])
    assert g.has_edge("presence", "contact_list_for_presence")
    assert not g.has_edge("presence", "contact_list")
    assert g.has_edge("instant_messaging", "presence")
    assert set(services.steady_state(g).nodes["health"]) == {"healthy"}
    total = services.propagate_load(g0, services.baseline_client_rates(g0))
    load = services.propagate_load(g, services.baseline_client_rates(g))
    for node in ("contact_list", "user_directory", "notification_hub"):
        parts = [n for n in g if n == node or n.startswith(f"{node}_for_")]
        assert sum(load[n] for n in parts) == pytest.approx(total[node]), node


def test_staged_rollout_changes_the_triggers_only(base):
    s = STAGED.apply(base)
    assert s.params.with_(triggers=base.params.triggers) == base.params
    assert s.with_(params=base.params) == base
    assert [t.time_s for t in s.params.triggers] == [base.params.triggers[0].time_s]


def test_apply_all_is_order_independent(base):
    defences = [
        AdmissionControl(0.6),
        CapacityHeadroom(1.5),
        DropExpired(),
        ClientBackoff(cap_s=30.0),
        RetryBudget(),
        Bulkheads(),
        BoundedQueue(12.0),
        CircuitBreaker(),
    ]
    first = apply_all(base, defences)
    rng = random.Random(3)
    for _ in range(3):
        shuffled = defences[:]
        rng.shuffle(shuffled)
        other = apply_all(base, shuffled)
        assert other.params == first.params
        assert other.actions == first.actions
        assert same_graph(other.graph, first.graph)
    assert first.params.server_policy.admission.rate_per_s == pytest.approx(
        0.6 * 1.5 * base.params.signin_capacity_per_s
    )
    # capacity goes to sign-in's own pools when both are given
    assert first.graph.nodes["presence_for_sign_in"]["workers"] == round(
        1.5 * Bulkheads().apply(base).graph.nodes["presence_for_sign_in"]["workers"]
    )


def test_apply_all_names_conflicting_defences(base):
    with pytest.raises(ValueError, match=r"AdmissionControl is given twice .*0\.5.*0\.7"):
        apply_all(base, [AdmissionControl(0.5), DropExpired(), AdmissionControl(0.7)])
    with pytest.raises(TypeError, match="Defence"):
        apply_all(base, [DropExpired(), "DropExpired()"])
    with pytest.raises(TypeError, match="Scenario"):
        apply_all(base.params, [DropExpired()])
    assert apply_all(base, []) == base


def test_defences_round_trip_through_their_plain_spec():
    for kind in DEFENCES:
        for d in (*itertools.chain.from_iterable(SINGLES.values()),):
            if isinstance(d, kind):
                assert parse_defence(d.spec) == d
    d = StagedRollout(waves=6, interval_s=600.0, health_check=None)
    assert parse_defence(d.spec) == d
    for bad in ("DropExpired", "__import__('os')", "HealthCheck()", "DropExpired(**{})", "1 +"):
        with pytest.raises(ValueError, match="not a defence"):
            parse_defence(bad)


# --------------------------------------------------------------------------------------------
# Delay floors in the population model
# --------------------------------------------------------------------------------------------


def released_offsets(tables, cal):
    """Step offsets a calendar's retries can be released at (positive weight or the box)."""
    size = _storm_kernel.MAX_DIRECT_CELLS
    n = tables["sp_n"][cal]
    offsets = tables["sp_off"][cal * size : cal * size + n]
    weights = tables["sp_w"][cal * size : cal * size + n]
    out = [int(o) for o, w in zip(offsets, weights, strict=True) if w > 0]
    if tables["box_lo"][cal] >= 0:
        out += list(range(tables["box_lo"][cal], tables["box_hi"][cal] + 1))
    return out


def mean_offset(tables, cal):
    size = _storm_kernel.MAX_DIRECT_CELLS
    n = tables["sp_n"][cal]
    offsets = tables["sp_off"][cal * size : cal * size + n].astype(float)
    weights = tables["sp_w"][cal * size : cal * size + n]
    mass, mean = weights.sum(), (offsets * weights).sum()
    if tables["box_lo"][cal] >= 0:
        box = np.arange(tables["box_lo"][cal], tables["box_hi"][cal] + 1, dtype=float)
        mass += tables["box_rate"][cal] * box.size
        mean += tables["box_rate"][cal] * box.sum()
    return mass, mean


@pytest.mark.parametrize(
    "backoff",
    [FixedDelay(0.0), FixedDelay(3.0), ExponentialBackoff.grpc(), FullJitter(1.0, 100.0)],
)
def test_stage_tables_release_no_retry_earlier_than_the_floor(backoff):
    dt = 1.0
    floors = (DelayFloor(3, 20.0), DelayFloor(6, 50.5))
    p = StormParams(1e6, 1000.0, 20.0, retry=backoff)
    _, n_cal, _, _, _, plain, _ = _stage_tables(p, dt)
    _, n_cal_f, _, _, _, floored, _ = _stage_tables(p.with_(delay_floors=floors), dt)
    assert n_cal_f >= max(n_cal, 6)
    for cal in range(1, n_cal_f + 1):
        floor = 50.5 if cal >= 6 else 20.0 if cal >= 3 else 0.0
        assert min(released_offsets(floored, cal)) >= math.floor(floor / dt), cal
        # mass 1, and the mean is that of max(uniform delay, floor)
        lo = float(backoff.min_delay_s(cal)) / dt
        hi = float(backoff.max_delay_s(cal)) / dt
        if hi - lo < 1e-9:
            expected = max(lo, floor)
        elif floor <= lo:
            expected = (lo + hi) / 2
        elif floor >= hi:
            expected = floor
        else:
            q = (hi - floor) / (hi - lo)
            expected = (1 - q) * floor + q * (floor + hi) / 2
        mass, mean = mean_offset(floored, cal)
        assert mass == pytest.approx(1.0, abs=1e-12)
        assert mean == pytest.approx(expected, abs=1e-9), cal
        if cal < 3:  # below the first floor nothing changes
            same = released_offsets(plain, min(cal, n_cal))
            assert released_offsets(floored, cal) == same


@pytest.mark.parametrize(
    "use_numba",
    [
        False,
        pytest.param(True, marks=pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")),
    ],
)
def test_a_storm_run_with_a_floor_retries_no_earlier_than_the_floor(use_numba):
    p = StormParams(
        1e4,
        50.0,
        10.0,
        triggers=(ConfigPush(100.0),),
        retry=FixedDelay(0.0),
        horizon_s=600.0,
        output_every_s=1.0,
        delay_floors=(DelayFloor(1, 30.5),),
    )
    result = run_storm(p, use_numba=use_numba, check_conservation=True)
    ts = result.timeseries
    assert result.conservation_error < 1e-9 and result.min_state_share >= -1e-12
    failed = ts.loc[(ts.timeouts_per_s > 0) | (ts.rejected_per_s > 0), "time_s"]
    retried = ts.loc[ts.retries_per_s > 0, "time_s"]
    first_failure = failed.min()  # the failures of this step count from its end
    assert retried.min() >= first_failure + 1 + math.floor(30.5)
    # without the floor the failed clients retry at once
    plain = run_storm(p.with_(delay_floors=()), use_numba=use_numba).timeseries
    assert plain.loc[plain.retries_per_s > 0, "time_s"].min() <= first_failure + 1


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_floors_give_the_same_run_compiled_and_in_plain_python():
    p = StormParams(
        1e5,
        400.0,
        10.0,
        triggers=(ConfigPush(60.0),),
        retry=ExponentialBackoff.grpc(),
        horizon_s=1800.0,
        delay_floors=(DelayFloor(2, 7.5), DelayFloor(4, 33.0)),
        max_queue_length=4000.0,
    )
    fast = run_storm(p, use_numba=True).timeseries
    slow = run_storm(p, use_numba=False).timeseries
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, atol=1e-9)


def test_delay_floor_validation():
    with pytest.raises(ValueError, match="from_retry"):
        DelayFloor(0, 1.0)
    with pytest.raises(ValueError, match="from_retry"):
        DelayFloor(2.5, 1.0)
    with pytest.raises(ValueError, match="min_delay_s"):
        DelayFloor(1, -1.0)
    with pytest.raises(TypeError, match="DelayFloor"):
        StormParams(1e6, 1000.0, 20.0, delay_floors=((1, 2.0),))


# --------------------------------------------------------------------------------------------
# The staged rollout's halt
# --------------------------------------------------------------------------------------------


def test_the_health_check_halts_the_rollout_after_the_first_bad_wave(base):
    table = STAGED.plan(base)
    assert table["pushed"].tolist() == [True, False, False, False]
    assert table["check"].tolist() == ["failed", "not run", "not run", "not run"]
    seen = table.loc[0, "disconnected_share_of_wave"]
    # At most the incompatible share of the wave's clients (0.4): a few sign in again within
    # the step, before the check's first look.
    assert 0.3 < seen <= 0.4
    pushed = STAGED.apply(base).params.triggers
    assert pushed == (ConfigPush(base.params.triggers[0].time_s, 0.01),)


def test_without_a_check_every_wave_goes_out(base):
    rollout = StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=1800.0, health_check=None)
    table = rollout.plan(base)
    assert table["pushed"].all() and (table["check"] == "no check").all()
    reaches = [t.reach for t in rollout.apply(base).params.triggers]
    assert reaches == pytest.approx([0.01, 0.09, 0.4, 0.5])


def test_a_lax_check_pushes_what_no_check_pushes(base):
    lax = HealthCheck(max_disconnected_share=1.0, max_load_ratio=1e9)
    checked = StagedRollout(4, 900.0, health_check=lax).apply(base)
    unchecked = StagedRollout(4, 900.0, health_check=None).apply(base)
    assert checked.params.triggers == unchecked.params.triggers


@pytest.mark.parametrize(
    "rollout",
    [
        StagedRollout(waves=10, interval_s=600.0),
        StagedRollout(waves=(0.001, 0.002, 0.5, 1.0), interval_s=1200.0),
        StagedRollout(waves=4, interval_s=300.0, health_check=HealthCheck(delay_s=700.0)),
        StagedRollout(waves=5, interval_s=900.0, health_check=HealthCheck(max_load_ratio=0.5)),
    ],
)
def test_the_halted_rollout_never_pushes_more_than_the_unhalted_one(base, rollout):
    halted = rollout.apply(base).params.triggers
    full = StagedRollout(rollout.waves, rollout.interval_s, health_check=None)
    unhalted = full.apply(base).params.triggers
    assert halted == unhalted[: len(halted)]  # a prefix: once halted, nothing more goes out
    table = rollout.plan(base)
    failed = table.loc[table["check"] == "failed", "verdict_s"]
    if not failed.empty:
        assert (table.loc[table["pushed"], "time_s"] < failed.min()).all()
        assert (table.loc[~table["pushed"], "time_s"] >= failed.min()).all()


def test_a_slow_verdict_lets_the_next_waves_out_first(base):
    rollout = StagedRollout(waves=4, interval_s=300.0, health_check=HealthCheck(delay_s=700.0))
    table = rollout.plan(base)
    assert table["pushed"].tolist() == [True, True, True, False]
    assert (
        table.loc[0, "check"] == "failed"
        and table.loc[0, "verdict_s"] == table.loc[0, "time_s"] + 700
    )


def test_the_check_sees_only_the_waves_pushed_before_its_verdict(base):
    # The first wave's check must see the same as a run with the first wave alone.
    rollout = StagedRollout(waves=4, interval_s=1800.0)
    one = StagedRollout(waves=4, interval_s=1800.0)._look(
        base,
        (),
        [0],
        [base.params.triggers[0].time_s + i * 1800.0 for i in range(4)],
        [0.25] * 4,
        0,
        base.params.triggers[0].time_s + 600.0,
    )
    table = rollout.plan(base)
    assert table.loc[0, "disconnected_share_of_wave"] == pytest.approx(one[0])
    assert table.loc[0, "load_ratio"] == pytest.approx(one[1])


def test_staged_rollout_bad_input(base):
    for waves in (0, 1001, 2.5, (0.5, 0.2), (0.5, 1.5), (), True):
        with pytest.raises(ValueError, match="StagedRollout waves"):
            StagedRollout(waves=waves, interval_s=600.0)
    with pytest.raises(ValueError, match="interval_s"):
        StagedRollout(waves=4, interval_s=0.0)
    with pytest.raises(TypeError, match="health_check"):
        StagedRollout(waves=4, interval_s=600.0, health_check=0.05)
    with pytest.raises(ValueError, match="after the end of the run"):
        StagedRollout(waves=100, interval_s=3600.0).apply(base)
    no_push = base.with_(params=base.params.with_(triggers=()))
    with pytest.raises(ValueError, match="exactly one ConfigPush"):
        STAGED.apply(no_push)
    with pytest.raises(ValueError, match="max_disconnected_share"):
        HealthCheck(max_disconnected_share=1.5)


# --------------------------------------------------------------------------------------------
# Scorecard and metrics
# --------------------------------------------------------------------------------------------


def test_the_baseline_row_is_the_plain_replay(card, replay):
    row = card.loc[BASELINE_ROW]
    assert card.index[0] == BASELINE_ROW
    assert row["defences"] == "none" and row["cost_engineer_weeks"] == 0
    ts = replay.timeseries
    assert row["outage_min"] == pytest.approx(replay.outage_duration_h() * 60)
    assert row["outage_min"] == 930.0  # 08:20 to 23:50 at the replay's 5-minute resolution
    assert row["peak_load_ratio"] == ts["signin_load_ratio"].max()
    assert row["goodput_signins"] == pytest.approx((ts["goodput_per_s"] * 300).sum(), rel=1e-12)
    failed = (ts["failed_signins_per_s"] * 300).sum()
    zombie = ((ts["served_signins_per_s"] - ts["goodput_per_s"]) * 300).sum() - failed
    assert row["zombie_signins"] == pytest.approx(zombie, rel=1e-9)
    assert row["failed_signins"] == pytest.approx(failed, rel=1e-12) and failed > 0
    assert row["services_overloaded"] == ", ".join(replay.services_overloaded())
    assert row["n_services_overloaded"] == len(replay.services_overloaded())
    # user-minutes lost: the step-resolution sum agrees with the 5-minute snapshots
    push = replay.scenario.params.triggers[0].time_s
    before = ts.loc[ts.time_s <= push, "connected"].iloc[-1]
    coarse = (before - ts.loc[ts.time_s >= push, "connected"]).clip(lower=0).sum() * 300 / 60
    assert row["user_min_lost"] == pytest.approx(coarse, rel=0.01)
    # it took the rebalancing and the drain after it to get them back: from the push to the
    # replay's restoration, within the replay's 5-minute resolution
    restored_min = (replay.restoration_utc() - replay.onset_utc()).total_seconds() / 60
    assert abs(row["time_to_recover_min"] - restored_min) <= 5
    assert score(replay) == score(replay.scenario)


def test_metric_invariants(card):
    numeric = card.drop(columns=["defences", "services_overloaded", "restored_by_end"])
    values = numeric.to_numpy(float)
    assert not np.isnan(values).any()
    assert list(card.columns[2:]) == list(METRICS)
    for name, row in card.iterrows():
        assert row["goodput_signins"] + row["zombie_signins"] <= row["served_signins"] * (
            1 + 1e-12
        ), name
        assert row["user_min_lost"] >= 0 and row["user_min_unserved"] >= row["user_min_lost"]
        assert 0 <= row["outage_min"] <= MINUTES_IN_DAY, name
        assert math.isfinite(row["time_to_recover_min"]) or row["time_to_recover_min"] == math.inf
        if not row["restored_by_end"]:
            assert row["outage_min"] == MINUTES_IN_DAY - 8 * 60 - 20  # from onset to midnight


def test_no_trigger_loses_nobody(base):
    for quiet in (
        base.with_(params=base.params.with_(triggers=())),
        base.with_(params=base.params.with_(version_mix=VersionMix.two_groups(0.0))),
    ):
        m = score(quiet)
        assert m["user_min_lost"] == 0.0 and m["user_min_unserved"] == 0.0
        assert m["outage_min"] == 0.0 and m["time_to_recover_min"] == 0.0
        assert m["zombie_signins"] == 0.0 and m["n_services_overloaded"] == 0
        assert m["peak_load_ratio"] < 1


def test_the_graph_cache_gives_the_uncached_replay(base):
    shared: dict = {}
    bulk = Bulkheads().apply(DropExpired().apply(base))
    for scenario in (base, bulk, base):
        plain = scenario.run()
        cached = scenario.run(graph_cache=shared)
        pd.testing.assert_frame_equal(plain.timeseries, cached.timeseries, check_exact=True)
    assert any(len(key[0][0]) > len(base.graph) for key in shared)  # bulkheads kept apart
    assert score(bulk, cache=False) == score(bulk, cache=True)
    with pytest.raises(TypeError, match="graph_cache"):
        base.run(graph_cache=[])


def test_score_skips_the_graph_only_without_feedback(base):
    storm_only = ["user_min_lost", "peak_load_ratio", "goodput_signins", "time_to_recover_min"]
    one_way = base.with_(feedback=False)
    fast = score(one_way, metrics=storm_only)
    full = score(one_way)
    assert list(fast) == storm_only
    for name in storm_only:
        assert fast[name] == full[name]
    # With feedback the graph changes the population's day, so even these come from the replay.
    replay = base.run()
    two_way = score(base, metrics=storm_only)
    assert two_way == score(replay, metrics=storm_only)
    assert two_way["peak_load_ratio"] == replay.storm.timeseries["load_ratio"].max()
    assert two_way["user_min_lost"] > fast["user_min_lost"]


def test_known_results(card, base):
    baseline = card.loc[BASELINE_ROW, "outage_min"]
    # Admission control at the card's rebalancing share keeps the sign-ins served under what the
    # sign-in path carries (1.35 against 1.52 times the normal rate): no sign-in fails behind
    # the door, no zombie work, and the storm drains within the hour.
    admit = card.loc["admission control 0.3"]
    assert admit["outage_min"] <= 60
    assert admit["zombie_signins"] == 0.0 and admit["failed_signins"] == 0.0
    assert admit["n_services_overloaded"] == 0
    # At 0.5 (2.25 times the normal rate) authentication collapses behind the door; dropping
    # expired work or bounding the queue's wait removes the zombie work, but the service then
    # serves flat out (4.5 times) and the sign-ins it completes fail behind it instead: the
    # wasted work changes its name and the day stays lost.
    for name in ("admission control 0.5", "drop expired", "bounded queue 10 s"):
        assert card.loc[name, "outage_min"] >= 0.9 * baseline, name
        assert card.loc[name, "failed_signins"] > 0.1 * card.loc[name, "served_signins"], name
    for name in ("drop expired", "bounded queue 10 s"):
        assert card.loc[name, "zombie_signins"] == 0.0, name
        assert card.loc[name, "failed_signins"] > 0.9 * card.loc[BASELINE_ROW, "zombie_signins"]
    # Twice the capacity does not help: the herd (0.4 x 40 M) would need 16 M sign-ins within
    # the 20 s timeout, 8 times the doubled capacity, so the queue still fills with work for
    # clients that have gone; and what it serves in time meets a path only twice as wide.
    herd = 0.4 * base.params.population
    assert 2 * base.params.signin_capacity_per_s * base.params.timeout_s < herd / 4
    assert card.loc["capacity x2", "outage_min"] >= 0.9 * baseline
    assert card.loc["capacity x2", "zombie_signins"] > card.loc[BASELINE_ROW, "zombie_signins"]
    # Backoff alone spreads the herd over its 120 s cap: still 16 M / 120 s = 133,000 attempts
    # a second against ~28,000 of spare capacity, so it stays stuck too (at a far lower load).
    assert card.loc["client backoff", "outage_min"] >= 0.9 * baseline
    assert (
        card.loc["client backoff", "peak_load_ratio"]
        < card.loc[BASELINE_ROW, "peak_load_ratio"] / 10
    )
    # A staged rollout with a health check stops after a 1 % wave: no outage at all.
    assert card.loc["staged rollout", "outage_min"] == 0.0
    assert card.loc["staged rollout", "n_services_overloaded"] == 0
    # Bulkheads do not shorten the storm, but keep presence, messaging and contacts up.
    assert card.loc["bulkheads", "outage_min"] == baseline
    overloaded = card.loc["bulkheads", "services_overloaded"].split(", ")
    assert not {"presence", "instant_messaging", "contact_list"} & set(overloaded)
    assert card.loc["bulkheads", "user_min_unserved"] < card.loc[BASELINE_ROW, "user_min_unserved"]
    assert card.loc["bulkheads", "user_min_unserved"] == card.loc["bulkheads", "user_min_lost"]
    # Every sign-in served is goodput, zombie work or failed behind the door.
    for name, row in card.iterrows():
        parts = row["goodput_signins"] + row["zombie_signins"] + row["failed_signins"]
        assert parts == pytest.approx(row["served_signins"], rel=1e-9), name


def test_door_and_path_explains_what_works():
    """A set works when the sign-ins served at the busiest moment stay within what the path
    carries; all four layers pass by that rule, and each set with one layer removed fails."""
    b, a, c, k = ClientBackoff(), AdmissionControl(0.5), CapacityHeadroom(3.0), Bulkheads()
    rows = {
        "all four": [b, a, c, k],
        "no backoff": [a, c, k],
        "no admission": [b, c, k],
        "no capacity": [b, a, k],
        "no bulkheads": [b, a, c],
        "admission 0.3": [AdmissionControl(0.3)],
        "drop expired": [DropExpired()],
    }
    table = mitigations.door_and_path(rows).set_index("name")
    within = table.peak_served_ratio <= table.path_limit_ratio
    assert within["all four"] and within["admission 0.3"]
    assert not within.drop(["all four", "admission 0.3"]).any()
    # The rule and the outcome agree row by row: within the path, nothing fails behind the door
    # and the outage is short; beyond it, sign-ins fail behind the door for most of the day.
    assert (table.loc[within, "failing_min"] == 0).all()
    assert (table.loc[within, "outage_min"] <= 60).all()
    assert (table.loc[~within, "failing_min"] > 600).all()
    assert (table.loc[~within, "outage_min"] > 600).all()
    assert table.loc["admission 0.3", "path_limit_ratio"] == 1.52
    with pytest.raises(TypeError, match="rows"):
        mitigations.door_and_path([b])


def test_a_staged_rollout_without_a_check_does_not_help(base):
    unchecked = StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=1800.0, health_check=None)
    m = score(unchecked.apply(base), metrics=["outage_min"])
    assert m["outage_min"] >= 0.9 * 930


def test_without_recovery_only_some_defences_get_out():
    card = scorecard(
        {
            "admission control 0.3": [AdmissionControl(0.3)],
            "drop expired": [DropExpired()],
            "capacity x2": [CapacityHeadroom(2.0)],
        },
        recovery=False,
        metrics=["outage_min", "restored_by_end", "time_to_recover_min"],
    ).set_index("name")
    assert not card.loc[BASELINE_ROW, "restored_by_end"]
    assert card.loc[BASELINE_ROW, "time_to_recover_min"] == math.inf
    assert card.loc["admission control 0.3", "restored_by_end"]
    assert card.loc["admission control 0.3", "outage_min"] <= 60
    for name in ("drop expired", "capacity x2"):
        assert not card.loc[name, "restored_by_end"], name
        assert card.loc[name, "time_to_recover_min"] == math.inf, name


def test_scorecard_and_score_bad_input(base):
    with pytest.raises(ValueError, match="baseline"):
        scorecard({BASELINE_ROW: [DropExpired()]}, metrics=["user_min_lost"])
    with pytest.raises(ValueError, match="base or recovery"):
        scorecard({}, base=base, recovery=False)
    with pytest.raises(TypeError, match="mapping"):
        scorecard([DropExpired()])
    with pytest.raises(ValueError, match="metrics must be chosen"):
        score(base, metrics=["outage_hours"])
    with pytest.raises(TypeError, match="Scenario or a Replay"):
        score(base.params)


# --------------------------------------------------------------------------------------------
# Costs
# --------------------------------------------------------------------------------------------


def test_the_cost_table_has_one_assumed_row_per_defence():
    table = load_mitigation_costs()
    assert sorted(table["id"]) == sorted(kind.key for kind in DEFENCES)
    assert (table["status"] == "assumed").all()
    assert (table["reason"].str.len() > 20).all()
    assert (table["engineer_weeks_per_unit"] >= 0).all()


def test_cost_adds_unit_costs_times_units():
    unit = load_mitigation_costs().set_index("id")["engineer_weeks_per_unit"]
    assert cost([]) == 0.0
    assert (
        cost([CapacityHeadroom(3.0), DropExpired()])
        == 2 * unit["capacity_headroom"] + unit["drop_expired"]
    )
    assert cost([Bulkheads(entries=("sign_in", "presence"))]) == 2 * unit["bulkheads"]
    assert cost([CapacityHeadroom(1.0)]) == 0.0
    with pytest.raises(TypeError, match="Defence"):
        cost(["DropExpired()"])


def copy_costs(tmp_path: Path, row_id: str, changes: dict[str, str] | None):
    """The cost table with cells of one row changed (or the row removed if ``changes`` is None).

    Returns the copy's path and the row's line (the header is line 1).
    """
    source = data.DATA_DIR / "mitigation_costs.csv"
    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    line = next(i for i, r in enumerate(rows) if r and r[0] == row_id) + 1
    if changes is None:
        del rows[line - 1]
    else:
        for field, new in changes.items():
            rows[line - 1][header.index(field)] = new
    path = tmp_path / "mitigation_costs.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path, line


@pytest.mark.parametrize(
    ("row_id", "changes", "field", "says"),
    [
        ("drop_expired", {"id": "drop_everything"}, "id", "not a defence"),
        ("drop_expired", {"engineer_weeks_per_unit": "-2"}, "engineer_weeks_per_unit", "negative"),
        ("drop_expired", {"engineer_weeks_per_unit": "two"}, "engineer_weeks_per_unit", "number"),
        ("drop_expired", {"engineer_weeks_per_unit": ""}, "engineer_weeks_per_unit", "empty"),
        (
            "bulkheads",
            {"status": "verified", "source": "https://example.org/price"},
            "status",
            "'assumed'",
        ),
        ("bulkheads", {"reason": ""}, "reason", "needs a reason"),
        ("bounded_queue", {"unit": ""}, "unit", "must not be empty"),
        ("bounded_queue", {"id": "staged_rollout"}, "id", "duplicate id"),
    ],
)
def test_cost_table_errors_name_file_line_and_field(tmp_path, row_id, changes, field, says):
    path, line = copy_costs(tmp_path, row_id, changes)
    where = re.escape(f"mitigation_costs.csv, line {line}, field '{field}'")
    with pytest.raises(data.DataError, match=where) as info:
        load_mitigation_costs(path)
    assert says in str(info.value)


def test_a_missing_defence_row_is_named(tmp_path):
    path, _ = copy_costs(tmp_path, "circuit_breaker", None)
    with pytest.raises(
        data.DataError, match=r"mitigation_costs\.csv, line \d+, field 'id'"
    ) as info:
        load_mitigation_costs(path)
    assert "circuit_breaker" in str(info.value)


# --------------------------------------------------------------------------------------------
# Searches
# --------------------------------------------------------------------------------------------

SMALL = {
    "server": [None, DropExpired(), BoundedQueue(max_wait_s=10.0)],
    "admission": [None, AdmissionControl(rate_share=0.5), AdmissionControl(rate_share=0.3)],
    "capacity": [None, CapacityHeadroom(factor=2.0)],
}


@pytest.fixture(scope="module")
def search():
    return cheapest_defences(60.0, SMALL)


def test_cheapest_defences_is_the_cheapest_set_meeting_the_target(search, base):
    assert len(search.table) == 18
    # brute force, independently of the search
    brute = []
    for combo in itertools.product(*SMALL.values()):
        chosen = [d for d in combo if d is not None]
        m = score(apply_all(base, chosen), metrics=["outage_min"])
        brute.append((cost(chosen), m["outage_min"], chosen))
    meeting = [b for b in brute if b[1] <= 60.0]
    assert meeting and len(meeting) < len(brute)
    assert search.defences is not None
    assert search.outage_min <= 60.0
    assert search.cost_engineer_weeks == min(c for c, _, _ in meeting)
    assert all(search.cost_engineer_weeks <= c for c, _, _ in meeting)
    best = [b for b in brute if b[2] == list(search.defences)]
    assert best and best[0][1] == search.outage_min
    # the table agrees with the brute force, combination by combination
    by_label = {mitigations._labels(c): (k, o) for k, o, c in brute}
    for row in search.table.itertuples():
        assert by_label[row.defences] == (row.cost_engineer_weeks, row.outage_min)
    assert search.table["cost_engineer_weeks"].is_monotonic_increasing


def test_cheapest_defences_when_nothing_meets_the_target():
    found = cheapest_defences(0.0, {"capacity": [None, CapacityHeadroom(2.0)]})
    assert found.defences is None
    assert found.cost_engineer_weeks == math.inf and found.outage_min == math.inf
    assert not found.table["meets_target"].any()


def test_cheapest_defences_bad_input():
    with pytest.raises(ValueError, match="target_outage_min"):
        cheapest_defences(-1.0, SMALL)
    with pytest.raises(TypeError, match="candidates"):
        cheapest_defences(30.0, [DropExpired()])
    with pytest.raises(ValueError, match="no option"):
        cheapest_defences(30.0, {"server": []})
    with pytest.raises(ValueError, match="not a defence"):
        cheapest_defences(30.0, {"server": ["drop it"]})
    with pytest.raises(ValueError, match="recovery"):
        cheapest_defences(30.0, SMALL, recovery="no")


def test_default_candidates_are_sized_for_a_quick_search():
    n = math.prod(len(v) for v in mitigations.DEFAULT_CANDIDATES.values())
    assert 50 <= n <= 100


def test_score_combination_takes_plain_arguments():
    r = score_combination(server="BoundedQueue(max_wait_s=10.0)", other=None, client="none")
    assert r["defences"] == "queue wait bound 10 s"
    assert r["cost_engineer_weeks"] == cost([BoundedQueue(10.0)])
    assert set(r) == {"defences", "cost_engineer_weeks", "outage_min", "user_min_lost"}
    small = score_combination(affected_share=0.005, metrics=["outage_min"])
    assert small["outage_min"] == 0.0
    with pytest.raises(ValueError, match="affected_share"):
        score_combination(affected_share=1.5)


def test_defence_breaking_point_grid():
    grid = defence_breaking_point(
        60.0,
        shares=[0.0, 0.02, 0.4],
        defences={"admission 0.3": AdmissionControl(0.3), "capacity x2": CapacityHeadroom(2.0)},
    )
    assert list(grid.columns) == [
        "defence",
        "affected_share",
        "outage_min",
        "user_min_lost",
        "meets_target",
        "breaking_point_share",
    ]
    assert grid["defence"].unique().tolist() == ["no defence", "admission 0.3", "capacity x2"]
    points = grid.groupby("defence", sort=False)["breaking_point_share"].first()
    assert points["no defence"] == 0.0  # stuck already at 2 %
    assert points["admission 0.3"] == 0.4
    assert points["capacity x2"] == 0.02
    assert (grid.loc[grid.affected_share == 0.0, "outage_min"] == 0.0).all()
    with pytest.raises(ValueError, match="shares"):
        defence_breaking_point(60.0, shares=[0.1, 1.2])
    with pytest.raises(ValueError, match="no defence"):
        defence_breaking_point(60.0, shares=[0.1], defences={"no defence": DropExpired()})


# --------------------------------------------------------------------------------------------
# Bad input to the defences
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "says"),
    [
        (lambda: AdmissionControl(rate_share=-0.5), ValueError, "rate_share"),
        (lambda: AdmissionControl(rate_share="half"), TypeError, "rate_share"),
        (lambda: BoundedQueue(max_wait_s=0.0), ValueError, "max_wait_s"),
        (lambda: CapacityHeadroom(factor=0.5), ValueError, "factor must be >= 1"),
        (lambda: CapacityHeadroom(factor=math.inf), ValueError, "factor"),
        (lambda: RetryBudget(tokens=-1), ValueError, "tokens"),
        (lambda: RetryBudget(tokens=1.5), ValueError, "tokens"),
        (lambda: RetryBudget(refill_per_s=math.nan), ValueError, "refill_per_s"),
        (lambda: CircuitBreaker(failure_threshold=0), ValueError, "failure_threshold"),
        (lambda: CircuitBreaker(cooldown_s=-1.0), ValueError, "cooldown_s"),
        (lambda: ClientBackoff(jitter=1.0), ValueError, "jitter"),
        (lambda: ClientBackoff(multiplier=0.5), ValueError, "multiplier"),
        (lambda: Bulkheads(entries=()), ValueError, "entries"),
        (lambda: Bulkheads(entries=["auth"]).apply(skype_2015()), ValueError, "not an entry"),
        (lambda: Bulkheads(entries=["sign_on"]).apply(skype_2015()), ValueError, "sign_in"),
        (lambda: HealthCheck(delay_s=-5.0), ValueError, "delay_s"),
        (lambda: DropExpired().apply("skype_2015"), TypeError, "Scenario"),
    ],
)
def test_bad_input_names_the_argument(make, error, says):
    with pytest.raises(error, match=says):
        make()


def test_clients_turned_away_count_as_outage():
    """Admission at 0.3 of capacity keeps sign-in from overloading, but users stay offline:
    the outage covers every minute more than 5 % of the clients are offline."""
    scenario = apply_all(skype_2015(), [mitigations.AdmissionControl(rate_share=0.3)])
    replay = scenario.run()
    assert replay.onset_utc() is None  # sign-in never overloaded in the graph
    ts = run_storm(replay.storm_params(output_every_s=1.0)).timeseries
    push_s = min(t.time_s for t in scenario.params.triggers)
    before = ts.loc[ts.time_s <= push_s, "connected"].iloc[-1]
    offline = ts[(ts.time_s >= push_s) & (ts.connected < 0.95 * before)]
    offline_min = (offline.time_s.iloc[-1] + 1.0 - offline.time_s.iloc[0]) / 60.0
    low = mitigations.score(scenario, metrics=["outage_min", "restored_by_end"])
    assert offline_min > 30
    assert low["outage_min"] >= offline_min - 1e-9
    assert low["outage_min"] <= offline_min + 5.0  # the replay's 5-minute resolution
    assert low["restored_by_end"]
