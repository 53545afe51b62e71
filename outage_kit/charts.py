"""Altair chart builders in one house style, rendered with no internet.

Every lesson calls :func:`enable_offline` in its first cell. From then on a chart
displayed in a notebook carries two representations:

* a Vega-Lite v5 JSON mime bundle, which JupyterLab renders natively (with
  tooltips), also in an untrusted notebook and with no network, and
* a static SVG made in the kernel by vl-convert, which nbconvert, exported
  slides and plain notebook viewers show.

Interactive panels wrap charts in :func:`interactive`, an ``alt.JupyterChart``
whose JavaScript is bundled offline.

Builders take plain data (pandas DataFrames or numbers from the models) and return
``alt.Chart`` objects; they hold no model logic. Model output is rounded before
charting so that specs are identical from run to run and machine to machine.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import pandas as pd

#: Okabe & Ito's colour-blind-safe palette (Okabe and Ito, 2008, "Color Universal Design").
PALETTE = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

#: Colours for service health, from the same palette.
HEALTH_COLOURS = {"healthy": "#009E73", "degraded": "#E69F00", "overloaded": "#D55E00"}

VEGALITE_V5_MIME = "application/vnd.vegalite.v5+json"
#: The Vega-Lite schema that JupyterLab 4's built-in renderer understands.
VEGALITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
#: The Vega-Lite version that charts are checked against (the oldest JupyterLab 4 ships).
VEGALITE_V5_CHECK_VERSION = "5.8"

RENDERER_NAME = "outage_kit"
THEME_NAME = "outage_kit"

_FONT = "Helvetica, Arial, sans-serif"


def house_theme() -> dict[str, Any]:
    """Return the kit's altair theme: large, readable text for slides, Okabe-Ito colours.

    Examples
    --------
    >>> theme = house_theme()
    >>> theme["config"]["range"]["category"][0]
    '#0072B2'
    >>> theme["config"]["axis"]["labelFontSize"]
    13
    """
    return {
        "config": {
            "font": _FONT,
            "view": {"continuousWidth": 520, "continuousHeight": 280, "stroke": None},
            "title": {"fontSize": 17, "anchor": "start", "subtitleFontSize": 13, "offset": 8},
            "axis": {
                "labelFontSize": 13,
                "titleFontSize": 14,
                "titleFontWeight": "normal",
                "gridColor": "#e6e6e6",
            },
            "legend": {"labelFontSize": 13, "titleFontSize": 14, "orient": "right"},
            "header": {"labelFontSize": 14, "titleFontSize": 14},
            "text": {"fontSize": 13},
            "range": {"category": list(PALETTE)},
            "line": {"strokeWidth": 2.5},
            "point": {"size": 70, "filled": True},
        }
    }


def to_vegalite_v5(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a Vega-Lite spec that declares the v5 schema.

    altair 6 writes Vega-Lite 6 specs; the kit's charts use only features that
    Vega-Lite 5 shares (a test compiles every chart with Vega-Lite 5), so the
    spec can be handed to JupyterLab's built-in Vega-Lite 5 renderer.

    Examples
    --------
    >>> to_vegalite_v5({"$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json"})
    {'$schema': 'https://vega.github.io/schema/vega-lite/v5.json'}
    """
    out = copy.copy(spec)
    out["$schema"] = VEGALITE_V5_SCHEMA
    return out


@functools.lru_cache(maxsize=1)
def _vl_version() -> str:
    import altair as alt
    import vl_convert as vlc

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    available = vlc.get_vegalite_versions()
    return major_minor if major_minor in available else available[-1]


def chart_svg(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to a static SVG string in the kernel (no browser, no network).

    Examples
    --------
    >>> import altair as alt
    >>> spec = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x:Q").to_dict()
    >>> chart_svg(spec).startswith("<svg")
    True
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec, vl_version=_vl_version())


