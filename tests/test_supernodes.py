"""Tests of outage_kit.supernodes: the population model of the December 2010 supernode collapse,
its parameter card (data/scenario_2010.csv), the targets taken from data/incident_2010.csv, the
score, and the calibration through outage_kit.sweeps.

The model is deterministic, so no test needs a seed; thresholds below are stated with the reason
they hold, never copied from a run.
"""

from __future__ import annotations

import csv
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outage_kit import data
from outage_kit import supernodes as sn
from outage_kit.supernodes import (
    CALIBRATED,
    CARD_2010,
    SupernodeParams,
    calibrate_2010,
    default_grid_2010,
    fit_score,
    measure_2010,
    run_supernodes,
    scenario_2010,
    targets_2010,
)

CLIENT_STATES = ["users_online", "clients_reconnecting", "clients_crashed"]
SUPERNODE_STATES = ["supernodes_online", "supernodes_resyncing", "supernodes_offline"]


@pytest.fixture(scope="module")
def card_params() -> SupernodeParams:
    return scenario_2010()


@pytest.fixture(scope="module")
def card_run(card_params) -> pd.DataFrame:
    return run_supernodes(card_params)


@pytest.fixture(scope="module")
def calibration():
    return calibrate_2010(executor="serial", progress=False)


def low_point(params: SupernodeParams) -> float:
    """Fewest users online over a 2-day run."""
    return float(run_supernodes(params)["users_online"].min())


def check_invariants(run: pd.DataFrame, params: SupernodeParams) -> None:
    numbers = run.drop(columns="time_utc").to_numpy(dtype=float)
    assert np.isfinite(numbers).all(), "a column holds NaN or infinity"
    users, supernodes = params.expected_online_users, params.supernodes
    scale = 1e-9
    assert (run[CLIENT_STATES + SUPERNODE_STATES] >= -scale * users).all().all()
    np.testing.assert_allclose(run[CLIENT_STATES].sum(axis=1), users, rtol=1e-9)
    np.testing.assert_allclose(run[SUPERNODE_STATES].sum(axis=1), supernodes, rtol=1e-9)
    assert (run["users_online"] <= users * (1 + 1e-12)).all()
    assert (run["supernodes_online"] <= supernodes * (1 + 1e-12)).all()
    assert (run["supernodes_crashed_share"].diff().dropna() >= -1e-15).all()
    assert (run["supernodes_shut_down"].diff().dropna() >= -1e-9).all()


# --------------------------------------------------------------------------- the card


def card_rows() -> dict[str, dict[str, str]]:
    with open(CARD_2010, newline="", encoding="utf-8") as handle:
        return {row["parameter"]: row for row in csv.DictReader(handle)}


def test_card_validates_and_matches_the_defaults(card_params):
    card = data.load_table(CARD_2010, data.SCENARIO_SCHEMA)
    assert set(card["status"]) == {"verified", "derived", "assumed"}
    # Every model parameter is on the card, and the dataclass defaults are the card's values.
    assert card_params == SupernodeParams()
    names = set(card["parameter"])
    for f in fields(SupernodeParams):
        assert ("failure_window_start_utc" if f.name == "start_utc" else f.name) in names
    extra = names - {f.name for f in fields(SupernodeParams)} - {"failure_window_start_utc"}
    assert extra == set(sn._CARD_ONLY)


def test_card_verified_rows_agree_with_the_incident_file(card_params):
    incident = data.load_incident_2010().set_index("id")
    assert card_params.start_utc == incident.loc["failure_window_start_utc", "value"]
    assert card_params.expected_online_users == incident.loc["online_users_before_drop", "value"]
    assert card_params.supernodes == incident.loc["supernodes_online_pre2012", "value"]
    assert card_params.buggy_build_share == incident.loc["buggy_build_share", "value"]
    assert card_params.crash_share_of_buggy == incident.loc["crash_share_of_buggy", "value"]
    assert math.isclose(
        card_params.client_crash_share, incident.loc["crashed_share_of_all", "value"]
    )
    # Every source address of a verified row was copied from the incident file.
    known = {u.strip() for cell in incident["source"] for u in cell.split(";") if u.strip()}
    for name, row in card_rows().items():
        if row["status"] != "verified":
            continue
        assert row["source"], f"{name} is verified but has no source"
        for url in (u.strip() for u in row["source"].split(";") if u.strip()):
            assert url in known, f"{name}: {url} is not a source of incident_2010.csv"


