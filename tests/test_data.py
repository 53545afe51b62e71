"""Tests for outage_kit.data: the real data files load and hold the sourced facts, and every
validation rule rejects a broken copy with a message naming the file, the line and the field."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from outage_kit import data, rollout
from outage_kit.data import DATA_DIR, DataError

UTC = "UTC"

LOADERS: dict[str, Callable[..., pd.DataFrame]] = {
    "timeline_2015.csv": data.load_timeline_2015,
    "services_2015.csv": data.load_services_2015,
    "incident_2010.csv": data.load_incident_2010,
    "scenario_2015.csv": data.load_scenario_2015,
    "client_versions_2015.csv": rollout.load_client_versions_2015,
}


# --------------------------------------------------------------------------- helpers


def read_rows(filename: str) -> list[list[str]]:
    with open(DATA_DIR / filename, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def line_of(filename: str, row_id: str) -> int:
    """1-based line of the row whose first cell is ``row_id`` (the header is line 1)."""
    for index, row in enumerate(read_rows(filename)):
        if row and row[0] == row_id:
            return index + 1
    raise AssertionError(f"{row_id} not in {filename}")


def broken_copy(tmp_path: Path, filename: str, row_id: str, field: str, new: str) -> Path:
    """Copy ``filename`` into ``tmp_path`` with one cell changed; return the copy's path."""
    rows = read_rows(filename)
    rows[line_of(filename, row_id) - 1][rows[0].index(field)] = new
    return write_rows(tmp_path / filename, rows)


def where(filename: str, line: int, field: str) -> str:
    """The start of the error message: file, line and field, regex-escaped."""
    return re.escape(f"{filename}, line {line}, field '{field}'")


def expect_error(
    tmp_path: Path, filename: str, row_id: str, field: str, new: str, says: str = ""
) -> DataError:
    """Break one cell, load the copy, and check the error names file, line, field (and says)."""
    path = broken_copy(tmp_path, filename, row_id, field, new)
    line = line_of(filename, row_id)
    with pytest.raises(DataError, match=where(filename, line, field)) as info:
        LOADERS[filename](path=path)
    assert info.value.filename == filename
    assert info.value.line == line
    assert info.value.field == field
    assert says in str(info.value)
    return info.value


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: load() for name, load in LOADERS.items()}


# --------------------------------------------------------------------------- the real files


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_real_file_loads(frames, filename):
    frame = frames[filename]
    assert len(frame) > 0
    assert set(frame["status"]) <= set(data.STATUSES)


def test_onset_and_restoration_times(frames):
    timeline = frames["timeline_2015.csv"].set_index("id")
    onset = timeline.loc["downdetector_onset", "time_utc"]
    restored = timeline.loc["full_restoration", "time_utc"]
    assert onset == pd.Timestamp("2015-09-21 08:23", tz=UTC)
    assert restored == pd.Timestamp("2015-09-21 23:53", tz=UTC)
    assert str(onset.tz) == UTC
    assert timeline.loc["full_restoration", "time_precision"] == "exact"
    # The scenario card agrees with the timeline.
    assert data.parameter("outage_start_utc") == onset
    assert data.parameter("restoration_utc") == restored


def test_duration_is_restoration_minus_onset():
    duration = data.parameter("restoration_utc") - data.parameter("outage_start_utc")
    assert duration / pd.Timedelta(hours=1) == pytest.approx(15.5)
    assert data.parameter("outage_duration_h") == pytest.approx(15.5)
    record = data.parameter_record("outage_duration_h")
    assert record["status"] == "derived"
    assert "15.5" in record["derivation"]
    low, high = data.parameter_range("reported_duration_h")
    assert low <= data.parameter("outage_duration_h") <= high


def test_timeline_is_in_time_order_and_placeholders_sit_in_their_windows(frames):
    timeline = frames["timeline_2015.csv"]
    assert timeline["time_utc"].is_monotonic_increasing
    vague = timeline[~timeline["time_precision"].isin(["exact", "approximate"])]
    assert len(vague) > 0
    assert vague["window_start_utc"].notna().all()
    assert (vague["window_start_utc"] <= vague["time_utc"]).all()
    assert (vague["time_utc"] <= vague["window_end_utc"]).all()
    assert (vague["time_note"].str.len() > 0).all()


