"""Lesson 06's replay charts, variant table and exercise checks."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from outage_kit import charts, replay_charts, replay_exercises, scenarios


@functools.lru_cache(maxsize=1)
def _replay():
    return scenarios.skype_2015().run()


BUILDERS = {
    "graph": lambda: replay_charts.replay_graph_chart(_replay()),
    "day": lambda: replay_charts.replay_day_chart(_replay()),
    "day_no_param": lambda: replay_charts.replay_day_chart(_replay(), param_name=None),
    "explorer": lambda: replay_charts.replay_explorer_chart(_replay()),
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
    assert expected and expected < set(replay_charts.VARIANTS)
    assert replay_exercises.back_before_noon(None).correct is None
    assert replay_exercises.back_before_noon(expected).correct is True
    for wrong in (
        expected | {"gRPC backoff"},
        expected | {"rebalancing at 12:00 UTC"},
        set(list(expected)[:1]),
        {"prayer"},
        "1 % of clients affected",
    ):
        verdict = replay_exercises.back_before_noon(wrong)
        assert verdict.correct is False
        for name in expected:
            _assert_hint_hides(verdict, name)


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