def test_card_marks_the_calibrated_values_as_chosen_by_the_calibration():
    rows = card_rows()
    for name in CALIBRATED:
        assert rows[name]["status"] == "assumed"
        assert "chosen by calibrate_2010" in rows[name]["reason"]
        # Its range is the default grid's span.
        axis = default_grid_2010()[name]
        assert float(rows[name]["value_low"]) == min(axis)
        assert float(rows[name]["value_high"]) == max(axis)
    assert rows["self_protection"]["status"] == "verified"
    # The buggy-build range is the one the record allows: 25-30 % lost at a 40 % crash rate.
    incident = data.load_incident_2010().set_index("id")
    low, high = incident.loc["supernodes_lost_share", ["value_low", "value_high"]]
    crash = incident.loc["crash_share_of_buggy", "value"]
    axis = default_grid_2010()["supernode_buggy_share"]
    assert math.isclose(min(axis) * crash, low) and math.isclose(max(axis) * crash, high)


def test_card_values_are_the_best_point_of_the_default_grid(calibration, card_params):
    for name in CALIBRATED:
        axis = sorted(default_grid_2010()[name])
        step = min(np.diff(axis))
        assert abs(getattr(card_params, name) - calibration.best[name]) <= step + 1e-12


def test_a_broken_card_names_file_line_and_field(tmp_path):
    rows = list(csv.reader(open(CARD_2010, newline="", encoding="utf-8")))
    header = rows[0]
    line = next(i for i, r in enumerate(rows) if r[0] == "overload_threshold")
    rows[line][header.index("reason")] = ""
    broken = tmp_path / "scenario_2010.csv"
    with open(broken, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with pytest.raises(
        data.DataError, match=rf"scenario_2010.csv, line {line + 1}, field 'reason'"
    ):
        scenario_2010(broken)


def test_a_card_without_a_model_parameter_is_refused(tmp_path):
    rows = [r for r in csv.reader(open(CARD_2010, newline="", encoding="utf-8"))]
    rows = [r for r in rows if r[0] != "resync_min"]
    path = tmp_path / "card.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with pytest.raises(ValueError, match="resync_min"):
        scenario_2010(path)


# --------------------------------------------------------------------------- invariants


def test_the_calibrated_run_conserves_clients_and_supernodes(card_run, card_params):
    check_invariants(card_run, card_params)
    assert len(card_run) == 48 * 60 + 1
    assert card_run["time_utc"].iloc[0] == pd.Timestamp("2010-12-22T16:00Z")
    assert card_run["time_utc"].iloc[-1] == pd.Timestamp("2010-12-24T16:00Z")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    crash=st.floats(0.0, 1.0),
    buggy=st.floats(0.0, 1.0),
    sn_buggy=st.floats(0.0, 1.0),
    threshold=st.floats(2.0, 20.0),
    spread=st.floats(0.05, 1.0),
    cost=st.floats(0.0, 300.0),
    crash_min=st.floats(0.5, 180.0),
    mega_start=st.one_of(st.none(), st.floats(0.0, 12.0)),
    protection=st.booleans(),
)
def test_invariants_hold_for_any_parameters(
    crash, buggy, sn_buggy, threshold, spread, cost, crash_min, mega_start, protection
):
    params = SupernodeParams(
        crash_share_of_buggy=crash,
        buggy_build_share=buggy,
        supernode_buggy_share=sn_buggy,
        overload_threshold=max(threshold, 1 + spread),
        load_spread=spread,
        reconnect_cost=cost,
        crash_duration_min=crash_min,
        mega_start_h=mega_start,
        self_protection=protection,
    )
    check_invariants(run_supernodes(params, horizon_h=12), params)


def test_everything_crashing_at_once_leaks_no_nan():
    # Every supernode crashes in the first step and there are no megas: for a while nothing at
    # all can carry load (the one case where capacity is zero).
    params = SupernodeParams(
        supernode_buggy_share=1, crash_share_of_buggy=1, crash_duration_min=1, mega_start_h=None
    )
    run = run_supernodes(params, horizon_h=3)
    check_invariants(run, params)
    assert run["supernodes_online"].iloc[1] < 0.01 * params.supernodes


