"""Charts for lesson 07 (stuck: metastability and recovery).

Same house style as :mod:`outage_kit.charts`. The numbers come from
:mod:`outage_kit.metastability`; the hysteresis chart carries a Vega-Lite slider (a load ratio
to inspect) and the recovery chart radio buttons (a strategy to follow), so both stay
interactive in RISE slides and exported decks with no kernel.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from outage_kit.charts import HEALTH_COLOURS, PALETTE, rounded
from outage_kit.metastability import OUTCOMES

#: Outcome colours: the health colours (recovered = healthy, recovering = degraded, stuck =
#: overloaded).
OUTCOME_COLOURS = {
    "recovered": HEALTH_COLOURS["healthy"],
    "recovering": HEALTH_COLOURS["degraded"],
    "stuck": HEALTH_COLOURS["overloaded"],
}
#: Colours of the load states (stable, vulnerable, overloaded): light bands behind the curves.
STATE_COLOURS = {"stable": "#CCEBE3", "vulnerable": "#F9E3B3", "overloaded": "#F5CBB0"}
BRANCH_COLOURS = {"up": PALETTE[1], "down": PALETTE[0]}


def _outcome_colour() -> Any:
    import altair as alt

    return alt.Color(
        "outcome:N",
        title="after the trigger",
        scale=alt.Scale(domain=list(OUTCOMES), range=[OUTCOME_COLOURS[o] for o in OUTCOMES]),
        legend=alt.Legend(orient="right"),
    )


def loop_chart(timeseries: pd.DataFrame, *, timeout_s: float, push_s: float) -> Any:
    """The sustaining loop over a run: how long a new sign-in waits, and how much work is wasted.

    Parameters
    ----------
    timeseries : pandas.DataFrame
        Rows of :func:`outage_kit.metastability.sustaining_loop` over time: ``time_s``,
        ``queue_wait_s``, ``wasted_share``.
    timeout_s : float
        The client timeout (a dashed rule on the wait panel).
    push_s : float
        When the trigger came (hours on the x axis count from it).

    Examples
    --------
    >>> f = pd.DataFrame({"time_s": [0.0, 600.0, 1200.0], "queue_wait_s": [0.0, 150.0, 140.0],
    ...                   "wasted_share": [0.0, 1.0, 1.0]})
    >>> spec = loop_chart(f, timeout_s=20.0, push_s=600.0).to_dict()
    >>> len(spec["vconcat"])
    2
    """
    import altair as alt

    data = rounded(
        pd.DataFrame(
            {
                "hours": (timeseries["time_s"] - push_s) / 3600.0,
                "wait": timeseries["queue_wait_s"],
                "wasted": timeseries["wasted_share"],
            }
        ),
        6,
    )
    x = alt.X("hours:Q", title="hours after the trigger")
    wait = alt.layer(
        alt.Chart(data)
        .mark_line(color=PALETTE[1], strokeWidth=2)
        .encode(
            x=x.axis(title=None),
            y=alt.Y("wait:Q", title="wait for a new sign-in (s)"),
            tooltip=[alt.Tooltip("hours:Q", format=".2f"), alt.Tooltip("wait:Q", format=".0f")],
        ),
        alt.Chart(pd.DataFrame({"wait": [float(timeout_s)], "label": ["client timeout"]}))
        .mark_rule(color="#333333", strokeDash=[6, 4])
        .encode(y="wait:Q"),
        alt.Chart(pd.DataFrame({"wait": [float(timeout_s)], "label": ["client timeout"]}))
        .mark_text(align="left", dx=4, dy=-7, color="#333333")
        .encode(y="wait:Q", x=alt.value(0), text="label:N"),
    ).properties(width=540, height=140)
    wasted = (
        alt.Chart(data)
        .mark_area(
            color=HEALTH_COLOURS["overloaded"],
            opacity=0.35,
            line={"color": HEALTH_COLOURS["overloaded"]},
        )
        .encode(
            x=x,
            y=alt.Y(
                "wasted:Q",
                title="sign-in work wasted",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip("hours:Q", format=".2f"),
                alt.Tooltip("wasted:Q", format=".1%"),
            ],
        )
        .properties(width=540, height=110)
    )
    return alt.vconcat(wait, wasted).properties(
        title=alt.Title(
            "The loop: every new attempt waits longer than its client will",
            subtitle="Above the dashed line, each attempt times out before it is served, is "
            "retried and queues again",
        )
    )


def outcome_map_chart(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    x_log: bool = False,
    y_log: bool = False,
    x_format: str = "",
    y_format: str = "",
    boundary: pd.DataFrame | None = None,
    boundary_label: str = "",
    title: str = "",
    subtitle: str = "",
) -> Any:
    """A map of outcomes (recovered, recovering, stuck) over two parameters, one square a run.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run with columns ``x``, ``y`` and ``outcome`` (from
        :func:`outage_kit.metastability.trigger_map`).
    x, y : str
        Column names for the axes; ``x_title``, ``y_title`` their titles.
    x_log, y_log : bool
        Logarithmic axes.
    boundary : pandas.DataFrame, optional
        Dashed lines with the same ``x`` and ``y`` columns (estimates of the edge), one per
        ``label`` if the frame has that column (else one, labelled ``boundary_label``); points
        outside the map's ranges are left out.

    Examples
    --------
    >>> f = pd.DataFrame({"size": [0.1, 0.1, 0.5, 0.5], "duration_s": [10.0, 60.0] * 2,
    ...                   "outcome": ["recovered", "recovered", "recovered", "stuck"]})
    >>> spec = outcome_map_chart(f, x="duration_s", y="size", x_title="d", y_title="s").to_dict()
    >>> spec["layer"][0]["mark"]["type"]
    'square'
    """
    import altair as alt

    for col in (x, y, "outcome"):
        if col not in frame:
            raise ValueError(f"frame needs a {col!r} column")
    unknown = sorted(set(frame["outcome"]) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"unknown outcomes {unknown}; expected {OUTCOMES}")
    data = rounded(frame[[x, y, "outcome"]].reset_index(drop=True), 6)

    def scale(log: bool, values: pd.Series) -> Any:
        lo, hi = float(values.min()), float(values.max())
        if log:
            pad = (hi / lo) ** 0.04 if hi > lo else 2.0
            return alt.Scale(type="log", domain=[lo / pad, hi * pad], nice=False)
        pad = (hi - lo) * 0.04 if hi > lo else 1.0
        return alt.Scale(domain=[lo - pad, hi + pad], nice=False, zero=False)

    xs = scale(x_log, data[x])
    ys = scale(y_log, data[y])
    cells = max(data[x].nunique(), data[y].nunique(), 1)
    side = max(min(300 / cells, 22.0), 4.0)
    squares = (
        alt.Chart(data)
        .mark_square(size=round(side * side, 1), opacity=0.9)
        .encode(
            x=alt.X(f"{x}:Q", title=x_title, scale=xs, axis=alt.Axis(format=x_format)),
            y=alt.Y(f"{y}:Q", title=y_title, scale=ys, axis=alt.Axis(format=y_format)),
            color=_outcome_colour(),
            tooltip=[f"{x}:Q", f"{y}:Q", "outcome:N"],
        )
    )
    layers = [squares]
    if boundary is not None:
        line = boundary.reset_index(drop=True)
        if "label" not in line:
            line = line.assign(label=boundary_label)
        line = rounded(line[[x, y, "label"]], 6)
        inside = line[x].between(data[x].min(), data[x].max()) & line[y].between(
            data[y].min(), data[y].max()
        )
        line = line[inside]
        layers.append(
            alt.Chart(line)
            .mark_line(color="#333333", strokeDash=[6, 4], strokeWidth=2, clip=True)
            .encode(x=f"{x}:Q", y=f"{y}:Q", detail="label:N", tooltip=["label:N"])
        )
    return alt.layer(*layers).properties(
        width=460, height=300, title=alt.Title(title, subtitle=subtitle)
    )


def hysteresis_chart(frame: pd.DataFrame, thresholds: dict, *, initial_load: float = 0.5) -> Any:
    """Connected share against load, going up and coming down, over the three load states.

    A Vega-Lite slider picks a load ratio: a rule marks it and the caption names its state
    (stable, vulnerable or overloaded) from the thresholds.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`outage_kit.metastability.hysteresis`.
    thresholds : dict
        :func:`outage_kit.metastability.hysteresis_thresholds`.
    initial_load : float
        Where the slider starts.

    Examples
    --------
    >>> f = pd.DataFrame({"step": [0, 1, 2, 3], "branch": ["up", "up", "down", "down"],
    ...                   "load_ratio": [0.5, 1.1, 0.5, 0.01],
    ...                   "connected_share": [1.0, 0.4, 0.1, 1.0]})
    >>> t = {"break_load_ratio": 1.1, "heal_load_ratio": 0.01}
    >>> spec = hysteresis_chart(f, t).to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('load', 'range')]
    """
    import altair as alt

    brk = float(thresholds["break_load_ratio"])
    heal = float(thresholds["heal_load_ratio"])
    lo = float(frame["load_ratio"].min()) / 1.3
    hi = float(frame["load_ratio"].max()) * 1.3
    if not math.isfinite(brk):
        brk = hi
    heal = max(heal, lo)
    x_scale = alt.Scale(type="log", domain=[lo, hi], nice=False)
    bands = rounded(
        pd.DataFrame(
            {
                "from": [lo, heal, brk],
                "to": [heal, brk, hi],
                "state": ["stable", "vulnerable", "overloaded"],
                "mid": [
                    math.sqrt(lo * heal),
                    math.sqrt(heal * brk),
                    math.sqrt(brk * hi),
                ],
            }
        ),
        6,
    )
    band_layer = (
        alt.Chart(bands)
        .mark_rect(opacity=0.8)
        .encode(
            x=alt.X("from:Q", scale=x_scale, title="load ÷ sign-in capacity (log scale)"),
            x2="to:Q",
            color=alt.Color(
                "state:N",
                title="state",
                scale=alt.Scale(domain=list(STATE_COLOURS), range=list(STATE_COLOURS.values())),
                legend=alt.Legend(orient="bottom"),
            ),
        )
    )
    band_text = (
        alt.Chart(bands)
        .mark_text(baseline="top", dy=4, color="#333333", fontSize=12)
        .encode(x=alt.X("mid:Q", scale=x_scale), y=alt.value(0), text="state:N")
    )
    data = rounded(frame[["step", "branch", "load_ratio", "connected_share"]], 6)
    curves = (
        alt.Chart(data)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("load_ratio:Q", scale=x_scale),
            y=alt.Y(
                "connected_share:Q",
                title="clients online",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1.08]),
            ),
            order="step:Q",
            strokeDash=alt.StrokeDash(
                "branch:N",
                title="load",
                scale=alt.Scale(domain=["up", "down"], range=[[1, 0], [6, 3]]),
                legend=alt.Legend(
                    orient="bottom", labelExpr="datum.label == 'up' ? 'raised' : 'lowered'"
                ),
            ),
            tooltip=[
                "branch:N",
                alt.Tooltip("load_ratio:Q", format=".3f"),
                alt.Tooltip("connected_share:Q", format=".1%"),
            ],
        )
    )
    load = alt.param(
        name="load",
        value=float(initial_load),
        bind=alt.binding_range(
            min=round(lo, 4), max=round(hi, 4), step=0.001, name="load ÷ capacity "
        ),
    )
    state_expr = (
        f"load < {heal:.6g} ? 'stable: it recovers from any storm' : "
        f"load < {brk:.6g} ? 'vulnerable: healthy, but a big trigger leaves it stuck' : "
        "'overloaded: the normal load alone breaks it'"
    )
    cursor = alt.Chart(pd.DataFrame({"dummy": [0]})).transform_calculate(
        load_ratio="load", state=state_expr
    )
    rule = cursor.mark_rule(color="#333333", strokeWidth=2).encode(
        x=alt.X("load_ratio:Q", scale=x_scale)
    )
    caption = cursor.mark_text(align="center", fontSize=13, color="#333333").encode(
        x=alt.value(270), y=alt.value(140), text="state:N"
    )
    return (
        alt.layer(band_layer, band_text, curves, rule, caption)
        .add_params(load)
        .properties(
            width=540,
            height=280,
            title=alt.Title(
                "It breaks at one load and heals at another",
                subtitle=f"Breaks past {brk:.3g} × capacity, heals only below {heal:.3g} × "
                "capacity. Move the slider to name a load's state",
            ),
        )
    )


def recovery_chart(frames: pd.DataFrame, *, action_s: float, first: str | None = None) -> Any:
    """Clients online after each recovery action, one strategy highlighted with radio buttons.

    Parameters
    ----------
    frames : pandas.DataFrame
        ``strategy``, ``time_s``, ``connected_share`` (from
        :func:`outage_kit.metastability.recovery_timeseries`).
    action_s : float
        When the action was taken (hours on the x axis count from it; a dashed rule).
    first : str, optional
        The strategy highlighted first (default: the first in ``frames``).

    Examples
    --------
    >>> f = pd.DataFrame({"strategy": ["none", "none", "drop_expired", "drop_expired"],
    ...                   "time_s": [0.0, 60.0] * 2, "connected_share": [0.1, 0.1, 0.1, 0.9]})
    >>> spec = recovery_chart(f, action_s=0.0).to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('strategy', 'radio')]
    """
    import altair as alt

    names = list(dict.fromkeys(frames["strategy"]))
    start = names[0] if first is None else first
    if start not in names:
        raise ValueError(f"first must be one of {names}, got {first!r}")
    data = rounded(
        pd.DataFrame(
            {
                "strategy": frames["strategy"],
                "hours": (frames["time_s"] - action_s) / 3600.0,
                "online": frames["connected_share"],
            }
        ),
        6,
    )
    pick = alt.param(
        name="strategy",
        value=start,
        bind=alt.binding_radio(options=names, name="recovery action "),
    )
    x = alt.X("hours:Q", title="hours after the action")
    y = alt.Y(
        "online:Q",
        title="clients online",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[0, 1.05]),
    )
    others = (
        alt.Chart(data)
        .mark_line(color="#BBBBBB", strokeWidth=1)
        .encode(x=x, y=y, detail="strategy:N", tooltip=["strategy:N"])
    )
    chosen = (
        alt.Chart(data)
        .transform_filter("datum.strategy == strategy")
        .mark_line(color=PALETTE[1], strokeWidth=3)
        .encode(
            x=x,
            y=y,
            tooltip=[
                "strategy:N",
                alt.Tooltip("hours:Q", format=".2f"),
                alt.Tooltip("online:Q", format=".1%"),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"hours": [0.0]}))
        .mark_rule(color="#333333", strokeDash=[6, 4])
        .encode(x="hours:Q")
    )
    return (
        alt.layer(others, chosen, rule)
        .add_params(pick)
        .properties(
            width=540,
            height=260,
            title=alt.Title(
                "Getting out: which actions bring the clients back, and how fast",
                subtitle="Pick an action below; grey lines are the others. Dashed: the action",
            ),
        )
    )