def test_timeline_covers_the_required_events(frames):
    timeline = frames["timeline_2015.csv"].set_index("id")
    expected = {
        "downdetector_onset": ("2015-09-21 08:23", "approximate"),
        "uk_press_start": ("2015-09-21 09:00", "approximate"),
        "status_fault_reported": (None, "morning"),
        "overloaded_signin_error": (None, "morning"),
        "network_issue_found": (None, "day"),
        "full_restoration": ("2015-09-21 23:53", "exact"),
        "apology_published": (None, "days"),
        "compensation_offer": (None, "month"),
    }
    for row_id, (time, precision) in expected.items():
        assert timeline.loc[row_id, "time_precision"] == precision, row_id
        if time is not None:
            assert timeline.loc[row_id, "time_utc"] == pd.Timestamp(time, tz=UTC)
    assert timeline.loc["uk_press_start", "window_end_utc"] == pd.Timestamp(
        "2015-09-21 09:15", tz=UTC
    )
    apology = timeline.loc["apology_published"]
    assert apology["window_start_utc"].day == 22 and apology["window_end_utc"].day == 23
    assert timeline.loc["compensation_offer", "window_start_utc"].month == 10
    assert "overloaded" in timeline.loc["overloaded_signin_error", "event"]


def test_skype_for_business_unaffected_and_skype_for_web_early_only(frames):
    services = frames["services_2015.csv"].set_index("id")
    assert services.loc["skype_for_business", "affected"] == "no"
    assert services.loc["skype_for_web", "affected"] == "no"
    assert "early phase only" in services.loc["skype_for_web", "applies_to"]
    for failed in ("presence", "instant_messaging", "contact_list"):
        assert services.loc[failed, "affected"] == "yes"
    for partly in ("sign_in", "skypeout"):
        assert services.loc[partly, "affected"] == "partly"


def test_every_timeline_service_exists(frames):
    known = set(frames["services_2015.csv"]["id"])
    used = {service for ids in frames["timeline_2015.csv"]["services"] for service in ids}
    assert used <= known
    assert "skype_for_business" in used


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_provenance_columns_are_filled(frames, filename):
    frame = frames[filename]
    verified = frame[frame["status"] == "verified"]
    # The record publishes no client version mix: that file is assumed from end to end.
    assert len(verified) > 0 or filename == "client_versions_2015.csv"
    for sources in verified["source"]:
        parts = sources.split(" ; ")
        assert all(re.match(r"^https?://\S+$", part) for part in parts), sources
    if "derivation" in frame:
        derived = frame[frame["status"] == "derived"]
        assert (derived["derivation"].str.len() > 0).all()
        assert (derived["formula"].str.len() > 0).all()
    if "reason" in frame:
        assumed = frame[frame["status"] == "assumed"]
        assert (assumed["reason"].str.len() > 0).all()


def test_2010_derived_arithmetic(frames):
    incident = frames["incident_2010.csv"].set_index("id")
    value = incident["value"]
    assert value["buggy_build_share"] == pytest.approx(0.50)
    assert value["crash_share_of_buggy"] == pytest.approx(0.40)
    assert value["crashed_share_of_all"] == pytest.approx(
        value["buggy_build_share"] * value["crash_share_of_buggy"]
    )
    assert value["crashed_share_of_all"] == pytest.approx(0.20)
    window = value["failure_window_end_utc"] - value["failure_window_start_utc"]
    assert value["failure_window_h"] == pytest.approx(window / pd.Timedelta(hours=1))
    assert value["failure_window_h"] == pytest.approx(24)
    assert value["expected_online_2010_12_23_1850"] == pytest.approx(16.5e6 / 0.80)
    assert value["expected_online_2010_12_23_1200"] == pytest.approx(5.0e6 / 0.30, rel=0.005)
    derived = incident[incident["status"] == "derived"]
    assert set(derived.index) == {
        "crashed_share_of_all",
        "failure_window_h",
        "expected_online_2010_12_23_1200",
        "expected_online_2010_12_23_1850",
    }


