"""Tests of outage_kit.scenarios: the 2015 replay against the sourced record in data/."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from outage_kit import data, services
from outage_kit import scenarios as scenarios_module
from outage_kit.policies import AdmissionControl, NoRetry, ServerPolicy
from outage_kit.scenarios import PHASES, Replay, Scenario, skype_2015
from outage_kit.storm import DownstreamFailure, ServerPolicyAt, is_stuck, run_storm

CONSUMER_OVERLOADED = ("sign_in", "presence", "instant_messaging", "contact_list")
BUSINESS = ("sfb_sign_in", "skype_for_business", "sfb_presence", "sfb_directory")


@pytest.fixture(scope="module")
def replay() -> Replay:
    return skype_2015().run()


@pytest.fixture(scope="module")
def stuck() -> Replay:
    return skype_2015(recovery=False).run()


def test_onset_matches_the_timeline(replay):
    timeline = data.load_timeline_2015().set_index("id")
    record = timeline.loc["downdetector_onset", "time_utc"]
    assert record == data.parameter("outage_start_utc")
    assert abs(replay.onset_utc() - record) <= pd.Timedelta(minutes=15)


def test_restoration_and_duration_match_the_record(replay):
    timeline = data.load_timeline_2015().set_index("id")
    restored = timeline.loc["full_restoration", "time_utc"]
    assert restored == data.parameter("restoration_utc")
    record_h = (restored - data.parameter("outage_start_utc")).total_seconds() / 3600
    assert record_h == pytest.approx(data.parameter("outage_duration_h"))
    assert replay.outage_duration_h() == pytest.approx(record_h, rel=0.10)
    assert abs(replay.restoration_utc() - restored) <= pd.Timedelta(minutes=30)


def test_recovery_follows_the_rebalancing_from_the_card(replay):
    when = data.parameter("rebalancing_utc")
    assert data.parameter_record("rebalancing_utc")["status"] == "assumed"
    assert replay.scenario.parameters["rebalancing_utc"] == "assumed"
    assert replay.scenario.parameters["restoration_utc"] == "verified"
    assert replay.restoration_utc() > when
    assert replay.phase_at(when) == "rebalancing"
    ts = replay.timeseries.set_index("time_utc")
    assert ts.loc[: when - pd.Timedelta(minutes=5), "connected_share"].iloc[-1] < 0.01


def test_skype_for_business_is_never_overloaded(replay):
    ts = replay.timeseries
    for node in BUSINESS:
        assert (ts[f"{node}_health"] == "healthy").all(), node
        assert (ts[f"{node}_utilisation"] < 1).all(), node
    assert not set(BUSINESS) & set(replay.services_overloaded())


def test_the_named_consumer_services_are_overloaded_during_the_storm(replay):
    assert set(CONSUMER_OVERLOADED) <= set(replay.services_overloaded())
    ts = replay.timeseries
    early = ts[(ts.time_utc > replay.onset_utc()) & (ts.phase == "cascade")]
    assert not early.empty
    for node in CONSUMER_OVERLOADED:
        assert (early[f"{node}_health"] == "overloaded").any(), node
    # and nothing of the consumer stack is down before the push or after restoration
    normal = ts[ts.phase.isin(["normal", "restoration"])]
    health = normal[[c for c in ts if c.endswith("_health")]]
    assert (health == "healthy").all().all()


def test_phases_run_in_order(replay):
    ts = replay.timeseries
    assert set(ts.phase) <= set(PHASES)
    order = [PHASES.index(p) for p in ts.phase]
    assert order == sorted(order)
    assert ts.phase.iloc[0] == "normal"
    assert ts.phase.iloc[-1] == "restoration"
    assert {"push", "cascade", "stuck", "rebalancing"} <= set(ts.phase)
    assert replay.phase_at(data.parameter("restoration_utc")) == "restoration"


def test_population_is_conserved(replay):
    ts = replay.timeseries
    total = ts.connected + ts.signing_in + ts.backing_off + ts.gave_up + ts.partitioned
    population = replay.scenario.params.population
    assert ((total - population).abs() <= 1e-6 * population).all()
    assert replay.storm.conservation_error < 1e-9
    assert ts.connected_share.between(0, 1 + 1e-12).all()


def test_timeseries_shape(replay):
    ts = replay.timeseries
    assert len(ts) == 288
    assert str(ts.time_utc.dt.tz) == "UTC"
    assert ts.time_utc.iloc[0] == data.parameter("outage_start_utc").normalize()
    for node in replay.scenario.graph.nodes:
        assert f"{node}_utilisation" in ts and f"{node}_health" in ts
    for col in ("connected_share", "signin_load_ratio", "goodput_per_s", "phase"):
        assert col in ts


def test_later_rebalancing_restores_later():
    times = ["2015-09-21T19:00Z", "2015-09-21T20:30Z", "2015-09-21T22:00Z"]
    restored = [skype_2015(rebalancing_utc=t).run().restoration_utc() for t in times]
    assert restored == sorted(restored)
    assert len(set(restored)) == len(restored)
    for t, r in zip(times, restored, strict=True):
        assert pd.Timedelta(0) < r - pd.Timestamp(t) < pd.Timedelta(hours=2)


def test_without_recovery_it_stays_stuck_to_the_end_of_the_day(stuck):
    assert stuck.restoration_utc() is None
    assert math.isinf(stuck.outage_duration_h())
    assert stuck.phase_at("2015-09-21T23:59Z") == "stuck"
    assert is_stuck(stuck.storm, after_s=stuck.scenario.seconds("2015-09-21T14:00Z"))
    assert stuck.timeseries.connected_share.iloc[-1] < 0.01


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rebalancing_utc": "not a time"}, "rebalancing_utc"),
        ({"rebalancing_utc": "2015-09-20T12:00Z"}, "rebalancing_utc"),
        ({"recovery": "yes"}, "recovery"),
        ({"output_every_s": 0}, "output_every_s"),
        ({"output_every_s": 2.5}, "output_every_s"),
        ({"backoff": "soon"}, "backoff"),
    ],
)
def test_bad_input_to_skype_2015(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        skype_2015(**kwargs)


@pytest.mark.parametrize(
    ("change", "argument"),
    [
        ({"name": ""}, "name"),
        ({"params": None}, "params"),
        ({"graph": {}}, "graph"),
        ({"start_utc": "nope"}, "start_utc"),
        ({"actions": ("rebalance",)}, "actions"),
        ({"stack": "enterprise"}, "stack"),
        ({"signin_service": "auth"}, "signin_service"),
        ({"output_every_s": 1e9}, "output_every_s"),
        ({"feedback": "yes"}, "feedback"),
    ],
)
def test_bad_input_to_scenario(change, argument):
    with pytest.raises(ValueError, match=argument):
        skype_2015().with_(**change)


def test_phase_at_outside_the_run(replay):
    with pytest.raises(ValueError, match="t must lie inside the run"):
        replay.phase_at("2015-09-22T01:00Z")
    with pytest.raises(ValueError, match="^t must be a time"):
        replay.phase_at("whenever")


def test_a_scenario_on_another_graph_stack():
    """The API is not tied to 2015: a scenario driving a different entry point works."""
    graph = services.load_service_graph()
    base = skype_2015()
    other = Scenario(
        "business_storm",
        base.params.with_(horizon_s=12 * 3600.0, triggers=()),
        graph,
        "2015-09-21T00:00Z",
        stack="business",
        signin_service="sfb_sign_in",
    )
    replay = other.run()
    assert replay.onset_utc() is None
    assert replay.outage_duration_h() == 0.0
    assert set(replay.timeseries.phase) == {"normal"}


# --------------------------------------------------------------------------------------------
# The graph's feedback into the population model
# --------------------------------------------------------------------------------------------


def _sign_in_path_failure(model, base, ours, sign_in_scale, connected_share):
    """Share of sign-ins failing in sign-in's hard dependencies, computed from scratch."""
    rates = dict(base)
    for n in ours:
        rates[n] = base[n] * (sign_in_scale if n == "sign_in" else connected_share)
    edges = model.steady_state(rates).edges
    hard = edges[(edges.caller == "sign_in") & (edges.dependency == "hard")]
    return 1.0 - float(np.prod(1.0 - hard.call_failure_share.to_numpy()))