def test_without_the_bug_nothing_changes_over_two_days():
    for params in (
        SupernodeParams(crash_share_of_buggy=0.0),
        SupernodeParams(crash_share_of_buggy=0.0, mega_start_h=None),
        SupernodeParams(buggy_build_share=0.0, supernode_buggy_share=0.0, load_spread=0.3),
    ):
        run = run_supernodes(params, horizon_h=48)
        np.testing.assert_array_equal(run["users_online"], params.expected_online_users)
        np.testing.assert_array_equal(run["supernodes_online"], params.supernodes)
        assert (run[["clients_reconnecting", "clients_crashed", "supernodes_offline"]] == 0).all(
            axis=None
        )
        assert (run["supernodes_shut_down"] == 0).all()
        # Megas arriving in a calm network add capacity and take a share of the load.
        assert run["load_per_supernode"].iloc[0] == pytest.approx(1.0)
        assert (run["load_per_supernode"] <= 1.0 + 1e-12).all()


def test_shorter_steps_tell_the_same_story(card_params):
    coarse = run_supernodes(card_params, dt_min=1.0).set_index("time_utc")["users_online_share"]
    fine = run_supernodes(card_params, dt_min=0.5).set_index("time_utc")["users_online_share"]
    common = coarse.index.intersection(fine.index)
    assert len(common) == len(coarse)

    # Same phases: collapsed at 18:40 on the 22nd, still low at 12:00 on the 23rd, back on the
    # 24th. (Step size moves the timing of the fall a little, not the story.)
    def at(series, when):
        return series[pd.Timestamp(when)]

    for series in (coarse, fine):
        assert at(series, "2010-12-22T18:40Z") < 0.4
        assert at(series, "2010-12-23T11:00Z") < 0.4
        assert at(series, "2010-12-24T12:00Z") > 0.9


# --------------------------------------------------------------------------- mechanisms


@pytest.mark.parametrize("horizon_h", [48.0])
def test_a_larger_crash_never_leaves_more_users_online(card_params, horizon_h):
    lows = [
        low_point(card_params.with_(crash_share_of_buggy=c))
        for c in (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    ]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(lows, lows[1:], strict=False))
    assert lows[-1] < lows[0]


def test_a_lower_threshold_never_leaves_more_users_online(card_params):
    thresholds = (10.0, 5.0, 3.5, 3.0, 2.8, 2.75, 2.6, 2.5, 2.25, 2.0)
    lows = [low_point(card_params.with_(overload_threshold=t)) for t in thresholds]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(lows, lows[1:], strict=False))
    assert lows[-1] < 0.5 * lows[0]


def test_self_protection_is_the_domino(card_params):
    on = run_supernodes(card_params)
    off = run_supernodes(card_params.with_(self_protection=False))
    lost_on = 1 - on["supernodes_online_share"].min()
    lost_off = 1 - off["supernodes_online_share"].min()
    assert lost_off < lost_on
    # Without it, only the crash takes supernodes offline.
    assert lost_off <= card_params.supernode_crash_share + 1e-12
    assert (off["supernodes_shut_down"] == 0).all()
    assert on["supernodes_shut_down"].iloc[-1] > card_params.supernodes
    assert off["users_online"].min() > on["users_online"].min()


def test_recovery_needs_the_mega_supernodes(card_params, card_run):
    without = run_supernodes(card_params.with_(mega_start_h=None))
    after_fall = without[without["hours_since_trigger"] >= 3]
    # Stuck: below half of the expected users for the rest of the two days.
    assert (after_fall["users_online_share"] < 0.5).all()
    assert (after_fall["load_per_supernode"] > card_params.overload_threshold).all()
    # With them: users back and the user-run supernodes back too.
    end = card_run.iloc[-1]
    assert end["users_online_share"] > 0.95
    assert end["supernodes_online_share"] > 0.9
    assert end["mega_supernodes"] == card_params.mega_per_batch * card_params.mega_batches


def test_mega_supernodes_arrive_in_batches(card_params, card_run):
    hours = card_run.set_index("hours_since_trigger")["mega_supernodes"]
    start = card_params.mega_start_h
    assert hours[hours.index < start].eq(0).all()
    for k in range(card_params.mega_batches + 3):
        expected = min(k + 1, card_params.mega_batches) * card_params.mega_per_batch
        t = start + k * card_params.mega_interval_h
        if t <= 48:
            assert hours[t] == expected


def test_restarted_supernodes_pass_through_resync(card_params):
    run = run_supernodes(card_params)
    assert run["supernodes_resyncing"].max() > 0
    instant = run_supernodes(card_params.with_(resync_min=1e-6, resync_load=0.0))
    assert instant["supernodes_resyncing"].max() < 1e-3 * card_params.supernodes


