"""Related incidents: the same failure pattern in other systems, mapped onto the kit's levers.

``data/related_incidents.csv`` holds the Skype outages of 2007, 2010 and 2015 and the other
incidents of the fact sheet's "same family" (a synchronised disconnect or restart, a storm of
reconnects or retries, an overload that keeps itself going). Each row says, briefly and in the
kit's own words: what set it off (``trigger``), what made it worse (``amplification``), what
kept it going (``sustaining_effect``), what brought the service back (``recovery_action``), the
kind of that recovery (``recovery_kind``, from :data:`RECOVERY_KINDS`) and the lever of the kit
that a lesson uses to replay or prevent it (``model_lever``, from :data:`LEVERS`).

Every row is ``verified``: its descriptions paraphrase its sources, which it lists. The
``recovery_kind`` and ``model_lever`` columns are the kit's reading of them, not part of the
record.

Examples
--------
>>> incidents = load_incidents()
>>> len(incidents), incidents["date"].min().year, incidents["date"].max().year
(10, 2007, 2022)
>>> sorted(incidents["recovery_kind"].unique())
['add_capacity', 'cut_load', 'fix_and_restart', 'not_stated', 'staged_readmission']
>>> pattern_table().loc["Skype, December 2010", "lever in the kit"]
'mega_supernodes'
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path

import pandas as pd

from outage_kit.data import DATA_DIR, Column, DataError, Schema, load_table, read_rows

__all__ = [
    "INCIDENTS_SCHEMA",
    "LEVERS",
    "RECOVERY_KINDS",
    "lever_object",
    "load_incidents",
    "pattern_table",
]

#: What brought a service back, in one word each (the ``recovery_kind`` vocabulary).
RECOVERY_KINDS: dict[str, str] = {
    "cut_load": "shed, pause or re-route load until the system can cope (admission control, "
    "throttling, moving traffic)",
    "add_capacity": "bring more servers or more capacity online",
    "staged_readmission": "let users or traffic back in gradually rather than all at once",
    "fix_and_restart": "repair the faulty software or configuration and restart",
    "not_stated": "the sources do not say what brought the service back",
}

#: The kit's levers (the ``model_lever`` vocabulary): id -> (object in the kit, what it does).
#: ``none`` means no lever of the kit matches.
LEVERS: dict[str, tuple[str | None, str]] = {
    "admission_control": (
        "outage_kit.policies.AdmissionControl",
        "reject work beyond a rate or queue length, at once and cheaply",
    ),
    "add_capacity": ("outage_kit.storm.AddCapacity", "raise the service's capacity from a time on"),
    "staged_readmission": (
        "outage_kit.storm.StagedReadmission",
        "admit sign-ins at a rate that rises over time",
    ),
    "backoff_with_jitter": (
        "outage_kit.policies.FullJitter",
        "clients wait longer after each failure, at random, so retries spread out",
    ),
    "staged_rollout": (
        "outage_kit.storm.staged_rollout",
        "push a change in waves so that a bad one reaches few clients",
    ),
    "drop_expired_work": (
        "outage_kit.policies.ServerPolicy",
        "discard queued work whose client has already given up (drop_expired)",
    ),
    "mega_supernodes": (
        "outage_kit.supernodes.SupernodeParams",
        "add dedicated high-capacity supernodes from a time on (the mega_* parameters)",
    ),
    "none": (None, "no lever of the kit matches"),
}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_incident_row(row) -> None:
    text = row.raw["date"]
    if not _DATE_RE.match(text):
        row.fail("date", f"{text!r} is not a date; write it as YYYY-MM-DD, such as 2010-12-22")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        row.fail("date", f"{text!r} is not a real date (check the month and the day)")
    for lever in row["model_lever"]:
        if lever not in LEVERS:
            close = difflib.get_close_matches(lever, list(LEVERS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            row.fail(
                "model_lever",
                f"unknown lever {lever!r}; {hint}use one of {', '.join(LEVERS)}",
            )
    if "none" in row["model_lever"] and len(row["model_lever"]) > 1:
        row.fail("model_lever", "'none' cannot be combined with other levers")


INCIDENTS_SCHEMA = Schema(
    "related_incidents.csv",
    (
        Column("id", "id", required=True),
        Column("name", "text", required=True),
        Column("date", "text", required=True),
        Column("duration", "text", required=True),
        Column("trigger", "text", required=True),
        Column("amplification", "text", required=True),
        Column("sustaining_effect", "text", required=True),
        Column("recovery_action", "text", required=True),
        Column("recovery_kind", "choice", required=True, choices=tuple(RECOVERY_KINDS)),
        Column("model_lever", "id_list", required=True),
        # An incident row reports what happened: always verified, never assumed.
        Column("status", "choice", required=True, choices=("verified",)),
        Column("source_tags", "tags"),
        Column("source", "sources"),
        Column("note", "text"),
    ),
    row_checks=(_check_incident_row,),
)


def load_incidents(path: str | Path | None = None) -> pd.DataFrame:
    """The related incidents, validated, in date order.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/related_incidents.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``name``, ``date`` (a pandas Timestamp, the day the incident began),
        ``duration`` (text, as the sources give it), ``trigger``, ``amplification``,
        ``sustaining_effect``, ``recovery_action``, ``recovery_kind``, ``model_lever`` (a tuple
        of lever ids), ``status``, ``source_tags``, ``source``, ``note``.

    Raises
    ------
    outage_kit.data.DataError
        If a row is malformed: an unknown recovery kind or lever, a missing source, a date that
        does not exist, an empty description; the message names the file, the line and the
        field.

    Examples
    --------
    >>> incidents = load_incidents().set_index("id")
    >>> incidents.loc["slack_2022", ["recovery_kind", "model_lever"]].tolist()
    ['staged_readmission', ('staged_readmission',)]
    >>> incidents.loc["aws_dynamodb_2015", "model_lever"]
    ('admission_control', 'add_capacity')
    """
    schema = INCIDENTS_SCHEMA
    path = DATA_DIR / schema.filename if path is None else Path(path)
    rows = read_rows(path, schema)
    if not rows:
        raise DataError(path.name, 2, None, "the file has no incident rows; add at least one")
    frame = load_table(path, schema)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def lever_object(lever: str):
    """The object of the kit that a lever id stands for (None for ``none``).

    Examples
    --------
    >>> lever_object("staged_readmission").__name__
    'StagedReadmission'
    >>> lever_object("none") is None
    True
    >>> lever_object("more_servers")
    Traceback (most recent call last):
    ...
    ValueError: unknown lever 'more_servers'; use one of admission_control, add_capacity, \
