"""Lesson 08's charts, the mitigations panel and the exercise checks."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from outage_kit import charts, mitigation_charts, mitigation_exercises, mitigation_widgets
from outage_kit import mitigations as m

BASELINE = m.BASELINE_ROW


@functools.lru_cache(maxsize=1)
def _card():
    return m.scorecard(
        {"drop expired": [m.DropExpired()], "capacity ×2": [m.CapacityHeadroom(2.0)]},
        metrics=["outage_min"],
    )


@functools.lru_cache(maxsize=1)
def _frames():
    runs = {BASELINE: mitigation_widgets.menu_run(())}
    runs.update(
        {name: mitigation_widgets.menu_run((name,)) for name in ("drop expired", "backoff")}
    )
    return mitigation_charts.day_frames(runs)


@functools.lru_cache(maxsize=1)
def _grid():
    return m.defence_breaking_point(
        60.0,
        shares=[0.0, 0.01, 0.1, 0.4],
        defences={
            "admission control 0.3": m.AdmissionControl(0.3),
            "capacity x2": m.CapacityHeadroom(2.0),
        },
        progress=False,
    )


def _panel_chart():
    params = mitigation_widgets.mitigation_state(("drop expired",))["params"]
    base = mitigation_widgets.mitigation_state(())["params"]
    return mitigation_charts.mitigation_panel_chart(
        mitigation_widgets.step_h(),
        base["defended"],
        params["defended"],
        outage_start_h=params["outage_start_h"],
        outage_end_h=params["outage_end_h"],
        baseline_load=base["defended_load"],
        defended_load=params["defended_load"],
        baseline_down=base["defended_down"],
        defended_down=params["defended_down"],
    )


BUILDERS = {
    "scorecard": lambda: mitigation_charts.scorecard_chart(_card()),
    "day": lambda: mitigation_charts.defences_day_chart(
        _frames(), push_s=8 * 3600 + 20 * 60, rebalancing_s=23 * 3600 + 10 * 60
    ),
    "breaking_point": lambda: mitigation_charts.breaking_point_chart(_grid()),
    "panel": _panel_chart,
}


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# The checks every chart builder gets (compiles with Vega-Lite 5, stable spec, house theme,
# datasets under 5,000 rows) run in tests/test_charts.py, which includes these builders.


def _datasets(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


# --------------------------------------------------------------------------- charts


def test_scorecard_chart_keeps_the_order_colours_by_target_and_prices_each_row():
    card = _card()
    spec = mitigation_charts.scorecard_chart(card, target_outage_min=60).to_dict()
    bars = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "bar")
    assert bars["encoding"]["y"]["sort"] == list(card["name"])
    assert bars["encoding"]["y"]["sort"][0] == BASELINE
    rows = next(d for d in _datasets(spec) if d and "verdict" in d[0])
    verdict = {r["name"]: r["verdict"] for r in rows}
    for name, outage in zip(card["name"], card["outage_min"], strict=True):
        assert verdict[name] == ("within the target" if outage <= 60 else "over the target")
    for r, cost in zip(rows, card["cost_engineer_weeks"], strict=True):
        assert r["cost"].endswith(mitigation_charts._weeks(cost))
        assert r["cost"].startswith(f"{r['outage_min']:,.0f} min")
    rule = next(d for d in _datasets(spec) if d and "label" in d[0])
    assert rule == [{"outage_min": 60.0, "label": "target: 60 min"}]
    # the target moves the colours
    strict = mitigation_charts.scorecard_chart(card, target_outage_min=10).to_dict()
    rows = next(d for d in _datasets(strict) if d and "verdict" in d[0])
    assert all(r["verdict"] == "over the target" for r in rows if r["outage_min"] > 10)
    with pytest.raises(ValueError, match="target_outage_min"):
        mitigation_charts.scorecard_chart(card, target_outage_min=-1)


def test_day_frames_follow_the_replays():
    frames = _frames()
    assert list(dict.fromkeys(frames["defence"])) == [BASELINE, "drop expired", "backoff"]
    base = frames[frames.defence == BASELINE]
    replay = mitigation_widgets.menu_run(())
    assert base["connected_share"].tolist() == replay.timeseries["connected_share"].tolist()
    assert base["time_s"].min() == 0 and base["time_s"].max() < 24 * 3600
    with pytest.raises(TypeError, match="non-empty mapping"):
        mitigation_charts.day_frames({})


def test_day_chart_binds_radio_buttons_to_the_defended_runs_only():
    frames = _frames()
    spec = mitigation_charts.defences_day_chart(frames, first="backoff").to_dict()
    (param,) = spec["params"]
    assert param["name"] == "defence" and param["bind"]["input"] == "radio"
    assert param["bind"]["options"] == ["drop expired", "backoff"]
    assert param["value"] == "backoff"
    chosen_layer, baseline_layer = spec["layer"][:2]
    assert "datum.defence == defence" in str(chosen_layer["transform"])
    assert BASELINE in str(baseline_layer["transform"])
    with pytest.raises(ValueError, match="first must be one of"):
        mitigation_charts.defences_day_chart(frames, first=BASELINE)
    with pytest.raises(ValueError, match="no baseline rows"):
        mitigation_charts.defences_day_chart(frames[frames.defence != BASELINE])
    with pytest.raises(ValueError, match="only the baseline"):
        mitigation_charts.defences_day_chart(frames[frames.defence == BASELINE])


def test_breaking_point_chart_marks_every_defence():
    grid = _grid()
    spec = mitigation_charts.breaking_point_chart(grid).to_dict()
    squares, outline, text = spec["layer"]
    marks = next(d for d in _datasets(spec) if d and "label" in d[0])
    assert [r["defence"] for r in marks] == list(dict.fromkeys(grid["defence"]))
    points = grid.groupby("defence")["breaking_point_share"].first()
    for row in marks:
        assert row["breaking_point_share"] == pytest.approx(points[row["defence"]])
    # the baseline fails at 10 %, capacity x2 too; admission control at 0.3 holds everywhere
    label = {r["defence"]: r["label"] for r in marks}
    assert label["admission control 0.3"] == "holds at every share"
    assert label["no defence"].startswith("holds up to")
    # share 0 cannot sit on a log axis: every drawn square has a positive share
    cells = next(d for d in _datasets(spec) if d and "verdict" in d[0])
    assert min(r["affected_share"] for r in cells) > 0
    assert len(cells) == int((grid["affected_share"] > 0).sum())
    assert spec["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
    colours = squares["encoding"]["color"]["scale"]["range"]
    assert colours == [charts.HEALTH_COLOURS["healthy"], charts.HEALTH_COLOURS["overloaded"]]


def test_breaking_point_chart_colours_by_the_target():
    grid = _grid()
    spec = mitigation_charts.breaking_point_chart(grid, target_outage_min=60).to_dict()
    cells = next(d for d in _datasets(spec) if d and "verdict" in d[0])
    for row in cells:
        assert row["verdict"] == (
            "outage ≤ 60 min" if row["outage_min"] <= 60 else "outage > 60 min"
        )
    with pytest.raises(ValueError, match="breaking_point_share"):
        mitigation_charts.breaking_point_chart(grid.drop(columns="breaking_point_share"))


def test_panel_chart_takes_the_defended_day_from_params():
    spec = _panel_chart().to_dict()
    params = {p["name"]: p["value"] for p in spec["params"]}
    state = mitigation_widgets.mitigation_state(("drop expired",))["params"]
    assert params == state
    assert "defended[datum.i]" in str(spec)
    with pytest.raises(ValueError, match="step_h"):
        mitigation_charts.mitigation_panel_chart(0.0, [1.0], [1.0])


# --------------------------------------------------------------------------- the menu


def test_menu_matches_the_package_defences():
    assert list(mitigation_widgets.MENU.values()) == list(m.DEFAULT_SINGLE_DEFENCES.values())
    options = [o for group in m.DEFAULT_CANDIDATES.values() for o in group if o is not None]
    in_candidates = [d for d in mitigation_widgets.MENU.values() if d in options]
    assert len(in_candidates) == 6  # rollout, backoff, admission 0.3, bounded queue, drop, x2


# --------------------------------------------------------------------------- the state


def test_nothing_selected_is_the_baseline():
    state = mitigation_widgets.mitigation_state(())
    assert state["scores"] == state["baseline"]
    baseline = mitigation_widgets.menu_run(())
    assert state["params"]["defended"] == [
        round(float(v), 6) for v in baseline.timeseries["connected_share"]
    ]
    card = m.scorecard({}, metrics=mitigation_widgets.READOUT_METRICS)
    for metric in mitigation_widgets.READOUT_METRICS:
        assert state["baseline"][metric] == pytest.approx(card[metric].iloc[0])


def test_admission_control_shortens_the_outage_in_the_readout():
    state = mitigation_widgets.mitigation_state(("admission control 0.3",))
    ours, base = state["scores"], state["baseline"]
    assert ours["outage_min"] < base["outage_min"]
    assert ours["zombie_signins"] < base["zombie_signins"]
    assert ours["cost_engineer_weeks"] == m.cost([m.AdmissionControl(0.3)])
    readout = state["readout"]
    assert f"{ours['outage_min']:,.0f} min" in readout
    assert f"{base['outage_min']:,.0f} min" in readout
    assert "Within 60 minutes" in readout
    # the scorecard, run by the package, agrees with the panel's numbers
    card = m.scorecard(
        {"admit": [m.AdmissionControl(0.3)]}, metrics=mitigation_widgets.READOUT_METRICS
    )
    for metric in mitigation_widgets.READOUT_METRICS:
        assert ours[metric] == pytest.approx(card[metric].iloc[1])
    # the chart shades sign-in's overload, and with admission at 0.3 sign-in never overloads:
    # the outage is the time clients stay offline while the backlog drains
    start, end = state["params"]["outage_start_h"], state["params"]["outage_end_h"]
    assert start == end == -1.0 and ours["outage_min"] > 30


def test_state_ignores_order_and_repeats():
    a = mitigation_widgets.mitigation_state(("bounded queue 10 s", "drop expired"))
    b = mitigation_widgets.mitigation_state(("drop expired", "bounded queue 10 s", "drop expired"))
    assert a["params"] == b["params"] and a["readout"] == b["readout"]


def test_unknown_name_is_named():
    with pytest.raises(ValueError, match="'hope'"):
        mitigation_widgets.mitigation_state(("drop expired", "hope"))
    with pytest.raises(TypeError, match="tuple of defence names"):
        mitigation_widgets.mitigation_state("drop expired")


def test_a_defence_that_does_not_help_says_so():
    state = mitigation_widgets.mitigation_state(("bulkheads",))
    assert state["scores"]["outage_min"] >= state["baseline"]["outage_min"]
    assert "does not stop the storm" in state["readout"]


# --------------------------------------------------------------------------- the panel


def test_panel_builds_with_no_arguments_and_a_toggle_changes_the_chart():
    panel = mitigation_widgets.MitigationsPanel()
    assert [b.description for b in panel.controls] == list(mitigation_widgets.MENU)
    before = list(panel.chart.params.defended)
    assert before == mitigation_widgets.mitigation_state(())["params"]["defended"]
    panel.toggles["admission control 0.3"].value = True
    after = list(panel.chart.params.defended)
    assert after != before
    expected = mitigation_widgets.mitigation_state(("admission control 0.3",))
    assert after == expected["params"]["defended"]
    assert panel.chart.params.outage_end_h == expected["params"]["outage_end_h"]
    assert panel.readout.value == expected["readout"]
    panel.toggles["admission control 0.3"].value = False
    assert list(panel.chart.params.defended) == before


def test_panel_starts_from_a_selection():
    panel = mitigation_widgets.MitigationsPanel(("staged rollout",))
    assert panel.selected() == ("staged rollout",)
    assert panel.toggles["staged rollout"].value is True
    assert panel.chart.params.outage_start_h == -1.0  # sign-in never overloads
    assert "never overloads" in panel.readout.value


# --------------------------------------------------------------------------- checks

mx = mitigation_exercises


def _right_alone():
    return mx.defences_alone_enough()


def _right_cheapest():
    return list(mx.cheapest_found().defences)


CHECKS = {
    "alone_enough": (
        mx.alone_enough,
        _right_alone,
        lambda: [
            {"drop expired"},
            {"capacity ×2"},
            set(mitigation_widgets.MENU),
            set(),
            {"magic"},
            "drop expired",
        ],
    ),
    "cheapest_set": (
        mx.cheapest_set,
        _right_cheapest,
        lambda: [
            ["DropExpired()"],
            ["bounded queue 10 s", "AdmissionControl(rate_share=0.7)"],
            ["capacity ×2", "bounded queue 10 s"],
            ["capacity ×2"],
            [],
            ["DropExpired()", "DropExpired()"],
            ["wishful thinking"],
            "DropExpired()",
        ],
    ),
    "breaking_point": (
        mx.breaking_point,
        mx.capacity_breaking_point,
        lambda: [0.4, 1.0, 0.01, 100 * mx.capacity_breaking_point(), 0.123, -0.5, "half"],
    ),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_says_right_wrong_and_no_answer(name):
    check, right, wrongs = CHECKS[name]
    assert check(right()).correct is True
    assert check(None).correct is None
    for wrong in wrongs():
        verdict = check(wrong)
        assert verdict.correct is False, (wrong, verdict)
        assert verdict.message


@pytest.mark.parametrize("name", list(CHECKS))
def test_hints_never_give_the_answer(name):
    check, right, wrongs = CHECKS[name]
    answer = right()
    if name == "alone_enough":
        forbidden = [str(sorted(answer)), str(answer), *answer]
    elif name == "cheapest_set":
        forbidden = [d.label for d in answer] + [d.spec for d in answer]
    else:
        forbidden = [f"{answer:g}", f"{100 * answer:g} %", f"{100 * answer:g}%"]
    for wrong in wrongs():
        message = check(wrong).message
        for text in forbidden:
            assert text not in message, (wrong, message)


def test_alone_enough_follows_the_scorecard_and_names_the_missing_kind():
    card = m.scorecard(
        {name: [d] for name, d in mitigation_widgets.MENU.items()}, metrics=["outage_min"]
    )
    rows = card.iloc[1:]
    expected = set(rows.loc[rows["outage_min"] <= 60, "name"])
    assert mx.defences_alone_enough() == expected
    right = mx.defences_alone_enough()
    for name in right:
        verdict = mx.alone_enough(right - {name})
        assert verdict.correct is False
        assert mx.KINDS[name].removeprefix("a ") in verdict.message
    wrong = next(n for n in mitigation_widgets.MENU if n not in right)
    verdict = mx.alone_enough(right | {wrong})
    assert mx.KINDS[wrong] in verdict.message
    # other spellings of the same names are read
    spelled = {n.upper() for n in right}
    assert mx.alone_enough(spelled).correct is True


def test_cheapest_set_accepts_every_spelling_and_names_the_failure():
    found = mx.cheapest_found()
    assert found.outage_min <= mx.CHALLENGE_TARGET_MIN
    table = found.table
    # no set of the candidates that meets the target is cheaper
    assert table.loc[table.meets_target, "cost_engineer_weeks"].min() == found.cost_engineer_weeks
    # the challenge is not won by the cheapest single defence
    assert found.cost_engineer_weeks > table.loc[table.n_defences == 1, "cost_engineer_weeks"].min()
    right = list(found.defences)
    assert mx.cheapest_set([d.spec for d in right]).correct is True
    assert mx.cheapest_set([d.label for d in right]).correct is True
    assert mx.cheapest_set(tuple(right)).correct is True
    # meets the target but costs more: a cheaper set exists
    dearer = table[table.meets_target & (table.cost_engineer_weeks > found.cost_engineer_weeks)]
    for labels in dearer["defences"].iloc[[0, -1]]:
        verdict = mx.cheapest_set(labels.split(" + "))
        assert verdict.correct is False and "cheaper set" in verdict.message
    # as cheap or cheaper, but misses the target
    cheap = table[
        ~table.meets_target
        & (table.cost_engineer_weeks <= found.cost_engineer_weeks)
        & (table.n_defences > 0)
    ]
    assert not cheap.empty
    for labels in cheap["defences"]:
        verdict = mx.cheapest_set(labels.split(" + "))
        assert verdict.correct is False
        assert "over the" in verdict.message and "starting" in verdict.message
    # an option outside the candidates is refused, with a note when it would win
    verdict = mx.cheapest_set(["BoundedQueue(max_wait_s=3.0)"])
    assert verdict.correct is False and "DEFAULT_CANDIDATES" in verdict.message


def test_breaking_point_follows_the_map():
    grid = mx.breaking_point_grid()
    row = grid[grid.defence == mx.BREAKING_POINT_DEFENCE].sort_values("affected_share")
    bp = mx.capacity_breaking_point()
    held = row[row.affected_share <= bp]
    assert held.meets_target.all()
    after = row[row.affected_share > bp]
    assert not after.empty and not after.meets_target.iloc[0]
    assert bp < 0.4  # doubling capacity alone does not absorb 2015's trigger
    assert "percentage" in mx.breaking_point(100 * bp).message
    assert "one of" in mx.breaking_point(float(np.nextafter(bp, 1) + 0.0123)).message


def test_every_menu_defence_changes_something_the_panel_draws():
    """Backoff leaves clients online as in 2015 but lowers the load; bulkheads keep services
    up; every defence moves at least one of the panel's three series."""
    base = mitigation_widgets.mitigation_state(())["params"]
    for name in mitigation_widgets.MENU:
        mine = mitigation_widgets.mitigation_state((name,))["params"]
        moved = [k for k in ("defended", "defended_load", "defended_down") if mine[k] != base[k]]
        assert moved, name
    backoff = mitigation_widgets.mitigation_state(("backoff",))["params"]
    assert max(backoff["defended_load"]) < 0.1 * max(base["defended_load"])
    bulk = mitigation_widgets.mitigation_state(("bulkheads",))["params"]
    assert max(bulk["defended_down"]) < max(base["defended_down"])


def test_panel_chart_needs_both_series_of_a_panel():
    with pytest.raises(ValueError, match="baseline_load and defended_load must both be given"):
        mitigation_charts.mitigation_panel_chart(1.0, [1.0, 1.0], [1.0, 1.0], baseline_load=[1, 2])