# --------------------------------------------------------------------------- the record


def test_targets_come_from_the_incident_file():
    targets = targets_2010().set_index("target")
    incident = data.load_incident_2010().set_index("id")
    assert (
        targets.loc["online_at_1840", "low"]
        == incident.loc["online_users_2010_12_22_1840", "value"]
    )
    low, high = incident.loc["supernodes_lost_share", ["value_low", "value_high"]]
    assert targets.loc["supernodes_crashed", ["low", "high"]].tolist() == [low, high]
    assert (
        targets.loc["recovery_at_1850", "high"]
        == incident.loc["recovery_share_2010_12_23_1850", "value"]
    )
    window = targets.loc["online_at_1840", ["window_start_utc", "window_end_utc"]]
    assert window.tolist() == [pd.Timestamp("2010-12-22T18:40Z")] * 2
    for ids in targets["record_ids"]:
        assert set(ids) <= set(incident.index)
    assert (targets["low"] <= targets["high"]).all() and (targets["tolerance"] > 0).all()


def test_the_calibrated_run_meets_every_target(card_run):
    comparison = measure_2010(card_run)
    failed = comparison.loc[~comparison["met"], ["target", "low", "high", "model", "error"]]
    assert failed.empty, f"targets missed:\n{failed}"
    assert fit_score(comparison["error"]) <= 1.0


def synthetic_run(values: dict[str, float]) -> pd.DataFrame:
    """A two-day frame at one-minute steps, every measured column constant."""
    times = pd.date_range("2010-12-22T16:00Z", "2010-12-24T16:00Z", freq="1min")
    return pd.DataFrame({"time_utc": times, **{k: float(v) for k, v in values.items()}})


def test_errors_are_distances_in_tolerances():
    targets = targets_2010()
    t = targets.set_index("target").loc["online_at_1840"]
    base = {
        "users_online": t.low,
        "users_online_share": 0.5,
        "supernodes_crashed_share": 0.275,
        "load_per_supernode": 100.0,
    }
    inside = measure_2010(synthetic_run(base), targets).set_index("target")
    assert inside.loc["online_at_1840", "error"] == 0.0
    assert inside.loc["supernodes_crashed", "error"] == 0.0
    assert inside.loc["load_on_survivors", "error"] == 0.0
    edge = measure_2010(synthetic_run({**base, "users_online": t.low - t.tolerance}), targets)
    assert edge.set_index("target").loc["online_at_1840", "error"] == pytest.approx(1.0)
    twice = measure_2010(synthetic_run({**base, "load_per_supernode": 200.0}), targets)
    assert twice.set_index("target").loc["load_on_survivors", "error"] == pytest.approx(2.0)


def test_a_closest_target_takes_the_best_moment_in_its_window():
    targets = targets_2010()
    run = synthetic_run({"users_online_share": 0.0})
    window = targets.set_index("target").loc["recovery_at_1850"]
    inside = (run.time_utc >= window.window_start_utc) & (run.time_utc <= window.window_end_utc)
    run.loc[inside, "users_online_share"] = np.linspace(0.5, 0.9, int(inside.sum()))
    for column in ("users_online", "supernodes_crashed_share", "load_per_supernode"):
        run[column] = 0.0
    got = measure_2010(run, targets).set_index("target").loc["recovery_at_1850"]
    assert got["low"] <= got["model"] <= got["high"] and got["error"] == 0.0


def test_a_run_too_short_for_the_targets_is_refused(card_params):
    with pytest.raises(ValueError, match="horizon_h"):
        measure_2010(run_supernodes(card_params, horizon_h=12))


def test_fit_score_is_the_root_mean_square_of_the_errors():
    assert fit_score([0.0, 0.0]) == 0.0
    assert fit_score([3.0, 4.0]) == pytest.approx(math.sqrt(12.5))
    assert fit_score([1.0] * 5) == pytest.approx(1.0)
    assert fit_score([0.2, 0.9, 1.0]) <= 1.0
    with pytest.raises(ValueError, match="errors"):
        fit_score([0.5, float("nan")])
    with pytest.raises(ValueError, match="errors"):
        fit_score([-0.1])


# --------------------------------------------------------------------------- calibration


