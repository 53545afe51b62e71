"""A blameless postmortem of the 21 September 2015 outage, with its figures filled in by code.

A postmortem is a fixed set of sections (summary, impact, timeline, trigger, amplification,
why it lasted, recovery, what went well, what went badly, action items, what is not known). The
words of each section are written here; every number in them is computed when the document is
built, from two places that the text never mixes up:

* **the public record**: ``data/timeline_2015.csv``, ``data/services_2015.csv`` and the verified
  rows of ``data/scenario_2015.csv`` (times, duration, services affected), each with its sources;
* **the model**: the replay of :func:`outage_kit.scenarios.skype_2015` scored by
  :func:`outage_kit.mitigations.score`. The replay couples two models both ways: the population
  model of the clients loads the service graph, and a sign-in that the sign-in service completes
  but that fails in the services behind it (authentication, the contact list, presence) leaves
  its client offline, to try again. Its inputs (the clients online, the share the push knocks
  off, immediate retries, the times of the push and of the rebalancing, the share of sign-in
  capacity the rebalancing admits: rows of ``data/scenario_2015.csv``) are assumptions, so
  every model figure carries the label "model, assumed inputs".

The action items come from a small :func:`outage_kit.mitigations.scorecard` (at most a few
defences) on the replay's own scenario: what each defence changes in the model, and what it
costs in engineer-weeks (every cost is assumed, ``data/mitigation_costs.csv``). The owner column
is left blank for the class to fill. :func:`outage_kit.mitigations.door_and_path` adds, for
each row, whether the sign-in service (the door) served more sign-ins than the path behind it
carries (:func:`outage_kit.scenarios.sign_in_path_limit`): the text says which rows did.

Blameless wording: the text speaks of systems, changes and conditions, never of people.

The document is deterministic: the same replay and defences give the same text, character for
character (no clock, no memory addresses).

Examples
--------
>>> pm = skype_2015_postmortem()
>>> list(pm.sections())[:4]
['Summary', 'Impact', 'Timeline', 'Trigger']
>>> pm.figures["record_duration_h"], pm.figures["model_outage_min"]
(15.5, 930.0)
>>> print(pm.to_markdown().splitlines()[0])
# Postmortem: consumer Skype outage of 21 September 2015
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from outage_kit import data, mitigations, replay_charts
from outage_kit import metastability as ms
from outage_kit.policies import ExponentialBackoff, FixedDelay, RetryPolicy, ServerPolicy
from outage_kit.scenarios import (
    Replay,
    normal_signin_rate_per_s,
    sign_in_dependencies,
    sign_in_path_limit,
    skype_2015,
)
from outage_kit.storm import AddCapacity, ServerPolicyAt, StagedReadmission

__all__ = [
    "DEFAULT_ACTIONS",
    "MODEL_LABEL",
    "SECTIONS",
    "Postmortem",
    "skype_2015_postmortem",
]

#: Label put beside every figure that comes from the model.
MODEL_LABEL = "model, assumed inputs"
#: How a paragraph about the model starts.
_MODEL_HEAD = "**Model (assumed inputs).**"

#: The sections, in order: attribute name -> heading.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "impact": "Impact",
    "timeline": "Timeline",
    "trigger": "Trigger",
    "amplification": "Amplification",
    "why_it_lasted": "Why it lasted",
    "recovery": "Recovery",
    "went_well": "What went well",
    "went_badly": "What went badly",
    "action_items": "Action items",
    "not_known": "What is not known",
}

#: The defences scored for the action items by default: action -> defences of the row.
DEFAULT_ACTIONS: dict[str, tuple[mitigations.Defence, ...]] = {
    "Release configuration in waves, halting when a wave's health check fails": (
        mitigations.StagedRollout(waves=(0.01, 0.1, 0.5, 1.0)),
    ),
    "Make clients wait before reconnecting (capped exponential backoff with jitter)": (
        mitigations.ClientBackoff(),
    ),
    "Let sign-in drop queued attempts whose client has already given up": (
        mitigations.DropExpired(),
    ),
    # The card's rebalancing share: a cap the sign-in path behind the door carries.
    "Cap the sign-ins admitted per second from the start, below what the services behind "
    "sign-in can take": (
        mitigations.AdmissionControl(
            rate_share=float(data.parameter("rebalancing_admission_share"))
        ),
    ),
}

_READING_NOTE = (
    "_Blameless format: the document describes systems and conditions, not people. "
    "Figures marked **record** come from the public sources in `data/` (each row lists its "
    f"sources); figures marked **{MODEL_LABEL}** come from the kit's replay of the day, whose "
    "inputs are mostly assumptions (`data/scenario_2015.csv` gives each one's status and "
    "reason). The replay couples a model of the clients with a graph of the services, both "
    "ways: the clients' sign-ins load the services, and a sign-in that fails in the services "
    "behind the sign-in service leaves its client offline, to try again. A model figure shows "
    "what those assumptions imply, not what happened._"
)


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postmortem:
    """A postmortem: a title and one Markdown body per section of :data:`SECTIONS`.

    Attributes
    ----------
    title : str
    summary, impact, timeline, trigger, amplification, why_it_lasted, recovery, went_well, \
