"""Tests of outage_kit.incidents and data/related_incidents.csv: the related incidents load and
cover the fact sheet's list, the vocabularies are closed and map onto the kit, and every broken
row is refused with a message naming the file, the line and the field."""

from __future__ import annotations

import csv
import re
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from outage_kit import data
from outage_kit.data import DATA_DIR, DataError
from outage_kit.incidents import (
    INCIDENTS_SCHEMA,
    LEVERS,
    RECOVERY_KINDS,
    lever_object,
    load_incidents,
    pattern_table,
)
from outage_kit.supernodes import SupernodeParams

FILENAME = "related_incidents.csv"

#: The fact sheet's "similar incidents" (section 5), plus the two Skype outages the kit models:
#: (a word of the name, start date).
EXPECTED = [
    ("Skype", "2007-08-16"),
    ("DynamoDB", "2015-09-20"),
    ("Discord", "2017-03-20"),
    ("Slack", "2021-01-04"),
    ("Facebook", "2021-10-04"),
    ("Roblox", "2021-10-28"),
    ("AWS", "2021-12-07"),
    ("Slack", "2022-02-22"),
    ("Skype", "2010-12-22"),
    ("Skype", "2015-09-21"),
]


def read_rows() -> list[list[str]]:
    with open(DATA_DIR / FILENAME, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def broken_copy(tmp_path: Path, row_id: str, field: str, new: str) -> tuple[Path, int]:
    """A copy of the file with one cell changed, and the line of that row (header = 1)."""
    rows = read_rows()
    index = next(i for i, r in enumerate(rows) if r and r[0] == row_id)
    rows[index][rows[0].index(field)] = new
    path = tmp_path / FILENAME
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path, index + 1


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_incidents()


def test_every_incident_of_the_fact_sheet_is_present(table):
    assert len(table) == len(EXPECTED)
    assert table["id"].is_unique
    for word, date in EXPECTED:
        day = table[table["date"] == pd.Timestamp(date)]
        assert len(day) == 1, f"no incident starting {date}"
        assert word in day["name"].iloc[0]


def test_every_row_is_sourced_and_described(table):
    assert set(table["status"]) == {"verified"}
    for row in table.itertuples(index=False):
        urls = [u.strip() for u in row.source.split(";")]
        assert urls and all(u.startswith(("http://", "https://")) for u in urls)
        assert len(row.source_tags.split(";")) <= len(urls)
        for column in ("trigger", "amplification", "sustaining_effect", "recovery_action"):
            cell = getattr(row, column)
            # Short cells: a sentence or two, fit for a table on a slide.
            assert 10 < len(cell) <= 320, f"{row.id}: {column} is {len(cell)} characters"


def test_dates_parse_and_rows_come_in_date_order(table):
    assert pd.api.types.is_datetime64_any_dtype(table["date"])
    assert table["date"].is_monotonic_increasing


def test_the_recovery_kinds_are_a_closed_vocabulary(table):
    column = next(c for c in INCIDENTS_SCHEMA.columns if c.name == "recovery_kind")
    assert column.choices == tuple(RECOVERY_KINDS)
    assert set(table["recovery_kind"]) <= set(RECOVERY_KINDS)
    assert all(isinstance(text, str) and text for text in RECOVERY_KINDS.values())


def test_every_lever_is_an_object_of_the_kit(table):
    for lever, (path, description) in LEVERS.items():
        assert description
        target = lever_object(lever)
        if path is None:
            assert lever == "none" and target is None
        else:
            assert target is not None and path.endswith("." + target.__name__)
    used = {lever for levers in table["model_lever"] for lever in levers}
    assert used <= set(LEVERS)
    with pytest.raises(ValueError, match="unknown lever 'servers'"):
        lever_object("servers")


def test_the_skype_rows_agree_with_the_kit_scenarios(table):
    rows = table.set_index("id")
    # 2010: the recovery was capacity, modelled by the supernode model's mega-supernodes.
    incident = data.load_incident_2010().set_index("id")
    assert incident.loc["recovery_action", "value"] == "mega_supernodes"
    assert rows.loc["skype_2010", "recovery_kind"] == "add_capacity"
    assert rows.loc["skype_2010", "model_lever"] == ("mega_supernodes",)
    assert {"mega_start_h", "mega_capacity"} <= {f.name for f in fields(SupernodeParams)}
    # 2015: the lever is the one the 2015 card uses for the re-balancing.
    assert data.parameter("recovery_model") == rows.loc["skype_2015", "model_lever"][0]
    assert (
        rows.loc["skype_2015", "date"]
        == data.parameter("outage_start_utc").tz_localize(None).normalize()
    )


def test_pattern_table_reads_trigger_to_recovery(table):
    view = pattern_table()
    assert list(view.index) == list(table["name"])
    assert list(view.columns) == [
        "when",
        "trigger",
        "amplification",
        "sustained by",
        "recovery",
        "recovery kind",
        "lever in the kit",
    ]
    assert view.loc["Slack, February 2022", "when"] == "22 Feb 2022"
    # It shows what the file says, not a copy that could drift.
    row = table.set_index("name").loc["Roblox, October 2021"]
    assert view.loc["Roblox, October 2021", "trigger"] == row["trigger"]
    assert view.loc["Roblox, October 2021", "recovery"] == row["recovery_action"]


def test_pattern_table_of_a_given_frame(table):
    two = table[table["id"].isin(["skype_2010", "skype_2015"])]
    assert list(pattern_table(two).index) == ["Skype, December 2010", "Skype, September 2015"]


@pytest.mark.parametrize(
    ("row_id", "field", "new", "message"),
    [
        ("slack_2021", "recovery_kind", "reboot", "not allowed; use one of cut_load"),
        ("slack_2021", "recovery_kind", "", "must not be empty"),
        ("discord_2017", "source", "", "needs its source"),
        ("discord_2017", "source", "discordstatus.com", "http(s) URL"),
        ("roblox_2021", "date", "2021-02-30", "not a real date"),
        ("roblox_2021", "date", "28 Oct 2021", "YYYY-MM-DD"),
        ("aws_2021", "model_lever", "more_servers", "unknown lever 'more_servers'"),
        ("aws_2021", "model_lever", "backoff_with_jiter", "did you mean 'backoff_with_jitter'"),
        ("aws_2021", "model_lever", "none;add_capacity", "'none' cannot be combined"),
        ("facebook_2021", "trigger", "", "must not be empty"),
        ("facebook_2021", "status", "confirmed", "use one of verified"),
        ("facebook_2021", "status", "assumed", "use one of verified"),
        ("skype_2007", "id", "Skype 2007", "snake_case"),
    ],
)
def test_a_broken_row_names_file_line_and_field(tmp_path, row_id, field, new, message):
    path, line = broken_copy(tmp_path, row_id, field, new)
    where = re.escape(f"{FILENAME}, line {line}, field '{field}'")
    with pytest.raises(DataError, match=where) as info:
        load_incidents(path)
    assert message in str(info.value)


def test_a_duplicate_id_is_refused(tmp_path):
    path, line = broken_copy(tmp_path, "slack_2022", "id", "slack_2021")
    with pytest.raises(DataError, match=rf"line {line}, field 'id': duplicate id 'slack_2021'"):
        load_incidents(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / FILENAME
    path.write_text(",".join(INCIDENTS_SCHEMA.names) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="no incident rows"):
        load_incidents(path)