def test_2010_figures(frames):
    incident = frames["incident_2010.csv"].set_index("id")
    lost = incident.loc["supernodes_lost_share"]
    assert (lost["value_low"], lost["value_high"]) == (0.25, 0.30)
    assert math.isnan(lost["value"])
    assert incident.loc["surviving_supernode_load_factor", "value"] == 100
    assert incident.loc["online_users_before_drop", "value"] == 21e6
    assert incident.loc["online_users_after_drop", "value"] == 12.8e6
    reading = incident.loc["online_users_2010_12_22_1840"]
    assert reading["value"] == 5.14e6
    assert reading["time_utc"] == pd.Timestamp("2010-12-22 18:40", tz=UTC)
    recovery = {
        "recovery_share_2010_12_23_1200": (0.30, "2010-12-23 12:00"),
        "recovery_share_2010_12_23_1400": (0.60, "2010-12-23 14:00"),
        "recovery_share_2010_12_23_1850": (0.80, "2010-12-23 18:50"),
    }
    for row_id, (share, time) in recovery.items():
        assert incident.loc[row_id, "value"] == share
        assert incident.loc[row_id, "time_utc"] == pd.Timestamp(time, tz=UTC)
    assert incident.loc["recovery_share_2010_12_23_peak", "value"] == 0.90
    assert incident.loc["calls_lost", "value"] == 10e6
    peak = incident.loc["normal_peak_concurrent_users"]
    assert (peak["value_low"], peak["value_high"]) == (23e6, 25e6)


def test_scenario_assumptions_sit_in_their_suggested_ranges(frames):
    card = frames["scenario_2015.csv"].set_index("parameter")
    assumed = card[card["status"] == "assumed"]
    expected = {
        "concurrent_users_at_onset": (40e6, 30e6, 50e6),
        "affected_client_share": (0.4, 0.2, 0.6),
        "signin_cost_ratio": (30, 10, 50),
        "contacts_per_user": (100, 50, 150),
        "capacity_headroom": (1.5, 1.3, 2.0),
    }
    for name, (value, low, high) in expected.items():
        assert name in assumed.index
        assert data.parameter(name) == pytest.approx(value)
        assert data.parameter_range(name) == pytest.approx((low, high))
    # Values the record never gives are never presented as facts.
    for name in ("client_timeout_s", "reconnect_policy", "rollout_waves", "recovery_model"):
        assert card.loc[name, "status"] == "assumed"


def test_grpc_constants_are_verified_and_say_they_describe_grpc(frames):
    card = frames["scenario_2015.csv"].set_index("parameter")
    grpc = {
        "grpc_initial_backoff_s": 1.0,
        "grpc_backoff_multiplier": 1.6,
        "grpc_max_backoff_s": 120.0,
        "grpc_jitter_fraction": 0.2,
        "grpc_min_connect_timeout_s": 20.0,
    }
    for name, value in grpc.items():
        row = card.loc[name]
        assert row["value"] == value
        assert row["status"] == "verified"
        assert "github.com/grpc/grpc" in row["source"]
        assert "gRPC" in row["note"] and "not Skype" in row["note"]


def test_parameter_helpers():
    params = data.scenario_parameters()
    assert isinstance(params["monthly_users"], float)
    assert isinstance(params["outage_start_utc"], pd.Timestamp)
    assert params["recovery_action"] == "rebalance_traffic_load"
    assert "reported_duration_h" not in params
    with pytest.raises(KeyError, match="did you mean 'outage_start_utc'"):
        data.parameter("outage_start")
    with pytest.raises(ValueError, match="parameter_range"):
        data.parameter("reported_duration_h")
    with pytest.raises(ValueError, match="has no range"):
        data.parameter_range("outage_duration_h")


def test_parameter_rereads_an_edited_card(tmp_path):
    path = broken_copy(tmp_path, "scenario_2015.csv", "affected_client_share", "value", "0.3")
    assert data.parameter("affected_client_share", path=path) == 0.3
    broken_copy(tmp_path, "scenario_2015.csv", "affected_client_share", "value", "0.55")
    assert data.parameter("affected_client_share", path=path) == 0.55


# --------------------------------------------------------------------------- broken copies


