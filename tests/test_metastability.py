"""Metastability in the population model: closed-form edges, hysteresis, maps, recovery."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from outage_kit import charts
from outage_kit import metastability as ms
from outage_kit import metastability_charts as mc
from outage_kit.policies import ServerPolicy
from outage_kit.storm import ConfigPush, VersionMix, run_storm

LAB = ms.lab_params()


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# ------------------------------------------------------------------ closed forms vs the model


@pytest.mark.parametrize("utilisation", [0.05, 0.3, 0.667, 0.9])
def test_push_edge_is_where_the_back_of_the_envelope_puts_it(utilisation):
    """The model's edge lies between the one-timeout and the two-timeout estimates."""
    params = ms.with_utilisation(LAB, utilisation)
    one = ms.critical_trigger_share(params)
    two = ms.critical_trigger_share(params, timeouts=2)
    assert 0 < one < 1 and two == pytest.approx(min(2 * one, 1.0))
    small = ms.trigger_outcome(params, kind="push", size=0.95 * one)
    large = ms.trigger_outcome(params, kind="push", size=min(1.05 * two, 1.0))
    assert small["outcome"] == "recovered"
    assert large["outcome"] == "stuck"


def test_below_the_heal_load_even_a_total_push_clears():
    """A load under the estimated heal ratio is stable: knocking everyone off is survived."""
    estimate = ms.heal_load_ratio_estimate(LAB)
    stable = ms.trigger_outcome(LAB, kind="push", size=1.0, utilisation=0.5 * estimate)
    assert stable["outcome"] == "recovered"
    assert ms.critical_trigger_share(ms.with_utilisation(LAB, 0.5 * estimate)) == 1.0
    vulnerable = ms.trigger_outcome(LAB, kind="push", size=1.0, utilisation=2.0 * estimate)
    assert vulnerable["outcome"] == "stuck"


def test_heal_estimate_does_not_depend_on_capacity():
    a = ms.heal_load_ratio_estimate(ms.with_utilisation(LAB, 0.2))
    b = ms.heal_load_ratio_estimate(ms.with_utilisation(LAB, 0.9))
    assert a == pytest.approx(b, rel=1e-12)
    assert a == pytest.approx(LAB.timeout_s * (1 / 3600 + (1 / 60) / 30), rel=1e-12)


# ------------------------------------------------------------------ hysteresis


def test_hysteresis_breaks_past_capacity_and_heals_near_the_estimate():
    frame = ms.hysteresis(LAB)
    t = ms.hysteresis_thresholds(frame)
    # Up: healthy while the normal load fits in the capacity, broken just past it.
    up = frame[frame.branch == "up"]
    assert up[up.load_ratio <= 1.0].healthy.all()
    assert 1.0 < t["break_load_ratio"] <= 1.1
    # Down: the heal point lies near the estimate, far below the break point.
    estimate = ms.heal_load_ratio_estimate(LAB)
    assert 0.6 * estimate <= t["heal_load_ratio"] <= estimate
    assert t["break_load_ratio"] / t["heal_load_ratio"] > 50
    # Same load, two states: at load 1.0 and 0.2 the down branch is still broken.
    down = frame[frame.branch == "down"]
    for ratio in (1.0, 0.2):
        assert bool(up[up.load_ratio <= 1.0].healthy.all())
        assert not bool(down[down.load_ratio == ratio].healthy.iloc[0])


def test_dropping_expired_work_closes_the_hysteresis_loop_and_backoff_does_not():
    plain = ms.hysteresis_thresholds(ms.hysteresis(LAB))
    drop = ms.hysteresis_thresholds(
        ms.hysteresis(LAB.with_(server_policy=ServerPolicy(drop_expired=True)))
    )
    grpc = ms.hysteresis_thresholds(ms.hysteresis(ms.lab_params(backoff="grpc")))
    assert drop["heal_load_ratio"] >= 0.75 * drop["break_load_ratio"]
    assert grpc["heal_load_ratio"] < 0.2 * grpc["break_load_ratio"]
    assert plain["heal_load_ratio"] < grpc["heal_load_ratio"] < drop["heal_load_ratio"]


def test_hysteresis_keeps_the_server_policy_while_scaling_the_queue():
    frame = ms.hysteresis(LAB.with_(server_policy=ServerPolicy(drop_expired=True)))
    # With drop-expired kept, the down branch is healthy again at 0.8 x capacity.
    down = frame[frame.branch == "down"]
    assert bool(down[down.load_ratio == 0.8].healthy.iloc[0])