went_badly, action_items, not_known : str
        The sections' bodies (Markdown, without their headings).
    figures : dict
        The numbers behind the text, by name (see :func:`skype_2015_postmortem`).
    timeline_table : pandas.DataFrame
        The timeline as data: ``time_utc``, ``when`` (as shown), ``kind`` (``record`` or
        ``model``), ``what``, ``source``.
    action_table : pandas.DataFrame
        The action items as data: ``action``, ``defences``, ``outage_min``, ``saved_min``,
        ``peak_load_ratio``, ``cost_engineer_weeks``, ``owner`` (empty).

    Two postmortems compare equal when their text is equal (the tables are not compared).
    """

    title: str
    summary: str
    impact: str
    timeline: str
    trigger: str
    amplification: str
    why_it_lasted: str
    recovery: str
    went_well: str
    went_badly: str
    action_items: str
    not_known: str
    figures: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    timeline_table: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    action_table: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        for f in fields(self):
            if f.name in SECTIONS or f.name == "title":
                value = getattr(self, f.name)
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"section {f.name!r} must be non-empty text, got {value!r}")

    def sections(self) -> dict[str, str]:
        """Heading -> Markdown body, in the order of :data:`SECTIONS`.

        Examples
        --------
        >>> pm = Postmortem("T", *[f"body {i}" for i in range(len(SECTIONS))])
        >>> pm.sections()["What is not known"]
        'body 10'
        """
        return {heading: getattr(self, name) for name, heading in SECTIONS.items()}

    def to_markdown(self) -> str:
        """The whole document: ``# title``, a reading note, then ``## heading`` per section.

        Examples
        --------
        >>> pm = Postmortem("T", *[f"body {i}" for i in range(len(SECTIONS))])
        >>> [line for line in pm.to_markdown().splitlines() if line.startswith("#")][:3]
        ['# T', '## Summary', '## Impact']
        """
        parts = [f"# {self.title}", _READING_NOTE]
        for heading, body in self.sections().items():
            parts.append(f"## {heading}\n\n{body.strip()}")
        return "\n\n".join(parts) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return f"Postmortem({self.title!r}, sections={len(SECTIONS)})"


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures, without an exponent, thousands separated."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else "∞"
    places = max(digits - 1 - int(math.floor(math.log10(abs(x)))), 0)
    text = f"{round(x, places):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _big(x: float) -> str:
    """A large count in words: ``2.5 billion``, ``40 million``, ``12,300``."""
    for scale, word in ((1e9, "billion"), (1e6, "million")):
        if abs(x) >= scale:
            return f"{_sig(x / scale)} {word}"
    return _sig(x)


def _share(x: float) -> str:
    """A share as a percentage: ``87 %``, ``0.4 %``."""
    pct = 100 * x
    if pct == 0 or pct >= 10 or pct <= -10:
        return f"{pct:.0f} %"
    return f"{_sig(pct, 2)} %"


def _minutes(m: float) -> str:
    if math.isinf(m):
        return "not restored by the end of the run"
    text = f"{m:,.0f} min"
    return f"{text} ({m / 60:.1f} h)" if m >= 60 else text


def _ratio(x: float) -> str:
    return f"{_sig(x)} ×"


def _clock(t: pd.Timestamp | None) -> str:
    return "—" if t is None else f"{t:%H:%M} UTC"


def _day_clock(t: pd.Timestamp) -> str:
    return f"{t.day} {t:%b %H:%M}"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    head = "| " + " | ".join(_cell(c) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _sources() -> dict[str, str]:
    """Source tag -> address, gathered from the 2015 data files."""
    out: dict[str, str] = {}
    frames = [data.load_timeline_2015(), data.load_services_2015(), data.load_scenario_2015()]
    for frame in frames:
        for tags, urls in zip(frame["source_tags"], frame["source"], strict=True):
            if not isinstance(tags, str) or not isinstance(urls, str) or not tags.strip():
                continue
            tag_list = [t.strip() for t in tags.split(";")]
            url_list = [u.strip() for u in urls.split(";")]
            if len(tag_list) != len(url_list):
                continue
            for tag, url in zip(tag_list, url_list, strict=True):
                out.setdefault(tag, url)
    return out


def _links(tags: str | Sequence[str], sources: Mapping[str, str]) -> str:
    """``[S1](url), [S2](url)`` for the tags (a ``" ; "`` string or a list)."""
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(";") if t.strip()]
    return ", ".join(f"[{t}]({sources[t]})" if t in sources else t for t in tags)


_PRECISION_WORDS = {"morning": "morning", "day": "during the day"}


def _record_when(row) -> str:
    """How the record dates an event, as shown in the timeline."""
    t = row.time_utc
    precision = row.time_precision
    start, end = row.window_start_utc, row.window_end_utc
    if precision == "exact":
        return _day_clock(t)
    if precision == "approximate":
        if pd.notna(start) and pd.notna(end) and start != end:
            return f"{t.day} {t:%b} ≈{start:%H:%M}–{end:%H:%M}"
        return f"{t.day} {t:%b} ≈{t:%H:%M}"
    if precision in _PRECISION_WORDS:
        return f"{t.day} {t:%b}, {_PRECISION_WORDS[precision]}"
    if precision == "days" and pd.notna(start) and pd.notna(end):
        if start.month == end.month:
            return f"{start.day}–{end.day} {end:%b}"
        return f"{start.day} {start:%b} – {end.day} {end:%b}"
    if precision == "month":
        return f"{t:%b %Y}"
    return _day_clock(t)


# --------------------------------------------------------------------------------------------
# Pieces computed from the replay
# --------------------------------------------------------------------------------------------


def _assumed(name: str, scenario) -> bool:
    return scenario.parameters.get(name) == "assumed"


def _tag(name: str, scenario) -> str:
    """``" (assumed)"`` when the scenario used card row ``name`` as an assumption."""
    return " (assumed)" if _assumed(name, scenario) else ""


def _action_text(action, params) -> str:
    """One recovery action of a scenario, in words."""
    if isinstance(action, ServerPolicyAt):
        policy: ServerPolicy = action.policy
        if policy.admission is not None and policy.admission.rate_per_s is not None:
            share = policy.admission.rate_per_s / params.signin_capacity_per_s
            return f"sign-ins admitted at {_sig(share, 2)} × sign-in capacity, the rest turned away"
        return "sign-in's server policy changed"
    if isinstance(action, AddCapacity):
        return f"sign-in capacity multiplied by {_sig(action.factor, 2)}"
    if isinstance(action, StagedReadmission):
        return "sign-ins readmitted at a rising rate"
    return "recovery action"


def _cap_ratio(action, scenario) -> float | None:
    """The sign-in rate an admission-control action admits, over the normal rate (else None)."""
    if not isinstance(action, ServerPolicyAt):
        return None
    admission = action.policy.admission
    if admission is None or admission.rate_per_s is None:
        return None
    normal = normal_signin_rate_per_s(scenario)
    return float(admission.rate_per_s) / normal if normal > 0 else None


def _and(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _behind_sign_in(scenario) -> str:
    """The sign-in service's hard dependencies, by their labels: where a sign-in can fail."""
    graph = scenario.graph
    return _and([graph.nodes[v].get("label", v) for v in sign_in_dependencies(scenario)])


def _overloaded_at(replay: Replay, row: pd.Series, *, entry: bool) -> list[str]:
    """Labels of the stack's services overloaded in ``row`` (entry points, or the rest)."""
    graph = replay.scenario.graph
    return [
        graph.nodes[n].get("label", n)
        for n, attrs in graph.nodes(data=True)
        if attrs.get("stack") == replay.scenario.stack
        and bool(attrs.get("entry", False)) == entry
        and row.get(f"{n}_health") == "overloaded"
    ]


def _phase_start(ts: pd.DataFrame, phase: str) -> pd.Timestamp | None:
    rows = ts.loc[ts["phase"] == phase, "time_utc"]
    return rows.iloc[0] if len(rows) else None


