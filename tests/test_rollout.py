"""Lesson 04: the client version mix, the blast radius, staged rollouts, charts, panel, checks."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_kit import (
    charts,
    data,
    rollout,
    rollout_charts,
    rollout_exercises,
    rollout_widgets,
)
from outage_kit.data import DataError

VERSIONS = rollout.load_client_versions_2015()
SOURCE = data.DATA_DIR / "client_versions_2015.csv"


# --------------------------------------------------------------------------- data


def test_every_row_is_assumed_with_a_reason():
    assert set(VERSIONS["status"]) == {"assumed"}
    assert all(reason.strip() for reason in VERSIONS["reason"])


def test_shares_add_up_to_one():
    assert abs(math.fsum(VERSIONS["share_of_online"]) - 1.0) <= rollout.SHARE_SUM_TOL


def test_incompatible_share_is_the_cards_affected_client_share():
    card = data.parameter("affected_client_share")
    assert data.parameter_record("affected_client_share")["status"] == "assumed"
    assert abs(rollout.incompatible_share(VERSIONS) - card) <= 1e-9


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = SOURCE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / SOURCE.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_an_intact_copy_loads(tmp_path):
    path = tmp_path / SOURCE.name
    shutil.copy(SOURCE, path)
    assert rollout.load_client_versions_2015(path).equals(VERSIONS)


def test_shares_that_do_not_add_up_name_the_file(tmp_path):
    path = _broken_copy(tmp_path, "current desktop release,0.22,", "current desktop release,0.23,")
    with pytest.raises(DataError, match=r"client_versions_2015\.csv.*add up to 1\.01") as err:
        rollout.load_client_versions_2015(path)
    assert err.value.field == "share_of_online"


def test_a_share_that_is_not_a_number_names_line_and_field(tmp_path):
    path = _broken_copy(tmp_path, "older desktop releases,0.18,", "older desktop releases,lots,")
    with pytest.raises(DataError) as err:
        rollout.load_client_versions_2015(path)
    assert (err.value.filename, err.value.line, err.value.field) == (
        "client_versions_2015.csv",
        3,
        "share_of_online",
    )


def test_a_share_above_one_is_refused(tmp_path):
    path = _broken_copy(tmp_path, "Skype for Web,0.04,", "Skype for Web,1.04,")
    with pytest.raises(DataError, match="between 0 and 1"):
        rollout.load_client_versions_2015(path)


def test_a_yes_no_typo_is_refused(tmp_path):
    path = _broken_copy(tmp_path, "older releases,0.04,yes,", "older releases,0.04,maybe,")
    with pytest.raises(DataError, match="incompatible_with_push"):
        rollout.load_client_versions_2015(path)


def test_a_verified_row_is_refused(tmp_path):
    path = _broken_copy(tmp_path, "0.18,yes,assumed,S1", "0.18,yes,verified,S1")
    with pytest.raises(DataError, match="never said which client versions failed") as err:
        rollout.load_client_versions_2015(path)
    assert err.value.field == "status"


def test_an_assumed_row_without_reason_is_refused(tmp_path):
    path = _broken_copy(tmp_path, '"Share not public; teaching choice."', "")
    with pytest.raises(DataError, match="reason"):
        rollout.load_client_versions_2015(path)


def test_an_unknown_platform_is_refused(tmp_path):
    path = _broken_copy(tmp_path, "mac_current,mac,", "mac_current,macos,")
    with pytest.raises(DataError, match="platform"):
        rollout.load_client_versions_2015(path)


# --------------------------------------------------------------------------- blast radius


def test_blast_radius_known_answers_by_hand():
    # 40 M online × (0.18 + 0.04 + 0.10 + 0.08) incompatible = 16 M
    assert rollout.disconnected_clients(VERSIONS, 1.0, concurrent_users=40e6) == 16e6
    # half of the clients: 8 M; a quarter: 4 M
    assert rollout.disconnected_clients(VERSIONS, 0.5, concurrent_users=40e6) == 8e6
    assert rollout.disconnected_clients(VERSIONS, 0.25, concurrent_users=40e6) == 4e6
    # only the older Windows clients, half of them: 0.5 × 0.18 × 40 M = 3.6 M
    only = {"windows_desktop_older": 0.5}
    assert rollout.disconnected_clients(VERSIONS, only, concurrent_users=40e6) == 3.6e6
    # a push to compatible versions disconnects nobody
    safe = {"windows_desktop_current": 1.0, "web": 1.0}
    assert rollout.disconnected_clients(VERSIONS, safe, concurrent_users=40e6) == 0.0


def test_blast_radius_defaults_to_the_cards_concurrent_users():
    assert rollout.concurrent_users_at_onset() == data.parameter("concurrent_users_at_onset")
    expected = data.parameter("concurrent_users_at_onset") * data.parameter("affected_client_share")
    assert rollout.disconnected_clients() == pytest.approx(expected, rel=1e-12)


def test_blast_radius_table_is_consistent():
    table = rollout.blast_radius(VERSIONS, 0.3)
    assert table["clients_reached"].sum() == pytest.approx(0.3 * 40e6)
    assert (table.loc[~table["incompatible"], "clients_disconnected"] == 0).all()
    assert list(table["id"]) == list(VERSIONS["id"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"reach": 1.2}, "reach"),
        ({"reach": -0.1}, "reach"),
        ({"reach": {"nokia": 1.0}}, "reach"),
        ({"reach": {"web": 2.0}}, "reach"),
        ({"concurrent_users": -1.0}, "concurrent_users"),
        ({"concurrent_users": math.nan}, "concurrent_users"),
    ],
)
def test_blast_radius_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        rollout.blast_radius(VERSIONS, **kwargs)


def test_a_table_without_the_columns_is_refused():
    with pytest.raises(ValueError, match="versions lacks columns"):
        rollout.blast_radius(VERSIONS.drop(columns="incompatible"))


# --------------------------------------------------------------------------- staged rollout


def test_staged_rollout_known_answers_by_hand():
    # 1 % of 40 M at a 40 % incompatible share: 160,000, halted 10 minutes in
    r = rollout.staged_rollout(VERSIONS, concurrent_users=40e6)
    assert (r.total_disconnected, r.halted, r.halted_by_wave, r.halted_at_s) == (
        160_000.0,
        True,
        1,
        600.0,
    )
    assert list(r.waves["status"]) == ["pushed", "not pushed", "not pushed", "not pushed"]
    assert list(r.waves["check"]) == ["failed", "not run", "not run", "not run"]
    # check after 45 minutes: wave 2 (to 10 %) went out at 30 minutes: 4 M reached, 1.6 M lost
    late = rollout.staged_rollout(VERSIONS, detection_delay_s=2700.0, concurrent_users=40e6)
    assert late.total_disconnected == 1_600_000.0
    assert late.total_reached == 4_000_000.0
    # 25 % steps: 10 M reached, 4 M lost
    slack = rollout.staged_rollout(VERSIONS, rollout.SLACK_2022_WAVES, concurrent_users=40e6)
    assert slack.total_disconnected == 4_000_000.0
    # no check: every wave goes out, 16 M
    blind = rollout.staged_rollout(VERSIONS, halt_threshold=None, concurrent_users=40e6)
    assert blind.total_disconnected == 16e6 and not blind.halted
    assert set(blind.waves["check"]) == {"no check"}


def test_a_threshold_above_the_failing_share_never_halts():
    r = rollout.staged_rollout(VERSIONS, halt_threshold=0.5, concurrent_users=40e6)
    assert not r.halted and r.total_disconnected == 16e6
    assert set(r.waves["check"]) == {"passed"}


def test_a_halt_during_a_wave_stops_it_part_way():
    # the check has its verdict 30 s into a one-minute wave: half of the wave goes out
    r = rollout.staged_rollout(
        VERSIONS, (1.0,), detection_delay_s=30.0, push_duration_s=60.0, concurrent_users=1000.0
    )
    assert r.total_reached == 500.0 and r.total_disconnected == 200.0
    assert list(r.waves["status"]) == ["partly pushed"]


def test_all_at_once_is_the_blast_radius():
    r = rollout.baseline_2015(VERSIONS)
    assert r.total_disconnected == rollout.disconnected_clients(VERSIONS)
    assert not r.halted


def test_timeseries_and_trigger_agree_with_the_totals():
    r = rollout.staged_rollout(VERSIONS, detection_delay_s=2700.0)
    series = r.timeseries(end_s=7200.0, step_s=60.0)
    assert series["clients_disconnected"].iloc[-1] == r.total_disconnected
    assert np.all(np.diff(series["clients_disconnected"]) >= 0)
    trigger = rollout.disconnected_over_time(series["time_s"], r)
    assert np.allclose(trigger, series["clients_disconnected"])
    # the disconnection rate integrates to the count
    times = np.arange(0.0, 7200.0, 0.5)
    integral = np.sum(r.disconnection_rate_per_s(times)) * 0.5
    assert integral == pytest.approx(r.total_disconnected, rel=1e-9)


def test_default_trigger_is_the_2015_baseline():
    trigger = rollout.disconnected_over_time(np.array([0.0, 60.0, 86_400.0]))
    assert trigger.tolist() == [0.0, 16e6, 16e6]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"waves": ()}, "waves"),
        ({"waves": (0.5, 0.5)}, "waves"),
        ({"waves": (0.0, 1.0)}, "waves"),
        ({"waves": (0.5, 1.5)}, "waves"),
        ({"wave_interval_s": -1.0}, "wave_interval_s"),
        ({"wave_interval_s": 0.0}, "wave_interval_s"),
        ({"detection_delay_s": math.inf}, "detection_delay_s"),
        ({"push_duration_s": -5.0}, "push_duration_s"),
        ({"halt_threshold": 1.5}, "halt_threshold"),
        ({"concurrent_users": -3.0}, "concurrent_users"),
    ],
)
def test_staged_rollout_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        rollout.staged_rollout(VERSIONS, **kwargs)


def test_waves_given_as_text_are_a_type_error():
    with pytest.raises(TypeError, match="waves"):
        rollout.staged_rollout(VERSIONS, "1,10,100")


def test_plan_waves_cuts_a_plan_at_the_push_share():
    assert rollout.plan_waves(rollout.STAGED_WAVES, 1.0) == rollout.STAGED_WAVES
    assert rollout.plan_waves(rollout.SLACK_2022_WAVES, 0.6) == (0.25, 0.5, 0.6)
    with pytest.raises(ValueError, match="push_share"):
        rollout.plan_waves(rollout.STAGED_WAVES, 0.0)


waves_strategy = st.lists(
    st.floats(min_value=0.001, max_value=1.0), min_size=1, max_size=6, unique=True
).map(lambda ws: tuple(sorted(ws)))
timing = {
    "wave_interval_s": st.floats(min_value=1.0, max_value=7200.0),
    "detection_delay_s": st.floats(min_value=0.0, max_value=7200.0),
    "push_duration_s": st.floats(min_value=0.0, max_value=600.0),
    "halt_threshold": st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)),
}


@settings(max_examples=150, deadline=None)
@given(waves=waves_strategy, **timing)
def test_staged_never_disconnects_more_than_all_at_once(waves, **kwargs):
    staged = rollout.staged_rollout(VERSIONS, waves, **kwargs)
    everyone = rollout.disconnected_clients(VERSIONS, 1.0)
    assert staged.total_disconnected <= everyone * (1 + 1e-12)
    # nor more than a push straight to its final share
    final = rollout.disconnected_clients(VERSIONS, waves[-1])
    assert staged.total_disconnected <= final * (1 + 1e-9) + 1e-6
    # conservation: disconnected = reached × incompatible share, waves add up to the total
    assert staged.total_disconnected == pytest.approx(
        staged.total_reached * rollout.incompatible_share(VERSIONS), rel=1e-9, abs=1e-6
    )
    assert staged.waves["clients_disconnected"].sum() == pytest.approx(
        staged.total_disconnected, rel=1e-9, abs=1e-6
    )


@settings(max_examples=150, deadline=None)
@given(
    waves=waves_strategy,
    delays=st.lists(st.floats(min_value=0.0, max_value=7200.0), min_size=2, max_size=2),
    interval=st.floats(min_value=1.0, max_value=7200.0),
    duration=st.floats(min_value=0.0, max_value=600.0),
)
def test_halting_earlier_never_disconnects_more(waves, delays, interval, duration):
    early, late = sorted(delays)
    kwargs = {"wave_interval_s": interval, "push_duration_s": duration}
    a = rollout.staged_rollout(VERSIONS, waves, detection_delay_s=early, **kwargs)
    b = rollout.staged_rollout(VERSIONS, waves, detection_delay_s=late, **kwargs)
    assert a.total_disconnected <= b.total_disconnected + 1e-6
    # and a check that halts never disconnects more than no check at all
    blind = rollout.staged_rollout(VERSIONS, waves, halt_threshold=None, **kwargs)
    assert b.total_disconnected <= blind.total_disconnected + 1e-6


@settings(max_examples=100, deadline=None)
@given(waves=waves_strategy, **timing)
def test_the_trigger_is_non_decreasing_and_ends_at_the_total(waves, **kwargs):
    r = rollout.staged_rollout(VERSIONS, waves, **kwargs)
    times = np.linspace(0.0, r.end_s + 10.0, 200)
    trigger = r.disconnected_at(times)
    assert np.all(np.diff(trigger) >= -1e-6)
    assert trigger[-1] == pytest.approx(r.total_disconnected, rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- charts


def _frames():
    delays = [0.0, 15.0, 30.0, 45.0]
    frames, halts = [], []
    for plan, waves in rollout.WAVE_PLANS.items():
        for delay in delays:
            r = rollout.staged_rollout(VERSIONS, waves, detection_delay_s=60 * delay)
            frames.append(
                r.timeseries(end_s=6000.0, step_s=300.0).assign(plan=plan, delay_min=delay)
            )
            halts.append(
                {
                    "plan": plan,
                    "delay_min": delay,
                    "halted_at_min": np.nan if r.halted_at_s is None else r.halted_at_s / 60,
                    "clients_disconnected": r.total_disconnected,
                }
            )
    import pandas as pd

    return pd.concat(frames, ignore_index=True), pd.DataFrame(halts)


def _builders():
    results = {k: rollout.staged_rollout(VERSIONS, w) for k, w in rollout.WAVE_PLANS.items()}
    series = rollout_charts.rollout_series(results, end_s=6000.0, step_s=300.0)
    frames, halts = _frames()
    first = rollout_widgets.rollout_state()["params"]
    return {
        "version_mix": lambda: rollout_charts.version_mix_chart(VERSIONS),
        "blast_radius_explorer": lambda: rollout_charts.blast_radius_explorer_chart(
            rollout.blast_radius(VERSIONS)
        ),
        "timeseries": lambda: rollout_charts.rollout_timeseries_chart(series),
        "explorer": lambda: rollout_charts.rollout_explorer_chart(frames, halts, delay_min=15.0),
        "panel": lambda: rollout_charts.rollout_panel_chart(
            step_min=1.0, points=len(first["disconnected"]), disconnected=first["disconnected"]
        ),
    }


BUILDERS = _builders()


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# The checks every chart builder gets (compiles with Vega-Lite 5, stable spec, house theme,
# datasets under 5,000 rows) run in tests/test_charts.py, which includes these builders.


def test_explorers_have_browser_controls():
    blast = BUILDERS["blast_radius_explorer"]().to_dict()
    [share] = blast["params"]
    assert share["name"] == "push_share" and share["bind"]["input"] == "range"
    explorer = BUILDERS["explorer"]().to_dict()
    binds = {p["name"]: p["bind"] for p in explorer["params"]}
    assert binds["plan_choice"]["options"] == list(rollout.WAVE_PLANS)
    assert (binds["delay_min"]["min"], binds["delay_min"]["max"]) == (0.0, 45.0)


def test_explorer_refuses_an_unknown_plan_and_uneven_delays():
    frames, halts = _frames()
    with pytest.raises(ValueError, match="plan"):
        rollout_charts.rollout_explorer_chart(frames, halts, plan="yolo")
    uneven = frames[frames["delay_min"] != 15.0]
    with pytest.raises(ValueError, match="evenly spaced"):
        rollout_charts.rollout_explorer_chart(uneven, halts)


def test_blast_radius_explorer_needs_full_reach():
    with pytest.raises(ValueError, match="reach=1.0"):
        rollout_charts.blast_radius_explorer_chart(rollout.blast_radius(VERSIONS, 0.5))


def test_version_mix_svg_says_assumed():
    svg = charts.chart_svg(BUILDERS["version_mix"]().to_dict())
    assert "assumed" in svg


# --------------------------------------------------------------------------- panel


def test_panel_state_matches_the_model():
    state = rollout_widgets.rollout_state(0.6, "25 % steps (as Slack, 2022)", 45.0)
    model = rollout.staged_rollout(VERSIONS, (0.25, 0.5, 0.6), detection_delay_s=2700.0)
    assert state["result"].total_disconnected == model.total_disconnected
    assert state["params"]["disconnected"][-1] == round(model.total_disconnected / 1e6, 6)
    assert state["params"]["halt_min"] == 45.0
    assert len(state["params"]["disconnected"]) == 121
    assert "waves that went out" in state["readout"]


def test_panel_state_warns_when_the_check_comes_too_late():
    state = rollout_widgets.rollout_state(1.0, "all at once", 10.0)
    assert "came too late" in state["readout"]
    assert "came too late" not in rollout_widgets.rollout_state()["readout"]


def test_panel_state_bad_input():
    with pytest.raises(ValueError, match="plan"):
        rollout_widgets.rollout_state(1.0, "yolo")
    with pytest.raises(ValueError, match="push_share"):
        rollout_widgets.rollout_state(1.5)
    with pytest.raises(ValueError, match="detection_delay_min"):
        rollout_widgets.rollout_state(1.0, detection_delay_min=-5)


def test_panel_controls_move_the_chart_params():
    panel = rollout_widgets.RolloutPanel()
    assert panel.chart.params.disconnected[-1] == 0.16
    assert panel.chart.params.halt_min == 10.0
    panel.delay.value = 45.0
    assert panel.chart.params.disconnected[-1] == 1.6
    assert panel.chart.params.halt_min == 45.0
    panel.plan.value = "all at once"
    assert panel.chart.params.disconnected[-1] == 16.0
    panel.share.value = 0.25
    assert panel.chart.params.disconnected[-1] == 4.0
    assert "clients disconnected" in panel.readout.value


def test_panel_update_is_fast():
    panel = rollout_widgets.RolloutPanel()
    panel.update()
    start = time.perf_counter()
    for value in (0.2, 0.4, 0.6, 0.8, 1.0):
        panel.share.value = value
    assert (time.perf_counter() - start) / 5 < 0.1


def test_panel_has_a_stable_text_fallback():
    bundle = rollout_widgets.RolloutPanel()._repr_mimebundle_()
    assert bundle["text/plain"] == "<RolloutPanel>"


# --------------------------------------------------------------------------- exercises


def test_exercise_answers_computed_with_the_package_are_correct():
    assert rollout_exercises.all_at_once_disconnected(rollout.disconnected_clients()).correct
    late = rollout.staged_rollout(
        VERSIONS, detection_delay_s=rollout_exercises.LATE_DETECTION_DELAY_S
    )
    assert rollout_exercises.late_check_disconnected(late.total_disconnected).correct
    slack = rollout.staged_rollout(VERSIONS, rollout.SLACK_2022_WAVES)
    assert rollout_exercises.slack_plan_disconnected(slack.total_disconnected).correct


@pytest.mark.parametrize(
    "check",
    [
        rollout_exercises.all_at_once_disconnected,
        rollout_exercises.late_check_disconnected,
        rollout_exercises.slack_plan_disconnected,
    ],
)
def test_checks_never_give_the_answer(check):
    answers = {
        rollout_exercises.all_at_once_disconnected: 16e6,
        rollout_exercises.late_check_disconnected: 1.6e6,
        rollout_exercises.slack_plan_disconnected: 4e6,
    }
    expected = answers[check]
    assert check(None).correct is None
    assert check("many").correct is False
    assert check(True).correct is False
    for wrong in (0, 1, 160_000, 1_440_000, 1_760_000, 8e6, 16, 40e6, 120e6, 4e6, 1.6e6, 16e6):
        if wrong == expected:
            continue
        verdict = check(wrong)
        assert verdict.correct is False
        for spelled in (f"{expected:,.0f}", f"{expected:.0f}", f"{expected / 1e6:g} M"):
            assert spelled not in verdict.message, (wrong, verdict.message)


def test_specific_hints():
    assert "millions" in rollout_exercises.all_at_once_disconnected(16).message
    assert "share" in rollout_exercises.all_at_once_disconnected(0.4).message
    assert "second wave" in rollout_exercises.late_check_disconnected(160_000).message
    assert "cumulative" in rollout_exercises.late_check_disconnected(1_760_000).message
    assert "halts" in rollout_exercises.slack_plan_disconnected(16e6).message
