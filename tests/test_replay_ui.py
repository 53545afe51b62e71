"""Lesson 06's replay charts, variant table and exercise checks."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from outage_kit import charts, data, replay_charts, replay_exercises, scenarios

# Graph states shared by the replays of this module (same result, less time).
_GRAPH_CACHE: dict = {}


@functools.lru_cache(maxsize=1)
def _replay():
    return scenarios.skype_2015().run()


@functools.cache
def _share_replay(share: float, feedback: bool = True):
    scenario = replay_charts.rebalancing_share_scenario(share, feedback=feedback)
    return scenario.run(graph_cache=_GRAPH_CACHE)


BUILDERS = {
    "graph": lambda: replay_charts.replay_graph_chart(_replay()),
    "day": lambda: replay_charts.replay_day_chart(_replay()),
    "day_no_param": lambda: replay_charts.replay_day_chart(_replay(), param_name=None),
    "explorer": lambda: replay_charts.replay_explorer_chart(_replay()),
    "feedback": lambda: replay_charts.feedback_day_chart(
        {"card": _replay(), "half the capacity": _share_replay(0.5)}
    ),
}


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# The checks every chart builder gets (compiles with Vega-Lite 5, stable spec, house theme,
# datasets under 5,000 rows) run in tests/test_charts.py, which includes these builders.


def test_explorer_has_one_slider_shared_by_graph_and_day():
    spec = replay_charts.replay_explorer_chart(_replay(), value=13.5).to_dict()
    (param,) = spec["params"]
    assert param["name"] == "hour" and param["bind"]["input"] == "range"
    assert param["value"] == 13.5 and param["bind"]["step"] == 0.5
    assert "hour" in str(spec["vconcat"][1])


def test_frames_follow_the_replay_health():
    r = _replay()
    nodes, edges = replay_charts.replay_frames(r)
    assert sorted(set(nodes["frame"])) == [h / 2 for h in range(48)]
    at10 = nodes[nodes.frame == 10.0].set_index("id")["health"]
    assert at10["sign_in"] == "overloaded" and at10["skype_for_business"] == "healthy"
    assert nodes[nodes.frame == 0.0]["health"].eq("healthy").all()
    with pytest.raises(ValueError, match="every_s"):
        replay_charts.replay_frames(r, every_s=100.0)


def test_captions_name_only_phases_the_replay_produces():
    r = _replay()
    spans = replay_charts.phase_spans(r)
    assert set(spans["phase"]) <= set(r.timeseries["phase"])
    assert spans["start_h"].iloc[0] == 0 and spans["end_h"].iloc[-1] == 24
    caps = replay_charts.frame_captions(r, replay_charts.replay_frames(r)[0])
    assert caps[18.0].startswith("18:00 UTC · stuck")


def test_verdicts_and_variants():
    r = _replay()
    table = replay_charts.verdicts_table(r)
    assert table["public record"].iloc[2] == "15.5 h"
    assert (
        replay_charts.variant_scenario(replay_charts.VARIANTS[0]).actions
        == scenarios.skype_2015().actions
    )
    with pytest.raises(ValueError, match="name"):
        replay_charts.variant_scenario("wishful thinking")
    row = replay_charts.variants_table(
        {"no rebalancing": scenarios.skype_2015(recovery=False).run()}
    )
    assert row["restoration"].iloc[0].startswith("never")
    assert bool(row["stuck at some time"].iloc[0]) is True


def _assert_hint_hides(verdict, answer_text):
    assert answer_text not in verdict.message


def test_hours_stuck_check():
    expected = replay_exercises.stuck_hours()
    assert replay_exercises.hours_stuck(None).correct is None
    assert replay_exercises.hours_stuck(expected).correct is True
    for wrong in (expected * 60, 15.5, 3.0, "ten"):
        verdict = replay_exercises.hours_stuck(wrong)
        assert verdict.correct is False
        _assert_hint_hides(verdict, f"{expected:g}")


def test_back_before_noon_check():
    expected = replay_exercises.variants_back_before_noon()
    # With the two-way coupling only the small trigger keeps the morning: ten times the
    # sign-in capacity feeds more sign-ins into a path that breaks at 1.52 x the normal rate.
    assert expected == {"1 % of clients affected"}
    assert replay_exercises.back_before_noon(None).correct is None
    assert replay_exercises.back_before_noon(expected).correct is True
    hints = {}
    for wrong in (
        expected | {"gRPC backoff"},
        expected | {"sign-in capacity × 10"},
        expected | {"rebalancing at 12:00 UTC"},
        set(),
        {"prayer"},
        "1 % of clients affected",
    ):
        verdict = replay_exercises.back_before_noon(wrong)
        assert verdict.correct is False
        for name in expected:
            _assert_hint_hides(verdict, name)
        hints[frozenset(wrong) if not isinstance(wrong, str) else wrong] = verdict.message
    assert "door" in hints[frozenset(expected | {"sign-in capacity × 10"})]
    assert "noon" in hints[frozenset(expected | {"rebalancing at 12:00 UTC"})]


# --------------------------------------------------------------------------- the way back


def test_captions_come_from_the_card_and_the_replay():
    when = data.parameter("rebalancing_utc")
    share = data.parameter("rebalancing_admission_share")
    card = replay_charts.PHASE_CAPTIONS["rebalancing"]
    assert f"{when:%H:%M}" in card and f"{share:g} of capacity" in card
    assert f"{data.parameter('config_push_utc'):%H:%M}" in replay_charts.PHASE_CAPTIONS["push"]
    noon = scenarios.skype_2015(rebalancing_utc="2015-09-21T12:00Z").run()
    assert "from 12:00" in replay_charts.phase_captions(noon)["rebalancing"]
    spans = replay_charts.phase_spans(_replay()).set_index("phase")
    assert spans.loc["rebalancing", "caption"] == card
    assert spans.loc["rebalancing", "start_h"] == pytest.approx(when.hour + when.minute / 60)


def test_rebalancing_share_scenario_changes_only_the_admitted_rate():
    card = scenarios.skype_2015()
    same = replay_charts.rebalancing_share_scenario(data.parameter("rebalancing_admission_share"))
    assert same.actions == card.actions and same.feedback is True
    half = replay_charts.rebalancing_share_scenario(0.5, feedback=False)
    (action,) = half.actions
    assert action.time_s == card.actions[0].time_s
    assert action.policy.admission.rate_per_s == 0.5 * card.params.signin_capacity_per_s
    assert half.feedback is False and half.params == card.params
    for bad in (0, 1.01, -0.3, "half", True, float("nan")):
        with pytest.raises(ValueError, match="share must lie in"):
            replay_charts.rebalancing_share_scenario(bad)


def test_door_and_path_table_puts_the_card_between_the_normal_rate_and_the_limit():
    scenario = scenarios.skype_2015()
    table = replay_charts.door_and_path_table(scenario, shares=[0.3, 0.5])
    ratio = table["× normal sign-in rate"].tolist()
    normal = scenario.params.population * scenario.params.churn_per_s
    assert ratio[0] == 1.0 and table["sign-ins per second"].iloc[0] == round(normal)
    assert ratio[1] == pytest.approx(scenario.params.signin_capacity_per_s / normal)
    assert ratio[2] == scenarios.sign_in_path_limit(scenario) == 1.52
    # The card's rebalancing lies above the normal rate (clients gain ground) and below the
    # path's limit; half the door's capacity lies above it.
    assert ratio[0] < ratio[3] < ratio[2] < ratio[4] < ratio[1]


def test_the_cards_day_is_the_same_one_way_and_two_way():
    # While stuck, the sign-ins served are for clients that stopped waiting: failing them
    # behind the door changes nothing the replay reports.
    one_way = _share_replay(data.parameter("rebalancing_admission_share"), False)
    two_way = _replay()
    assert one_way.restoration_utc() == two_way.restoration_utc()
    assert one_way.timeseries["phase"].tolist() == two_way.timeseries["phase"].tolist()
    assert (one_way.timeseries["downstream_failure_share"] == 0).all()  # nothing fed back
    assert (two_way.timeseries["downstream_failure_share"] == 1).sum() > 100
    assert one_way.feedback_rounds == 1 and two_way.feedback_rounds > 1


def test_two_way_coupling_decides_whether_a_wider_rebalancing_restores():
    one_way = _share_replay(0.5, False)
    two_way = _share_replay(0.5, True)
    assert one_way.restoration_utc() is not None
    assert one_way.restoration_utc() < _replay().restoration_utc()
    assert two_way.restoration_utc() is None
    # After the rebalancing every sign-in the sign-in service completes fails behind it.
    after = two_way.timeseries[two_way.timeseries["phase"] == "rebalancing"]
    assert (after["downstream_failure_share"].iloc[2:] == 1.0).all()
    assert after["connected_share"].iloc[-1] < 0.01
    table = replay_charts.rebalancing_table([_replay(), one_way, two_way])
    assert table["coupling"].tolist() == ["two-way", "one-way", "two-way"]
    assert table["admitted (share of capacity)"].tolist() == [0.3, 0.5, 0.5]
    assert table["sign-ins admitted (× normal)"].tolist() == [1.35, 2.25, 2.25]
    assert table["restoration"].iloc[2].startswith("never")
    assert table["duration"].tolist()[0] == "15.5 h"


def test_feedback_chart_draws_the_limit_and_what_the_graph_feeds_back():
    spec = replay_charts.feedback_day_chart({"card": _replay()}).to_dict()
    served, failing, online = spec["vconcat"]
    rule = spec["datasets"][served["layer"][1]["data"]["name"]]
    assert rule[0]["y"] == scenarios.sign_in_path_limit(_replay().scenario)
    rows = pd.DataFrame(spec["datasets"][served["layer"][0]["data"]["name"]])
    assert set(rows["failing"]) == {0.0, 1.0}
    stuck = rows[rows["phase"] == "stuck"]
    assert (stuck["failing"] == 1.0).all() and (stuck["served_ratio"] > 1.52).all()
    assert (rows[rows["phase"] == "normal"]["failing"] == 0.0).all()
    assert spec["vconcat"][0]["layer"][0]["encoding"]["color"]["field"] == "replay"
    custom = replay_charts.feedback_day_chart({"card": _replay()}, path_limit=2.0).to_dict()
    assert custom["datasets"][custom["vconcat"][0]["layer"][1]["data"]["name"]][0]["y"] == 2.0
    with pytest.raises(ValueError, match="at least one"):
        replay_charts.feedback_day_chart({})


def test_largest_safe_share_is_where_the_two_way_replay_stops_restoring():
    share = replay_exercises.largest_safe_share()
    assert share == 0.33
    assert _share_replay(share).restoration_utc() is not None
    assert _share_replay(round(share + 0.01, 2)).restoration_utc() is None


def test_safe_share_check():
    expected = replay_exercises.largest_safe_share()
    assert replay_exercises.safe_share(None).correct is None
    assert replay_exercises.safe_share(expected).correct is True
    hints = {}
    for wrong in (1.52, 0.34, 0.5, 0.3, 0.335, 0.2, 1.5, -0.1, "a third", True):
        verdict = replay_exercises.safe_share(wrong)
        assert verdict.correct is False, wrong
        _assert_hint_hides(verdict, f"{expected:g}")
        hints[wrong] = verdict.message
    assert "multiple of the normal" in hints[1.52]
    assert hints[0.34].startswith("too wide") and hints[0.5].startswith("too wide")
    assert "card's share" in hints[0.3]
    assert "0.01" in hints[0.335] and "wider" in hints[0.2]
    assert "between 0 and 1" in hints[1.5] and "between 0 and 1" in hints[-0.1]


# --------------------------------------------------------------------------- play button panel


def test_replay_state_follows_the_replay_phases():
    from outage_kit import replay_widgets

    replay = _replay()
    for hour in (0.0, 8.5, 13.5, 20.0, 23.5):
        state = replay_widgets.replay_state(replay, hour)
        assert state["phase"] == replay.phase_at(
            replay.scenario.start_utc + pd.Timedelta(hours=hour)
        )
        assert state["params"] == {"hour": hour}
    assert "13:30 UTC" in replay_widgets.replay_state(replay, 13.5)["readout"]
    # Before the push nothing is down; in the stuck phase sign-in and its dependants are.
    assert "0 of 17" in replay_widgets.replay_state(replay, 8.0)["readout"]
    assert "0 of 17" not in replay_widgets.replay_state(replay, 13.5)["readout"]
    # What the graph feeds back: every sign-in fails behind sign-in while stuck, none after
    # the rebalancing has settled.
    assert "failing behind sign-in" in replay_widgets.replay_state(replay, 13.5)["readout"]
    assert "<b>100%</b>" in replay_widgets.replay_state(replay, 13.5)["readout"]
    assert "<b>0%</b>" in replay_widgets.replay_state(replay, 23.0)["readout"]


@pytest.mark.parametrize("hour", [-0.5, 24.0, float("nan"), "noon", True])
def test_replay_state_rejects_times_outside_the_day(hour):
    from outage_kit import replay_widgets

    with pytest.raises(ValueError, match="hour must"):
        replay_widgets.replay_state(_replay(), hour)


def test_play_button_drives_the_slider_and_the_chart():
    from outage_kit import replay_widgets

    panel = replay_widgets.ReplayPanel(_replay(), hour=8.0)
    assert panel.chart.params.hour == 8.0
    assert panel.play.max == panel.time.max == 47
    panel.play.value = 47  # what the browser does on each tick (jslink); here via the kernel
    assert panel.time.value == 47
    assert panel.chart.params.hour == 23.5
    assert "rebalancing" in panel.readout.value


# --------------------------------------------------------------------------- the lesson's text


def _lesson_text() -> str:
    path = Path(__file__).resolve().parent.parent / "lessons/06_the_cascade_step_by_step.ipynb"
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.sub(r"\s+", " ", text)


def test_lesson_quotes_the_times_the_card_and_the_replays_give():
    text = _lesson_text()
    record = replay_charts.record_verdicts()
    noon = replay_charts.variant_scenario("rebalancing at 12:00 UTC").run(graph_cache=_GRAPH_CACHE)
    known = {
        f"{t:%H:%M}"
        for t in (
            data.parameter("config_push_utc"),
            data.parameter("rebalancing_utc"),
            record["onset_utc"],
            record["restoration_utc"],
            _replay().onset_utc(),
            _replay().restoration_utc(),
            noon.restoration_utc(),
        )
    }
    assert f"{data.parameter('rebalancing_utc'):%H:%M}" in text
    for clock in re.findall(r"\b\d\d:\d\d\b", text):
        # Any other time is a stop of the half-hour slider, or the noon variant's 12:00.
        assert clock in known or clock[3:] in ("00", "30"), clock


def test_lesson_quotes_the_door_and_the_path_the_package_computes():
    text = _lesson_text()
    scenario = scenarios.skype_2015()
    normal = replay_charts.normal_signin_rate_per_s(scenario)
    share = data.parameter("rebalancing_admission_share")
    assert f"{share:g} of the sign-in capacity" in text
    assert f"{share * scenario.params.signin_capacity_per_s:,.0f} sign-ins per second" in text
    assert f"{scenario.params.signin_capacity_per_s / normal:g} times the normal" in text
    limit = scenarios.sign_in_path_limit(scenario)
    assert round(limit, 1) == 1.5 and "1.5 times the normal" in text
