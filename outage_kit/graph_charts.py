"""Charts of the service graph and of the classic network cascades, in the kit's house style.

The graph is drawn at fixed positions: the hand-laid ``layer`` (row, 0 at the top) and
``column`` of each service in ``data/service_graph_nodes.csv``, so the picture never moves
between runs (graphs built in code without them are laid out by longest call path, also
deterministically). Callers sit above the services they call; an arrowhead marks the callee.

Every graph chart takes a per-node state table (:attr:`outage_kit.services.GraphState.nodes`
or any table with ``id`` and ``health``/``utilisation`` columns) and returns an altair chart.
Two variants take their colours from Vega-Lite params instead, so a control can move them
without rebuilding the chart:

* :func:`service_graph_frames_chart`: a table of precomputed frames (a time index, a load
  level...) and a param that picks the frame, optionally bound to a slider that runs in the
  browser (slides, exported decks, no kernel needed);
* :func:`service_graph_live_chart`: params holding one value per node and per edge, which a
  widget panel sets from Python (:mod:`outage_kit.graph_widgets`).

The lead will merge this module into :mod:`outage_kit.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from outage_kit import services
from outage_kit.charts import HEALTH_COLOURS, PALETTE, rounded

__all__ = [
    "GRAPH_HEALTH_COLOURS",
    "buldyrev_chart",
    "downstream_cost_chart",
    "edge_order",
    "feature_impact_chart",
    "frames_from_states",
    "graph_layout",
    "motter_lai_chart",
    "service_graph_chart",
    "service_graph_frames_chart",
    "service_graph_live_chart",
]

#: Health colours of :data:`outage_kit.services.HEALTH_LEVELS`: the kit's three, plus
#: reddish purple for a service failing because of a dependency and black for one removed.
GRAPH_HEALTH_COLOURS = {**HEALTH_COLOURS, "failing": PALETTE[3], "removed": PALETTE[6]}

#: How stacks are named on the charts.
STACK_TITLES = {"consumer": "consumer Skype", "business": "Skype for Business"}

#: Drawing size of the graph, in pixels.
GRAPH_WIDTH = 860
GRAPH_HEIGHT = 420
_GRAPH_NODE_SIZE = 620  # area of a node's circle, px^2
_GRAPH_NODE_RADIUS_PX = math.sqrt(_GRAPH_NODE_SIZE / math.pi)
_GRAPH_STATUS_TITLES = {
    "verified": "named in the public record",
    "derived": "derived",
    "assumed": "assumed for the model",
}


# --------------------------------------------------------------------------- layout


def graph_layout(graph: nx.DiGraph) -> pd.DataFrame:
    """Fixed drawing positions: ``x`` from ``column``, ``y`` from ``layer`` (0 at the top).

    Nodes without both attributes are laid out by longest call path from an entry point
    (row) and by their order in the graph (column), so the layout is deterministic either way.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``label``, ``stack``, ``status``, ``x``, ``y``, ``index`` (graph order).

    Examples
    --------
    >>> g = services.build_service_graph({"a": {"client_rate_per_s": 1.0}, "b": {}}, [("a", "b")])
    >>> graph_layout(g)[["id", "x", "y"]].values.tolist()
    [['a', 0.0, 0.0], ['b', 0.0, 1.0]]
    """
    nodes = list(graph.nodes)
    fixed = all("layer" in graph.nodes[n] and "column" in graph.nodes[n] for n in nodes)
    explicit = fixed and any(graph.nodes[n]["column"] != 0 for n in nodes)
    if explicit:
        x = [float(graph.nodes[n]["column"]) for n in nodes]
        y = [float(graph.nodes[n]["layer"]) for n in nodes]
    else:
        depth = dict.fromkeys(nodes, 0)
        for node in nx.topological_sort(graph):
            for _, callee in graph.out_edges(node):
                depth[callee] = max(depth[callee], depth[node] + 1)
        seen: dict[int, int] = {}
        x, y = [], []
        for node in nodes:
            row = depth[node]
            x.append(float(seen.get(row, 0)))
            seen[row] = seen.get(row, 0) + 1
            y.append(float(row))
    return pd.DataFrame(
        {
            "id": nodes,
            "label": [str(graph.nodes[n].get("label", n)) for n in nodes],
            "stack": [str(graph.nodes[n].get("stack", "main")) for n in nodes],
            "status": [str(graph.nodes[n].get("status", "assumed")) for n in nodes],
            "x": x,
            "y": y,
            "index": range(len(nodes)),
        }
    )


def edge_order(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """Edges in caller order, then call order: the order of ``GraphState.edges``.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> edge_order(g)[:2]
    [('sign_in', 'auth'), ('sign_in', 'client_config')]
    """
    index = {node: i for i, node in enumerate(graph.nodes)}
    return [
        (u, v)
        for u, v, _ in sorted(
            graph.edges(data=True), key=lambda e: (index[e[0]], e[2].get("order", 0))
        )
    ]


def _graph_domains(layout: pd.DataFrame) -> tuple[list[float], list[float]]:
    x0, x1 = float(layout["x"].min()), float(layout["x"].max())
    y0, y1 = float(layout["y"].min()), float(layout["y"].max())
    return [x0 - 0.55, x1 + 0.85], [y0 - 0.85, y1 + 0.6]


def _graph_edge_geometry(graph: nx.DiGraph, layout: pd.DataFrame) -> pd.DataFrame:
    """Segments between node centres, and an arrowhead just outside each callee's circle."""
    pos = layout.set_index("id")
    xdom, ydom = _graph_domains(layout)
    sx = GRAPH_WIDTH / (xdom[1] - xdom[0])
    sy = GRAPH_HEIGHT / (ydom[1] - ydom[0])
    rows = []
    for i, (u, v) in enumerate(edge_order(graph)):
        x1, y1 = pos.loc[u, "x"], pos.loc[u, "y"]
        x2, y2 = pos.loc[v, "x"], pos.loc[v, "y"]
        dx_px, dy_px = (x2 - x1) * sx, (y2 - y1) * sy  # y grows downwards on screen
        length = math.hypot(dx_px, dy_px)
        back = min(0.45, (_GRAPH_NODE_RADIUS_PX + 7.0) / length) if length > 0 else 0.0
        attrs = graph.edges[u, v]
        rows.append(
            {
                "edge": i,
                "caller": u,
                "callee": v,
                "x": x1,
                "y": y1,
                "x2": x2,
                "y2": y2,
                "ax": x2 - back * (x2 - x1),
                "ay": y2 - back * (y2 - y1),
                "angle": math.degrees(math.atan2(dy_px, dx_px)),
                "dependency": attrs.get("dependency", "hard"),
                "fanout": float(attrs.get("fanout", 1.0)),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- shared layers


def _graph_scale_objects(layout: pd.DataFrame) -> tuple[Any, Any]:
    import altair as alt

    xdom, ydom = _graph_domains(layout)
    return alt.Scale(domain=xdom), alt.Scale(domain=ydom, reverse=True)


def _graph_scales(layout: pd.DataFrame, x_field: str = "x", y_field: str = "y") -> tuple[Any, Any]:
    import altair as alt

    xs, ys = _graph_scale_objects(layout)
    return alt.X(f"{x_field}:Q", scale=xs, axis=None), alt.Y(f"{y_field}:Q", scale=ys, axis=None)


def _graph_stack_boxes(layout: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for stack, part in layout.groupby("stack", sort=False):
        rows.append(
            {
                "stack": stack,
                "title": STACK_TITLES.get(stack, stack.replace("_", " ")),
                "x": float(part["x"].min()) - 0.45,
                "x2": float(part["x"].max()) + 0.45,
                "y": float(part["y"].min()) - 0.38,
                "y2": float(part["y"].max()) + 0.5,
            }
        )
    return pd.DataFrame(rows)


def _graph_background(layout: pd.DataFrame) -> list[Any]:
    """A light box and a title behind each stack: the bulkhead made visible."""
    import altair as alt

    if layout["stack"].nunique() < 2:
        return []
    x, y = _graph_scales(layout)
    boxes = alt.Chart(_graph_stack_boxes(layout))
    box = boxes.mark_rect(
        fill="#f2f2f2", stroke="#bdbdbd", strokeDash=[4, 4], cornerRadius=8
    ).encode(x=x, x2="x2:Q", y=y, y2="y2:Q")
    title = boxes.mark_text(
        align="left", baseline="top", dx=6, dy=4, fontSize=14, fontStyle="italic", color="#555"
    ).encode(x=x, y=y, text="title:N")
    return [box, title]


def _graph_edge_layers(
    edges: Any,
    layout: pd.DataFrame,
    rate_field: str,
    domain: list[float],
    rate_title: tuple[str, str] = ("attempts", "per second"),
) -> list:
    """Edges as lines whose width and colour follow the attempt rate (log scale)."""
    import altair as alt

    x, y = _graph_scales(layout)
    colour_scale = alt.Scale(type="log", domain=domain, range=["#c6dbef", PALETTE[0]], clamp=True)
    tooltip = [
        alt.Tooltip("caller:N", title="caller"),
        alt.Tooltip("callee:N", title="callee"),
        alt.Tooltip("dependency:N"),
        alt.Tooltip("fanout:Q", title="calls per request"),
        alt.Tooltip(f"{rate_field}:Q", title=" ".join(rate_title), format=",.4~g"),
    ]
    line = edges.mark_rule(opacity=0.85).encode(
        x=x,
        y=y,
        x2="x2:Q",
        y2="y2:Q",
        strokeWidth=alt.StrokeWidth(
            f"{rate_field}:Q",
            scale=alt.Scale(type="log", domain=domain, range=[1, 9], clamp=True),
            legend=None,
        ),
        color=alt.Color(
            f"{rate_field}:Q",
            scale=colour_scale,
            title=list(rate_title),
            legend=alt.Legend(format="~s", orient="right", gradientLength=120),
        ),
        strokeDash=alt.StrokeDash(
            "dependency:N",
            scale=alt.Scale(domain=["hard", "soft"], range=[[1, 0], [5, 3]]),
            title="dependency",
            legend=alt.Legend(orient="right", symbolType="stroke", symbolStrokeWidth=2),
        ),
        tooltip=tooltip,
    )
    ax, ay = _graph_scales(layout, "ax", "ay")
    head = edges.mark_point(shape="triangle-right", filled=True, size=70, opacity=0.9).encode(
        x=ax,
        y=ay,
        angle=alt.Angle("angle:Q", scale=None),
        color=alt.Color(f"{rate_field}:Q", legend=None, scale=colour_scale),
        tooltip=tooltip,
    )
    return [line, head]


def _graph_health_colour(field: str = "health", title: str = "health") -> Any:
    import altair as alt

    levels = list(services.HEALTH_LEVELS)
    return alt.Color(
        f"{field}:N",
        scale=alt.Scale(domain=levels, range=[GRAPH_HEALTH_COLOURS[h] for h in levels]),
        title=title,
        legend=alt.Legend(orient="right"),
    )


def _graph_utilisation_colour(field: str = "utilisation") -> Any:
    import altair as alt

    return alt.Color(
        f"{field}:Q",
        scale=alt.Scale(
            domain=[0.0, 0.7, 0.9, 1.0, 1.5],
            range=[
                HEALTH_COLOURS["healthy"],
                HEALTH_COLOURS["healthy"],
                HEALTH_COLOURS["degraded"],
                HEALTH_COLOURS["overloaded"],
                HEALTH_COLOURS["overloaded"],
            ],
            clamp=True,
        ),
        title="utilisation",
        legend=alt.Legend(format="%", orient="right", gradientLength=120),
    )


def _graph_node_layers(nodes: Any, layout: pd.DataFrame, colour: Any, extra_tooltip: list) -> list:
    import altair as alt

    x, y = _graph_scales(layout)
    tooltip = [alt.Tooltip("name:N", title="service"), *extra_tooltip]
    circle = nodes.mark_point(
        filled=True, size=_GRAPH_NODE_SIZE, opacity=1, stroke="white", strokeWidth=2
    ).encode(x=x, y=y, color=colour, tooltip=tooltip)
    halo = nodes.mark_text(
        dy=_GRAPH_NODE_RADIUS_PX + 10,
        fontSize=14,
        stroke="white",
        strokeWidth=4,
        strokeJoin="round",
    ).encode(x=x, y=y, text="label:N")
    text = nodes.mark_text(dy=_GRAPH_NODE_RADIUS_PX + 10, fontSize=14, color="#222").encode(
        x=x, y=y, text="label:N", tooltip=tooltip
    )
    return [circle, halo, text]


def _graph_node_frame(graph: nx.DiGraph, layout: pd.DataFrame) -> pd.DataFrame:
    frame = layout.copy()
    frame["name"] = [str(graph.nodes[n].get("name", n)) for n in frame["id"]]
    frame["status_title"] = [_GRAPH_STATUS_TITLES.get(s, s) for s in frame["status"]]
    return frame


def _graph_title(title: str | None, subtitle: str | None, default: str) -> Any:
    import altair as alt

    return alt.Title(title or default, subtitle=subtitle or "")


def _graph_rate_domain(rates: pd.Series) -> list[float]:
    positive = rates[rates > 0]
    if positive.empty:
        return [1.0, 10.0]
    low = 10 ** math.floor(math.log10(float(positive.min())))
    high = 10 ** math.ceil(math.log10(float(positive.max())))
    return [float(low), float(max(high, low * 10))]


# --------------------------------------------------------------------------- static chart


def service_graph_chart(
    graph: nx.DiGraph,
    nodes: pd.DataFrame | None = None,
    edges: pd.DataFrame | None = None,
    *,
    colour: str = "health",
    title: str | None = None,
    subtitle: str | None = None,
) -> Any:
    """The service graph, coloured by each service's state.

    Parameters
    ----------
    graph : networkx.DiGraph
        The service graph (positions, labels, dependencies).
    nodes : pandas.DataFrame, optional
        Per-node state with an ``id`` column and the colour field: ``health`` (one of
        :data:`outage_kit.services.HEALTH_LEVELS`) or ``utilisation``; other columns
        (``offered_per_s``, ``utilisation``, ``failure_share``) join the tooltip. Not
        needed for ``colour="status"``.
    edges : pandas.DataFrame, optional
        Per-edge state with ``caller``, ``callee`` and ``attempts_per_s``; without it edges
        are drawn by their fan-out.
    colour : str
        ``"health"``, ``"utilisation"`` or ``"status"`` (named in the record or assumed; the
        structure, without any state).
    title, subtitle : str, optional
        Chart title.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> state = services.steady_state(g)
    >>> spec = service_graph_chart(g, state.nodes, state.edges).to_dict()
    >>> len(spec["layer"])
    7
    """
    import altair as alt

    layout = graph_layout(graph)
    node_table = _graph_node_frame(graph, layout)
    extra: list[Any] = []
    if colour == "status":
        colour_enc = alt.Color(
            "status_title:N",
            scale=alt.Scale(
                domain=[_GRAPH_STATUS_TITLES["verified"], _GRAPH_STATUS_TITLES["assumed"]],
                range=[PALETTE[0], PALETTE[4]],
            ),
            title="service",
            legend=alt.Legend(orient="right"),
        )
        extra = [alt.Tooltip("status_title:N", title="status")]
    else:
        if nodes is None:
            raise ValueError(f"colour={colour!r} needs a per-node state table (nodes=...)")
        if colour not in ("health", "utilisation"):
            raise ValueError(f"colour must be 'health', 'utilisation' or 'status', got {colour!r}")
        state = nodes.set_index("id")
        missing = set(node_table["id"]) - set(state.index)
        if missing:
            raise ValueError(f"the state table has no row for {sorted(missing)}")
        for column in ("health", "utilisation", "offered_per_s", "failure_share"):
            if column in state.columns:
                node_table[column] = state.loc[node_table["id"], column].to_numpy()
        if colour not in node_table.columns:
            raise ValueError(f"the state table has no {colour!r} column")
        colour_enc = _graph_health_colour() if colour == "health" else _graph_utilisation_colour()
        if "health" in node_table.columns:
            extra.append(alt.Tooltip("health:N"))
        for column, title_text, fmt in (
            ("utilisation", "utilisation", ".0%"),
            ("offered_per_s", "offered (per s)", ",.0f"),
            ("failure_share", "requests failing", ".0%"),
        ):
            if column in node_table.columns:
                extra.append(alt.Tooltip(f"{column}:Q", title=title_text, format=fmt))
    edge_table = _graph_edge_geometry(graph, layout)
    if edges is not None:
        rates = edges.set_index(["caller", "callee"])["attempts_per_s"]
        edge_table["attempts_per_s"] = [
            float(rates.get((u, v), 0.0))
            for u, v in zip(edge_table["caller"], edge_table["callee"], strict=True)
        ]
    else:
        edge_table["attempts_per_s"] = edge_table["fanout"]
    domain = _graph_rate_domain(edge_table["attempts_per_s"])
    edge_table["attempts_per_s"] = np.maximum(edge_table["attempts_per_s"], domain[0])
    edge_chart = alt.Chart(rounded(edge_table))
    node_chart = alt.Chart(rounded(node_table))
    layers = [
        *_graph_background(layout),
        *_graph_edge_layers(
            edge_chart,
            layout,
            "attempts_per_s",
            domain,
            ("attempts", "per second") if edges is not None else ("calls per", "request"),
        ),
        *_graph_node_layers(node_chart, layout, colour_enc, extra),
    ]
    default = "The service graph" if colour == "status" else "Every service's state"
    return (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(
            width=GRAPH_WIDTH, height=GRAPH_HEIGHT, title=_graph_title(title, subtitle, default)
        )
    )


# --------------------------------------------------------------------------- frames


def frames_from_states(states: Mapping[float, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frame tables for :func:`service_graph_frames_chart` from states keyed by frame value.

    Parameters
    ----------
    states : mapping
        Frame value (a number) to a :class:`~outage_kit.services.GraphState`.

    Returns
    -------
    nodes, edges : pandas.DataFrame
        ``GraphState.nodes`` and ``GraphState.edges`` of every state, with a ``frame`` column.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> nodes, edges = frames_from_states({1.0: services.steady_state(g)})
    >>> len(nodes) == len(g), sorted(set(edges["frame"]))
    (True, [1.0])
    """
    nodes = pd.concat([s.nodes.assign(frame=float(f)) for f, s in states.items()])
    edges = pd.concat([s.edges.assign(frame=float(f)) for f, s in states.items()])
    return nodes.reset_index(drop=True), edges.reset_index(drop=True)


def service_graph_frames_chart(
    graph: nx.DiGraph,
    frames_nodes: pd.DataFrame,
    frames_edges: pd.DataFrame,
    *,
    param_name: str = "frame",
    value: float | None = None,
    slider: str | None = None,
    captions: Mapping[float, str] | None = None,
    colour: str = "health",
    title: str | None = None,
    subtitle: str | None = None,
) -> Any:
    """The service graph over many precomputed frames; a Vega-Lite param picks the frame.

    Parameters
    ----------
    graph : networkx.DiGraph
        The service graph.
    frames_nodes : pandas.DataFrame
        One row per frame and service: ``frame`` (a number: a time, a load level...), ``id``
        and ``health`` (or ``utilisation``); ``utilisation`` and ``offered_per_s`` join the
        tooltip.
    frames_edges : pandas.DataFrame
        One row per frame and edge: ``frame``, ``caller``, ``callee``, ``attempts_per_s``.
    param_name : str
        Name of the Vega-Lite param holding the frame (a widget or a later time slider sets
        it; with ``slider`` it is bound to a range input).
    value : float, optional
        The frame shown first (default: the first).
    slider : str, optional
        If given, bind the param to a slider with this label, running in the browser (works
        in slides and exported decks, with no kernel). Frames must then be evenly spaced.
    captions : mapping, optional
        Frame to a one-line caption shown above the graph (e.g. what users see).
    colour : str
        ``"health"`` or ``"utilisation"``.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> states = {f: services.steady_state(g, services.baseline_client_rates(g, f))
    ...           for f in (1.0, 2.0)}
    >>> nodes = pd.concat([s.nodes.assign(frame=f) for f, s in states.items()])
    >>> edges = pd.concat([s.edges.assign(frame=f) for f, s in states.items()])
    >>> spec = service_graph_frames_chart(g, nodes, edges, slider="load x").to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('frame', 'range')]
    """
    import altair as alt

    if colour not in ("health", "utilisation"):
        raise ValueError(f"colour must be 'health' or 'utilisation', got {colour!r}")
    frames = np.sort(frames_nodes["frame"].unique()).astype(float)
    if frames.size == 0:
        raise ValueError("frames_nodes has no rows")
    step = float(np.min(np.diff(frames))) if frames.size > 1 else 1.0
    if slider is not None and frames.size > 2 and not np.allclose(np.diff(frames), step):
        raise ValueError("a slider needs evenly spaced frames")
    first = float(frames[0] if value is None else value)
    bind = (
        alt.binding_range(
            min=float(frames[0]), max=float(frames[-1]), step=round(step, 10), name=slider
        )
        if slider is not None
        else None
    )
    frame_p = (
        alt.param(name=param_name, value=first, bind=bind)
        if bind
        else alt.param(name=param_name, value=first)
    )
    pick = f"abs(datum.frame - {param_name}) < {step / 2}"

    layout = graph_layout(graph)
    base_nodes = _graph_node_frame(graph, layout)
    table = frames_nodes.merge(base_nodes, on="id", how="inner", suffixes=("_state", ""))
    keep = ["frame", "id", "label", "name", "x", "y", colour]
    keep += [c for c in ("utilisation", "offered_per_s") if c not in keep and c in table]
    node_chart = alt.Chart(rounded(table[keep])).transform_filter(pick)
    geometry = _graph_edge_geometry(graph, layout)
    edge_table = frames_edges[["frame", "caller", "callee", "attempts_per_s"]].merge(
        geometry, on=["caller", "callee"], how="inner"
    )
    domain = _graph_rate_domain(edge_table["attempts_per_s"])
    edge_table["attempts_per_s"] = np.maximum(edge_table["attempts_per_s"], domain[0])
    edge_chart = alt.Chart(rounded(edge_table)).transform_filter(pick)

    extra = [alt.Tooltip("utilisation:Q", format=".0%")]
    if "offered_per_s" in keep:
        extra.append(alt.Tooltip("offered_per_s:Q", title="offered (per s)", format=",.0f"))
    colour_enc = _graph_health_colour() if colour == "health" else _graph_utilisation_colour()
    layers = [
        *_graph_background(layout),
        *_graph_edge_layers(edge_chart, layout, "attempts_per_s", domain),
        *_graph_node_layers(node_chart, layout, colour_enc, extra),
    ]
    if captions:
        cx, cy = _graph_scales(layout, "cx", "cy")
        caption_table = pd.DataFrame(
            {"frame": [float(k) for k in captions], "caption": list(captions.values())}
        )
        xdom, ydom = _graph_domains(layout)
        layers.append(
            alt.Chart(caption_table)
            .transform_filter(pick)
            .transform_calculate(cx=str(xdom[0] + 0.05), cy=str(ydom[0] + 0.05))
            .mark_text(align="left", baseline="top", fontSize=15, fontWeight="bold")
            .encode(
                x=cx,
                y=cy,
                text="caption:N",
                color=alt.value(PALETTE[1]),
            )
        )
    return (
        alt.layer(*layers)
        .add_params(frame_p)
        .resolve_scale(color="independent")
        .properties(
            width=GRAPH_WIDTH,
            height=GRAPH_HEIGHT,
            title=_graph_title(title, subtitle, "The service graph, frame by frame"),
        )
    )


# --------------------------------------------------------------------------- live (params)

#: Names of the params of :func:`service_graph_live_chart`.
LIVE_PARAMS = ("node_health", "node_utilisation", "edge_rate")


def service_graph_live_chart(
    graph: nx.DiGraph,
    node_health: Sequence[str],
    node_utilisation: Sequence[float],
    edge_rate: Sequence[float],
    *,
    title: str | None = None,
    subtitle: str | None = None,
) -> Any:
    """The service graph whose node colours and edge widths are Vega-Lite params (for panels).

    Params ``node_health`` (one of :data:`outage_kit.services.HEALTH_LEVELS` per node, in graph
    order), ``node_utilisation`` (per node) and ``edge_rate`` (attempts per second per edge,
    in :func:`edge_order`). A widget panel sets them from Python: one small message, no
    rebuilt chart.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> n, e = g.number_of_nodes(), g.number_of_edges()
    >>> spec = service_graph_live_chart(g, ["healthy"] * n, [0.5] * n, [10.0] * e).to_dict()
    >>> sorted(p["name"] for p in spec["params"])
    ['edge_rate', 'node_health', 'node_utilisation']
    """
    import altair as alt

    layout = graph_layout(graph)
    n_nodes, n_edges = graph.number_of_nodes(), graph.number_of_edges()
    if len(node_health) != n_nodes or len(node_utilisation) != n_nodes:
        raise ValueError(f"give one health and one utilisation per node ({n_nodes})")
    if len(edge_rate) != n_edges:
        raise ValueError(f"give one rate per edge ({n_edges})")
    params = [
        alt.param(name="node_health", value=list(node_health)),
        alt.param(name="node_utilisation", value=[float(u) for u in node_utilisation]),
        alt.param(name="edge_rate", value=[float(r) for r in edge_rate]),
    ]
    node_table = _graph_node_frame(graph, layout)[["id", "label", "name", "x", "y", "index"]]
    node_chart = alt.Chart(rounded(node_table)).transform_calculate(
        health="node_health[datum.index]",
        utilisation="node_utilisation[datum.index]",
    )
    geometry = _graph_edge_geometry(graph, layout)
    edge_chart = alt.Chart(rounded(geometry)).transform_calculate(
        attempts_per_s="max(edge_rate[datum.edge], 1)"
    )
    domain = [1.0, 1e7]
    extra = [
        alt.Tooltip("health:N"),
        alt.Tooltip("utilisation:Q", format=".0%"),
    ]
    layers = [
        *_graph_background(layout),
        *_graph_edge_layers(edge_chart, layout, "attempts_per_s", domain),
        *_graph_node_layers(node_chart, layout, _graph_health_colour(), extra),
    ]
    return (
        alt.layer(*layers)
        .add_params(*params)
        .resolve_scale(color="independent")
        .properties(
            width=GRAPH_WIDTH,
            height=GRAPH_HEIGHT,
            title=_graph_title(title, subtitle, "Every service's state"),
        )
    )


# --------------------------------------------------------------------------- other charts


def downstream_cost_chart(cost: Mapping[str, float], graph: nx.DiGraph, entry: str) -> Any:
    """Requests each service handles for one user request at ``entry`` (bars, by service).

    Parameters
    ----------
    cost : mapping
        From :func:`outage_kit.services.downstream_cost`.
    graph : networkx.DiGraph
        For the labels and statuses.
    entry : str
        The entry point, for the title.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> spec = downstream_cost_chart(services.downstream_cost(g, "sign_in"), g, "sign_in")
    >>> spec.to_dict()["layer"][0]["mark"]["type"]
    'bar'
    """
    import altair as alt

    rows = [
        {
            "service": graph.nodes[n].get("label", n),
            "requests": float(value),
            "status": _GRAPH_STATUS_TITLES.get(graph.nodes[n].get("status", "assumed")),
        }
        for n, value in cost.items()
        if value > 0
    ]
    table = rounded(pd.DataFrame(rows)).sort_values("requests", ascending=False)
    label = graph.nodes[entry].get("label", entry)
    y = alt.Y("service:N", sort=list(table["service"]), title=None)
    numbers = (
        alt.Chart(table)
        .mark_text(align="left", dx=4, fontSize=13)
        .encode(y=y, x="requests:Q", text=alt.Text("requests:Q", format=",.4~g"))
    )
    bars = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            y=alt.Y("service:N", sort=list(table["service"]), title=None),
            x=alt.X("requests:Q", title=f"requests per {label} (fan-out products summed)"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=[_GRAPH_STATUS_TITLES["verified"], _GRAPH_STATUS_TITLES["assumed"]],
                    range=[PALETTE[0], PALETTE[4]],
                ),
                title="service",
            ),
            tooltip=["service:N", alt.Tooltip("requests:Q", format=",.2f"), "status:N"],
        )
    )
    return alt.layer(bars, numbers).properties(
        width=480,
        title=alt.Title(
            f"What one {label} costs downstream",
            subtitle="Requests each service handles per user request (fan-outs assumed)",
        ),
    )


def feature_impact_chart(impact: pd.DataFrame, graph: nx.DiGraph) -> Any:
    """Which features each service's loss takes down: a grid of down / degraded / ok.

    Parameters
    ----------
    impact : pandas.DataFrame
        From :func:`outage_kit.services.feature_impact`.

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> spec = feature_impact_chart(services.feature_impact(g), g).to_dict()
    >>> spec["layer"][0]["mark"]["type"]
    'rect'
    """
    import altair as alt

    features = [c for c in impact.columns if c not in ("service", "features_down")]
    long = impact.melt(
        id_vars=["service"], value_vars=features, var_name="feature", value_name="effect"
    )
    label = {n: str(graph.nodes[n].get("label", n)) for n in graph.nodes}
    long["service"] = long["service"].map(label)
    long["feature"] = long["feature"].map(label)
    order_services = [
        label[s]
        for s in impact.sort_values("features_down", ascending=False, kind="stable")["service"]
    ]
    order_features = [label[f] for f in features]
    effects = ["down", "degraded", "ok"]
    base = alt.Chart(long).encode(
        x=alt.X(
            "feature:N",
            sort=order_features,
            title="user-facing feature",
            axis=alt.Axis(labelAngle=-30),
        ),
        y=alt.Y("service:N", sort=order_services, title="service lost"),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "effect:N",
            scale=alt.Scale(
                domain=effects,
                range=[HEALTH_COLOURS["overloaded"], HEALTH_COLOURS["degraded"], "#e8f5ef"],
            ),
            title="feature",
        ),
        tooltip=["service:N", "feature:N", "effect:N"],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("effect:N"),
        color=alt.condition("datum.effect == 'ok'", alt.value("#777"), alt.value("white")),
    )
    return alt.layer(cells, text).properties(
        width=560,
        height=420,
        title=alt.Title(
            "Which losses take which features down",
            subtitle="From the structure alone: hard calls all the way means down; soft, degraded",
        ),
    )


def motter_lai_chart(table: pd.DataFrame) -> Any:
    """Motter–Lai: damage ``G = N'/N`` against tolerance α, by network and removal.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`outage_kit.cascades.motter_lai_experiment`.

    Examples
    --------
    >>> t = pd.DataFrame({"network": ["scale-free"] * 2, "removal": ["random", "highest load"],
    ...                   "alpha": [0.1, 0.1], "giant_fraction": [0.99, 0.05]})
    >>> motter_lai_chart(t).to_dict()["mark"]["type"]
    'line'
    """
    import altair as alt

    data = rounded(table.assign(series=table["network"] + ", " + table["removal"] + " removed"))
    order = [
        "scale-free, highest load removed",
        "scale-free, random removed",
        "homogeneous, highest load removed",
        "homogeneous, random removed",
    ]
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("alpha:Q", title="tolerance α (capacity = (1 + α) × initial load)"),
            y=alt.Y(
                "giant_fraction:Q",
                title="G: largest component left",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=alt.Color(
                "series:N",
                sort=order,
                scale=alt.Scale(
                    domain=order, range=[PALETTE[1], PALETTE[4], PALETTE[0], PALETTE[5]]
                ),
                title=None,
                legend=alt.Legend(orient="right", labelLimit=320),
            ),
            strokeDash=alt.StrokeDash(
                "removal:N",
                scale=alt.Scale(domain=["highest load", "random"], range=[[1, 0], [5, 3]]),
                legend=None,
            ),
            tooltip=[
                "network:N",
                "removal:N",
                alt.Tooltip("alpha:Q", title="α"),
                alt.Tooltip("giant_fraction:Q", title="G", format=".1%"),
            ],
        )
        .properties(
            width=520,
            title=alt.Title(
                "Motter–Lai: one node's loss, and the overload cascade it sets off",
                subtitle="Load: shortest paths through a node. Seeded networks, same size, degree",
            ),
        )
    )


def buldyrev_chart(
    simulation: pd.DataFrame, theory: pd.DataFrame, threshold: float, mean_degree: float
) -> Any:
    """Buldyrev et al.: giant component against ``p⟨k⟩``, one network and two coupled.

    Parameters
    ----------
    simulation : pandas.DataFrame
        From :func:`outage_kit.cascades.buldyrev_simulation` (drawn as circles).
    theory : pandas.DataFrame
        From :func:`outage_kit.cascades.buldyrev_theory` (drawn as lines).
    threshold : float
        ``p_c⟨k⟩`` of the coupled pair (:func:`outage_kit.cascades.buldyrev_threshold`).
    mean_degree : float
        ``⟨k⟩`` of the simulated networks (for the subtitle).

    Examples
    --------
    >>> sim = pd.DataFrame({"p_mean_degree": [2.0, 3.0], "single_simulated": [0.4, 0.7],
    ...                     "coupled_simulated": [0.0, 0.64]})
    >>> theory = pd.DataFrame({"p_mean_degree": [2.0, 3.0], "single_theory": [0.4, 0.7],
    ...                        "coupled_theory": [0.0, 0.64]})
    >>> len(buldyrev_chart(sim, theory, 2.4554, 4.0).to_dict()["layer"])
    4
    """
    import altair as alt

    names = {
        "single_theory": "one network",
        "coupled_theory": "two interdependent networks",
        "single_simulated": "one network",
        "coupled_simulated": "two interdependent networks",
    }
    lines_table = theory.melt(
        id_vars=["p_mean_degree"],
        value_vars=["single_theory", "coupled_theory"],
        var_name="which",
        value_name="fraction",
    )
    points_table = simulation.melt(
        id_vars=["p_mean_degree"],
        value_vars=["single_simulated", "coupled_simulated"],
        var_name="which",
        value_name="fraction",
    )
    lines_table["network"] = lines_table["which"].map(names)
    points_table["network"] = points_table["which"].map(names)
    domain = ["one network", "two interdependent networks"]
    colour = alt.Color(
        "network:N",
        scale=alt.Scale(domain=domain, range=[PALETTE[0], PALETTE[1]]),
        title=None,
        legend=alt.Legend(orient="bottom", labelLimit=300),
    )
    low = float(min(theory["p_mean_degree"].min(), simulation["p_mean_degree"].min()))
    high = float(max(theory["p_mean_degree"].max(), simulation["p_mean_degree"].max()))
    x = alt.X(
        "p_mean_degree:Q",
        title="share of nodes kept × mean degree",
        scale=alt.Scale(domain=[round(low, 4), round(high, 4)], nice=False),
    )
    y = alt.Y("fraction:Q", title="giant (mutually) connected component", axis=alt.Axis(format="%"))
    lines = (
        alt.Chart(rounded(lines_table, 5))
        .mark_line()
        .encode(x=x, y=y, color=colour, order="p_mean_degree:Q")
    )
    points = (
        alt.Chart(rounded(points_table))
        .mark_point(size=45, filled=False, strokeWidth=1.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                "network:N",
                alt.Tooltip("p_mean_degree:Q", title="kept × mean degree"),
                alt.Tooltip("fraction:Q", title="simulated", format=".1%"),
            ],
        )
    )
    marks = pd.DataFrame(
        {
            "p_mean_degree": [1.0, round(float(threshold), 4)],
            "label": ["1 (one network)", f"{threshold:.4f} (coupled)"],
        }
    )
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 4], color="#666").encode(x="p_mean_degree:Q")
    labels = (
        alt.Chart(marks)
        .mark_text(align="left", dx=4, dy=-6, fontSize=12, color="#444")
        .encode(x="p_mean_degree:Q", y=alt.value(12), text="label:N")
    )
    return alt.layer(lines, points, rules, labels).properties(
        width=520,
        title=alt.Title(
            "Buldyrev et al.: interdependence turns a smooth decline into a collapse",
            subtitle=(
                "Lines: theory; circles: a seeded simulation of Erdős–Rényi networks, "
                f"mean degree {mean_degree:g}"
            ),
        ),
    )
