"""Lesson 05's storm charts, the storm panel and the exercise checks."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from outage_kit import charts, storm, storm_charts, storm_exercises, storm_widgets, tables

PUSH_S = storm_widgets.push_time_s()


def _day():
    return storm.run_storm(storm_widgets.storm_scenario()).timeseries


def _herd():
    frame = _day()
    return pd.DataFrame(
        {"policy": "immediate (card)", "seconds": frame.time_s, "load_ratio": frame.load_ratio}
    )


def _trigger_frames():
    frames = []
    for share in (0.01, 0.4):
        ts = storm.run_storm(storm_widgets.storm_scenario(share, output_every_s=600.0)).timeseries
        frames.append(
            pd.DataFrame(
                {
                    "trigger_share": share,
                    "time_s": ts.time_s,
                    "connected_share": ts.connected_share,
                    "goodput_share": ts.goodput_per_s / ts.capacity_per_s,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _levers():
    rows = []
    for name in ("no action", "drop expired work"):
        ts = storm.run_storm(storm_widgets.lever_scenario(name)).timeseries.iloc[::10]
        rows.append(ts[["time_s", "connected_share"]].assign(lever=name))
    return pd.concat(rows, ignore_index=True)


BUILDERS = {
    "day": lambda: storm_charts.storm_day_chart(_day(), push_s=PUSH_S),
    "herd": lambda: storm_charts.herd_chart(_herd()),
    "trigger_explorer": lambda: storm_charts.trigger_explorer_chart(
        _trigger_frames(), push_s=PUSH_S
    ),
    "levers": lambda: storm_charts.levers_chart(
        _levers(), push_s=PUSH_S, action_s=PUSH_S + storm_widgets.LEVER_DELAY_S
    ),
    "cross_check": lambda: storm_charts.cross_check_chart(
        tables.cross_check_series((800,), runs=2), runs=2
    ),
    "panel": lambda: storm_charts.storm_panel_chart(
        step_h=1 / 60, **{k: v for k, v in storm_widgets.storm_state()["params"].items()}
    ),
}


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# --------------------------------------------------------------------------- charts


# The checks every chart builder gets (compiles with Vega-Lite 5, stable spec, house theme,
# datasets under 5,000 rows) run in tests/test_charts.py, which includes these builders.


def test_trigger_explorer_binds_radio_buttons_and_checks_its_start():
    frames = _trigger_frames()
    spec = storm_charts.trigger_explorer_chart(frames, push_s=PUSH_S, trigger_share=0.01)
    (param,) = spec.to_dict()["params"]
    assert param["bind"]["input"] == "radio" and param["value"] == 0.01
    with pytest.raises(ValueError, match="trigger_share"):
        storm_charts.trigger_explorer_chart(frames, push_s=PUSH_S, trigger_share=0.3)


def test_cross_check_series_agrees_after_the_push():
    frame = tables.cross_check_series((1500,), runs=3)
    after = frame[frame.time_s != 10.0]
    assert (after["model"] - after["mean"]).abs().max() < 0.05
    assert (frame["low"] <= frame["mean"] + 1e-12).all()
    assert (frame["mean"] <= frame["high"] + 1e-12).all()


# --------------------------------------------------------------------------- scenarios


def test_scenario_knobs_change_the_params():
    base = storm_widgets.storm_scenario()
    card = storm.scenario_from_card()
    assert base.signin_capacity_per_s == card.signin_capacity_per_s
    assert base.version_mix.affected_share() == card.version_mix.affected_share()
    doubled = storm_widgets.storm_scenario(capacity_factor=2.0)
    assert doubled.signin_capacity_per_s == 2 * card.signin_capacity_per_s
    assert doubled.max_queue_length == 2 * card.max_queue_length
    assert storm_widgets.storm_scenario(timeout_s=60.0).timeout_s == 60.0
    assert storm_widgets.storm_scenario(retry="gRPC backoff (card)").backoff == (
        storm.scenario_from_card("grpc").backoff
    )
    with pytest.raises(ValueError, match="retry"):
        storm_widgets.storm_scenario(retry="never")
    with pytest.raises(ValueError, match="capacity_factor"):
        storm_widgets.storm_scenario(capacity_factor=0.0)
    with pytest.raises(ValueError, match="lever"):
        storm_widgets.lever_scenario("prayer")


# --------------------------------------------------------------------------- panel


def test_storm_state_is_pure_and_fast():
    storm_widgets.storm_state(0.01)  # compile once
    start = time.perf_counter()
    first = storm_widgets.storm_state(0.4, 1.0, 20.0, "gRPC backoff (card)")
    elapsed = time.perf_counter() - start
    second = storm_widgets.storm_state(0.4, 1.0, 20.0, "gRPC backoff (card)")
    assert first["params"] == second["params"] and first["readout"] == second["readout"]
    assert {len(v) for v in first["params"].values()} == {1440}
    assert "Stuck" in first["readout"]
    assert "Stuck" not in storm_widgets.storm_state(0.01)["readout"]
    assert elapsed < 0.5  # the brief asks < 100 ms; slack for a loaded CI machine


@pytest.mark.parametrize(
    "control, value",
    [("share", 0.01), ("capacity", 10.0), ("timeout", 60.0), ("retry", "gRPC backoff (card)")],
)
def test_every_panel_control_changes_the_chart_params(control, value):
    panel = storm_widgets.StormPanel()
    before = {
        name: list(getattr(panel.chart.params, name)) for name in ("connected", "served", "offered")
    }
    getattr(panel, control).value = value
    after = {
        name: list(getattr(panel.chart.params, name)) for name in ("connected", "served", "offered")
    }
    assert after != before
    expected = storm_widgets.storm_state(
        panel.share.value, panel.capacity.value, panel.timeout.value, panel.retry.value
    )
    assert after["connected"] == expected["params"]["connected"]
    assert panel.readout.value == expected["readout"]


# --------------------------------------------------------------------------- checks

CHECKS = {
    "herd_drain_seconds": (
        storm_exercises.herd_drain_seconds,
        storm_exercises.herd_seconds_at_capacity(),
        [20.0, 800.0, 960.0, 320.0 / 60, 5.0, "many"],
    ),
    "stuck_threshold_share": (
        storm_exercises.stuck_threshold_share,
        storm_exercises.smallest_stuck_share(),
        [0.4, 0.01, 2.0, 0.3, 0.005],
    ),
    "levers_that_get_out": (
        storm_exercises.levers_that_get_out,
        set(storm_exercises.levers_that_recover()),
        [
            {"capacity × 5"},
            {"drop expired work"},
            {"drop expired work", "short queue (10 s)", "capacity × 2"},
            set(storm_widgets.LEVERS),
            {"magic"},
            "drop expired work",
        ],
    ),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_says_right_wrong_and_no_answer(name):
    check, right, wrongs = CHECKS[name]
    assert check(right).correct is True
    assert check(None).correct is None
    for wrong in wrongs:
        verdict = check(wrong)
        assert verdict.correct is False, (wrong, verdict)
        assert verdict.message


@pytest.mark.parametrize("name", list(CHECKS))
def test_hints_never_give_the_answer(name):
    check, right, wrongs = CHECKS[name]
    if isinstance(right, set):
        forbidden = [str(sorted(right)), str(right)]
    else:
        forbidden = [f"{right:g}", f"{right:,.0f}", f"{100 * right:g} %", f"{100 * right:g}%"]
    for wrong in wrongs:
        message = check(wrong).message
        for text in forbidden:
            if text not in {"0", ""}:
                assert text not in message, (wrong, message)


def test_expected_answers_follow_the_model():
    assert storm_exercises.herd_seconds_at_capacity() == pytest.approx(
        16e6 / storm.scenario_from_card().signin_capacity_per_s
    )
    assert storm_exercises.levers_that_recover() == {
        "drop expired work",
        "short queue (10 s)",
        "admission control (30 %)",
    }
    assert storm_exercises.smallest_stuck_share() in storm_widgets.TRIGGER_SHARES
