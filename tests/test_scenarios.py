"""Tests of outage_kit.scenarios: the 2015 replay against the sourced record in data/."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from outage_kit import data, services
from outage_kit.scenarios import PHASES, Replay, Scenario, skype_2015
from outage_kit.storm import is_stuck

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
    times = ["2015-09-21T19:00Z", "2015-09-21T21:00Z", "2015-09-21T23:00Z"]
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


def test_the_replay_is_fast():
    scenario = skype_2015()
    scenario.run()
    start = time.perf_counter()
    scenario.run()
    assert time.perf_counter() - start < 2.0


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