staged_readmission, backoff_with_jitter, staged_rollout, drop_expired_work, mega_supernodes, none
    """
    import importlib

    if lever not in LEVERS:
        raise ValueError(f"unknown lever {lever!r}; use one of {', '.join(LEVERS)}")
    target = LEVERS[lever][0]
    if target is None:
        return None
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def pattern_table(incidents: pd.DataFrame | None = None) -> pd.DataFrame:
    """Trigger, amplification and recovery side by side, one incident per row, oldest first.

    Parameters
    ----------
    incidents : pandas.DataFrame, optional
        From :func:`load_incidents` (default: the kit's file).

    Returns
    -------
    pandas.DataFrame
        Indexed by incident name; columns ``when`` (the start date), ``trigger``,
        ``amplification``, ``sustained by``, ``recovery``, ``recovery kind`` and
        ``lever in the kit`` (lever ids joined with ``, ``).

    Examples
    --------
    >>> table = pattern_table()
    >>> list(table.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['when', 'trigger', 'amplification', 'sustained by', 'recovery', 'recovery kind',
     'lever in the kit']
    >>> counts = table["recovery kind"].value_counts()
    >>> {kind: int(counts[kind]) for kind in sorted(counts.index)}  # doctest: +NORMALIZE_WHITESPACE
    {'add_capacity': 2, 'cut_load': 3, 'fix_and_restart': 1, 'not_stated': 1,
     'staged_readmission': 3}
    >>> table.loc["AWS DynamoDB (us-east-1), September 2015", "lever in the kit"]
    'admission_control, add_capacity'
    """
    incidents = load_incidents() if incidents is None else incidents
    ordered = incidents.sort_values("date", kind="stable")
    table = pd.DataFrame(
        {
            "when": ordered["date"].dt.strftime("%d %b %Y").to_numpy(),
            "trigger": ordered["trigger"].to_numpy(),
            "amplification": ordered["amplification"].to_numpy(),
            "sustained by": ordered["sustaining_effect"].to_numpy(),
            "recovery": ordered["recovery_action"].to_numpy(),
            "recovery kind": ordered["recovery_kind"].to_numpy(),
            "lever in the kit": [", ".join(levers) for levers in ordered["model_lever"]],
        },
        index=pd.Index(ordered["name"].to_numpy(), name="incident"),
    )
    return table
