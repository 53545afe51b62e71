"""Charts for lesson 04 (the bad push): the version mix, the blast radius, rollouts over time.

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, offline rendering, rounded
data so specs are stable). The explorers bind Vega-Lite params to browser inputs, so they stay
interactive in RISE slides and exported decks with no kernel; the panel chart takes its data
from params that :class:`outage_kit.rollout_widgets.RolloutPanel` sets. No model logic here:
the numbers come from :mod:`outage_kit.rollout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from outage_kit.charts import PALETTE, rounded

#: Colours: clients the push disconnects, and clients it reaches that stay online.
DISCONNECTED_COLOUR = PALETTE[1]
ONLINE_COLOUR = PALETTE[0]
#: Colours of the wave plans of :data:`outage_kit.rollout.WAVE_PLANS`, in order.
PLAN_COLOURS = (PALETTE[1], PALETTE[0], PALETTE[4], PALETTE[2], PALETTE[3])


def _label(versions: pd.DataFrame) -> list[str]:
    return [f"{p}: {v}" for p, v in zip(versions["platform"], versions["version"], strict=True)]


def version_mix_chart(versions: pd.DataFrame) -> Any:
    """The assumed client version mix: share of online clients per version, failing ones marked.

    Parameters
    ----------
    versions : pandas.DataFrame
        From :func:`outage_kit.rollout.load_client_versions_2015`.

    Examples
    --------
    >>> from outage_kit import rollout
    >>> spec = version_mix_chart(rollout.load_client_versions_2015()).to_dict()
    >>> spec["layer"][0]["encoding"]["x"]["axis"]["format"]
    '%'
    """
    import altair as alt

    frame = pd.DataFrame(
        {
            "version": _label(versions),
            "share": versions["share_of_online"].astype(float),
            "push": np.where(versions["incompatible"], "cannot process the push", "processes it"),
            "status": versions["status"],
        }
    )
    order = list(frame["version"])
    y = alt.Y("version:N", sort=order, title=None, axis=alt.Axis(labelLimit=280))
    x = alt.X("share:Q", title="share of online clients (assumed)", axis=alt.Axis(format="%"))
    colour = alt.Color(
        "push:N",
        title=None,
        scale=alt.Scale(
            domain=["cannot process the push", "processes it"],
            range=[DISCONNECTED_COLOUR, ONLINE_COLOUR],
        ),
        legend=alt.Legend(orient="bottom"),
    )
    bars = (
        alt.Chart(rounded(frame, 6))
        .mark_bar()
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=["version:N", alt.Tooltip("share:Q", format=".0%"), "push:N", "status:N"],
        )
    )
    labels = bars.mark_text(align="left", dx=4, color="#333333").encode(
        text=alt.Text("share:Q", format=".0%"), color=alt.value("#333333")
    )
    return alt.layer(bars, labels).properties(
        width=460,
        title=alt.Title(
            "Which clients could not process the push? (all assumed)",
            subtitle="The record never said which versions failed or how many ran them",
        ),
    )


def blast_radius_explorer_chart(table: pd.DataFrame, *, push_share: float = 1.0) -> Any:
    """Clients a push reaches and disconnects per version, with a push-share slider in the browser.

    The push share is a Vega-Lite param bound to a range input (``push_share``), so the bars
    and the total move in any rendering, kernel or not.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`outage_kit.rollout.blast_radius` with ``reach=1.0`` (every client reached);
        the chart scales it by the slider.
    push_share : float
        Where the slider starts.

    Examples
    --------
    >>> from outage_kit import rollout
    >>> spec = blast_radius_explorer_chart(rollout.blast_radius()).to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('push_share', 'range')]
    """
    import altair as alt

    if not np.allclose(table["reach"], 1.0):
        raise ValueError("table must come from blast_radius(..., reach=1.0); the slider scales it")
    frame = pd.DataFrame(
        {
            "version": [i.replace("_", " ") for i in table["id"]],
            "online_m": table["clients_online"] / 1e6,
            "failing": table["incompatible"].astype(bool),
        }
    )
    share = alt.param(
        name="push_share",
        value=float(push_share),
        bind=alt.binding_range(min=0, max=1, step=0.01, name="share of clients the push reaches "),
    )
    order = list(frame["version"])
    top = float(np.ceil(frame["online_m"].max()))
    base = alt.Chart(rounded(frame, 6)).transform_calculate(
        reached_m="datum.online_m * push_share",
        outcome="datum.failing ? 'disconnected' : 'reached, stays online'",
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "reached_m:Q",
            title="clients reached (millions)",
            scale=alt.Scale(domain=[0, top]),
        ),
        y=alt.Y("version:N", sort=order, title=None, axis=alt.Axis(labelLimit=220)),
        color=alt.Color(
            "outcome:N",
            title=None,
            scale=alt.Scale(
                domain=["disconnected", "reached, stays online"],
                range=[DISCONNECTED_COLOUR, ONLINE_COLOUR],
            ),
            legend=alt.Legend(orient="bottom"),
        ),
        tooltip=["version:N", "outcome:N", alt.Tooltip("reached_m:Q", format=",.2f")],
    )
    total = (
        base.transform_filter("datum.failing")
        .transform_aggregate(lost="sum(reached_m)")
        .transform_calculate(text="'disconnected: ' + format(datum.lost, ',.2f') + ' million'")
        .mark_text(align="right", baseline="bottom", fontSize=16, color=DISCONNECTED_COLOUR)
        .encode(text="text:N", x=alt.value(460), y=alt.value(-4))
    )
    return (
        alt.layer(bars, total)
        .add_params(share)
        .properties(
            width=460,
            title=alt.Title(
                "Explore: the blast radius of one push",
                subtitle="Drag the slider under the chart; version mix and 40 M online assumed",
                offset=26,
            ),
        )
    )


def rollout_series(
    results: dict[str, Any], *, end_s: float, step_s: float = 60.0, key: str = "plan"
) -> pd.DataFrame:
    """Stack the time series of several rollouts into one table, with a ``key`` column.

    Examples
    --------
    >>> from outage_kit import rollout
    >>> rs = {"all": rollout.staged_rollout(waves=(1.0,), concurrent_users=10.0)}
    >>> rollout_series(rs, end_s=60.0)["clients_disconnected"].tolist()
    [0.0, 4.0]
    """
    frames = [
        r.timeseries(end_s=end_s, step_s=step_s).assign(**{key: k}) for k, r in results.items()
    ]
    return pd.concat(frames, ignore_index=True)


def rollout_timeseries_chart(
    series: pd.DataFrame, *, title: str | None = None, subtitle: str | None = None
) -> Any:
    """Clients disconnected over time, one line per wave plan, the final count at each line's end.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`rollout_series`: ``plan``, ``time_min``, ``clients_disconnected``.

    Examples
    --------
    >>> from outage_kit import rollout
    >>> rs = {k: rollout.staged_rollout(waves=w) for k, w in rollout.WAVE_PLANS.items()}
    >>> spec = rollout_timeseries_chart(rollout_series(rs, end_s=6000.0)).to_dict()
    >>> spec["layer"][0]["mark"]["type"]
    'line'
    """
    import altair as alt

    data = series.assign(disconnected_m=series["clients_disconnected"] / 1e6)
    data = rounded(data[["plan", "time_min", "disconnected_m"]], 6)
    plans = list(dict.fromkeys(data["plan"]))
    colour = alt.Color(
        "plan:N",
        title="wave plan",
        sort=plans,
        scale=alt.Scale(domain=plans, range=list(PLAN_COLOURS[: len(plans)])),
        legend=alt.Legend(orient="bottom", columns=1, labelLimit=320),
    )
    x = alt.X("time_min:Q", title="minutes after the first wave")
    y = alt.Y("disconnected_m:Q", title="clients disconnected (millions)")
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                "plan:N",
                alt.Tooltip("time_min:Q", title="minute"),
                alt.Tooltip("disconnected_m:Q", title="disconnected (M)", format=",.2f"),
            ],
        )
    )
    last = data["time_min"].max()
    ends = alt.Chart(data).transform_filter(alt.datum.time_min == float(last))
    labels = ends.mark_text(align="right", dy=-9, fontSize=14).encode(
        x=x, y=y, color=colour, text=alt.Text("disconnected_m:Q", format=",.2f")
    )
    return alt.layer(lines, labels).properties(
        width=540,
        title=alt.Title(
            title or "How many clients one bad push disconnects, by wave plan",
            subtitle=subtitle
            or "The health check halts a rollout that loses too many clients (timing assumed)",
        ),
    )


def rollout_explorer_chart(
    frames: pd.DataFrame,
    halts: pd.DataFrame,
    *,
    plan: str | None = None,
    delay_min: float = 10.0,
    delays_min: Sequence[float] | None = None,
) -> Any:
    """A rollout over time, with a wave-plan chooser and a detection-delay slider run by Vega.

    Both controls are Vega-Lite params bound to browser inputs (``plan_choice``: radio
    buttons; ``delay_min``: a range), so the chart works in slides and exported decks.

    Parameters
    ----------
    frames : pandas.DataFrame
        ``plan``, ``delay_min``, ``time_min``, ``clients_disconnected``: one time series per
        plan and detection delay (evenly spaced delays).
    halts : pandas.DataFrame
        ``plan``, ``delay_min``, ``halted_at_min`` (NaN if no halt), ``clients_disconnected``.
    plan : str, optional
        The plan shown first (default: the first).
    delay_min : float
        The detection delay shown first.

    Examples
    --------
    >>> f = pd.DataFrame({"plan": ["a"] * 4, "delay_min": [0.0, 0.0, 5.0, 5.0],
    ...                   "time_min": [0.0, 1.0] * 2, "clients_disconnected": [0.0, 1e6] * 2})
    >>> h = pd.DataFrame({"plan": ["a", "a"], "delay_min": [0.0, 5.0],
    ...                   "halted_at_min": [0.0, 5.0], "clients_disconnected": [1e6, 1e6]})
    >>> spec = rollout_explorer_chart(f, h, delay_min=0.0).to_dict()
    >>> sorted(p["bind"]["input"] for p in spec["params"])
    ['radio', 'range']
    """
    import altair as alt

    plans = list(dict.fromkeys(frames["plan"]))
    first = plans[0] if plan is None else plan
    if first not in plans:
        raise ValueError(f"plan {first!r} is not in frames; choose one of {plans}")
    delays = np.sort(frames["delay_min"].unique()).astype(float)
    step = float(np.min(np.diff(delays))) if delays.size > 1 else 1.0
    if delays.size > 2 and not np.allclose(np.diff(delays), step):
        raise ValueError("frames need evenly spaced detection delays for the slider")
    plan_p = alt.param(
        name="plan_choice",
        value=first,
        bind=alt.binding_radio(options=plans, name="wave plan: "),
    )
    delay_p = alt.param(
        name="delay_min",
        value=float(delay_min),
        bind=alt.binding_range(
            min=float(delays[0]),
            max=float(delays[-1]),
            step=round(step, 10),
            name="detection delay (min, assumed) ",
        ),
    )
    pick = f"datum.plan == plan_choice && abs(datum.delay_min - delay_min) < {step / 2}"
    data = frames.assign(disconnected_m=frames["clients_disconnected"] / 1e6)
    data = rounded(data[["plan", "delay_min", "time_min", "disconnected_m"]], 6)
    x = alt.X("time_min:Q", title="minutes after the first wave")
    y = alt.Y("disconnected_m:Q", title="clients disconnected (millions)")
    line = (
        alt.Chart(data)
        .transform_filter(pick)
        .mark_area(color=DISCONNECTED_COLOUR, opacity=0.2, line={"color": DISCONNECTED_COLOUR})
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("time_min:Q", title="minute"),
                alt.Tooltip("disconnected_m:Q", title="disconnected (M)", format=",.2f"),
            ],
        )
    )
    halt_data = halts.assign(disconnected_m=halts["clients_disconnected"] / 1e6)
    halt_data = rounded(
        halt_data[["plan", "delay_min", "halted_at_min", "disconnected_m"]], 6
    ).assign(
        text=lambda d: [
            (f"halted: {m:,.2f} M disconnected" if np.isfinite(h) else f"{m:,.2f} M disconnected")
            for h, m in zip(d["halted_at_min"], d["disconnected_m"], strict=True)
        ]
    )
    halt_base = alt.Chart(halt_data).transform_filter(pick)
    rule = (
        halt_base.transform_filter("isValid(datum.halted_at_min)")
        .mark_rule(color="#333333", strokeDash=[6, 4], strokeWidth=2)
        .encode(x=alt.X("halted_at_min:Q"))
    )
    label = halt_base.mark_text(
        align="right", baseline="top", fontSize=15, color=DISCONNECTED_COLOUR
    ).encode(text="text:N", x=alt.value(540), y=alt.value(4))
    return (
        alt.layer(line, rule, label)
        .add_params(plan_p, delay_p)
        .properties(
            width=540,
            height=280,
            title=alt.Title(
                "Explore: a staged rollout against a slow health check",
                subtitle="Waves every 30 min; dashed: the halt. Timing and threshold assumed",
            ),
        )
    )


def rollout_panel_chart(*, step_min: float, points: int, disconnected: Sequence[float]) -> Any:
    """The panel's chart: clients disconnected over time, the series and the halt as params.

    Params: ``disconnected`` (``points`` values, millions, one per ``step_min``) and
    ``halt_min`` (minutes; negative hides the halt line), so the panel replaces a whole
    rollout with two small messages.

    Examples
    --------
    >>> spec = rollout_panel_chart(step_min=1.0, points=3, disconnected=[0, 1, 1]).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['disconnected', 'halt_min']
    """
    import altair as alt

    series = alt.param(name="disconnected", value=[float(v) for v in disconnected])
    halt = alt.param(name="halt_min", value=-1.0)
    base = alt.Chart(pd.DataFrame({"i": np.arange(int(points))})).transform_calculate(
        time_min=f"datum.i * {float(step_min)}", disconnected_m="disconnected[datum.i]"
    )
    x = alt.X("time_min:Q", title="minutes after the first wave")
    area = base.mark_area(
        color=DISCONNECTED_COLOUR, opacity=0.2, line={"color": DISCONNECTED_COLOUR}
    ).encode(
        x=x,
        y=alt.Y("disconnected_m:Q", title="clients disconnected (millions)"),
        tooltip=[
            alt.Tooltip("time_min:Q", title="minute"),
            alt.Tooltip("disconnected_m:Q", title="disconnected (M)", format=",.3f"),
        ],
    )
    one_row = pd.DataFrame({"row": [0]})
    rule = (
        alt.Chart(one_row)
        .transform_calculate(halt="halt_min")
        .transform_filter("datum.halt >= 0")
        .mark_rule(color="#333333", strokeDash=[6, 4], strokeWidth=2)
        .encode(x=alt.X("halt:Q"))
    )
    return (
        alt.layer(area, rule)
        .add_params(series, halt)
        .properties(
            width=540,
            height=240,
            title=alt.Title(
                "This rollout: clients disconnected over time",
                subtitle="Dashed: the health check halts the rollout (timing assumed)",
            ),
        )
    )