def _model_events(replay: Replay) -> list[tuple[pd.Timestamp, str]]:
    """The replay's events: push, onset, stuck from, recovery action, restoration."""
    scenario = replay.scenario
    params = scenario.params
    start = scenario.start_utc
    ts = replay.timeseries
    population = params.population
    events: list[tuple[pd.Timestamp, str]] = []
    for trigger in params.triggers:
        when = start + pd.Timedelta(seconds=float(trigger.time_s))
        reach = getattr(trigger, "reach", None)
        reach_text = f"{_share(reach)} of the" if reach is not None else "the"
        bits = [
            label
            for name, label in (
                ("config_push_utc", "push time"),
                ("concurrent_users_at_onset", "clients online"),
                ("affected_client_share", "affected share"),
            )
            if _assumed(name, scenario)
        ]
        assumed = f" ({', '.join(bits)} assumed)" if bits else ""
        events.append(
            (
                when,
                f"Configuration push to {reach_text} {_big(population)} clients online; the "
                f"{_share(_affected_share(params))} on affected versions drop off{assumed}.",
            )
        )
    onset = replay.onset_utc()
    if onset is not None:
        events.append((onset, "Onset: the sign-in service is overloaded."))
    cascade = _phase_start(ts, "cascade")
    if cascade is not None:
        events.append((cascade, "Cascade: services behind or beside sign-in are overloaded."))
    stuck = _phase_start(ts, "stuck")
    if stuck is not None:
        row = ts.loc[ts["time_utc"] == stuck].iloc[0]
        behind = _overloaded_at(replay, row, entry=False)
        failing = float(row["downstream_failure_share"])
        text = (
            "Stuck: the services beside sign-in are no longer overloaded (few clients are "
            "left online to use them), but sign-in serves almost only attempts whose "
            "clients have already given up"
        )
        if failing > 0:
            text += f"; {_share(failing)} of the sign-ins it completes fail behind it" + (
                f" ({_and(behind)} still overloaded)" if behind else ""
            )
        events.append((stuck, text + "."))
    for action in scenario.actions:
        when = start + pd.Timedelta(seconds=float(action.time_s))
        events.append(
            (
                when,
                f"Rebalancing starts: {_action_text(action, params)}"
                + (" (time and form assumed)." if _assumed("rebalancing_utc", scenario) else "."),
            )
        )
    restored = replay.restoration_utc()
    if restored is not None:
        events.append((restored, "Restoration: clients back, no consumer service overloaded."))
    return sorted(events, key=lambda e: e[0])


def _affected_share(params) -> float:
    """Share of the clients the configuration push knocks off in the model."""
    return float(params.version_mix.affected_share())


def _loop_moment(replay: Replay) -> tuple[float, str] | None:
    """When to read the sustaining loop (seconds into the run), and how to name that moment.

    The middle of the stuck phase, or without one the moment of the longest queue wait after
    the onset; None if sign-in never overloads.
    """
    if replay.onset_utc() is None:
        return None
    ts = replay.timeseries
    stuck = ts.loc[ts["phase"] == "stuck", "time_s"]
    if len(stuck):
        every = replay.scenario.output_every_s
        middle = 0.5 * (float(stuck.iloc[0]) + float(stuck.iloc[-1]))
        return math.floor(middle / every) * every, "in the middle of the stuck phase"
    loop = ms.loop_frame(replay.storm)
    onset_s = replay.scenario.seconds(replay.onset_utc())
    after = loop[loop["time_s"] >= onset_s]
    return float(after.loc[after["queue_wait_s"].idxmax(), "time_s"]), "the longest wait"


