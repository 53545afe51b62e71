"""A widget panel for lesson 08 (the mitigations lab): switch defences on and watch the day change.

Same widget pattern as :mod:`outage_kit.widgets`: a pure state function,
:func:`mitigation_state`, runs the 2015 scenario with the chosen defences of :data:`MENU` and
returns the chart params and a readout that compares the run with the 2015 baseline (tests call
it directly); :class:`MitigationsPanel` owns one toggle button per defence and sets the params
of an offline ``alt.JupyterChart`` (:func:`outage_kit.mitigation_charts.mitigation_panel_chart`).

Every run keeps the operators' rebalancing (the card's time and share), as
:func:`outage_kit.mitigations.scorecard` does by default: the question is whether a defence
would have prevented or shortened the outage. The service graph's states are kept between runs
in a module-level cache (as :func:`outage_kit.mitigations.score` does for its own runs), so
after the first few runs a toggle costs the population model and a few graph look-ups, not a
full graph evaluation; and each set's numbers are kept, so going back to a set already seen
costs next to nothing.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from outage_kit import charts, mitigation_charts, scenarios
from outage_kit import mitigations as m
from outage_kit.rollout import WAVE_INTERVAL_S
from outage_kit.scenarios import _DOWN
from outage_kit.widgets import Panel

#: The defences the panel offers, by short name, with the lesson's settings (the same defences
#: as :data:`outage_kit.mitigations.DEFAULT_SINGLE_DEFENCES`, in the same order).
MENU: dict[str, m.Defence] = {
    "staged rollout": m.StagedRollout(
        waves=(0.01, 0.1, 0.5, 1.0), interval_s=WAVE_INTERVAL_S, health_check=m.HealthCheck()
    ),
    "backoff": m.ClientBackoff(),
    "retry budget": m.RetryBudget(),
    "circuit breaker": m.CircuitBreaker(),
    "admission control 0.3": m.AdmissionControl(rate_share=0.3),
    "drop expired": m.DropExpired(),
    "bounded queue 10 s": m.BoundedQueue(max_wait_s=10.0),
    "capacity ×2": m.CapacityHeadroom(factor=2.0),
    "bulkheads": m.Bulkheads(),
}

#: The metrics of :func:`outage_kit.mitigations.score` that the readout shows.
READOUT_METRICS = (
    "outage_min",
    "restored_by_end",
    "user_min_lost",
    "peak_load_ratio",
    "zombie_signins",
    "time_to_recover_min",
)

#: The lesson's target: an outage of at most an hour (the readout says whether a set meets it).
TARGET_OUTAGE_MIN = 60.0


def _names(selected: Iterable[str]) -> tuple[str, ...]:
    """``selected`` checked against :data:`MENU`, without repeats, in the menu's order."""
    if isinstance(selected, str) or not isinstance(selected, Iterable):
        raise TypeError(
            f"selected must be a tuple of defence names such as ('drop expired',), got {selected!r}"
        )
    chosen = list(selected)
    unknown = [name for name in chosen if name not in MENU]
    if unknown:
        raise ValueError(
            f"unknown defence {', '.join(repr(n) for n in unknown)}; choose from {list(MENU)}"
        )
    return tuple(name for name in MENU if name in chosen)


@functools.lru_cache(maxsize=1)
def _base() -> scenarios.Scenario:
    return scenarios.skype_2015()


def menu_run(selected: Iterable[str] = ()) -> scenarios.Replay:
    """The 2015 replay (rebalancing kept) with the named defences of :data:`MENU`.

    Examples
    --------
    >>> menu_run(("admission control 0.3",)).restoration_utc()
    Timestamp('2015-09-21 09:05:00+0000', tz='UTC')
    >>> menu_run(("bulkheads", "magic"))
    Traceback (most recent call last):
    ...
    ValueError: unknown defence 'magic'; choose from ['staged rollout', 'backoff', \
'retry budget', 'circuit breaker', 'admission control 0.3', 'drop expired', \
'bounded queue 10 s', 'capacity ×2', 'bulkheads']
    """
    return _run(_names(selected))


@functools.lru_cache(maxsize=64)
def _run(names: tuple[str, ...]) -> scenarios.Replay:
    scenario = m.apply_all(_base(), [MENU[n] for n in names])
    return scenario.run(graph_cache=m.graph_cache())