def _title_text(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(title)
    return str(title) if title else "untitled"


def render_bundle(spec: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Turn a Vega-Lite spec into the kit's offline mime bundle (the altair renderer).

    Examples
    --------
    >>> import altair as alt
    >>> chart = alt.Chart(pd.DataFrame({"x": [1]})).mark_point().properties(title="One point")
    >>> bundle = render_bundle(chart.to_dict())
    >>> sorted(bundle)
    ['application/vnd.vegalite.v5+json', 'image/svg+xml', 'text/plain']
    >>> bundle["text/plain"]
    '<Chart: One point>'
    """
    return {
        VEGALITE_V5_MIME: to_vegalite_v5(spec),
        "image/svg+xml": chart_svg(spec),
        "text/plain": f"<Chart: {_title_text(spec)}>",
    }


def enable_offline() -> None:
    """Make every altair chart in this kernel render with no internet, in the house style.

    Call once, in the first cell of a lesson. Registers and enables the kit's
    renderer (:func:`render_bundle`) and theme (:func:`house_theme`), and switches
    ``alt.JupyterChart`` to its offline bundle. Calling it twice is harmless.

    Examples
    --------
    >>> import altair as alt
    >>> enable_offline()
    >>> alt.renderers.active, alt.theme.active
    ('outage_kit', 'outage_kit')
    """
    import altair as alt

    alt.renderers.register(RENDERER_NAME, render_bundle)
    alt.renderers.enable(RENDERER_NAME)
    alt.theme.register(THEME_NAME, enable=True)(house_theme)
    _enable_jupyterchart_offline()


@functools.lru_cache(maxsize=1)
def _enable_jupyterchart_offline() -> None:
    import altair as alt

    alt.JupyterChart.enable_offline()


def interactive(chart: Any) -> Any:
    """Wrap a chart in an offline ``alt.JupyterChart`` widget whose params Python can set.

    Examples
    --------
    >>> import altair as alt
    >>> enable_offline()
    >>> rate = alt.param(name="rate", value=1.0)
    >>> base = alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q")
    >>> widget = interactive(base.add_params(rate))
    >>> widget.params.rate
    1.0
    """
    import altair as alt

    enable_offline()
    return alt.JupyterChart(chart)


def rounded(frame: pd.DataFrame, digits: int = 6) -> pd.DataFrame:
    """Round every float column to ``digits`` significant decimals, so chart specs are stable.

    Infinite values become missing (Vega-Lite cannot draw infinity); nothing else changes.

    Examples
    --------
    >>> rounded(pd.DataFrame({"a": [1 / 3, np.inf], "b": ["x", "y"]}), 3)
           a  b
    0  0.333  x
    1    NaN  y
    """
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            values = out[name].to_numpy(dtype=float, copy=True)
            values[~np.isfinite(values)] = np.nan
            out[name] = np.round(values, digits)
    return out


def latency_chart(
    curves: pd.DataFrame,
    *,
    service_rate_per_s: float,
    servers: int,
    arrival_rate_per_s: float,
    mean_response_ms: float,
    max_response_ms: float = 30_000.0,
) -> Any:
    """The hockey stick: mean response time against arrival rate for one server count.

    The server count, the current arrival rate and its mean response time are
    Vega-Lite params (``servers``, ``arrival_rate``, ``response_ms``), so a panel
    moves the marker and switches curves by setting params, without rebuilding
    the chart.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`outage_kit.tables.latency_curves`.
    service_rate_per_s : float
        Requests one server completes per second; draws the capacity line.
    servers, arrival_rate_per_s : int, float
        The initial server count and arrival rate.
    mean_response_ms : float
        The marker's height; a negative value hides it (no steady state).
    max_response_ms : float
        Top of the y axis.

    Examples
    --------
    >>> from outage_kit.tables import latency_curves
    >>> chart = latency_chart(latency_curves(10.0, [1, 2], 5), service_rate_per_s=10.0,
    ...                       servers=1, arrival_rate_per_s=5.0, mean_response_ms=200.0)
    >>> sorted(p["name"] for p in chart.to_dict()["params"])
    ['arrival_rate', 'response_ms', 'servers']
    """
    import altair as alt

    servers_p = alt.param(name="servers", value=int(servers))
    arrival_p = alt.param(name="arrival_rate", value=float(arrival_rate_per_s))
    response_p = alt.param(name="response_ms", value=mean_response_ms)
    # The x axis follows the server count: it always shows the curve up to its capacity line,
    # and widens when the arrival rate is dragged past it.
    mu = float(service_rate_per_s)
    x_scale = alt.Scale(domain={"expr": f"[0, max(servers * {mu} * 1.15, arrival_rate * 1.05)]"})
    x = alt.X(
        "arrival_rate_per_s:Q",
        title="arrival rate (requests per second)",
        scale=x_scale,
    )
    service_time_ms = 1000.0 / service_rate_per_s
    y_scale = alt.Scale(type="log", domain=[service_time_ms / 2, max_response_ms], clamp=True)
    curve = (
        alt.Chart(rounded(curves))
        .mark_line(color=PALETTE[0])
        .encode(
            x=x,
            y=alt.Y(
                "mean_response_ms:Q", title="mean response time (ms, log scale)", scale=y_scale
            ),
            tooltip=[
                alt.Tooltip("arrival_rate_per_s:Q", title="arrival rate (/s)"),
                alt.Tooltip("utilisation:Q", format=".1%"),
                alt.Tooltip("mean_response_ms:Q", title="mean response (ms)", format=",.0f"),
            ],
        )
        .transform_filter(alt.datum.servers == servers_p)
    )
    one_row = pd.DataFrame({"row": [0]})
    capacity = (
        alt.Chart(one_row)
        .mark_rule(color=PALETTE[1], strokeDash=[6, 4], strokeWidth=2)
        .transform_calculate(capacity=f"servers * {float(service_rate_per_s)}")
        .encode(x=alt.X("capacity:Q", scale=x_scale))
    )
    marker = (
        alt.Chart(one_row)
        .mark_point(color=PALETTE[1], size=160)
        .transform_calculate(x="arrival_rate", y="response_ms")
        .transform_filter("response_ms > 0")
        .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale))
    )
    return (
        alt.layer(curve, capacity, marker)
        .add_params(servers_p, arrival_p, response_p)
        .properties(
            title=alt.Title(
                "Latency explodes as load approaches capacity",
                subtitle="M/M/c queue; dashed line: capacity = servers × service rate",
            )
        )
    )


def timeline_chart(timeline: pd.DataFrame, outage_start: Any, restoration: Any) -> Any:
    """The day of the outage: sourced events on a UTC time axis, over the outage window.

    Events known only to within a window (the sources say "morning" or "later that
    day") are drawn as a bar over the window with an open marker at the
    placeholder time; events with a clock time as a filled marker.

    Parameters
    ----------
    timeline : pandas.DataFrame
        Rows of :func:`outage_kit.data.load_timeline_2015` to draw.
    outage_start, restoration : pandas.Timestamp
        The ends of the shaded outage window.

    Examples
    --------
    >>> from outage_kit import data
    >>> t = data.load_timeline_2015()
    >>> spec = timeline_chart(t, data.parameter("outage_start_utc"),
    ...                       data.parameter("restoration_utc")).to_dict()
    >>> len(spec["layer"])
    4
    """
    import altair as alt

    def iso(value: Any) -> str:
        return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = pd.DataFrame(
        {
            "event": timeline["id"].str.replace("_", " "),
            "time": timeline["time_utc"].map(iso),
            "window_start": timeline["window_start_utc"].map(
                lambda v: iso(v) if pd.notna(v) else None
            ),
            "window_end": timeline["window_end_utc"].map(lambda v: iso(v) if pd.notna(v) else None),
            "when": timeline["time_precision"].map(
                lambda p: "clock time given" if p in {"exact", "approximate"} else "only a window"
            ),
            "description": timeline["event"],
        }
    )
    order = list(rows["event"])
    y = alt.Y("event:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    window = pd.DataFrame(
        {"start": [iso(outage_start)], "end": [iso(restoration)], "label": ["outage window"]}
    )
    band = (
        alt.Chart(window)
        .mark_rect(color=PALETTE[1], opacity=0.12)
        .encode(x=alt.X("start:T", title="time (UTC)"), x2="end:T")
    )
    band_label = (
        alt.Chart(window)
        .mark_text(align="left", dx=4, dy=-6, color=PALETTE[1], fontSize=13)
        .encode(x="start:T", y=alt.value(0), text="label:N")
    )
    ranges = (
        alt.Chart(rows)
        .transform_filter("isValid(datum.window_start)")
        .mark_rule(strokeWidth=3, opacity=0.5, color=PALETTE[0])
        .encode(x="window_start:T", x2="window_end:T", y=y)
    )
    points = (
        alt.Chart(rows)
        .mark_point(size=110, strokeWidth=2, filled=True)
        .encode(
            x=alt.X("time:T", axis=alt.Axis(format="%H:%M", title="time (UTC)")),
            y=y,
            color=alt.Color(
                "when:N",
                title="timing in the sources",
                scale=alt.Scale(range=[PALETTE[0], PALETTE[4]]),
            ),
            shape=alt.Shape("when:N", scale=alt.Scale(range=["circle", "diamond"])),
            tooltip=["event:N", alt.Tooltip("time:T", format="%d %b %H:%M UTC"), "description:N"],
        )
    )
    return alt.layer(band, band_label, ranges, points).properties(
        title=alt.Title(
            "21 September 2015: what the public record says, hour by hour",
            subtitle="Shaded: first reports (08:23 UTC) to full restoration (23:53 UTC)",
        ),
        width=560,
    )


def hockey_stick_chart(curves: pd.DataFrame) -> Any:
    """Mean response time against utilisation, one line per server count (static).

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`outage_kit.tables.latency_curves`.

    Examples
    --------
    >>> from outage_kit.tables import latency_curves
    >>> spec = hockey_stick_chart(latency_curves(10.0, [1, 4], 5)).to_dict()
    >>> spec["encoding"]["y"]["scale"]["type"]
    'log'
    """
    import altair as alt

    return (
        alt.Chart(rounded(curves))
        .mark_line()
        .encode(
            x=alt.X(
                "utilisation:Q",
                title="utilisation",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y(
                "mean_response_ms:Q",
                title="mean response time (ms, log scale)",
                scale=alt.Scale(type="log"),
            ),
            color=alt.Color("servers:N", title="servers"),
            tooltip=[
                "servers:N",
                alt.Tooltip("utilisation:Q", format=".1%"),
                alt.Tooltip("mean_response_ms:Q", title="mean response (ms)", format=",.0f"),
                alt.Tooltip("p99_wait_ms:Q", title="99th pct wait (ms)", format=",.0f"),
            ],
        )
        .properties(
            title=alt.Title(
                "The hockey stick: response time against utilisation",
                subtitle="M/M/c, one shared queue; each server does 100 ms of work per request",
            )
        )
    )


def _finite_panels(base: Any, x: Any) -> tuple[Any, Any]:
    import altair as alt

    block = base.mark_line().encode(
        x=x,
        y=alt.Y(
            "prob_block:Q",
            title="share of requests rejected",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
    )
    response = base.mark_line().encode(
        x=x,
        y=alt.Y(
            "mean_response_ms:Q",
            title="mean response of accepted requests (ms)",
            scale=alt.Scale(type="log"),
        ),
    )
    return block, response


def finite_queue_chart(finite: pd.DataFrame) -> Any:
    """Rejections and response time of a finite queue (M/M/c/K), one line per queue size.

    Parameters
    ----------
    finite : pandas.DataFrame
        From :func:`outage_kit.tables.finite_queue_curves`.

    Examples
    --------
    >>> from outage_kit.tables import finite_queue_curves
    >>> spec = finite_queue_chart(finite_queue_curves(10.0, 2, [0, 5], points=5)).to_dict()
    >>> len(spec["hconcat"])
    2
    """
    import altair as alt

    colour = alt.Color("queue_capacity:N", title="queue places")
    base = alt.Chart(rounded(finite)).encode(
        color=colour,
        tooltip=[
            alt.Tooltip("queue_capacity:N", title="queue places"),
            alt.Tooltip("offered_utilisation:Q", title="offered load", format=".0%"),
            alt.Tooltip("prob_block:Q", title="rejected", format=".1%"),
            alt.Tooltip("mean_response_ms:Q", title="response (ms)", format=",.0f"),
        ],
    )
    x = alt.X(
        "offered_utilisation:Q", title="offered load (share of capacity)", axis=alt.Axis(format="%")
    )
    block, response = _finite_panels(base, x)
    return alt.hconcat(block.properties(width=300), response.properties(width=300)).properties(
        title=alt.Title(
            "A finite queue trades waiting for rejection",
            subtitle="M/M/c/K with 4 servers; past 100 % the excess is turned away",
        )
    )


def finite_queue_panel_chart(
    finite: pd.DataFrame,
    *,
    queue_capacity: int,
    arrival_rate_per_s: float,
    prob_block: float,
    response_ms: float,
) -> Any:
    """The finite-queue chart for one queue size, with the current load marked (a panel's chart).

    The queue size and the marker are Vega-Lite params (``queue_capacity``,
    ``arrival_rate``, ``prob_block``, ``response_ms``) that a panel sets.

    Examples
    --------
    >>> from outage_kit.tables import finite_queue_curves
    >>> t = finite_queue_curves(10.0, 2, [0, 5], points=5)
    >>> spec = finite_queue_panel_chart(t, queue_capacity=5, arrival_rate_per_s=10.0,
    ...                                 prob_block=0.1, response_ms=150.0).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['arrival_rate', 'prob_block', 'queue_capacity', 'response_ms']
    """
    import altair as alt

    params = [
        alt.param(name="queue_capacity", value=int(queue_capacity)),
        alt.param(name="arrival_rate", value=float(arrival_rate_per_s)),
        alt.param(name="prob_block", value=float(prob_block)),
        alt.param(name="response_ms", value=float(response_ms)),
    ]
    max_rate = float(finite["arrival_rate_per_s"].max())
    x = alt.X(
        "arrival_rate_per_s:Q",
        title="arrival rate (requests per second)",
        scale=alt.Scale(domain=[0, max_rate]),
    )
    base = (
        alt.Chart(rounded(finite))
        .transform_filter(alt.datum.queue_capacity == params[0])
        .encode(color=alt.value(PALETTE[0]))
    )
    block, response = _finite_panels(base, x)
    one_row = pd.DataFrame({"row": [0]})

    def marker(y_param: str, y_title: str, log: bool) -> Any:
        scale = alt.Scale(type="log") if log else alt.Scale(domain=[0, 1])
        return (
            alt.Chart(one_row)
            .transform_calculate(x="arrival_rate", y=y_param)
            .mark_point(color=PALETTE[1], size=160)
            .encode(
                x=alt.X("x:Q", scale=alt.Scale(domain=[0, max_rate])),
                y=alt.Y("y:Q", title=y_title, scale=scale),
            )
        )

    left = alt.layer(block, marker("prob_block", "share of requests rejected", False))
    right = alt.layer(response, marker("response_ms", "mean response (ms)", True))
    return (
        alt.hconcat(left.properties(width=300), right.properties(width=300))
        .add_params(*params)
        .properties(title="One queue size: rejections (left) and response time (right)")
    )


def latency_explorer_chart(
    curves: pd.DataFrame, *, servers: int = 2, utilisation: float = 0.75
) -> Any:
    """The hockey stick with its own sliders, drawn entirely by Vega in the browser.

    The sliders are Vega-Lite params bound to range inputs, so the chart stays
    interactive wherever Vega runs: JupyterLab, a RISE slideshow, an exported deck,
    with or without a kernel. The marker sits on the tabulated point nearest the
    chosen utilisation, so ``curves`` should use a uniform utilisation grid whose
    step matches the slider's (0.01).

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`outage_kit.tables.latency_curves` with ``utilisations`` on a 0.01 grid.
    servers, utilisation : int, float
        Where the sliders start.

    Examples
    --------
    >>> import numpy as np
    >>> from outage_kit.tables import latency_curves
    >>> t = latency_curves(10.0, [1, 2], utilisations=np.arange(0, 0.995, 0.01))
    >>> spec = latency_explorer_chart(t).to_dict()
    >>> sorted(p["bind"]["input"] for p in spec["params"])
    ['range', 'range']
    """
    import altair as alt

    max_servers = int(curves["servers"].max())
    servers_p = alt.param(
        name="servers_slider",
        value=int(servers),
        bind=alt.binding_range(min=1, max=max_servers, step=1, name="servers "),
    )
    rho_p = alt.param(
        name="utilisation_slider",
        value=float(utilisation),
        bind=alt.binding_range(min=0, max=0.99, step=0.01, name="utilisation "),
    )
    x = alt.X(
        "utilisation:Q",
        title="utilisation",
        axis=alt.Axis(format="%"),
        scale=alt.Scale(domain=[0, 1]),
    )
    # A fixed y range, so that switching the server count shows the curve flatten.
    low, high = float(curves["mean_response_ms"].min()), float(curves["mean_response_ms"].max())
    y = alt.Y(
        "mean_response_ms:Q",
        title="mean response time (ms, log scale)",
        scale=alt.Scale(type="log", domain=[round(low * 0.8, 3), round(high * 1.2, 3)]),
    )
    base = alt.Chart(rounded(curves)).transform_filter(alt.datum.servers == servers_p)
    curve = base.mark_line(color=PALETTE[0]).encode(x=x, y=y)
    nearest = base.transform_filter("abs(datum.utilisation - utilisation_slider) < 0.005")
    marker = nearest.mark_point(color=PALETTE[1], size=160).encode(x=x, y=y)
    # The label sits up and to the left of the marker, so it stays inside the plot near 100 %.
    label = nearest.mark_text(align="right", dx=-12, dy=-12, fontSize=14, color=PALETTE[1]).encode(
        x=x, y=y, text=alt.Text("mean_response_ms:Q", format=",.0f")
    )
    return (
        alt.layer(curve, marker, label)
        .add_params(servers_p, rho_p)
        .properties(
            title=alt.Title(
                "Explore: mean response time (ms) at one utilisation",
                subtitle="Drag the sliders under the chart; the label is the mean response in ms",
            )
        )
    )


# --- lesson 02: timeouts and retries ----------------------------------------------------------

#: Colours of the storm measures (names from ``outage_kit.tables.STORM_MEASURES``).
STORM_COLOURS = {
    "new requests": "#000000",
    "attempts sent": PALETTE[1],
    "work done (throughput)": PALETTE[0],
    "answers in time (goodput)": PALETTE[2],
}


def _storm_layers(
    base: Any,
    *,
    capacity_per_s: float,
    spike_start_s: float,
    spike_end_s: float,
    y_max: float | None,
) -> list[Any]:
    """Spike band, capacity line and one line per measure, over ``base`` (a filtered chart)."""
    import altair as alt

    measures = list(STORM_COLOURS)
    colour = alt.Color(
        "measure:N",
        title=None,
        sort=measures,
        scale=alt.Scale(domain=measures, range=list(STORM_COLOURS.values())),
        legend=alt.Legend(orient="bottom", columns=2),
    )
    x = alt.X("time_s:Q", title="time (s)")
    y_scale = alt.Scale(domain=[0, y_max], clamp=True) if y_max else alt.Scale(zero=True)
    y = alt.Y("rate_per_s:Q", title="per second", scale=y_scale)
    one_row = pd.DataFrame({"start": [spike_start_s], "end": [spike_end_s], "label": ["spike"]})
    band = (
        alt.Chart(one_row)
        .mark_rect(color=PALETTE[4], opacity=0.15)
        .encode(x=alt.X("start:Q"), x2="end:Q")
    )
    band_label = (
        alt.Chart(one_row)
        .mark_text(align="left", baseline="top", dx=3, dy=3, color="#8a5a00", fontSize=12)
        .encode(x="start:Q", y=alt.value(0), text="label:N")
    )
    capacity = (
        alt.Chart(pd.DataFrame({"capacity": [capacity_per_s], "label": ["capacity"]}))
        .mark_rule(color="#666666", strokeDash=[6, 4], strokeWidth=1.5)
        .encode(y=alt.Y("capacity:Q", scale=y_scale))
    )
    lines = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        x=x,
        y=y,
        color=colour,
        strokeDash=alt.StrokeDash(
            "measure:N",
            title=None,
            sort=measures,
            scale=alt.Scale(domain=measures, range=[[4, 3], [1, 0], [1, 0], [1, 0]]),
            legend=alt.Legend(orient="bottom", columns=2),
        ),
        tooltip=[
            "setup:N",
            "measure:N",
            alt.Tooltip("time_s:Q", title="bin start (s)"),
            alt.Tooltip("rate_per_s:Q", title="per second", format=",.1f"),
        ],
    )
    # New requests last, so that their dashed line shows on top of the attempts.
    arrivals = lines.transform_filter(alt.datum.measure == "new requests")
    others = lines.transform_filter(alt.datum.measure != "new requests")
    return [band, band_label, capacity, others, arrivals]


def _storm_y_max(traces: pd.DataFrame, capacity_per_s: float) -> float:
    top = max(float(traces["rate_per_s"].max()), capacity_per_s)
    return float(np.ceil(top * 1.05 / 50.0) * 50.0)


def goodput_chart(
    traces: pd.DataFrame,
    *,
    capacity_per_s: float,
    spike_start_s: float,
    spike_end_s: float,
    setups: list[str] | None = None,
    title: str = "Throughput is not goodput",
    subtitle: str | None = None,
) -> Any:
    """Time series of simulated runs side by side: arrivals, attempts, throughput, goodput.

    One panel per set-up, all on the same axes, with the spike shaded and the capacity
    dashed. When goodput falls below throughput the workers are busy with attempts whose
    client has already gone (zombie work).

    Parameters
    ----------
    traces : pandas.DataFrame
        From :func:`outage_kit.tables.storm_traces`.
    capacity_per_s : float
        Requests per second the service completes when every worker is busy.
    spike_start_s, spike_end_s : float
        The spike, shaded.
    setups : list of str, optional
        Which set-ups to draw, in order (default: all, in order of appearance).
    title, subtitle : str
        The chart's title and subtitle.

    Examples
    --------
    >>> from outage_kit.retries import SpikeScenario, retry_setups
    >>> from outage_kit.tables import storm_traces
    >>> s = SpikeScenario(horizon_s=40.0)
    >>> t = storm_traces({"no retries": s.run(retry_setups(s)["no retries"])})
    >>> spec = goodput_chart(t, capacity_per_s=100.0, spike_start_s=20.0,
    ...                      spike_end_s=30.0).to_dict()
    >>> len(spec["hconcat"])
    1
    """
    import altair as alt

    names = list(dict.fromkeys(traces["setup"])) if setups is None else list(setups)
    data = rounded(traces[traces["setup"].isin(names)], 3)
    y_max = _storm_y_max(data, capacity_per_s)
    width = 520 if len(names) == 1 else max(220, 560 // len(names))
    panels = []
    for name in names:
        base = alt.Chart(data).transform_filter(alt.datum.setup == name)
        layers = _storm_layers(
            base,
            capacity_per_s=capacity_per_s,
            spike_start_s=spike_start_s,
            spike_end_s=spike_end_s,
            y_max=y_max,
        )
        panels.append(alt.layer(*layers).properties(title=name, width=width, height=240))
    if subtitle is None:
        subtitle = "Shaded: the spike of new requests; dashed line: the service's capacity"
    return alt.hconcat(*panels).properties(title=alt.Title(title, subtitle=subtitle))


def retry_storm_explorer_chart(
    traces: pd.DataFrame,
    *,
    capacity_per_s: float,
    spike_start_s: float,
    spike_end_s: float,
    setup: str | None = None,
) -> Any:
    """The same spike under each set-up, chosen with radio buttons drawn by Vega in the browser.

    The set-up is a Vega-Lite param bound to radio buttons, so the chart stays interactive
    wherever Vega runs: JupyterLab, a RISE slideshow, an exported deck, with or without a
    kernel.

    Parameters
    ----------
    traces : pandas.DataFrame
        From :func:`outage_kit.tables.storm_traces`, several set-ups.
    capacity_per_s, spike_start_s, spike_end_s : float
        As for :func:`goodput_chart`.
    setup : str, optional
        The set-up shown first (default: the first).

    Examples
    --------
    >>> t = pd.DataFrame({"setup": ["a", "b"], "time_s": [0.0, 0.0],
    ...                   "measure": ["new requests"] * 2, "rate_per_s": [1.0, 2.0]})
    >>> spec = retry_storm_explorer_chart(t, capacity_per_s=10.0, spike_start_s=1.0,
    ...                                   spike_end_s=2.0).to_dict()
    >>> spec["params"][0]["bind"]["options"]
    ['a', 'b']
    """
    import altair as alt

    names = list(dict.fromkeys(traces["setup"]))
    first = names[0] if setup is None else setup
    if first not in names:
        raise ValueError(f"setup {first!r} is not in the traces; choose one of {names}")
    choice = alt.param(
        name="setup_choice",
        value=first,
        bind=alt.binding_radio(options=names, name="set-up: "),
    )
    data = rounded(traces, 3)
    base = alt.Chart(data).transform_filter(alt.datum.setup == choice)
    layers = _storm_layers(
        base,
        capacity_per_s=capacity_per_s,
        spike_start_s=spike_start_s,
        spike_end_s=spike_end_s,
        y_max=_storm_y_max(data, capacity_per_s),
    )
    return (
        alt.layer(*layers)
        .add_params(choice)
        .properties(
            width=560,
            height=280,
            title=alt.Title(
                "Explore: the same spike, six ways to meet it",
                subtitle="Pick a set-up under the chart; does goodput come back after the spike?",
            ),
        )
    )


def tipping_chart(tipping: pd.DataFrame) -> Any:
    """Share of seeded runs left stuck after a spike, against the spike's length, per set-up.

    Parameters
    ----------
    tipping : pandas.DataFrame
        From :func:`outage_kit.tables.tipping_table`.

    Examples
    --------
    >>> t = pd.DataFrame({"setup": ["a", "a"], "spike_duration_s": [1.0, 2.0],
    ...                   "runs": [10, 10], "stuck": [1, 9], "stuck_share": [0.1, 0.9]})
    >>> tipping_chart(t).to_dict()["encoding"]["y"]["axis"]["format"]
    '%'
    """
    import altair as alt

    runs = int(tipping["runs"].max())
    return (
        alt.Chart(rounded(tipping, 4))
        .mark_line(point=True)
        .encode(
            x=alt.X("spike_duration_s:Q", title="length of the spike (s)"),
            y=alt.Y(
                "stuck_share:Q",
                title="runs stuck at the end",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color("setup:N", title=None, sort=list(dict.fromkeys(tipping["setup"]))),
            tooltip=[
                "setup:N",
                alt.Tooltip("spike_duration_s:Q", title="spike (s)"),
                alt.Tooltip("stuck:Q", title=f"stuck (of {runs})"),
            ],
        )
        .properties(
            title=alt.Title(
                "How big a trigger tips the service into a retry storm",
                subtitle=f"Share of {runs} seeded runs whose goodput had not come back at the end",
            )
        )
    )


def amplification_chart(table: pd.DataFrame, *, attempts_per_layer: int) -> Any:
    """Calls reaching the bottom service per user action, against its failure probability.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`outage_kit.tables.amplification_table`.
    attempts_per_layer : int
        The attempts per layer the table was made with (for the subtitle).

    Examples
    --------
    >>> from outage_kit.tables import amplification_table
    >>> t = amplification_table([0.0, 0.5, 1.0], 4, [1, 2, 3])
    >>> amplification_chart(t, attempts_per_layer=4).to_dict()["layer"][0]["mark"]["type"]
    'line'
    """
    import altair as alt

    data = rounded(table, 4)
    layers = sorted(int(n) for n in table["layers"].unique())
    colour = alt.Color(
        "layers:N",
        title="retrying layers",
        sort=layers,
        scale=alt.Scale(domain=layers, range=list(PALETTE[: len(layers)])),
    )
    x = alt.X(
        "failure_probability:Q",
        title="share of calls the bottom service fails",
        axis=alt.Axis(format="%"),
    )
    y = alt.Y(
        "bottom_calls:Q",
        title="calls on the bottom service (log scale)",
        scale=alt.Scale(type="log"),
    )
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                alt.Tooltip("layers:N", title="layers"),
                alt.Tooltip("failure_probability:Q", title="failing", format=".0%"),
                alt.Tooltip("bottom_calls:Q", title="calls per action", format=",.2f"),
            ],
        )
    )
    ends = alt.Chart(data).transform_filter(alt.datum.failure_probability == 1)
    labels = ends.mark_text(align="right", dx=-8, dy=-8, fontSize=14).encode(
        x=x, y=y, color=colour, text=alt.Text("bottom_calls:Q", format=",.0f")
    )
    points = ends.mark_point(size=80).encode(x=x, y=y, color=colour)
    return alt.layer(lines, points, labels).properties(
        title=alt.Title(
            "Retries multiply across layers",
            subtitle=f"Every layer makes up to {attempts_per_layer} attempts per call",
        )
    )


def jitter_chart(table: pd.DataFrame) -> Any:
    """The backoff-and-jitter experiment: writes and completion time against the client count.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`outage_kit.tables.jitter_experiment`.

    Examples
    --------
    >>> t = pd.DataFrame({"rule": ["full jitter"] * 2, "clients": [10, 20],
    ...                   "mean_calls": [40.0, 100.0], "calls_ci95": [1.0, 1.0],
    ...                   "mean_completion_ms": [400.0, 900.0], "completion_ci95_ms": [9.0, 9.0]})
    >>> len(jitter_chart(t).to_dict()["hconcat"])
    2
    """
    import altair as alt

    data = rounded(table, 3)
    rules = list(dict.fromkeys(table["rule"]))
    colour = alt.Color("rule:N", title="backoff rule", sort=rules)
    clients = sorted(int(n) for n in table["clients"].unique())
    x = alt.X(
        "clients:Q",
        title="clients contending",
        axis=alt.Axis(values=clients),
        scale=alt.Scale(domain=[clients[0], clients[-1]], nice=False),
    )
    tooltip = [
        "rule:N",
        "clients:Q",
        alt.Tooltip("mean_calls:Q", title="writes", format=",.0f"),
        alt.Tooltip("calls_ci95:Q", title="± (95 %)", format=",.0f"),
        alt.Tooltip("mean_completion_ms:Q", title="completion (ms)", format=",.0f"),
        alt.Tooltip("completion_ci95_ms:Q", title="± ms (95 %)", format=",.0f"),
    ]
    base = alt.Chart(data).encode(x=x, color=colour, tooltip=tooltip)
    calls = base.mark_line(point=True).encode(
        y=alt.Y("mean_calls:Q", title="writes per run (mean)")
    )
    time = base.mark_line(point=True).encode(
        y=alt.Y(
            "mean_completion_ms:Q",
            title="time until all have written (ms, log)",
            scale=alt.Scale(type="log"),
        )
    )
    return (
        alt.hconcat(
            calls.properties(width=280, title="Work: calls to the server"),
            time.properties(width=280, title="Time: until the last client is done"),
        )
        .resolve_scale(color="shared")
        .properties(
            title=alt.Title(
                "What jitter buys: clients contending for one record",
                subtitle="Optimistic concurrency; each client writes once; means over seeded runs",
            )
        )
    )


def retry_panel_chart(
    *,
    bin_s: float,
    bins: int,
    series: dict[str, list[float]],
    capacity_per_s: float,
    spike_start_s: float,
    spike_end_s: float,
    y_max: float | None = None,
) -> Any:
    """A panel's time-series chart whose data are Vega-Lite params (one array per measure).

    The four measures of :data:`STORM_COLOURS` arrive as params ``arrivals``, ``offered``,
    ``throughput`` and ``goodput`` (arrays of ``bins`` values), so a panel replaces a whole
    run's time series by setting four params: a small message, no chart rebuild.

    Examples
    --------
    >>> s = {k: [1.0, 2.0] for k in ("arrivals", "offered", "throughput", "goodput")}
    >>> spec = retry_panel_chart(bin_s=1.0, bins=2, series=s, capacity_per_s=10.0,
    ...                          spike_start_s=0.0, spike_end_s=1.0, y_max=20.0).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['arrivals', 'goodput', 'offered', 'throughput']
    """
    import altair as alt

    keys = {
        "arrivals": "new requests",
        "offered": "attempts sent",
        "throughput": "work done (throughput)",
        "goodput": "answers in time (goodput)",
    }
    params = [alt.param(name=key, value=[float(v) for v in series[key]]) for key in keys]
    lookup = "{" + ", ".join(f"'{k}': '{v}'" for k, v in keys.items()) + "}"
    base = (
        alt.Chart(pd.DataFrame({"i": np.arange(int(bins))}))
        .transform_calculate(
            time_s=f"datum.i * {float(bin_s)}",
            setup="'this run'",
            **{key: f"{key}[datum.i]" for key in keys},
        )
        .transform_fold(list(keys), as_=["key", "rate_per_s"])
        .transform_calculate(measure=f"{lookup}[datum.key]")
    )
    layers = _storm_layers(
        base,
        capacity_per_s=capacity_per_s,
        spike_start_s=spike_start_s,
        spike_end_s=spike_end_s,
        y_max=y_max,
    )
    return (
        alt.layer(*layers)
        .add_params(*params)
        .properties(width=560, height=260, title="This run: attempts, work done and goodput")
    )