def test_bad_timestamp_message(tmp_path):
    error = expect_error(
        tmp_path, "timeline_2015.csv", "overloaded_signin_error", "time_utc", "2015-09-21 25:00"
    )
    line = line_of("timeline_2015.csv", "overloaded_signin_error")
    assert str(error) == (
        f"timeline_2015.csv, line {line}, field 'time_utc': '2015-09-21 25:00' is not an "
        "ISO 8601 UTC time such as 2015-09-21T08:23Z"
    )
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "filename, row_id, field, new, says",
    [
        # times
        ("timeline_2015.csv", "full_restoration", "time_utc", "2015-09-21T25:00Z", "ISO 8601"),
        ("timeline_2015.csv", "full_restoration", "time_utc", "2015-09-21T23:53", "ISO 8601"),
        ("timeline_2015.csv", "full_restoration", "time_utc", "", "must not be empty"),
        ("scenario_2015.csv", "outage_start_utc", "value", "21 Sept 2015 08:23", "ISO 8601"),
        ("incident_2010.csv", "online_users_2010_12_22_1840", "time_utc", "18:40", "ISO 8601"),
        ("timeline_2015.csv", "full_restoration", "time_precision", "roughly", "exact"),
        ("incident_2010.csv", "online_users_2010_12_22_1840", "time_precision", "", "precision"),
        ("incident_2010.csv", "failure_window_start_utc", "time_precision", "", "precision"),
        ("timeline_2015.csv", "network_issue_found", "time_utc", "2015-09-22T01:00Z", "window"),
        ("timeline_2015.csv", "network_issue_found", "window_start_utc", "", "window"),
        ("timeline_2015.csv", "uk_press_start", "window_end_utc", "", "both"),
        # status vocabulary and provenance
        ("services_2015.csv", "presence", "status", "confirmed", "verified, derived, assumed"),
        ("timeline_2015.csv", "downdetector_onset", "status", "Verified", "unknown status"),
        ("incident_2010.csv", "calls_lost", "source", "", "verified row needs its source"),
        ("timeline_2015.csv", "full_restoration", "source", "", "verified row needs its source"),
        ("services_2015.csv", "sign_in", "source", "www.example.org/page", "http(s) URL"),
        ("scenario_2015.csv", "monthly_users", "source", "S3", "http(s) URL"),
        ("scenario_2015.csv", "monthly_users", "source_tags", "S3, K9", "source tag"),
        ("incident_2010.csv", "crashed_share_of_all", "derivation", "", "arithmetic"),
        ("scenario_2015.csv", "outage_duration_h", "derivation", "", "arithmetic"),
        ("incident_2010.csv", "crashed_share_of_all", "formula", "", "needs a formula"),
        ("scenario_2015.csv", "concurrent_users_at_onset", "reason", "", "needs a reason"),
        ("scenario_2015.csv", "rollout_waves", "reason", "", "needs a reason"),
        # numbers and ranges
        ("scenario_2015.csv", "affected_client_share", "value", "forty percent", "not a number"),
        ("incident_2010.csv", "calls_lost", "value", "10 M", "not a number"),
        ("incident_2010.csv", "calls_lost", "value", "inf", "finite"),
        ("scenario_2015.csv", "signin_cost_ratio", "value_low", "ten", "not a number"),
        ("incident_2010.csv", "supernodes_lost_share", "value_low", "0.35", "greater than"),
        ("scenario_2015.csv", "contacts_per_user", "value_low", "200", "greater than"),
        ("scenario_2015.csv", "contacts_per_user", "value", "200", "outside its range"),
        ("incident_2010.csv", "supernodes_lost_share", "value_high", "", "both"),
        ("incident_2010.csv", "calls_lost", "value", "", "give a number"),
        ("scenario_2015.csv", "trigger", "value", "", "needs a value"),
        ("scenario_2015.csv", "trigger", "value_low", "1", "needs numbers"),
        ("incident_2010.csv", "calls_lost", "unit", "", "must not be empty"),
        # derived values are checked against their formula
        ("incident_2010.csv", "crashed_share_of_all", "value", "0.25", "does not match"),
        ("scenario_2015.csv", "outage_duration_h", "value", "15", "does not match"),
        (
            "incident_2010.csv",
            "failure_window_h",
            "formula",
            "failure_window_end_utc",
            "gives a time",
        ),
        (
            "incident_2010.csv",
            "failure_window_h",
            "formula",
            "failure_window_end_utc - failure_window_start_utc",
            "duration",
        ),
        ("incident_2010.csv", "crashed_share_of_all", "formula", "buggy_share * 2", "not a row"),
        ("incident_2010.csv", "crashed_share_of_all", "formula", "__import__('os')", "may not"),
        ("incident_2010.csv", "crashed_share_of_all", "formula", "0.5 *", "not a valid formula"),
        (
            "scenario_2015.csv",
            "outage_duration_h",
            "formula",
            "concurrent_users_at_onset / 1",
            "which is assumed",
        ),
        ("scenario_2015.csv", "outage_duration_h", "formula", "hours(trigger)", "single number"),
        ("scenario_2015.csv", "outage_duration_h", "formula", "outage_duration_h * 1", "own row"),
        ("scenario_2015.csv", "outage_duration_h", "formula", "hours(1.5)", "cannot be evaluated"),
        # ids and choices
        ("services_2015.csv", "skype_for_web", "id", "sign_in", "duplicate id 'sign_in'"),
        ("scenario_2015.csv", "grpc_max_backoff_s", "parameter", "grpc_initial_backoff_s", "line"),
        ("incident_2010.csv", "calls_lost", "id", "Calls lost", "snake_case"),
        ("services_2015.csv", "presence", "affected", "maybe", "yes, no, partly"),
        ("services_2015.csv", "presence", "record", "", "must not be empty"),
        ("timeline_2015.csv", "full_restoration", "event", "", "must not be empty"),
        # the timeline only names services that exist
        (
            "timeline_2015.csv",
            "downdetector_onset",
            "services",
            "sign_on",
            "did you mean 'sign_in'",
        ),
        ("timeline_2015.csv", "downdetector_onset", "services", "sign_in;Presence", "snake_case"),
    ],
)
def test_broken_copy_is_rejected(tmp_path, filename, row_id, field, new, says):
    expect_error(tmp_path, filename, row_id, field, new, says)