def _loop_closed(replay: Replay) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last moments (end of the interval) when a new attempt outwaits its timeout."""
    loop = ms.loop_frame(replay.storm)
    closed = (loop["queue_wait_s"] > loop["timeout_s"]).to_numpy()
    if not closed.any():
        return None, None
    times = loop["time_s"].to_numpy()
    start = replay.scenario.start_utc
    every = replay.scenario.output_every_s
    first = start + pd.Timedelta(seconds=float(times[closed][0]))
    last = start + pd.Timedelta(seconds=float(times[closed][-1]) + every)
    return first, last


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _services_lists(services: pd.DataFrame) -> tuple[list[str], list[str]]:
    hit = services[services["affected"].isin(["yes", "partly"])]
    spared = services[services["affected"] == "no"]
    hit_names = [
        row.name + (" (for some users)" if row.affected == "partly" else "")
        for row in hit.itertuples()
    ]
    spared_names = [
        row.name
        + (
            ""
            if row.applies_to == "whole incident"
            else " (said of the " + row.applies_to.replace(" (", ": ").rstrip(")") + ")"
        )
        for row in spared.itertuples()
    ]
    return hit_names, spared_names


def _impact(figures, services, replay, sources) -> str:
    hit, spared = _services_lists(services)
    rec = figures
    scenario = replay.scenario
    model_services = replay.services_overloaded()
    labels = {n: scenario.graph.nodes[n].get("label", n) for n in model_services}
    rows = [
        (
            "duration",
            f"{rec['record_duration_h']:.1f} h ({_clock(rec['record_onset_utc'])} to "
            f"{_clock(rec['record_restoration_utc'])}; the start is approximate)",
            "record (two sourced times)",
        ),
        (
            "duration given by the press",
            f"{rec['reported_duration_low_h']:g}–{rec['reported_duration_high_h']:g} h",
            "record",
        ),
        ("services affected", "; ".join(hit), "record"),
        ("not affected", "; ".join(spared), "record"),
        (
            "outage (sign-in overloaded until the stack is back)",
            _minutes(rec["model_outage_min"]),
            MODEL_LABEL,
        ),
        (
            "users without a connection",
            f"{_big(rec['model_user_min_lost'])} user-minutes "
            f"({_big(rec['model_user_min_lost'] / 60)} user-hours)",
            MODEL_LABEL,
        ),
        (
            "peak sign-in load",
            f"{_ratio(rec['model_peak_load_ratio'])} sign-in capacity "
            f"({_sig(scenario.output_every_s / 60)}-minute average)",
            MODEL_LABEL,
        ),
        (
            "sign-in work wasted on clients that had given up",
            f"{_share(rec['model_wasted_share'])} of the {_big(rec['model_served_signins'])} "
            "sign-ins served over the day",
            MODEL_LABEL,
        ),
        (
            "services overloaded",
            f"{len(model_services)}: " + ", ".join(labels[n] for n in model_services)
            if model_services
            else "none",
            MODEL_LABEL,
        ),
    ]
    ts = replay.timeseries
    low = ts.loc[ts["connected_share"] < 0.01, "time_utc"]
    worst = (
        f"fewer than 1 % of them still connected from {_clock(low.iloc[0])} on"
        if len(low)
        else f"{_share(rec['model_min_connected_share'])} of them still connected at the worst "
        "moment"
    )
    note = (
        f"Microsoft's account says the services failed for some users ({_links('S1', sources)}). "
        f"The model, with its assumed {_big(scenario.params.population)} clients online, has "
        f"{worst}: clients whose sessions end during the storm cannot sign back in. Read the "
        "model's user-minutes as what its assumptions imply, not as an estimate of the real "
        "loss."
    )
    return _table(["", "value", "basis"], rows) + "\n\n" + note


def _timeline(
    replay: Replay, timeline: pd.DataFrame, sources, restored_utc: pd.Timestamp
) -> tuple[str, pd.DataFrame]:
    records = []
    for row in timeline.itertuples():
        records.append(
            {
                "time_utc": row.time_utc,
                "order": 0,
                "when": _record_when(row),
                "kind": "record",
                "what": row.event,
                "source": _links(row.source_tags, sources),
            }
        )
    for when, what in _model_events(replay):
        records.append(
            {
                "time_utc": when,
                "order": 1,
                "when": _day_clock(when),
                "kind": "model",
                "what": what,
                "source": f"replay of `{replay.scenario.name}`",
            }
        )
    table = (
        pd.DataFrame(records)
        .sort_values(["time_utc", "order"], kind="stable")
        .drop(columns="order")
        .reset_index(drop=True)
    )
    rows = [
        (
            r.when,
            r.what if r.kind == "record" else "",
            r.what if r.kind == "model" else "",
            r.source,
        )
        for r in table.itertuples()
    ]
    text = _table(["time (UTC)", "public record", "model (assumed inputs)", "source"], rows)
    text += (
        '\n\nEvents the record dates only to a part of the day ("morning", "during the '
        'day") are placed at a placeholder time inside their window.'
    )
    scenario = replay.scenario
    if _assumed("config_push_utc", scenario) and _assumed("rebalancing_utc", scenario):
        text += (
            " The card puts the model's push a few minutes before the first reports, and its "
            f"rebalancing where the model is restored near the record's {_clock(restored_utc)}: "
            "where the "
            "model's onset and restoration agree with the record, they do so by construction, "
            "not as a test of the model."
        )
    return text, table


def _trigger(replay: Replay, sources) -> str:
    scenario = replay.scenario
    params = scenario.params
    waves = len(params.triggers)
    return (
        "**Record.** A change to the back-end configuration, which Microsoft described as "
        "larger than usual, reached the Skype clients. Some client versions could not process "
        "it correctly, and those clients were disconnected from the network "
        f"({_links('S1 ; S2', sources)}). Which versions they were, and how many clients ran "
        "them, was never published.\n\n"
        f"{_MODEL_HEAD} The change is pushed at "
        f"{_clock(scenario.start_utc + pd.Timedelta(seconds=float(params.triggers[0].time_s)))}"
        f"{_tag('config_push_utc', scenario)} in "
        f"{'one wave' if waves == 1 else f'{waves} waves'}{_tag('rollout_waves', scenario)} "
        "and knocks off "
        f"{_share(_affected_share(params))}{_tag('affected_client_share', scenario)} of "
        f"{_big(params.population)} clients online{_tag('concurrent_users_at_onset', scenario)}."
        if params.triggers
        else "**Record.** A change to the back-end configuration, which Microsoft described as "
        "larger than usual, reached the Skype clients; some client versions could not process "
        f"it and were disconnected ({_links('S1 ; S2', sources)}).\n\n"
        f"{_MODEL_HEAD} This replay has no trigger."
    )


def _amplification(replay: Replay, figures, sources) -> str:
    scenario = replay.scenario
    sfb = "skype_for_business"
    spared = sfb in scenario.graph and sfb not in replay.services_overloaded()
    return (
        "**Record.** The disconnected clients tried to get back on, and the traffic they "
        "produced made the free services unusable for some users "
        f"({_links('S1', sources)}). One technology site read this as the incompatible "
        "clients trying again and again until the platform gave way; that reading is "
        f"commentary, not Microsoft's words ({_links('S15', sources)}). The record does not "
        "say whether clients waited between attempts.\n\n"
        f"{_MODEL_HEAD} The knocked-off clients {_retry_words(scenario)}"
        f"{_tag('reconnect_policy', scenario)}. Each sign-in costs as much as "
        f"{_sig(scenario.params.signin_cost_ratio)} steady-state requests"
        f"{_tag('signin_cost_ratio', scenario)}, so the sign-in work offered peaks at "
        f"{_ratio(figures['model_peak_load_ratio'])} the capacity of the sign-in service. "
        f"The overload spreads through the service graph to "
        f"{figures['model_services_overloaded']} services of the consumer stack"
        + (
            "; Skype for Business, a separate stack, stays healthy, as it did on the day."
            if spared
            else "."
        )
    )


def _retry_words(scenario) -> str:
    """The clients' reconnect rule in the scenario, in words."""
    retry = scenario.params.retry
    backoff = retry.backoff if isinstance(retry, RetryPolicy) else retry
    if isinstance(backoff, FixedDelay):
        if backoff.delay_s == 0:
            return "try again at once, all in step, with no backoff or jitter"
        return f"try again every {_sig(backoff.delay_s)} s"
    if isinstance(backoff, ExponentialBackoff):
        return (
            f"reconnect with capped exponential backoff ({_sig(backoff.base_s)} s growing "
            f"×{_sig(backoff.multiplier)} to at most {_sig(backoff.cap_s)} s, jitter "
            f"±{_share(backoff.jitter)})"
        )
    return "reconnect under the scenario's retry rule"


def _door_words(replay: Replay, figures) -> str:
    """The door (the sign-in service) against the path behind it, at the loop's moment."""
    served, limit = figures["loop_served_ratio"], figures["loop_path_limit_ratio"]
    failing = figures["loop_downstream_failure_share"]
    behind = _behind_sign_in(replay.scenario)
    if failing > 0:
        return (
            "Nor would an attempt served in time connect its client: the sign-in service "
            f"completes {_sig(served)} × the normal sign-in rate, more than the {_sig(limit)} × "
            f"that the services behind it ({behind}) carry at that moment, and "
            f"{_share(failing)} of the sign-ins it completes fail there. Their clients are "
            "still offline and try again."
        )
    return (
        f"The sign-in service completes {_sig(served)} × the normal sign-in rate, within the "
        f"{_sig(limit)} × that the services behind it ({behind}) carry at that moment: no "
        "sign-in it completes fails there."
    )


