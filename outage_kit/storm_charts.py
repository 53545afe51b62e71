"""Charts for lesson 05 (the reconnection storm): the day, the herd, the levers, the cross-check.

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, offline rendering, rounded
data so specs are stable). The trigger explorer binds a Vega-Lite param to radio buttons, so it
stays interactive in RISE slides and exported decks with no kernel; the panel chart takes its
data from params that :class:`outage_kit.storm_widgets.StormPanel` sets. The numbers come from
:mod:`outage_kit.storm` and :mod:`outage_kit.simulation` (the cross-check's table is
:func:`outage_kit.tables.cross_check_series`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from outage_kit.charts import PALETTE, rounded

#: Colours: clients online / useful work, work wasted on clients that have gone, offered load.
CONNECTED_COLOUR = PALETTE[0]
GOODPUT_COLOUR = PALETTE[2]
SERVED_COLOUR = PALETTE[1]
OFFERED_COLOUR = PALETTE[3]
#: Colours of up to seven compared series (policies, levers).
SERIES_COLOURS = (PALETTE[1], PALETTE[0], PALETTE[2], PALETTE[4], PALETTE[3], PALETTE[5], "#999999")
_HOUR_AXIS = {"title": "hour of 21 September 2015 (UTC)", "values": list(range(0, 25, 3))}


def _hour_x(title: str | None = None) -> Any:
    import altair as alt

    return alt.X(
        "hour:Q",
        title=title or _HOUR_AXIS["title"],
        scale=alt.Scale(domain=[0, 24]),
        axis=alt.Axis(values=_HOUR_AXIS["values"]),
    )


def _push_rule(push_h: float) -> Any:
    import altair as alt

    return (
        alt.Chart(pd.DataFrame({"hour": [round(push_h, 6)]}))
        .mark_rule(color="#333333", strokeDash=[6, 4])
        .encode(x="hour:Q")
    )


def storm_day_chart(
    timeseries: pd.DataFrame, *, push_s: float, title: str | None = None, subtitle: str = ""
) -> Any:
    """The day in three panels: clients online, sign-in work over capacity, offered load.

    Parameters
    ----------
    timeseries : pandas.DataFrame
        :attr:`outage_kit.storm.StormResult.timeseries` of a day (time 0 = midnight UTC).
    push_s : float
        When the push came (a dashed rule).

    Examples
    --------
    >>> from outage_kit import storm
    >>> ts = storm.run_storm(storm.scenario_from_card()).timeseries
    >>> spec = storm_day_chart(ts, push_s=30180.0).to_dict()
    >>> len(spec["vconcat"])
    3
    """
    import altair as alt

    cap = timeseries["capacity_per_s"]
    data = rounded(
        pd.DataFrame(
            {
                "hour": timeseries["time_s"] / 3600.0,
                "online": timeseries["connected_share"],
                "reconnects someone": timeseries["goodput_per_s"] / cap,
                "all sign-in work done": timeseries["served_signins_per_s"] / cap,
                "load": timeseries["load_ratio"],
            }
        ),
        6,
    )
    push_h = push_s / 3600.0
    x = _hour_x()
    online = alt.layer(
        alt.Chart(data)
        .mark_area(color=CONNECTED_COLOUR, opacity=0.25, line={"color": CONNECTED_COLOUR})
        .encode(
            x=x.axis(title=None, values=_HOUR_AXIS["values"]),
            y=alt.Y("online:Q", title="clients online", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("hour:Q", format=".2f"), alt.Tooltip("online:Q", format=".1%")],
        ),
        _push_rule(push_h),
    ).properties(width=540, height=120)
    work_lines = (
        alt.Chart(data)
        .transform_fold(["all sign-in work done", "reconnects someone"], as_=["what", "share"])
        .mark_line()
        .encode(
            x=x.axis(title=None, values=_HOUR_AXIS["values"]),
            y=alt.Y(
                "share:Q",
                title="sign-ins ÷ capacity",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1.05]),
            ),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=["all sign-in work done", "reconnects someone"],
                    range=[SERVED_COLOUR, GOODPUT_COLOUR],
                ),
                legend=None,
            ),
            tooltip=[
                "what:N",
                alt.Tooltip("hour:Q", format=".2f"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )
    labels = pd.DataFrame(
        {
            "hour": [16.0, 16.0],
            "share": [1.0, 0.0],
            "text": [
                "all sign-in work done (zombie work included)",
                "sign-ins that reconnect someone",
            ],
            "colour": [SERVED_COLOUR, GOODPUT_COLOUR],
        }
    )
    work_labels = (
        alt.Chart(labels)
        .mark_text(align="center", baseline="bottom", dy=-4, fontSize=13)
        .encode(
            x="hour:Q",
            y="share:Q",
            text="text:N",
            color=alt.Color("colour:N", scale=None, legend=None),
        )
    )
    work = alt.layer(work_lines, work_labels, _push_rule(push_h)).properties(width=540, height=120)
    load = alt.layer(
        alt.Chart(data)
        .mark_line(color=OFFERED_COLOUR)
        .encode(
            x=x,
            y=alt.Y("load:Q", title="offered ÷ capacity", scale=alt.Scale(type="log")),
            tooltip=[alt.Tooltip("hour:Q", format=".2f"), alt.Tooltip("load:Q", format=",.1f")],
        ),
        alt.Chart(pd.DataFrame({"load": [1.0]})).mark_rule(color="#333333").encode(y="load:Q"),
        _push_rule(push_h),
    ).properties(width=540, height=120)
    return alt.vconcat(online, work, load, spacing=8).properties(
        title=alt.Title(
            title or "One push, the whole day: the card's scenario",
            subtitle=subtitle
            or "Dashed: the push at 08:23 UTC. Every input assumed (see the card)",
        )
    )


def herd_chart(frame: pd.DataFrame, *, title: str | None = None, subtitle: str = "") -> Any:
    """Offered sign-in load over capacity after the push, one line per reconnect policy.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``policy``, ``seconds`` (after the push) and ``load_ratio``.

    Examples
    --------
    >>> f = pd.DataFrame({"policy": ["a", "a"], "seconds": [0.0, 5.0], "load_ratio": [100, 1.0]})
    >>> herd_chart(f).to_dict()["encoding"]["y"]["scale"]["type"]
    'log'
    """
    import altair as alt

    data = rounded(frame[["policy", "seconds", "load_ratio"]], 6)
    policies = list(dict.fromkeys(data["policy"]))
    return (
        alt.Chart(data)
        .mark_line(strokeWidth=1.8)
        .encode(
            x=alt.X("seconds:Q", title="seconds after the push"),
            y=alt.Y(
                "load_ratio:Q",
                title="offered sign-in load ÷ capacity",
                scale=alt.Scale(type="log"),
            ),
            color=alt.Color(
                "policy:N",
                title="reconnect policy",
                sort=policies,
                scale=alt.Scale(domain=policies, range=list(SERIES_COLOURS[: len(policies)])),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["policy:N", "seconds:Q", alt.Tooltip("load_ratio:Q", format=",.1f")],
        )
        .properties(
            width=540,
            height=260,
            title=alt.Title(
                title or "How the reconnect policy shapes the herd",
                subtitle=subtitle or "Load offered to the sign-in service; 1 = its capacity",
            ),
        )
    )


def trigger_explorer_chart(
    frames: pd.DataFrame, *, push_s: float, trigger_share: float | None = None
) -> Any:
    """The day for several trigger sizes, one shown at a time, chosen with radio buttons in Vega.

    Parameters
    ----------
    frames : pandas.DataFrame
        ``trigger_share``, ``time_s``, ``connected_share``, ``goodput_share`` (sign-ins that
        reconnect someone over capacity): one day per trigger size.
    push_s : float
        When the push came.
    trigger_share : float, optional
        The trigger shown first (default: the largest).

    Examples
    --------
    >>> f = pd.DataFrame({"trigger_share": [0.01, 0.01, 0.4, 0.4], "time_s": [0.0, 60.0] * 2,
    ...                   "connected_share": [1, 1, 1, 0.6], "goodput_share": [0.2, 0.2, 0.2, 0]})
    >>> spec = trigger_explorer_chart(f, push_s=30.0).to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('trigger', 'radio')]
    """
    import altair as alt

    shares = sorted(float(s) for s in frames["trigger_share"].unique())
    first = shares[-1] if trigger_share is None else float(trigger_share)
    if not any(math.isclose(first, s) for s in shares):
        raise ValueError(f"trigger_share {first!r} is not in frames; choose one of {shares}")
    data = rounded(
        pd.DataFrame(
            {
                "trigger_share": frames["trigger_share"].astype(float),
                "hour": frames["time_s"] / 3600.0,
                "clients online": frames["connected_share"],
                "sign-ins that reconnect someone ÷ capacity": frames["goodput_share"],
            }
        ),
        6,
    )
    pick = alt.param(
        name="trigger",
        value=first,
        bind=alt.binding_radio(
            options=shares,
            labels=[f"{100 * s:g} %" for s in shares],
            name="share of clients the push knocks off (assumed) ",
        ),
    )
    measures = ["clients online", "sign-ins that reconnect someone ÷ capacity"]
    lines = (
        alt.Chart(data)
        .transform_filter("abs(datum.trigger_share - trigger) < 1e-9")
        .transform_fold(measures, as_=["what", "share"])
        .mark_line(strokeWidth=2)
        .encode(
            x=_hour_x(),
            y=alt.Y(
                "share:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1.05])
            ),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(domain=measures, range=[CONNECTED_COLOUR, GOODPUT_COLOUR]),
                legend=alt.Legend(orient="bottom", labelLimit=400),
            ),
            tooltip=[
                "what:N",
                alt.Tooltip("hour:Q", format=".2f"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )
    return (
        alt.layer(lines, _push_rule(push_s / 3600.0))
        .add_params(pick)
        .properties(
            width=540,
            height=260,
            title=alt.Title(
                "Explore: a small trigger recovers, a large one never does",
                subtitle="Pick a trigger size below. Dashed: the push. All inputs assumed",
            ),
        )
    )


def levers_chart(frame: pd.DataFrame, *, push_s: float, action_s: float) -> Any:
    """Clients online over the day with one lever each, small multiples.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``lever``, ``time_s``, ``connected_share``.
    push_s, action_s : float
        When the push came and when the operators act (dashed and dotted rules).

    Examples
    --------
    >>> f = pd.DataFrame({"lever": ["a", "a"], "time_s": [0.0, 60.0], "connected_share": [1, 1]})
    >>> levers_chart(f, push_s=0.0, action_s=30.0).to_dict()["facet"]["row"]["field"]
    'lever'
    """
    import altair as alt

    data = rounded(
        pd.DataFrame(
            {
                "lever": frame["lever"],
                "hour": frame["time_s"] / 3600.0,
                "online": frame["connected_share"],
            }
        ),
        6,
    )
    levers = list(dict.fromkeys(data["lever"]))
    area = (
        alt.Chart()
        .mark_area(color=CONNECTED_COLOUR, opacity=0.3, line={"color": CONNECTED_COLOUR})
        .encode(
            x=_hour_x(),
            y=alt.Y("online:Q", title=None, axis=alt.Axis(format="%", values=[0, 1])),
            tooltip=[
                "lever:N",
                alt.Tooltip("hour:Q", format=".2f"),
                alt.Tooltip("online:Q", format=".1%"),
            ],
        )
    )
    rules = (
        alt.Chart(
            pd.DataFrame({"hour": [push_s / 3600.0, action_s / 3600.0], "kind": ["push", "action"]})
        )
        .mark_rule(color="#333333", strokeDash=[4, 3])
        .encode(x="hour:Q")
    )
    return (
        alt.layer(area, rules, data=data)
        .properties(width=480, height=42)
        .facet(
            row=alt.Row(
                "lever:N",
                sort=levers,
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=260),
            ),
            spacing=4,
        )
        .properties(
            title=alt.Title(
                "Clients online, with one lever each",
                subtitle="Dashed: the push (08:23) and the action (10:23, assumed)",
            )
        )
    )


def cross_check_chart(frame: pd.DataFrame, *, clients: int = 3000, runs: int = 8) -> Any:
    """The population model over the mean and range of request-level runs, one panel per push.

    Examples
    --------
    >>> f = pd.DataFrame({"knocked": [800] * 2, "time_s": [0.0, 1.0], "model": [1.0, 1.0],
    ...                   "mean": [1.0, 1.0], "low": [1.0, 1.0], "high": [1.0, 1.0]})
    >>> cross_check_chart(f).to_dict()["facet"]["column"]["field"]
    'case'
    """
    import altair as alt

    data = rounded(frame, 6).assign(
        case=lambda d: [f"{k:,} of {clients:,} knocked off" for k in d["knocked"]]
    )
    cases = list(dict.fromkeys(data["case"]))
    x = alt.X("time_s:Q", title="seconds")
    bottom = math.floor(10 * float(np.nanmin(data[["model", "low"]].to_numpy())) - 0.5) / 10
    y_scale = alt.Scale(domain=[max(0.0, bottom), 1.02])
    band = (
        alt.Chart()
        .mark_area(color=PALETTE[4], opacity=0.35)
        .encode(
            x=x,
            y=alt.Y("low:Q", title="clients online", axis=alt.Axis(format="%"), scale=y_scale),
            y2="high:Q",
        )
    )
    mean = (
        alt.Chart()
        .transform_calculate(what=f"'mean of {runs} request-level runs (band: their range)'")
        .mark_line(strokeDash=[5, 3], strokeWidth=2)
        .encode(x=x, y=alt.Y("mean:Q", scale=y_scale), color=alt.Color("what:N", title=None))
    )
    model = (
        alt.Chart()
        .transform_calculate(what="'population model'")
        .mark_line(strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("model:Q", scale=y_scale),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=[
                        "population model",
                        f"mean of {runs} request-level runs (band: their range)",
                    ],
                    range=[CONNECTED_COLOUR, "#333333"],
                ),
                legend=alt.Legend(orient="bottom", labelLimit=360),
            ),
            tooltip=[
                "time_s:Q",
                alt.Tooltip("model:Q", format=".1%"),
                alt.Tooltip("mean:Q", format=".1%"),
            ],
        )
    )
    return (
        alt.layer(band, mean, model, data=data)
        .properties(width=260, height=200)
        .facet(column=alt.Column("case:N", sort=cases, title=None))
        .resolve_scale(color="shared")
        .properties(
            title=alt.Title(
                "Two methods, one storm: population model against request-level runs",
                subtitle=f"{clients:,} clients, 100 sign-ins/s, 5 s timeout, expired work kept",
            )
        )
    )


def storm_panel_chart(
    *,
    step_h: float,
    connected: Sequence[float],
    goodput: Sequence[float],
    served: Sequence[float],
    offered: Sequence[float],
) -> Any:
    """The panel's chart: the day's online share, sign-in work and offered load, as params.

    Params ``connected``, ``goodput``, ``served`` (sign-ins per second over capacity) and
    ``offered`` (offered load over capacity), one value per ``step_h`` hours, so the panel
    replaces a whole day with four small messages.

    Examples
    --------
    >>> spec = storm_panel_chart(step_h=1.0, connected=[1, 1], goodput=[0, 0], served=[0, 0],
    ...                          offered=[1, 1])
    >>> sorted(p["name"] for p in spec.to_dict()["params"])
    ['connected', 'goodput', 'offered', 'served']
    """
    import altair as alt

    series = {"connected": connected, "goodput": goodput, "served": served, "offered": offered}
    params = [
        alt.param(name=name, value=[float(v) for v in values]) for name, values in series.items()
    ]
    names = {
        "connected": "clients online",
        "served": "all sign-in work done ÷ capacity",
        "goodput": "sign-ins that reconnect someone ÷ capacity",
    }
    base = alt.Chart(pd.DataFrame({"i": np.arange(len(connected))})).transform_calculate(
        hour=f"datum.i * {float(step_h)}",
        load="offered[datum.i]",
        **{label: f"{name}[datum.i]" for name, label in names.items()},
    )
    x = _hour_x()
    lines = (
        base.transform_fold(list(names.values()), as_=["what", "share"])
        .mark_line(strokeWidth=2)
        .encode(
            x=x.axis(title=None, values=_HOUR_AXIS["values"]),
            y=alt.Y(
                "share:Q", title=None, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1.05])
            ),
            color=alt.Color(
                "what:N",
                title=None,
                scale=alt.Scale(
                    domain=list(names.values()),
                    range=[CONNECTED_COLOUR, SERVED_COLOUR, GOODPUT_COLOUR],
                ),
                legend=alt.Legend(orient="bottom", columns=1, labelLimit=360),
            ),
        )
        .properties(width=540, height=200)
    )
    load = (
        base.mark_line(color=OFFERED_COLOUR, strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y(
                "load:Q",
                title="offered ÷ capacity",
                scale=alt.Scale(type="log", domain=[0.1, 10000]),
            ),
        )
        .properties(width=540, height=110)
    )
    return (
        alt.vconcat(lines, load, spacing=8)
        .add_params(*params)
        .properties(
            title=alt.Title(
                "This day: clients online, sign-in work and offered load",
                subtitle="Time 0 is midnight UTC; the push at 08:23. Card values assumed",
            )
        )
    )
