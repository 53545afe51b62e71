"""Charts for lesson 08 (the mitigations lab): the scorecard, the defended day, the breaking points.

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, offline rendering, rounded
data so specs are stable). The day chart binds a Vega-Lite param to radio buttons, so it stays
interactive in RISE slides and exported decks with no kernel; the panel chart takes the defended
day from a param that :class:`outage_kit.mitigation_widgets.MitigationsPanel` sets. The numbers
come from :mod:`outage_kit.mitigations` (:func:`~outage_kit.mitigations.scorecard`,
:func:`~outage_kit.mitigations.defence_breaking_point`) and from replays of
:func:`outage_kit.scenarios.skype_2015`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from outage_kit import data
from outage_kit.charts import HEALTH_COLOURS, PALETTE, rounded
from outage_kit.mitigations import BASELINE_ROW
from outage_kit.scenarios import Replay

#: The run with no defence (grey) and the defended run (blue).
BASELINE_COLOUR = "#999999"
DEFENDED_COLOUR = PALETTE[0]
#: The outage window of the defended run in the panel (a light band).
OUTAGE_BAND_COLOUR = "#F5CBB0"
_HOUR_VALUES = list(range(0, 25, 3))
_HOUR_TITLE = "hour of 21 September 2015 (UTC)"


def _rebalancing() -> str:
    """The card's rebalancing time as the subtitles name it, e.g. ``"22:25"``."""
    return f"{data.parameter('rebalancing_utc'):%H:%M}"


def _versus_colour(alt, what: Sequence[str]):
    """Colour by ``what``: the run with no defence in grey, the defended run in blue."""
    return alt.Color(
        "what:N",
        title=None,
        scale=alt.Scale(domain=list(what), range=[BASELINE_COLOUR, DEFENDED_COLOUR]),
        legend=alt.Legend(orient="bottom"),
    )


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs the columns {list(columns)}; missing {missing} "
            f"(it has {list(frame.columns)})"
        )


def _verdict_colour(verdicts: Sequence[str]) -> Any:
    """Colour by verdict: the first (within the target) healthy, the second overloaded."""
    import altair as alt

    return alt.Color(
        "verdict:N",
        title=None,
        scale=alt.Scale(
            domain=list(verdicts), range=[HEALTH_COLOURS["healthy"], HEALTH_COLOURS["overloaded"]]
        ),
        legend=alt.Legend(orient="bottom"),
    )


def _target(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"target_outage_min must be a number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"target_outage_min must be a finite number >= 0, got {value!r}")
    return value


def _hour_x() -> Any:
    import altair as alt

    return alt.X(
        "hour:Q",
        title=_HOUR_TITLE,
        scale=alt.Scale(domain=[0, 24]),
        axis=alt.Axis(values=_HOUR_VALUES),
    )


def _online_y() -> Any:
    import altair as alt

    return alt.Y(
        "online:Q",
        title="clients online",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[0, 1.05]),
    )


def _weeks(value: float) -> str:
    if not np.isfinite(value):
        return "no price"
    return f"{value:g} engineer-week" + ("" if value == 1 else "s")


def _minutes(value: float) -> str:
    return "never restored" if not np.isfinite(value) else f"{value:,.0f} min"