def _why_it_lasted(replay: Replay, figures) -> str:
    at = figures.get("loop_at_utc")
    if at is None:
        return (
            f"In this replay ({MODEL_LABEL}) the sign-in service never overloads, so there is "
            "no loop to explain."
        )
    wait, timeout = figures["loop_queue_wait_s"], figures["loop_timeout_s"]
    closed = wait > timeout
    lines = [
        "**Record.** The record says only that the service came back after the traffic load "
        "was rebalanced; it does not say whether it would have recovered by itself.",
        "",
        f"{_MODEL_HEAD} At {_clock(at)}, {figures['loop_at_what']}, a new "
        f"sign-in attempt would wait about {wait:.0f} s in the queue, while its client gives up "
        f"after {timeout:.0f} s{_tag('client_timeout_s', replay.scenario)}. "
        + (
            "Every attempt therefore times out before it is served, is retried and queues "
            f"again: {_share(figures['loop_wasted_share'])} of the sign-ins served at that "
            f"moment are for clients that have already gone, and "
            f"{_big(figures['loop_retries_per_s'])} retries arrive per second. The trigger is "
            "long over, but the retries keep the queue full: the failure sustains itself "
            "(a metastable failure, lesson 07)."
            + (
                f" The loop is closed (a new attempt waits longer than the timeout) from "
                f"{_clock(figures['loop_closed_from_utc'])} to "
                f"{_clock(figures['loop_closed_until_utc'])}."
                if figures.get("loop_closed_from_utc") is not None
                else ""
            )
            if closed
            else "Attempts are served within their timeout; "
            f"{_share(figures['loop_wasted_share'])} of the sign-ins served are wasted."
        )
        + " "
        + _door_words(replay, figures),
    ]
    if figures.get("model_stuck_without_action") is not None:
        lines.append("")
        lines.append(
            "Run again with no recovery action, the same model is "
            + (
                "still stuck at the end of the day: nothing inside it breaks the loop."
                if figures["model_stuck_without_action"]
                else "back by itself before the end of the day."
            )
        )
    return "\n".join(lines)


def _cap_words(replay: Replay, figures) -> str:
    """The rebalancing's cap against what the sign-in path carries ("" if it is no cap)."""
    cap = figures.get("rebalancing_cap_ratio")
    if cap is None:
        return ""
    limit = figures["rebalancing_path_limit_ratio"]
    clear_from = figures["rebalancing_no_failures_from_utc"]
    behind = _behind_sign_in(replay.scenario)
    below = cap <= limit
    text = (
        f" The cap is {_sig(cap)} × the normal sign-in rate, "
        f"{'within' if below else 'above'} the {_sig(limit)} × that the services behind "
        f"sign-in ({behind}) carry, "
    )
    if clear_from is not None:
        text += f"and from {_clock(clear_from)} on no sign-in it completes fails there."
    else:
        text += "and sign-ins it completes still fail there at the end of the day."
    if below:
        text += (
            " A cap above that limit would let sign-ins through the door only for them to "
            "fail behind it."
        )
    return text


def _recovery(replay: Replay, figures, sources) -> str:
    scenario = replay.scenario
    lines = [
        "**Record.** Microsoft says it re-balanced the traffic load so that normal service "
        f"could resume ({_links('S1 ; S5', sources)}). A status update at "
        f"{_clock(figures['record_restoration_utc'])} announced that services were fully "
        f"restored ({_links('S7', sources)}). How the rebalancing worked, and when it began, "
        "is not in the record.",
        "",
    ]
    if scenario.actions:
        first = scenario.actions[0]
        when = scenario.start_utc + pd.Timedelta(seconds=float(first.time_s))
        restored = replay.restoration_utc()
        after = (
            f"the clients are back and no consumer service is overloaded at {_clock(restored)}, "
            f"{(restored - when).total_seconds() / 60:.0f} min later."
            if restored is not None
            else "the stack is still not restored at the end of the day."
        )
        lines.append(
            f"{_MODEL_HEAD} The rebalancing is represented as admission control"
            f"{_tag('recovery_model', scenario)}: from {_clock(when)}"
            f"{_tag('rebalancing_utc', scenario)}, {_action_text(first, scenario.params)}"
            f"{_tag('rebalancing_admission_share', scenario)}. Turned-away attempts cost "
            "nothing, so the queue drains, attempts are served within their timeout again, "
            f"and {after}" + _cap_words(replay, figures)
        )
    else:
        lines.append(
            f"{_MODEL_HEAD} This replay has no recovery action; "
            + (
                f"it is restored at {_clock(replay.restoration_utc())}."
                if replay.restoration_utc() is not None
                else "it is not restored by the end of the day."
            )
        )
    return "\n".join(lines)


def _separate_stacks(replay: Replay) -> bool:
    """Whether no service reachable from the scenario's stack belongs to another stack."""
    graph = replay.scenario.graph
    stack = replay.scenario.stack
    ours = [n for n, a in graph.nodes(data=True) if a.get("stack") == stack]
    reach = set(ours).union(*(nx.descendants(graph, n) for n in ours))
    return all(graph.nodes[n].get("stack") == stack for n in reach)


def _went_well(replay: Replay, figures) -> str:
    separate = (
        " In the model's service graph the two stacks share no service, so the overload has "
        f"no path to Skype for Business ({MODEL_LABEL})."
        if _separate_stacks(replay)
        else ""
    )
    items = [
        "Skype for Business, a separate stack, was not affected (record; Microsoft gave no "
        "reason)." + separate,
        "The status page and the support account reported the fault during the day, and the "
        "restoration when it came (record).",
        "Service was fully restored the same day once the traffic load was rebalanced (record).",
    ]
    if replay.scenario.actions and replay.restoration_utc() is not None:
        first = replay.scenario.actions[0]
        when = replay.scenario.start_utc + pd.Timedelta(seconds=float(first.time_s))
        minutes = (replay.restoration_utc() - when).total_seconds() / 60
        cap = figures.get("rebalancing_cap_ratio")
        what = (
            f"Admitting sign-ins at {_sig(cap)} × the normal rate, "
            + (
                "within what the services behind sign-in carry,"
                if cap <= figures["rebalancing_path_limit_ratio"]
                else "although above what the services behind sign-in carry,"
            )
            if cap is not None
            else "The recovery action"
        )
        stuck = " out of the stuck state" if figures.get("model_stuck_without_action") else " back"
        items.append(
            f"{what} was enough to get the model{stuck}: restored {minutes:.0f} min after it "
            f"began ({MODEL_LABEL})."
        )
    return _bullets(items)