@functools.lru_cache(maxsize=512)
def _evaluate(names: tuple[str, ...]) -> tuple[tuple, tuple, tuple, tuple, tuple]:
    """Per interval: connected share, sign-in load over capacity, services down; then the
    metric items and the window (hours) in which the replay's stack is overloaded."""
    replay = _run(names)
    scores = m.score(replay, metrics=READOUT_METRICS)
    ts = replay.timeseries
    connected = tuple(round(float(v), 6) for v in ts["connected_share"])
    load = tuple(round(float(v), 6) for v in ts["signin_load_ratio"])
    health = ts[[c for c in ts.columns if c.endswith("_health")]]
    down = tuple(int(v) for v in health.isin(_DOWN).sum(axis=1))
    start = replay.scenario.start_utc
    onset, restored = replay.onset_utc(), replay.restoration_utc()
    if onset is None:
        window = (-1.0, -1.0)
    else:
        end_s = float(replay.timeseries["time_s"].iloc[-1]) + replay.scenario.output_every_s
        until = start + pd.Timedelta(seconds=end_s) if restored is None else restored
        window = (
            round((onset - start).total_seconds() / 3600.0, 6),
            round((until - start).total_seconds() / 3600.0, 6),
        )
    return connected, load, down, tuple(scores.items()), window


def step_h() -> float:
    """The panel's resolution in hours: the replay's output interval (5 minutes).

    Examples
    --------
    >>> round(step_h() * 60, 6)
    5.0
    """
    return _base().output_every_s / 3600.0


def _minutes(value: float) -> str:
    if math.isinf(value):
        return "not by midnight"
    if value < 120:
        return f"{value:,.0f} min"
    return f"{value:,.0f} min ({value / 60:,.1f} h)"


def _outage(scores: dict) -> str:
    text = _minutes(scores["outage_min"])
    return text if scores["restored_by_end"] else f"{text}, still on at midnight"


def _load(value: float) -> str:
    return f"{value:,.0f} × capacity" if value >= 100 else f"{value:.3g} × capacity"


def _count(value: float, unit: str = "") -> str:
    if value == 0:
        return "none"
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if abs(value) >= size:
            return f"{value / size:,.3g} {word}{unit}"
    return f"{value:,.0f}{unit}"


def _readout(chosen: str, rows: list[tuple[str, str, str]], note: str, good: bool) -> str:
    head = (
        "<tr><th></th><th style='text-align:left;padding-right:1em'>with your defences</th>"
        "<th style='text-align:left'>2015, no defence</th></tr>"
    )
    body = "".join(
        f"<tr><td style='padding-right:1em'>{html.escape(key)}</td>"
        f"<td style='padding-right:1em'><b>{html.escape(ours)}</b></td>"
        f"<td>{html.escape(theirs)}</td></tr>"
        for key, ours, theirs in rows
    )
    colour = charts.HEALTH_COLOURS["healthy"] if good else charts.PALETTE[1]
    tail = f"<p style='color:{colour}'><b>{html.escape(note)}</b></p>"
    return f"<p>Defences: {html.escape(chosen)}</p><table>{head}{body}</table>{tail}"