def scorecard_chart(card: pd.DataFrame, *, target_outage_min: float = 60) -> Any:
    """One bar per scorecard row: its outage in minutes, coloured by whether it meets a target.

    The rows keep the scorecard's order (the baseline first); each bar carries the row's outage
    and cost at its end, and a dashed rule marks the target.

    Parameters
    ----------
    card : pandas.DataFrame
        From :func:`outage_kit.mitigations.scorecard`: at least ``name``,
        ``cost_engineer_weeks`` and ``outage_min``.
    target_outage_min : float
        The longest acceptable outage, in minutes.

    Examples
    --------
    >>> card = pd.DataFrame({"name": ["baseline (2015)", "drop expired"],
    ...                      "cost_engineer_weeks": [0.0, 2.0], "outage_min": [930.0, 15.0]})
    >>> spec = scorecard_chart(card).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rule', 'bar', 'text', 'text']
    >>> scorecard_chart(card.drop(columns="outage_min"))
    Traceback (most recent call last):
    ...
    ValueError: card needs the columns ['name', 'cost_engineer_weeks', 'outage_min']; \
missing ['outage_min'] (it has ['name', 'cost_engineer_weeks'])
    """
    import altair as alt

    _need(card, ["name", "cost_engineer_weeks", "outage_min"], "card")
    target = _target(target_outage_min)
    outage = card["outage_min"].to_numpy(float)
    data = rounded(
        pd.DataFrame(
            {
                "name": card["name"].astype(str).to_numpy(),
                "outage_min": outage,
                "cost_engineer_weeks": card["cost_engineer_weeks"].to_numpy(float),
                "verdict": np.where(outage <= target, "within the target", "over the target"),
                "cost": [
                    f"{_minutes(float(o))} · {_weeks(float(c))}"
                    for o, c in zip(outage, card["cost_engineer_weeks"], strict=True)
                ],
            }
        ),
        6,
    )
    order = list(dict.fromkeys(data["name"]))
    finite = outage[np.isfinite(outage)]
    top = max(float(finite.max()) if finite.size else 0.0, target, 1.0)
    x_scale = alt.Scale(domain=[0, round(top * 1.4, 6)], nice=False)
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    verdicts = ["within the target", "over the target"]
    bars = (
        alt.Chart(data)
        .mark_bar(height=18)
        .encode(
            x=alt.X(
                "outage_min:Q",
                title="outage (minutes with sign-in overloaded or clients offline)",
                scale=x_scale,
            ),
            y=y,
            color=_verdict_colour(verdicts),
            tooltip=[
                "name:N",
                alt.Tooltip("outage_min:Q", title="outage (min)", format=",.0f"),
                alt.Tooltip("cost_engineer_weeks:Q", title="cost (engineer-weeks)", format="g"),
            ],
        )
    )
    costs = (
        alt.Chart(data)
        .mark_text(align="left", dx=5, color="#333333")
        .encode(x=alt.X("outage_min:Q", scale=x_scale), y=y, text="cost:N")
    )
    rule_data = pd.DataFrame({"outage_min": [target], "label": [f"target: {target:g} min"]})
    rule = (
        alt.Chart(rule_data)
        .mark_rule(color="#333333", strokeDash=[6, 4], strokeWidth=2)
        .encode(x=alt.X("outage_min:Q", scale=x_scale))
    )
    rule_label = (
        alt.Chart(rule_data)
        .mark_text(align="left", baseline="top", dx=4, dy=-14, color="#333333")
        .encode(x=alt.X("outage_min:Q", scale=x_scale), y=alt.value(0), text="label:N")
    )
    return alt.layer(rule, bars, costs, rule_label).properties(
        width=480,
        height=alt.Step(26),
        title=alt.Title(
            "The scorecard: how long users go without service, and what each defence costs",
            subtitle=f"Every run keeps the {_rebalancing()} rebalancing. Costs are assumed "
            "teaching figures",
        ),
    )