def _went_badly(replay: Replay, figures) -> str:
    items = [
        "Some client versions could not process the configuration change and, instead of "
        "carrying on with the configuration they had, dropped off the network (record).",
        "The change reached enough of the affected clients at once for their reconnections "
        "to overload the back end; the record does not say how it was rolled out, and the "
        "model assumes one wave to every client.",
        "The disconnected clients' attempts to get back on produced more traffic than the "
        "back end could absorb (record); in the model, the sign-in work offered peaked at "
        f"{_ratio(figures['model_peak_load_ratio'])} capacity ({MODEL_LABEL}).",
    ]
    if figures.get("loop_at_utc") is not None:
        items.append(
            "In the model, nothing in the sign-in path sheds work for clients that have "
            f"already given up: {_share(figures['model_wasted_share'])} of the sign-ins served "
            f"over the day are wasted ({MODEL_LABEL})."
        )
    if figures.get("model_failing_min", 0) > 0:
        items.append(
            "In the model, the sign-in service can complete more sign-ins than the services "
            f"behind it ({_behind_sign_in(replay.scenario)}) carry: at its busiest it completed "
            f"{_sig(figures['model_peak_served_ratio'])} × the normal sign-in rate against the "
            f"{_sig(figures['model_peak_path_limit_ratio'])} × they carry, and for "
            f"{_minutes(figures['model_failing_min'])} sign-ins it completed failed behind it, "
            f"leaving their clients offline ({MODEL_LABEL})."
        )
    lasted = (
        f"The outage lasted about {figures['record_duration_h']:.1f} h and ended after the "
        "traffic load was rebalanced (record)"
    )
    if figures.get("model_stuck_without_action"):
        lasted += (
            "; in the model, nothing inside the system breaks the loop without such an action "
            f"({MODEL_LABEL})"
        )
    items += [
        lasted + ".",
        "The early public updates described a fault with status (presence) while users were "
        "also being turned away at sign-in; the update tying it to a network issue that "
        "stopped people logging in came later in the day (record).",
    ]
    return _bullets(items)


def _action_items(
    card: pd.DataFrame,
    door: pd.DataFrame,
    base_outage: float,
    base_peak: float,
    replay: Replay,
) -> tuple[str, pd.DataFrame]:
    rows = []
    doors = door.set_index("name") if len(door) else door
    for r in card.iloc[1:].itertuples(index=False):
        d = doors.loc[r.name]
        rows.append(
            {
                "action": r.name,
                "defences": r.defences,
                "outage_min": float(r.outage_min),
                "saved_min": float(base_outage - r.outage_min),
                "peak_load_ratio": float(r.peak_load_ratio),
                "peak_served_ratio": float(d["peak_served_ratio"]),
                "path_limit_ratio": float(d["path_limit_ratio"]),
                "failing_min": float(d["failing_min"]),
                "cost_engineer_weeks": float(r.cost_engineer_weeks),
                "owner": "",
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "action",
            "defences",
            "outage_min",
            "saved_min",
            "peak_load_ratio",
            "peak_served_ratio",
            "path_limit_ratio",
            "failing_min",
            "cost_engineer_weeks",
            "owner",
        ],
    )
    shown = [
        (
            r.action,
            r.defences,
            f"{base_outage:,.0f} → {r.outage_min:,.0f} min",
            f"{r.saved_min:,.0f} min",
            f"{_sig(base_peak)} → {_sig(r.peak_load_ratio)} ×",
            f"{r.cost_engineer_weeks:g}",
            r.owner,
        )
        for r in table.itertuples(index=False)
    ]
    text = _table(
        [
            "action",
            "defence in the model",
            "outage (model)",
            "outage saved (model)",
            "peak sign-in load ÷ capacity (model)",
            "cost, engineer-weeks (assumed)",
            "owner",
        ],
        shown,
    )
    scenario = replay.scenario
    if scenario.actions:
        first = scenario.start_utc + pd.Timedelta(seconds=float(scenario.actions[0].time_s))
        kept = f"the {first:%H:%M} rebalancing kept"
    else:
        kept = "with no recovery action"
    text += (
        f"\n\nEach row adds its defences to the replay's scenario ({kept}) and scores it on "
        f"the same inputs: the savings are model results ({MODEL_LABEL}), not "
        "forecasts. The costs are teaching figures (`data/mitigation_costs.csv`, every row "
        "assumed). These are the kit's suggestions; Microsoft announced no such changes. Fill "
        "in an owner for each item you would keep."
    )
    flat = (table["saved_min"] == 0) & (table["peak_load_ratio"] < base_peak)
    if flat.any():
        text += (
            " A defence that lowers the peak load but saves no outage minutes has not broken "
            "the loop in the model: the retries that remain still keep sign-in overloaded "
            "until the recovery action."
        )
    if len(table):
        text += "\n\n" + _door_and_path_text(table, replay)
    return text, table


def _door_and_path_text(table: pd.DataFrame, replay: Replay) -> str:
    """Each action item's busiest sign-in rate at the door against what the path carries."""
    lines = []
    for r in table.itertuples(index=False):
        served, limit = _sig(r.peak_served_ratio), _sig(r.path_limit_ratio)
        if r.failing_min > 0:
            lines.append(
                f"{r.defences}: the door served {served} × the normal sign-in rate, more than "
                f"the {limit} × the path carries; sign-ins failed behind the door for "
                f"{_minutes(r.failing_min)}."
            )
        else:
            lines.append(
                f"{r.defences}: the door served at most {served} × the normal sign-in rate, "
                f"within the {limit} × the path carries; no sign-in failed behind the door."
            )
    text = (
        "The sign-in service is a door: a sign-in it completes must still pass the services "
        f"behind it ({_behind_sign_in(replay.scenario)}), a path that carries only so many "
        "sign-ins per second (`scenarios.sign_in_path_limit`). A sign-in that fails there "
        "leaves its client offline, to try again. Each row's busiest "
        f"{_sig(replay.scenario.output_every_s / 60)} minutes after the push ({MODEL_LABEL}):"
        "\n\n" + _bullets(lines)
    )
    over = table["failing_min"] > 0
    unsaved = table["saved_min"] == 0
    if unsaved.any() and (over | ~unsaved).all():
        text += (
            "\n\n"
            + ("Every row that saves" if unsaved.sum() > 1 else "The row that saves")
            + " no minutes also lets the door serve more than the path carries, so that the "
            "sign-ins the door completes keep failing behind it."
        )
    return text


def _not_known(replay: Replay) -> str:
    scenario = replay.scenario
    items = [
        "**Which client versions failed, and what share of clients ran them.** Never "
        "published. The model's share is an assumption.",
        "**How clients reconnected** (delay between attempts, backoff, jitter). Not in the "
        "record. The model's retry policy is an assumption.",
        "**What Microsoft changed afterwards** (for example smaller or staged configuration "
        "releases, or client backoff). No public statement; the apology commits to none. The "
        "action items above are the kit's, not Microsoft's.",
        "**How the rebalancing worked and when it started.** The record names the action "
        "only. The model's admission control, its start time and the share of capacity it "
        "admits are assumptions: the time is fitted to the record's restoration time, the "
        "share chosen below what the model's sign-in path carries.",
        "**When the change was pushed.** Only the first user reports are dated; the model's "
        "push time is an assumption.",
        "**Whether the service would have recovered by itself.** The record cannot say; the "
        "model only shows what its own assumptions imply.",
    ]
    assumed = [name for name, status in scenario.parameters.items() if status == "assumed"]
    lines = []
    for name in assumed:
        try:
            record = data.parameter_record(name)
        except KeyError:
            continue
        lines.append(f"`{name}` = {_card_value(record)}")
    text = _bullets(items)
    if lines:
        text += (
            "\n\nThe replay's assumed inputs (card rows with status *assumed*; each row gives "
            "its reason):\n\n" + _bullets(lines)
        )
    return text