def test_calibration_reports_every_grid_point_and_the_comparison(calibration):
    grid = default_grid_2010()
    scores = calibration.scores
    assert len(scores) == math.prod(len(v) for v in grid.values())
    assert list(scores.columns[: len(grid)]) == list(grid)
    targets = list(targets_2010()["target"])
    for name in targets:
        assert f"error_{name}" in scores and f"model_{name}" in scores
    # The score column is the documented function of the error columns.
    errors = scores[[f"error_{name}" for name in targets]].to_numpy()
    np.testing.assert_allclose(scores["score"], np.sqrt((errors**2).mean(axis=1)))
    best = scores.loc[scores["score"].idxmin()]
    assert {k: best[k] for k in grid} == calibration.best
    assert calibration.score == pytest.approx(best["score"])
    pd.testing.assert_frame_equal(calibration.comparison, measure_2010(calibration.run))
    assert calibration.comparison["met"].all()


def test_calibration_is_the_same_on_a_thread_pool():
    grid = {
        "overload_threshold": [2.25, 2.5],
        "mega_start_h": [18.5, 19.0],
        "mega_capacity": [45.0, 50.0],
    }
    serial = calibrate_2010(grid, executor="serial", progress=False)
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = calibrate_2010(grid, executor=pool, progress=False)
    pd.testing.assert_frame_equal(serial.scores, threaded.scores)
    pd.testing.assert_frame_equal(serial.comparison, threaded.comparison)
    pd.testing.assert_frame_equal(serial.run, threaded.run)
    assert serial.best == threaded.best


def test_calibration_refuses_unknown_axes():
    with pytest.raises(ValueError, match="overload_treshold"):
        calibrate_2010({"overload_treshold": [2.5]}, executor="serial", progress=False)
    with pytest.raises(ValueError, match="grid"):
        calibrate_2010({}, executor="serial", progress=False)
    with pytest.raises(TypeError, match="base"):
        calibrate_2010({"mega_capacity": [50.0]}, base="card", executor="serial")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "error", "name"),
    [
        ({"overload_threshold": float("nan")}, ValueError, "overload_threshold"),
        ({"overload_threshold": 1.5}, ValueError, "overload_threshold"),
        ({"load_spread": 0.0}, ValueError, "load_spread"),
        ({"load_spread": 1.5}, ValueError, "load_spread"),
        ({"expected_online_users": 0}, ValueError, "expected_online_users"),
        ({"supernodes": -1}, ValueError, "supernodes"),
        ({"buggy_build_share": 1.2}, ValueError, "buggy_build_share"),
        ({"supernode_buggy_share": -0.1}, ValueError, "supernode_buggy_share"),
        ({"crash_duration_min": 0}, ValueError, "crash_duration_min"),
        ({"retry_interval_s": float("inf")}, ValueError, "retry_interval_s"),
        ({"reconnect_cost": -1}, ValueError, "reconnect_cost"),
        ({"resync_min": "soon"}, TypeError, "resync_min"),
        ({"protection_delay_min": True}, TypeError, "protection_delay_min"),
        ({"mega_batches": 1.5}, ValueError, "mega_batches"),
        ({"mega_per_batch": -50}, ValueError, "mega_per_batch"),
        ({"mega_start_h": -1}, ValueError, "mega_start_h"),
        ({"mega_capacity": float("nan")}, ValueError, "mega_capacity"),
        ({"self_protection": "yes"}, TypeError, "self_protection"),
        ({"start_utc": "Christmas"}, ValueError, "start_utc"),
    ],
)
def test_bad_parameters_are_named(changes, error, name):
    with pytest.raises(error, match=name):
        SupernodeParams(**changes)


def test_bad_run_settings_are_named():
    with pytest.raises(ValueError, match="horizon_h"):
        run_supernodes(horizon_h=0)
    with pytest.raises(ValueError, match="dt_min"):
        run_supernodes(dt_min=-1)
    with pytest.raises(ValueError, match="dt_min"):
        run_supernodes(horizon_h=1, dt_min=120)
    with pytest.raises(TypeError, match="params"):
        run_supernodes({"overload_threshold": 2.5})
    with pytest.raises(TypeError, match="overload_treshold"):
        SupernodeParams().with_(overload_treshold=3)


def test_the_card_is_read_from_a_given_path(tmp_path):
    path = Path(tmp_path) / "copy.csv"
    path.write_text(CARD_2010.read_text(encoding="utf-8"), encoding="utf-8")
    assert scenario_2010(path) == scenario_2010()