def test_load_states_follow_the_thresholds():
    t = {"break_load_ratio": 1.05, "heal_load_ratio": 0.014}
    assert ms.load_states([0.01, 0.014, 0.667, 1.05, 2.0], t) == [
        "stable",
        "vulnerable",
        "vulnerable",
        "overloaded",
        "overloaded",
    ]


# ------------------------------------------------------------------ maps


def test_capacity_dip_map_is_monotone_and_safe_within_the_headroom():
    sizes = [0.2, 0.3, 0.4, 0.5, 0.7]
    durations = [10.0, 60.0, 300.0, 1800.0]
    frame = ms.trigger_map(
        LAB,
        kind="capacity_dip",
        sizes=sizes,
        durations_s=durations,
        executor="serial",
        progress=False,
    )
    assert list(frame.columns[:2]) == ["size", "duration_s"]
    stuck = frame.pivot(index="size", columns="duration_s", values="outcome") == "stuck"
    # A bigger or longer dip never turns a stuck run into a recovered one.
    assert (stuck.cummax(axis=0) == stuck).all().all()
    assert (stuck.cummax(axis=1) == stuck).all().all()
    # Losing less than the headroom (1 - 0.667 of capacity) never sticks, however long.
    headroom = 1 - LAB.normal_utilisation
    assert not stuck.loc[[s for s in sizes if s < headroom]].any().any()
    # And the big, long corner is stuck.
    assert stuck.loc[0.7, 1800.0]


def test_map_does_not_depend_on_the_executor():
    kw = dict(kind="push", sizes=[0.005, 0.05], utilisations=[0.3, 0.9], progress=False)
    serial = ms.trigger_map(LAB, executor="serial", **kw)
    with ThreadPoolExecutor(2) as pool:
        threaded = ms.trigger_map(LAB, executor=pool, **kw)
    pd.testing.assert_frame_equal(serial, threaded)
    assert list(serial.columns[:3]) == ["utilisation", "size", "duration_s"]


def test_critical_share_curve_falls_with_load():
    curve = ms.critical_share_curve(LAB, [0.01, 0.1, 0.3, 0.6, 0.9])
    # At 1 % load even a push of everyone is absorbed: no edge there.
    assert 0.01 not in set(curve.utilisation)
    for _, line in curve.groupby("label"):
        assert line["size"].is_monotonic_decreasing
    assert (curve["size"] > 0).all() and (curve["size"] < 1).all()
    one = curve[curve.label == "one timeout"]["size"].to_numpy()
    two = curve[curve.label == "two timeouts"]["size"].to_numpy()
    assert (two >= one).all()


# ------------------------------------------------------------------ the loop


def test_the_loop_is_closed_while_stuck_and_open_after_recovery():
    stuck_run = run_storm(
        LAB.with_(triggers=(ConfigPush(600.0),), version_mix=VersionMix.two_groups(0.4))
    )
    loop = ms.loop_frame(stuck_run)
    late = loop[loop.time_s >= 3600.0]
    assert (late.queue_wait_s > late.timeout_s).all()
    assert (late.wasted_share > 0.99).all()
    before = loop[loop.time_s < 600.0]
    assert (before.queue_wait_s < 1.0).all() and (before.wasted_share == 0).all()
    small = run_storm(
        LAB.with_(triggers=(ConfigPush(600.0),), version_mix=VersionMix.two_groups(0.005))
    )
    after = ms.loop_frame(small)
    assert (after[after.time_s >= 1800.0].queue_wait_s < LAB.timeout_s).all()
    one = ms.sustaining_loop(stuck_run, 7200.0)
    assert one == {k: float(v) for k, v in loop[loop.time_s == 7200.0].iloc[0].items()}


# ------------------------------------------------------------------ recovery


def test_recovery_strategies_compare_as_the_mechanism_says():
    table = ms.recovery_strategies().set_index("strategy")
    assert table.loc["none", "outcome"] == "stuck"
    for name in ("admission_0.5", "drop_expired", "capacity_x10", "readmit_2h"):
        assert table.loc[name, "outcome"] == "recovered", name
        assert math.isfinite(table.loc[name, "recovery_min"])
    # Twice the capacity still leaves a queue longer than the timeout; nothing changes.
    assert table.loc["capacity_x2", "outcome"] == "stuck"
    assert table.loc["capacity_x2", "user_hours_lost"] == pytest.approx(
        table.loc["none", "user_hours_lost"], rel=1e-9
    )
    # A ramp lifted after one hour lets the backlog back in before it has cleared.
    assert table.loc["readmit_1h", "outcome"] != "recovered"
    # Everything that recovers loses fewer user-hours than doing nothing.
    ok = table[table.outcome == "recovered"]
    assert (ok.user_hours_lost < table.loc["none", "user_hours_lost"]).all()
    # User-hours lost can never exceed everybody offline for the whole window.
    assert (table.user_hours_lost <= 40e6 * 6.0 + 1e-6).all()