def _card_value(record: Mapping[str, Any]) -> str:
    value, unit = record["value"], record["unit"]
    if isinstance(value, pd.Timestamp):
        return f"{value:%H:%M} UTC"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, float) and math.isnan(value):
        return f"{record['value_low']:g}–{record['value_high']:g} {unit}"
    shown = _big(value) if abs(value) >= 1e6 else f"{value:g}"
    return f"{shown} {unit}" if unit not in ("ratio", "fraction") else shown


def _summary(replay: Replay, figures, actions: pd.DataFrame) -> str:
    record = (
        f"On Monday 21 September 2015, from about {_clock(figures['record_onset_utc'])} to "
        f"{_clock(figures['record_restoration_utc'])} ({figures['record_duration_h']:.1f} h, "
        "record), consumer Skype's sign-in, presence, instant messaging and contact lists "
        "failed for some users, and calls with them. A larger-than-usual configuration change "
        "reached the clients; some client versions could not process it and dropped off the "
        "network, and their attempts to reconnect overloaded the back end. Skype for Business, "
        "a separate stack, was not affected. Service came back after the traffic load was "
        "rebalanced (record)."
    )
    if replay.onset_utc() is None:
        return (
            record + f"\n\nThe replay given ({MODEL_LABEL}) has no outage: sign-in never overloads."
        )
    stuck = _phase_start(replay.timeseries, "stuck")
    cascade = _phase_start(replay.timeseries, "cascade")
    model = (
        f"The kit's replay ({MODEL_LABEL}) has the same shape: sign-in overloaded from "
        f"{_clock(replay.onset_utc())}, "
        + (
            f"the services behind it overloaded from {_clock(cascade)}, sign-in alone stuck "
            f"from {_clock(stuck)}, "
            if stuck is not None and cascade is not None
            else ""
        )
        + (
            f"restored at {_clock(replay.restoration_utc())}: "
            if replay.restoration_utc() is not None
            else "not restored by the end of the day: "
        )
        + f"an outage of {_minutes(figures['model_outage_min'])}."
    )
    short = actions[actions["outage_min"] < 60]
    if len(actions):
        model += f" Of the {len(actions)} defences scored in the action items, " + (
            f"{len(short)} would have kept the outage under an hour in the model: "
            + "; ".join(short["defences"])
            + "."
            if len(short)
            else "none would have kept the outage under an hour in the model."
        )
    return record + "\n\n" + model


# --------------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------------


def _door_at(replay: Replay, at_s: float, prefix: str) -> dict[str, float]:
    """Sign-ins served over the normal rate, what the path carries and its failure share."""
    ts = replay.timeseries
    row = ts.loc[(ts["time_s"] - at_s).abs().idxmin()]
    connected = min(max(float(row["connected_share"]), 0.0), 1.0)
    return {
        f"{prefix}_served_ratio": float(row["signin_rate_ratio"]),
        f"{prefix}_path_limit_ratio": sign_in_path_limit(
            replay.scenario, connected_share=connected
        ),
        f"{prefix}_downstream_failure_share": float(row["downstream_failure_share"]),
    }


def _door_over_the_day(replay: Replay) -> dict[str, float]:
    """The busiest sign-in rate served after the push, what the path then carries, and the
    minutes during which sign-ins failed behind the sign-in service (as
    :func:`outage_kit.mitigations.door_and_path` reads a run)."""
    ts = replay.timeseries
    scenario = replay.scenario
    push = min((t.time_s for t in scenario.params.triggers), default=0.0)
    after = ts[ts["time_s"] >= push - 1e-9]
    busiest = float(after.loc[after["signin_rate_ratio"].idxmax(), "time_s"])
    door = _door_at(replay, busiest, "model_peak")
    failing = float((ts["downstream_failure_share"] > 0).sum() * scenario.output_every_s / 60)
    return {
        "model_peak_served_ratio": door["model_peak_served_ratio"],
        "model_peak_path_limit_ratio": door["model_peak_path_limit_ratio"],
        "model_failing_min": failing,
    }


def _rebalancing_figures(replay: Replay) -> dict[str, Any]:
    """The first recovery action's cap (over the normal sign-in rate) against the path, and
    from when on no sign-in fails behind the sign-in service (None if some still do at the
    end of the run)."""
    scenario = replay.scenario
    cap = _cap_ratio(scenario.actions[0], scenario) if scenario.actions else None
    if cap is None:
        return {
            "rebalancing_cap_ratio": None,
            "rebalancing_path_limit_ratio": None,
            "rebalancing_no_failures_from_utc": None,
        }
    at_s = float(scenario.actions[0].time_s)
    ts = replay.timeseries
    after = ts[ts["time_s"] >= at_s - 1e-9]
    failing = after["downstream_failure_share"].to_numpy() > 0
    if not failing.any():
        clear_from = scenario.start_utc + pd.Timedelta(seconds=at_s)
    elif failing[-1]:
        clear_from = None
    else:
        clear_from = after["time_utc"].iloc[int(np.flatnonzero(failing)[-1]) + 1]
    return {
        "rebalancing_cap_ratio": cap,
        "rebalancing_path_limit_ratio": _door_at(replay, at_s, "r")["r_path_limit_ratio"],
        "rebalancing_no_failures_from_utc": clear_from,
    }


def _rows_of(defences) -> dict[str, list[mitigations.Defence]]:
    if defences is None:
        return {name: list(ds) for name, ds in DEFAULT_ACTIONS.items()}
    if isinstance(defences, mitigations.Defence):
        defences = [defences]
    if isinstance(defences, Mapping):
        out = {}
        for name, ds in defences.items():
            if isinstance(ds, mitigations.Defence):
                ds = [ds]
            out[name] = list(ds)
        return out
    if isinstance(defences, Sequence) and not isinstance(defences, str):
        out = {}
        for d in defences:
            if not isinstance(d, mitigations.Defence):
                raise TypeError(f"defences must be Defence objects, got {d!r}")
            out[d.label] = [d]
        return out
    raise TypeError(
        "defences must be a mapping of action -> defences, a list of defences, or None, "
        f"got {defences!r}"
    )