def day_frames(runs: Mapping[str, Replay]) -> pd.DataFrame:
    """The clients online over the day of each run, one long frame for :func:`defences_day_chart`.

    Parameters
    ----------
    runs : mapping
        Name -> :class:`~outage_kit.scenarios.Replay` (the run with no defence named
        :data:`outage_kit.mitigations.BASELINE_ROW`, for the day chart).

    Returns
    -------
    pandas.DataFrame
        ``defence``, ``time_s``, ``connected_share``: one row per output interval of each
        run, in the order given.

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> frame = day_frames({BASELINE_ROW: skype_2015().run()})
    >>> frame.shape, list(frame.columns)
    ((288, 3), ['defence', 'time_s', 'connected_share'])
    >>> day_frames({"x": "not a run"})
    Traceback (most recent call last):
    ...
    TypeError: runs['x'] must be a Replay (from Scenario.run()), got str
    """
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(f"runs must be a non-empty mapping of name -> Replay, got {runs!r}")
    parts = []
    for name, replay in runs.items():
        if not isinstance(replay, Replay):
            raise TypeError(
                f"runs[{name!r}] must be a Replay (from Scenario.run()), "
                f"got {type(replay).__name__}"
            )
        ts = replay.timeseries
        parts.append(
            pd.DataFrame(
                {
                    "defence": str(name),
                    "time_s": ts["time_s"].to_numpy(float),
                    "connected_share": ts["connected_share"].to_numpy(float),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def defences_day_chart(
    frames: pd.DataFrame,
    *,
    first: str | None = None,
    baseline: str = BASELINE_ROW,
    push_s: float | None = None,
    rebalancing_s: float | None = None,
) -> Any:
    """Clients online over the day: the 2015 baseline and one set of defences, picked in Vega.

    Radio buttons (param ``defence``) choose which set is drawn over the baseline; they work
    with no kernel.

    Parameters
    ----------
    frames : pandas.DataFrame
        ``defence``, ``time_s`` (from midnight UTC), ``connected_share`` (:func:`day_frames`),
        with the baseline's rows named ``baseline``.
    first : str, optional
        The set shown first (default: the first that is not the baseline).
    push_s, rebalancing_s : float, optional
        When the push came and when the operators rebalanced (dashed and dotted rules).

    Examples
    --------
    >>> f = pd.DataFrame({"defence": [BASELINE_ROW] * 2 + ["drop expired"] * 2,
    ...                   "time_s": [0.0, 3600.0] * 2, "connected_share": [1, 0.6, 1, 0.95]})
    >>> spec = defences_day_chart(f).to_dict()
    >>> [(p["name"], p["bind"]["input"], p["value"]) for p in spec["params"]]
    [('defence', 'radio', 'drop expired')]
    >>> defences_day_chart(f, first="prayer")
    Traceback (most recent call last):
    ...
    ValueError: first must be one of ['drop expired'], got 'prayer'
    """
    import altair as alt

    _need(frames, ["defence", "time_s", "connected_share"], "frames")
    names = [str(n) for n in dict.fromkeys(frames["defence"])]
    if baseline not in names:
        raise ValueError(
            f"frames has no baseline rows (defence == {baseline!r}); add the run with no "
            "defence under that name"
        )
    options = [n for n in names if n != baseline]
    if not options:
        raise ValueError("frames holds only the baseline; add at least one defended run")
    start = options[0] if first is None else first
    if start not in options:
        raise ValueError(f"first must be one of {options}, got {first!r}")
    data = rounded(
        pd.DataFrame(
            {
                "defence": frames["defence"].astype(str).to_numpy(),
                "hour": frames["time_s"].to_numpy(float) / 3600.0,
                "online": frames["connected_share"].to_numpy(float),
            }
        ),
        6,
    )
    pick = alt.param(
        name="defence",
        value=start,
        bind=alt.binding_radio(options=options, name="defences "),
    )
    what = ["no defence (2015)", "the defences picked below"]
    colour = _versus_colour(alt, what)
    tooltip = [
        "defence:N",
        alt.Tooltip("hour:Q", format=".2f"),
        alt.Tooltip("online:Q", format=".1%"),
    ]
    base_line = (
        alt.Chart(data)
        .transform_filter(alt.datum.defence == baseline)
        .transform_calculate(what=f"'{what[0]}'")
        .mark_line(strokeWidth=2, strokeDash=[5, 3])
        .encode(x=_hour_x(), y=_online_y(), color=colour, tooltip=tooltip)
    )
    chosen = (
        alt.Chart(data)
        .transform_filter("datum.defence == defence")
        .transform_calculate(what=f"'{what[1]}'")
        .mark_line(strokeWidth=3.5)
        .encode(x=_hour_x(), y=_online_y(), color=colour, tooltip=tooltip)
    )
    layers = [chosen, base_line]
    subtitle = "Pick a set of defences below; grey dashes: 2015, with none"
    rules = [
        (push_s, [6, 4], "dashed: the push"),
        (rebalancing_s, [2, 3], "dotted: the rebalancing"),
    ]
    notes = [note for when, _, note in rules if when is not None]
    if notes:
        subtitle += ". Black " + ", ".join(notes)
    for when, dash, _ in rules:
        if when is not None:
            layers.append(
                alt.Chart(pd.DataFrame({"hour": [round(float(when) / 3600.0, 6)]}))
                .mark_rule(color="#333333", strokeDash=dash)
                .encode(x="hour:Q")
            )
    return (
        alt.layer(*layers)
        .add_params(pick)
        .properties(
            width=540,
            height=260,
            title=alt.Title(
                "The day with your defences: who stays online",
                subtitle=subtitle,
            ),
        )
    )


def _log_cells(shares: Sequence[float]) -> tuple[dict[float, tuple[float, float]], float, float]:
    """Each share's cell on a log axis: from the geometric mid-point with the share below to the
    one with the share above (the outer cells as wide as their neighbour's half-gap)."""
    xs = sorted(shares)
    if len(xs) == 1:
        return {xs[0]: (xs[0] / 2, xs[0] * 2)}, xs[0] / 2, xs[0] * 2
    mids = [float(np.sqrt(a * b)) for a, b in zip(xs, xs[1:], strict=False)]
    left = xs[0] ** 2 / mids[0]
    right = xs[-1] ** 2 / mids[-1]
    edges = [left, *mids, right]
    return {x: (edges[i], edges[i + 1]) for i, x in enumerate(xs)}, left, right


def breaking_point_chart(grid: pd.DataFrame, *, target_outage_min: float = 60) -> Any:
    """Where each defence stops working as the trigger grows: a share x defence map.

    One cell per (defence, affected share) run, green if the outage stayed within the target
    and red if not, on a logarithmic share axis (share 0, no trigger, cannot be drawn on it and
    is left out). Each defence's breaking point (the largest share up to which it held at
    every share tried) is outlined, and named at the end of its row.

    Parameters
    ----------
    grid : pandas.DataFrame
        From :func:`outage_kit.mitigations.defence_breaking_point`: ``defence``,
        ``affected_share``, ``outage_min`` and ``breaking_point_share``.
    target_outage_min : float
        The target the grid was judged against (colours the cells).

    Examples
    --------
    >>> g = pd.DataFrame({"defence": ["no defence"] * 2 + ["drop expired"] * 2,
    ...                   "affected_share": [0.01, 0.4] * 2, "outage_min": [0.0, 930, 0, 15],
    ...                   "breaking_point_share": [0.01, 0.01, 0.4, 0.4]})
    >>> spec = breaking_point_chart(g).to_dict()
    >>> [layer["mark"]["type"] for layer in spec["layer"]]
    ['rect', 'rect', 'text']
    """
    import altair as alt

    _need(grid, ["defence", "affected_share", "outage_min", "breaking_point_share"], "grid")
    target = _target(target_outage_min)
    shares = sorted({float(s) for s in grid["affected_share"] if s > 0})
    if not shares:
        raise ValueError("grid has no affected share above 0 to draw on a log axis")
    cell, lo, hi = _log_cells(shares)
    outage = grid["outage_min"].to_numpy(float)
    verdicts = [f"outage ≤ {target:g} min", f"outage > {target:g} min"]
    cells = pd.DataFrame(
        {
            "defence": grid["defence"].astype(str).to_numpy(),
            "affected_share": grid["affected_share"].to_numpy(float),
            "outage_min": outage,
            "verdict": np.where(outage <= target, verdicts[0], verdicts[1]),
        }
    )
    cells = cells[cells["affected_share"] > 0].reset_index(drop=True)
    cells["left"] = [cell[float(s)][0] for s in cells["affected_share"]]
    cells["right"] = [cell[float(s)][1] for s in cells["affected_share"]]
    cells = rounded(cells, 6)
    order = list(dict.fromkeys(grid["defence"].astype(str)))
    smallest = float(grid["affected_share"].min())
    largest = float(grid["affected_share"].max())
    points = grid.groupby(grid["defence"].astype(str), sort=False)["breaking_point_share"].first()

    def label(bp: float) -> str:
        if bp <= 0:
            return "fails even with no trigger" if smallest <= 0 else "fails at every share"
        if bp >= largest:
            return "holds at every share"
        return f"holds up to {100 * bp:g} %"

    bps = points.to_numpy(float)
    marks = rounded(
        pd.DataFrame(
            {
                "defence": list(points.index),
                "breaking_point_share": bps,
                "left": [cell[b][0] if b in cell else np.nan for b in bps],
                "right": [cell[b][1] if b in cell else np.nan for b in bps],
                "label": [label(float(b)) for b in bps],
            }
        ),
        6,
    )
    x_scale = alt.Scale(type="log", domain=[round(lo, 6), round(hi, 6)], nice=False)
    x = alt.X(
        "left:Q",
        title="share of clients the push knocks off (log scale)",
        scale=x_scale,
        axis=alt.Axis(format=".1~%", values=shares, grid=False),
    )
    y = alt.Y(
        "defence:N",
        sort=order,
        title=None,
        axis=alt.Axis(labelLimit=200),
        scale=alt.Scale(paddingInner=0.15),
    )
    squares = (
        alt.Chart(cells)
        .mark_rect(stroke="#FFFFFF", strokeWidth=2, opacity=0.9)
        .encode(
            x=x,
            x2="right:Q",
            y=y,
            color=_verdict_colour(verdicts),
            tooltip=[
                "defence:N",
                alt.Tooltip("affected_share:Q", title="knocked off", format=".1%"),
                alt.Tooltip("outage_min:Q", title="outage (min)", format=",.0f"),
            ],
        )
    )
    outline = (
        alt.Chart(marks)
        .transform_filter("isValid(datum.left)")
        .mark_rect(filled=False, stroke="#000000", strokeWidth=3)
        .encode(
            x=alt.X("left:Q", scale=x_scale),
            x2="right:Q",
            y=y,
            tooltip=["defence:N", "label:N"],
        )
    )
    text = (
        alt.Chart(marks)
        .mark_text(align="left", color="#333333")
        .encode(x=alt.value(450), y=y, text="label:N")
    )
    return alt.layer(squares, outline, text).properties(
        width=440,
        height=alt.Step(30),
        title=alt.Title(
            "Where each defence breaks as the trigger grows",
            subtitle=f"Each defence alone, with the {_rebalancing()} rebalancing. Outlined: "
            f"the largest share up to which it kept the outage within {target:g} min",
        ),
    )


def mitigation_panel_chart(
    step_h: float,
    baseline: Sequence[float],
    defended: Sequence[float],
    *,
    outage_start_h: float = -1.0,
    outage_end_h: float = -1.0,
    baseline_load: Sequence[float] | None = None,
    defended_load: Sequence[float] | None = None,
    baseline_down: Sequence[float] | None = None,
    defended_down: Sequence[float] | None = None,
) -> Any:
    """The panel's chart: the day, 2015 (grey) and with the defences (blue).

    Clients online; with ``baseline_load`` and ``defended_load``, a panel of offered sign-in
    work over capacity (log scale); with ``baseline_down`` and ``defended_down``, a panel of
    the number of services down. The defended series are params (``defended``,
    ``defended_load``, ``defended_down``; one value per ``step_h`` hours) and the window in
    which sign-in is overloaded the params ``outage_start_h`` and ``outage_end_h`` (hours;
    negative: none), so the panel replaces them with small messages instead of rebuilding
    the chart.

    Examples
    --------
    >>> spec = mitigation_panel_chart(1.0, [1.0, 0.5], [1.0, 0.9], outage_start_h=0.5,
    ...                               outage_end_h=1.0).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['defended', 'outage_end_h', 'outage_start_h']
    >>> mitigation_panel_chart(1.0, [1.0, 0.5], [1.0])
    Traceback (most recent call last):
    ...
    ValueError: baseline and defended must have the same length, got 2 and 1
    """
    import altair as alt

    if len(baseline) != len(defended):
        raise ValueError(
            f"baseline and defended must have the same length, got {len(baseline)} and "
            f"{len(defended)}"
        )
    step = float(step_h)
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step_h must be a number > 0, got {step_h!r}")
    defended_p = alt.param(name="defended", value=[float(v) for v in defended])
    start_p = alt.param(name="outage_start_h", value=float(outage_start_h))
    end_p = alt.param(name="outage_end_h", value=float(outage_end_h))
    data = rounded(
        pd.DataFrame(
            {
                "i": np.arange(len(baseline)),
                "hour": np.arange(len(baseline)) * step,
                "baseline": np.asarray(baseline, dtype=float),
            }
        ),
        6,
    )
    what = ["no defence (2015)", "with your defences"]
    colour = _versus_colour(alt, what)
    tooltip = [
        "what:N",
        alt.Tooltip("hour:Q", format=".2f"),
        alt.Tooltip("online:Q", format=".1%"),
    ]
    defended_line = (
        alt.Chart(data)
        .transform_calculate(online="defended[datum.i]", what=f"'{what[1]}'")
        .mark_line(strokeWidth=3.5)
        .encode(x=_hour_x(), y=_online_y(), color=colour, tooltip=tooltip)
    )
    baseline_line = (
        alt.Chart(data)
        .transform_calculate(online="datum.baseline", what=f"'{what[0]}'")
        .mark_line(strokeWidth=2, strokeDash=[5, 3])
        .encode(x=_hour_x(), y=_online_y(), color=colour, tooltip=tooltip)
    )
    band = (
        alt.Chart(pd.DataFrame({"row": [0]}))
        .transform_calculate(start="outage_start_h", end="outage_end_h")
        .transform_filter("outage_start_h >= 0")
        .mark_rect(color=OUTAGE_BAND_COLOUR, opacity=0.6)
        .encode(x=alt.X("start:Q", scale=alt.Scale(domain=[0, 24])), x2="end:Q")
    )
    online = alt.layer(band, defended_line, baseline_line).properties(width=540, height=200)
    params = [defended_p, start_p, end_p]
    panels = [online]
    extra = {}
    for name, base, mine, title, log in (
        ("load", baseline_load, defended_load, "sign-in load ÷ capacity (log)", True),
        ("down", baseline_down, defended_down, "services down", False),
    ):
        if base is None and mine is None:
            continue
        if base is None or mine is None or not len(base) == len(mine) == len(baseline):
            raise ValueError(
                f"baseline_{name} and defended_{name} must both be given, as long as baseline"
            )
        extra[name] = [float(v) for v in base]
        param = alt.param(name=f"defended_{name}", value=[float(v) for v in mine])
        params.append(param)
        panels.append((name, title, log))
    if extra:
        data = data.assign(**{f"baseline_{k}": v for k, v in extra.items()})
    charts_below = []
    for name, title, log in panels[1:]:
        scale = (
            alt.Scale(type="log", domain=[0.3, 1000], clamp=True) if log else alt.Scale(zero=True)
        )
        y = alt.Y("value:Q", title=title, scale=scale)
        lines = [
            alt.Chart(data)
            .transform_calculate(value=f"defended_{name}[datum.i]", what=f"'{what[1]}'")
            .mark_line(strokeWidth=2.5, interpolate="step-after")
            .encode(x=_hour_x(), y=y, color=colour),
            alt.Chart(data)
            .transform_calculate(value=f"datum.baseline_{name}", what=f"'{what[0]}'")
            .mark_line(strokeWidth=1.5, strokeDash=[5, 3], interpolate="step-after")
            .encode(x=_hour_x(), y=y, color=colour),
        ]
        charts_below.append(alt.layer(*lines).properties(width=540, height=90))
    body = online if not charts_below else alt.vconcat(online, *charts_below)
    return body.add_params(*params).properties(
        title=alt.Title(
            "The day, with and without your defences",
            subtitle="Shaded: sign-in overloaded in your run. Every run keeps the "
            f"{_rebalancing()} rebalancing",
        ),
    )