def mitigation_state(selected: tuple[str, ...] = ()) -> dict[str, Any]:
    """Chart params and readout of the mitigations panel for one set of defences.

    Parameters
    ----------
    selected : tuple of str
        Names from :data:`MENU` (any order; repeats are ignored).

    Returns
    -------
    dict
        ``params``: ``defended`` (the share of clients online, one value per replay interval
        of the day), ``defended_load`` (offered sign-in work over capacity, per interval),
        ``defended_down`` (services overloaded, failing or removed, per interval),
        ``outage_start_h`` and ``outage_end_h`` (the window in which the defended replay's
        stack is overloaded, in hours from midnight UTC; -1.0 for both when sign-in never
        overloads);
        ``scores`` and ``baseline``: the readout's metrics (:data:`READOUT_METRICS` and
        ``cost_engineer_weeks``) for the defended run and for 2015; ``readout``: HTML.

    Examples
    --------
    >>> state = mitigation_state(("admission control 0.3",))
    >>> state["scores"]["outage_min"], state["baseline"]["outage_min"]
    (37.7, 930.0)
    >>> len(state["params"]["defended"]), state["params"]["outage_start_h"]  # never overloads
    (288, -1.0)
    >>> mitigation_state(("prayer",))
    Traceback (most recent call last):
    ...
    ValueError: unknown defence 'prayer'; choose from ['staged rollout', 'backoff', \
'retry budget', 'circuit breaker', 'admission control 0.3', 'drop expired', \
'bounded queue 10 s', 'capacity ×2', 'bulkheads']
    """
    names = _names(selected)
    defences = [MENU[n] for n in names]
    connected, load, down, items, window = _evaluate(names)
    *_, base_items, _ = _evaluate(())
    scores = {**dict(items), "cost_engineer_weeks": m.cost(defences)}
    base = {**dict(base_items), "cost_engineer_weeks": 0.0}
    rows = [
        ("outage (users without service)", _outage(scores), _outage(base)),
        ("user-minutes offline", _count(scores["user_min_lost"]), _count(base["user_min_lost"])),
        ("peak sign-in load", _load(scores["peak_load_ratio"]), _load(base["peak_load_ratio"])),
        (
            "zombie sign-ins (work for clients gone)",
            _count(scores["zombie_signins"]),
            _count(base["zombie_signins"]),
        ),
        (
            "clients back online after",
            _minutes(scores["time_to_recover_min"]),
            _minutes(base["time_to_recover_min"]),
        ),
        ("cost", mitigation_charts._weeks(scores["cost_engineer_weeks"]), "0 engineer-weeks"),
    ]
    good = bool(names) and scores["outage_min"] <= TARGET_OUTAGE_MIN
    if not names:
        note = "No defence chosen: this is 2015's day. Switch some on above."
    elif scores["outage_min"] == 0:
        note = "Sign-in never overloads: this set stops the storm before it starts."
    elif good:
        note = f"Within {TARGET_OUTAGE_MIN:g} minutes: this set ends the outage quickly."
    elif scores["outage_min"] < base["outage_min"]:
        note = f"Shorter than 2015, but still over {TARGET_OUTAGE_MIN:g} minutes."
    else:
        note = "No shorter than 2015: this set does not stop the storm."
    chosen = ", ".join(names) if names else "none"
    params = {
        "defended": list(connected),
        "defended_load": list(load),
        "defended_down": list(down),
        "outage_start_h": window[0],
        "outage_end_h": window[1],
    }
    return {
        "params": params,
        "scores": scores,
        "baseline": base,
        "readout": _readout(chosen, rows, note, good),
    }


class MitigationsPanel(Panel):
    """One toggle button per defence of :data:`MENU` over the day they give (lesson 08).

    Examples
    --------
    >>> panel = MitigationsPanel()
    >>> panel.chart.params.outage_start_h < 9 < panel.chart.params.outage_end_h
    True
    >>> panel.toggles["admission control 0.3"].value = True
    >>> panel.chart.params.outage_start_h  # sign-in never overloads
    -1.0
    """

    def __init__(self, selected: tuple[str, ...] = ()) -> None:
        import ipywidgets as w

        names = _names(selected)
        first = mitigation_state(names)["params"]
        base = mitigation_state(())["params"]
        self.chart = charts.interactive(
            mitigation_charts.mitigation_panel_chart(
                step_h(),
                base["defended"],
                first["defended"],
                outage_start_h=first["outage_start_h"],
                outage_end_h=first["outage_end_h"],
                baseline_load=base["defended_load"],
                defended_load=first["defended_load"],
                baseline_down=base["defended_down"],
                defended_down=first["defended_down"],
            )
        )
        self.toggles = {
            name: w.ToggleButton(
                value=name in names,
                description=name,
                tooltip=MENU[name].label,
                layout=w.Layout(width="auto"),
            )
            for name in MENU
        }
        self.controls = list(self.toggles.values())
        self._build()
        self.view.children[0].layout.flex_flow = "row wrap"

    def selected(self) -> tuple[str, ...]:
        """The names switched on, in the menu's order."""
        return tuple(name for name, button in self.toggles.items() if button.value)

    def state(self) -> dict:
        return mitigation_state(self.selected())