def test_the_feedback_is_consistent_at_every_interval(replay):
    """The failure share the population model ran with is the one the graph gives at the load
    that run put on it (loads rounded to 1 % of the baseline, shares to 0.01)."""
    graph = replay.scenario.graph
    model = services.GraphModel(graph, client_policy=NoRetry(), client_timeout_s=20.0)
    base = services.baseline_client_rates(graph)
    ours = [n for n in base if graph.nodes[n]["stack"] == "consumer"]
    ts = replay.timeseries
    seen = {}
    for scale, share, applied in zip(
        ts.signin_rate_ratio.round(2),
        ts.connected_share.round(2),
        ts.downstream_failure_share,
        strict=True,
    ):
        key = (scale, share)
        if key not in seen:
            seen[key] = round(_sign_in_path_failure(model, base, ours, scale, share), 2)
        assert applied == seen[key], key
    # The feedback did something: sign-ins failed behind the sign-in service during the storm.
    assert ts.downstream_failure_share.max() == 1.0
    assert (ts.failed_signins_per_s > 0).any()
    assert replay.feedback_rounds >= 2


def test_the_replay_is_the_population_model_run_with_the_feedback(replay):
    assert all(isinstance(a, DownstreamFailure) for a in replay.feedback_actions)
    again = run_storm(replay.storm_params()).timeseries
    pd.testing.assert_frame_equal(again, replay.storm.timeseries)
    ts = replay.timeseries
    np.testing.assert_array_equal(ts.failed_signins_per_s, again.failed_per_s)


