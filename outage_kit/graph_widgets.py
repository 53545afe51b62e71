"""A widget panel over the service graph: scale the client load, remove a service, watch.

Same pattern as :mod:`outage_kit.widgets`: a pure state function,
:func:`service_graph_state`, computes the chart params and the readout (tests call it
directly), and :class:`ServiceGraphPanel` owns the controls and sets the params of an offline
``alt.JupyterChart`` (:func:`outage_kit.graph_charts.service_graph_live_chart`) on every
change: three small arrays, no rebuilt chart.

The lead will merge this module into :mod:`outage_kit.widgets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np

from outage_kit import charts, graph_charts, services
from outage_kit.widgets import Panel, _readout


def _fmt_share(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.0%}"


def service_graph_state(
    graph: nx.DiGraph,
    load_scale: float = 1.0,
    removed: str | Iterable[str] | None = None,
    *,
    stacks: Iterable[str] = ("consumer",),
) -> dict[str, Any]:
    """Chart params and readout of the service-graph panel for one setting of its controls.

    Parameters
    ----------
    graph : networkx.DiGraph
        The service graph.
    load_scale : float
        Multiplier on the baseline client rates of ``stacks`` (the other stacks keep theirs).
    removed : str or iterable of str, optional
        Service(s) taken out of the graph ("" or None: none).
    stacks : iterable of str
        Stacks whose clients ``load_scale`` scales (default: consumer Skype only, whose
        clients the 2015 push disconnected).

    Returns
    -------
    dict
        ``params`` (``node_health``, ``node_utilisation``, ``edge_rate``: lists in graph and
        edge order), ``readout`` (HTML), ``stable`` (every service in a steady state) and
        ``state`` (the :class:`~outage_kit.services.GraphState`).

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> state = service_graph_state(g, 1.0, "presence")
    >>> state["params"]["node_health"][list(g.nodes).index("presence")]
    'removed'
    >>> service_graph_state(g, 2.0)["stable"]
    False
    """
    if removed is None or removed == "":
        gone: tuple[str, ...] = ()
    elif isinstance(removed, str):
        gone = (removed,)
    else:
        gone = tuple(r for r in removed if r)
    rates = services.baseline_client_rates(graph, load_scale, stacks=stacks)
    state = services.steady_state(graph, rates, removed=gone)
    nodes = state.nodes
    edges = state.edges
    utilisation = np.nan_to_num(nodes["utilisation"].to_numpy(dtype=float), nan=0.0)
    params = {
        "node_health": [str(h) for h in nodes["health"]],
        "node_utilisation": [round(float(u), 4) for u in utilisation],
        "edge_rate": [round(float(r), 2) for r in edges["attempts_per_s"]],
    }
    entries = nodes[nodes["entry"]]
    working = entries[entries["user_success_share"] >= 0.99]
    troubled = nodes[nodes["health"].isin(["overloaded", "failing"])]
    label = dict(zip(nodes["id"], nodes["label"], strict=True))
    rows = [
        ("client load (consumer Skype)", f"{load_scale:g} × normal"),
        ("service removed", ", ".join(label[g] for g in gone) if gone else "none"),
        ("user-facing features working", f"{len(working)} of {len(entries)}"),
    ]
    for entry in ("sign_in", "skype_for_business"):
        if entry in label:
            share = float(nodes.set_index("id").loc[entry, "user_success_share"])
            rows.append((f"{label[entry]}: requests that succeed", _fmt_share(share)))
    rows.append(
        (
            "overloaded or failing",
            ", ".join(label[n] for n in troubled["id"]) if len(troubled) else "none",
        )
    )
    stable = bool((nodes["utilisation"].fillna(0.0) < 1.0).all())
    warning = None
    if not state.converged:
        warning = "The model did not settle on a steady state; read these numbers with care."
    return {
        "params": params,
        "readout": _readout(rows, warning),
        "stable": stable,
        "state": state,
    }


class ServiceGraphPanel(Panel):
    """A client-load slider and a "remove a service" menu over the service graph (lesson 03).

    ``graph`` defaults to the 2015 graph of ``data/``
    (:func:`outage_kit.services.load_service_graph`).

    Examples
    --------
    >>> g = services.load_service_graph()
    >>> panel = ServiceGraphPanel(g)
    >>> set(panel.chart.params.node_health)
    {'healthy'}
    >>> panel.removed.value = "user_directory"
    >>> panel.chart.params.node_health.count("overloaded") > 3
    True
    >>> ServiceGraphPanel().graph.number_of_nodes() == g.number_of_nodes()
    True
    """

    def __init__(
        self,
        graph: nx.DiGraph | None = None,
        load_scale: float = 1.0,
        removed: str = "",
        max_scale: float = 2.5,
    ) -> None:
        import ipywidgets as w

        if graph is None:
            graph = services.load_service_graph()
        self.graph = graph
        first = service_graph_state(graph, load_scale, removed)["params"]
        self.chart = charts.interactive(
            graph_charts.service_graph_live_chart(
                graph,
                first["node_health"],
                first["node_utilisation"],
                first["edge_rate"],
                subtitle="Move the load, or remove a service, and watch the colours",
            )
        )
        self.load = w.FloatSlider(
            value=load_scale,
            min=0.5,
            max=max_scale,
            step=0.05,
            description="load ×",
            continuous_update=False,
        )
        options = [("nothing", "")] + [
            (str(graph.nodes[n].get("label", n)), n) for n in graph.nodes
        ]
        self.removed = w.Dropdown(options=options, value=removed, description="remove")
        self.controls = [self.load, self.removed]
        self._build()

    def state(self) -> dict:
        return service_graph_state(self.graph, self.load.value, self.removed.value)