def skype_2015_postmortem(replay: Replay | None = None, *, defences=None) -> Postmortem:
    """Build the postmortem of 21 September 2015 from the record and a replay.

    Parameters
    ----------
    replay : Replay, optional
        The replay to report on (default: ``skype_2015().run()``, sharing the graph cache of
        :func:`outage_kit.mitigations.score`).
    defences : mapping, sequence of Defence, or None
        The action items to score: action text -> defences of that row, or a list of defences
        (one row each, named by their labels). Default :data:`DEFAULT_ACTIONS`. Each row costs
        one run of the model (a staged rollout a few), so keep it to a handful.

    Returns
    -------
    Postmortem
        Its ``figures`` hold the numbers behind the text: ``record_onset_utc``,
        ``record_restoration_utc``, ``record_duration_h``, ``reported_duration_low_h``,
        ``reported_duration_high_h``; the model's ``model_outage_min``,
        ``model_user_min_lost``, ``model_peak_load_ratio``, ``model_served_signins``,
        ``model_zombie_signins``, ``model_wasted_share`` (zombie over served),
        ``model_services_overloaded``, ``model_min_connected_share``; the loop read at
        ``loop_at_utc``: ``loop_queue_wait_s``, ``loop_timeout_s``, ``loop_wasted_share``,
        ``loop_retries_per_s``, and the door against the path there: ``loop_served_ratio``
        (sign-ins served over the normal rate), ``loop_path_limit_ratio``
        (:func:`~outage_kit.scenarios.sign_in_path_limit` at that moment's connected share),
        ``loop_downstream_failure_share``; over the day, ``model_peak_served_ratio``,
        ``model_peak_path_limit_ratio``, ``model_failing_min`` (minutes with sign-ins
        failing behind the sign-in service); the rebalancing's ``rebalancing_cap_ratio``
        (its admission cap over the normal sign-in rate, None if it is no cap),
        ``rebalancing_path_limit_ratio``, ``rebalancing_no_failures_from_utc`` (from when
        on no sign-in fails behind the sign-in service; None if some still do at the end);
        ``model_stuck_without_action`` (the same two-way replay with no recovery action);
        ``baseline_outage_min``.

    Examples
    --------
    >>> pm = skype_2015_postmortem(defences=[mitigations.DropExpired()])
    >>> pm.action_table[["action", "saved_min", "peak_served_ratio", "path_limit_ratio"]]
                  action  saved_min  peak_served_ratio  path_limit_ratio
    0  drop expired work        0.0                4.5              1.52
    >>> cap, limit = pm.figures["rebalancing_cap_ratio"], pm.figures["rebalancing_path_limit_ratio"]
    >>> round(cap, 2), limit
    (1.35, 1.52)
    >>> "assumed" in pm.sections()["Impact"]
    True
    >>> skype_2015_postmortem("2015")
    Traceback (most recent call last):
    ...
    TypeError: replay must be a Replay (scenarios.skype_2015().run()), got '2015'
    """
    if replay is None:
        # The graph cache of mitigations.score: same numbers, and the scorecard's baseline
        # below then costs almost nothing.
        replay = skype_2015().run(graph_cache=mitigations.graph_cache())
    if not isinstance(replay, Replay):
        raise TypeError(f"replay must be a Replay (scenarios.skype_2015().run()), got {replay!r}")
    rows = _rows_of(defences)
    scenario = replay.scenario
    sources = _sources()
    timeline = data.load_timeline_2015()
    services = data.load_services_2015()
    record = replay_charts.record_verdicts()
    low, high = data.parameter_range("reported_duration_h")

    metrics = mitigations.score(replay)
    served = float(metrics["served_signins"])
    figures: dict[str, Any] = {
        "record_onset_utc": record["onset_utc"],
        "record_restoration_utc": record["restoration_utc"],
        "record_duration_h": float(record["duration_h"]),
        "reported_duration_low_h": low,
        "reported_duration_high_h": high,
        "model_outage_min": float(metrics["outage_min"]),
        "model_user_min_lost": float(metrics["user_min_lost"]),
        "model_peak_load_ratio": float(metrics["peak_load_ratio"]),
        "model_served_signins": served,
        "model_zombie_signins": float(metrics["zombie_signins"]),
        "model_wasted_share": float(metrics["zombie_signins"]) / served if served > 0 else 0.0,
        "model_services_overloaded": int(metrics["n_services_overloaded"]),
        "model_min_connected_share": float(replay.timeseries["connected_share"].min()),
    }
    moment = _loop_moment(replay)
    if moment is not None:
        at_s, what = moment
        loop = ms.sustaining_loop(replay.storm, at_s)
        closed_from, closed_until = _loop_closed(replay)
        figures.update(
            {
                "loop_at_utc": scenario.start_utc + pd.Timedelta(seconds=at_s),
                "loop_at_what": what,
                "loop_closed_from_utc": closed_from,
                "loop_closed_until_utc": closed_until,
                "loop_queue_wait_s": loop["queue_wait_s"],
                "loop_timeout_s": loop["timeout_s"],
                "loop_wasted_share": loop["wasted_share"],
                "loop_retries_per_s": loop["retries_per_s"],
            }
        )
        figures.update(_door_at(replay, at_s, "loop"))
        push_s = min(t.time_s for t in scenario.params.triggers)
        # Both ways coupled, as the replay: the same day with no recovery action.
        bare = scenario.with_(actions=()).run(graph_cache=mitigations.graph_cache())
        figures["model_stuck_without_action"] = ms.outcome_of(bare.storm, push_s) == "stuck"
    else:
        figures["model_stuck_without_action"] = None
    figures.update(_door_over_the_day(replay))
    figures.update(_rebalancing_figures(replay))

    card = mitigations.scorecard(
        rows, base=scenario, metrics=["outage_min", "peak_load_ratio", "restored_by_end"]
    )
    door = mitigations.door_and_path(rows, base=scenario) if rows else pd.DataFrame()
    figures["baseline_outage_min"] = float(card["outage_min"].iloc[0])
    action_text, action_table = _action_items(
        card, door, figures["model_outage_min"], figures["model_peak_load_ratio"], replay
    )
    timeline_text, timeline_table = _timeline(
        replay, timeline, sources, figures["record_restoration_utc"]
    )

    summary = _summary(replay, figures, action_table)
    return Postmortem(
        title="Postmortem: consumer Skype outage of 21 September 2015",
        summary=summary,
        impact=_impact(figures, services, replay, sources),
        timeline=timeline_text,
        trigger=_trigger(replay, sources),
        amplification=_amplification(replay, figures, sources),
        why_it_lasted=_why_it_lasted(replay, figures),
        recovery=_recovery(replay, figures, sources),
        went_well=_went_well(replay, figures),
        went_badly=_went_badly(replay, figures),
        action_items=action_text,
        not_known=_not_known(replay),
        figures=figures,
        timeline_table=timeline_table,
        action_table=action_table,
    )