def test_without_feedback_the_graph_only_reports():
    one_way = skype_2015(feedback=False).run()
    ts = one_way.timeseries
    assert one_way.feedback_rounds == 1 and one_way.feedback_actions == ()
    assert (ts.downstream_failure_share == 0).all() and (ts.failed_signins_per_s == 0).all()
    plain = run_storm(one_way.scenario.storm_params()).timeseries
    pd.testing.assert_frame_equal(plain, one_way.storm.timeseries)


def test_the_card_rebalancing_stays_below_the_sign_in_paths_breaking_point():
    """Admission at the card's share lets sign-ins through the graph; at 0.5 authentication
    collapses, every sign-in fails behind the door, and only the one-way replay recovers."""
    scenario = skype_2015()
    graph = scenario.graph
    model = services.GraphModel(graph, client_policy=NoRetry(), client_timeout_s=20.0)
    base = services.baseline_client_rates(graph)
    ours = [n for n in base if graph.nodes[n]["stack"] == "consumer"]
    churn = scenario.params.population * scenario.params.churn_per_s
    card_rate = scenario.actions[0].policy.admission.rate_per_s
    assert card_rate == data.parameter("rebalancing_admission_share") * (
        scenario.params.signin_capacity_per_s
    )
    for connected in (0.0, 0.5, 1.0):
        assert _sign_in_path_failure(model, base, ours, card_rate / churn, connected) == 0.0
        half = 0.5 * scenario.params.signin_capacity_per_s / churn
        assert _sign_in_path_failure(model, base, ours, half, connected) == 1.0
    when = scenario.actions[0].time_s
    half_policy = ServerPolicy(
        AdmissionControl(rate_per_s=0.5 * scenario.params.signin_capacity_per_s)
    )
    at_half = scenario.with_(actions=(ServerPolicyAt(when, half_policy),))
    assert at_half.run().restoration_utc() is None
    assert at_half.with_(feedback=False).run().restoration_utc() is not None


def test_a_failing_dependency_feeds_back_without_any_push():
    """Feedback is not tied to the storm: overload a hard dependency of sign-in by hand (a
    quarter of authentication's workers) and the clients' sessions cannot restart."""
    scenario = skype_2015(recovery=False)
    graph = scenario.graph.copy()
    graph.nodes["auth"]["workers"] = max(1, graph.nodes["auth"]["workers"] // 4)
    calm = scenario.with_(params=scenario.params.with_(triggers=()), graph=graph)
    two_way = calm.run()
    one_way = calm.with_(feedback=False).run()
    assert one_way.timeseries.connected_share.min() > 0.99
    assert (two_way.timeseries.downstream_failure_share == 1.0).all()
    assert two_way.timeseries.connected_share.iloc[-1] < 0.01


def _flipping_evaluator(monkeypatch, rows):
    """The graph answers 'fail' at ``rows`` when the run had no failures there, and 'no
    failure' when it had: no share is consistent at those rows."""
    original = scenarios_module._GraphEvaluator.__call__

    def flipping(self, ts):
        util, health, failure = original(self, ts)
        failure = np.zeros(len(ts))
        failed = ts["failed_per_s"].to_numpy() > 0
        for i in rows:
            failure[i] = 0.0 if failed[i] else 1.0
        return util, health, failure

    monkeypatch.setattr(scenarios_module._GraphEvaluator, "__call__", flipping)


def test_an_interval_with_no_consistent_share_takes_the_larger(monkeypatch):
    _flipping_evaluator(monkeypatch, rows=[60])
    calm = skype_2015(recovery=False)
    replay = calm.with_(params=calm.params.with_(triggers=())).run()
    share = replay.timeseries.downstream_failure_share.to_numpy()
    assert share[60] == 1.0
    assert (np.delete(share, 60) == 0.0).all()
    # rounds: fail from row 60 on; row 60 says no failure; fail again, settle row 60 on the
    # larger; the rows after it say no failure; consistent
    assert replay.feedback_rounds == 5


def test_feedback_that_never_settles_is_an_error(monkeypatch):
    monkeypatch.setattr(scenarios_module, "MAX_FEEDBACK_ROUNDS", 2)
    with pytest.raises(RuntimeError, match="did not settle in 2 rounds"):
        skype_2015().run()  # the card needs three rounds