def test_recovery_timeseries_matches_the_table():
    names = ["none", "drop_expired"]
    frame = ms.recovery_timeseries(strategies=names)
    table = ms.recovery_strategies(strategies=names).set_index("strategy")
    for name in names:
        run = frame[frame.strategy == name]
        back = ms.recovery_time_s(run, 600.0)
        if table.loc[name, "outcome"] == "recovered":
            assert back / 60 - (7200 - 600) / 60 == pytest.approx(table.loc[name, "recovery_min"])
        else:
            assert math.isinf(back)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ms.trigger_outcome(kind="flood", size=0.1), "kind must be one of"),
        (lambda: ms.trigger_outcome(size=1.5), "size must be <= 1.0"),
        (lambda: ms.trigger_outcome(kind="capacity_dip", size=1.0, duration_s=5), "size of a"),
        (lambda: ms.trigger_outcome(kind="capacity_dip", size=0.5), "duration_s must be > 0"),
        (lambda: ms.trigger_outcome(size=0.1, at_s=1e9), "at_s"),
        (lambda: ms.trigger_outcome(size=float("nan")), "size must be finite"),
        (lambda: ms.with_utilisation(LAB, -1), "utilisation must be > 0"),
        (lambda: ms.recovery_strategies(strategies=["pray"]), "unknown strategy 'pray'"),
        (lambda: ms.recovery_strategies(action_at_s=100.0), "action_at_s must lie after"),
        (lambda: ms.hysteresis(load_ratios=()), "must not be empty"),
        (lambda: ms.hysteresis_thresholds(pd.DataFrame({"x": [1]})), "needs a 'branch'"),
        (lambda: ms.trigger_map(kind="flood", sizes=[0.1]), "kind must be one of"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_params_must_be_storm_params():
    with pytest.raises(TypeError, match="params must be StormParams"):
        ms.trigger_outcome({"population": 1}, size=0.1)


# ------------------------------------------------------------------ charts


def _small_map():
    return ms.trigger_map(
        LAB,
        kind="push",
        sizes=[0.005, 0.05],
        utilisations=[0.3, 0.9],
        executor="serial",
        progress=False,
    )


BUILDERS = {
    "loop": lambda: mc.loop_chart(
        ms.loop_frame(
            run_storm(
                LAB.with_(triggers=(ConfigPush(600.0),), version_mix=VersionMix.two_groups(0.4))
            )
        ),
        timeout_s=20.0,
        push_s=600.0,
    ),
    "outcome_map": lambda: mc.outcome_map_chart(
        _small_map(),
        x="size",
        y="utilisation",
        x_title="push",
        y_title="load",
        x_log=True,
        boundary=ms.critical_share_curve(LAB, [0.3, 0.9]),
    ),
    "hysteresis": lambda: mc.hysteresis_chart(
        ms.hysteresis(LAB), ms.hysteresis_thresholds(ms.hysteresis(LAB))
    ),
    "recovery": lambda: mc.recovery_chart(
        ms.recovery_timeseries(strategies=["none", "drop_expired"]), action_s=7200.0
    ),
}


def test_outcome_map_rejects_unknown_outcomes():
    with pytest.raises(ValueError, match="unknown outcomes"):
        mc.outcome_map_chart(
            pd.DataFrame({"a": [1], "b": [2], "outcome": ["meh"]}),
            x="a",
            y="b",
            x_title="a",
            y_title="b",
        )


def test_hysteresis_chart_names_states_from_the_thresholds():
    spec = BUILDERS["hysteresis"]().to_dict()
    text = str(spec)
    assert "load < 0.014 ? 'stable" in text
    assert "load < 1.05 ? 'vulnerable" in text


def test_recovery_chart_rejects_an_unknown_first_strategy():
    frame = pd.DataFrame({"strategy": ["none"], "time_s": [0.0], "connected_share": [1.0]})
    with pytest.raises(ValueError, match="first must be one of"):
        mc.recovery_chart(frame, action_s=0.0, first="pray")