def test_duplicate_id_names_the_first_line(tmp_path):
    error = expect_error(tmp_path, "services_2015.csv", "skype_for_web", "id", "presence")
    assert f"first used on line {line_of('services_2015.csv', 'presence')}" in str(error)


def test_timeline_service_missing_from_services_file(tmp_path):
    rows = [r for r in read_rows("services_2015.csv") if r[0] != "skype_for_web"]
    services = write_rows(tmp_path / "services_2015.csv", rows)
    line = line_of("timeline_2015.csv", "status_fault_reported")
    with pytest.raises(DataError, match=where("timeline_2015.csv", line, "services")) as info:
        data.load_timeline_2015(services_path=services)
    assert "'skype_for_web'" in str(info.value) and "services_2015.csv" in str(info.value)


@pytest.mark.parametrize("filename", sorted(LOADERS))
def test_missing_column(tmp_path, filename):
    rows = read_rows(filename)
    drop = rows[0].index("status")
    path = write_rows(tmp_path / filename, [r[:drop] + r[drop + 1 :] for r in rows])
    with pytest.raises(DataError, match=where(filename, 1, "status") + ".*missing"):
        LOADERS[filename](path=path)


def test_unknown_and_duplicate_columns(tmp_path):
    rows = read_rows("incident_2010.csv")
    rows[0][rows[0].index("source")] = "sorce"
    path = write_rows(tmp_path / "incident_2010.csv", rows)
    with pytest.raises(DataError, match=where("incident_2010.csv", 1, "sorce") + ".*'source'"):
        data.load_incident_2010(path=path)
    rows = read_rows("incident_2010.csv")
    rows[0][rows[0].index("note")] = "reason"
    path = write_rows(tmp_path / "incident_2010.csv", rows)
    with pytest.raises(DataError, match=where("incident_2010.csv", 1, "reason") + ".*twice"):
        data.load_incident_2010(path=path)


def test_row_with_too_many_fields(tmp_path):
    rows = read_rows("services_2015.csv")
    line = line_of("services_2015.csv", "presence")
    rows[line - 1].append("stray")
    path = write_rows(tmp_path / "services_2015.csv", rows)
    with pytest.raises(DataError, match=re.escape(f"services_2015.csv, line {line}:")):
        data.load_services_2015(path=path)


def test_line_numbers_count_blank_lines_and_the_header(tmp_path):
    text = (DATA_DIR / "services_2015.csv").read_text(encoding="utf-8")
    header, first, *rest = text.splitlines()
    rest[0] = rest[0].replace(",yes,", ",perhaps,", 1)  # second data row: presence
    path = tmp_path / "services_2015.csv"
    path.write_text("\n".join([header, first, "", *rest]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=where("services_2015.csv", 4, "affected")):
        data.load_services_2015(path=path)


def test_empty_file(tmp_path):
    path = tmp_path / "scenario_2015.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape("scenario_2015.csv, line 1: the file is empty")):
        data.load_scenario_2015(path=path)
