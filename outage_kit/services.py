"""The service dependency graph: load fan-out, overload, retries across layers, isolation.

A Skype sign-in is not one request to one queue: the sign-in service calls authentication, the
contact list, presence and messaging, and some of those call others. This module holds that
graph and what load does to it.

The graph
---------
A :class:`networkx.DiGraph` whose nodes are services and whose edges are calls, caller to
callee (loaded from ``data/service_graph_nodes.csv`` and ``data/service_graph_edges.csv`` by
:func:`load_service_graph`, or built in code by :func:`build_service_graph`).

Node attributes: ``workers`` (servers ``c``), ``service_rate_per_s`` (requests one worker
completes per second of its *own* work, μ), ``client_rate_per_s`` (user requests per second
arriving from clients; nonzero only at entry points), ``entry`` (bool: clients call it),
``stack`` (which product stack it belongs to), ``label``, ``name``, ``layer`` and ``column``
(a hand-laid drawing position), and the provenance columns of the data file.

Edge attributes: ``fanout`` (calls to the callee per request the caller handles), ``dependency``
(``"hard"``: the caller's request fails when the call fails; ``"soft"``: it only degrades),
``timeout_s`` (how long the caller waits for one attempt), ``max_attempts`` (the caller's retry
limit) and ``order`` (the caller makes its calls in this order).

Load propagation
----------------
With no failures, the rate offered to a service is the client rate plus, over every caller,
the caller's rate times the fan-out: :func:`propagate_load`. On a graph without cycles this is
the sum over all paths from the entry points of the products of the fan-outs along each path.

Overload and retries (the model of :class:`GraphModel`)
-------------------------------------------------------
Each service is an M/M/c queue (:mod:`outage_kit.queueing`) whose service time is its
**holding time**: its own work ``1/μ`` plus the time its worker waits on its calls, made one
after another (synchronously). Per edge ``e`` from caller ``u`` to callee ``v``, the caller sees
each attempt fail with probability ``p_e`` and spend ``w_e`` seconds on average. Then, with
``m`` the edge's maximum attempts:

* attempts per call ``a_e = 1 + p + ... + p^(m-1)``, the call fails with ``r_e = p^m``, and the
  caller waits ``b_e = Σ_{k=1}^{m-1} p^k d_k`` in backoff (``d_k`` the mean delay before retry
  ``k`` of the edge's :class:`~outage_kit.policies.RetryPolicy`);
* a failed hard call ends the request, so call ``k`` is made with probability
  ``π_k = Π_{earlier hard j} (1 - r_j)^{f_j}``;
* holding time ``h_u = 1/μ_u + Σ_k π_k f_k (a_k w_k + b_k)``;
* offered rate ``λ_v`` = client attempts + Σ over callers ``λ_u π_e f_e a_e``: every request
  that reaches a service is worked on in the end, and makes its calls, even when its caller
  has long stopped waiting (zombie work). This is the **offered load**, the demand callers
  put on a service; past capacity it is more than the service can carry (``served_per_s``
  reports what it can). With ``throttle=True`` an overloaded service instead passes calls on
  only for the ``c_u / h_u`` requests per second it completes: the load its dependencies
  actually carry, and a fixed point that can take hundreds of iterations to find;
* utilisation ``ρ_v = λ_v h_v / c_v``. If ``ρ_v < 1``, the M/M/c response time ``T`` gives each
  caller ``p_e = 1 - (1 - P(T > τ_e))(1 - q_v)`` and ``w_e = E[min(T, τ_e)]``, where ``q_v`` is
  the share of the callee's requests that fail because a hard call failed. If ``ρ_v >= 1``
  there is no steady state: every attempt times out (``p_e = 1``, ``w_e = τ_e``). A removed
  service refuses at once (``p_e = 1``, ``w_e = 0``).

Clients are callers too: each entry point has a client edge with the clients' policy (by
default the scenario card's ``client_timeout_s`` and ``naive_retries_per_request``).

The caller's view ``(p, w)`` of every edge is the model's state. :func:`steady_state` iterates
the map above to a fixed point. Started healthy, it climbs to the first consistent state it
meets; retries can sustain a worse one, which a start in overload finds (hysteresis, the
"metastable" failures of lesson 07). :func:`step` moves the state over a time step ``dt_s``
towards what the current load gives, each edge relaxing with its own timeout as the time
constant (a caller learns that a dependency is slow only when its timeout fires).

Retry amplification comes out of the graph: three layers of callers making up to 4 attempts
each offer 4^3 = 64 attempts to a dead bottom service per request at the top.

The queueing formulas assume Poisson arrivals and exponential holding times; a holding time
made of calls is not exponential, so read the latencies as a consistent approximation, not a
prediction.

Examples
--------
>>> g = load_service_graph()
>>> rates = baseline_client_rates(g)
>>> state = steady_state(g, rates)
>>> state.converged, sorted(set(state.nodes["health"]))
(True, ['healthy'])
>>> cost = downstream_cost(g, "sign_in")
>>> round(cost["user_directory"], 6)  # account-store calls caused by one sign-in
4.0
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from outage_kit import data, policies, queueing

_policies = policies  # the module, for code where a parameter is called ``policies``

__all__ = [
    "EDGES_SCHEMA",
    "HEALTH_LEVELS",
    "NODES_SCHEMA",
    "GraphModel",
    "GraphState",
    "baseline_client_rates",
    "build_service_graph",
    "client_policy_from_card",
    "criticality",
    "downstream_cost",
    "edge_loads",
    "feature_impact",
    "load_service_graph",
    "propagate_load",
    "shared_services",
    "stack_components",
    "steady_state",
    "step",
    "validate_service_graph",
    "with_bulkheads",
    "with_dependency",
]

#: Health of a service, from best to worst. ``removed``: taken out of the graph (refuses every
#: call); ``failing``: answers, but at least half of its requests fail because a hard
#: dependency fails; ``overloaded``: utilisation >= 1, no steady state, every caller times out;
#: ``degraded``: utilisation >= 0.9 or at least 1 % of requests fail or lose a soft dependency.
HEALTH_LEVELS = ("healthy", "degraded", "overloaded", "failing", "removed")

#: Utilisation from which a service counts as degraded.
DEGRADED_UTILISATION = 0.9
#: Share of failed (or soft-degraded) requests from which a service counts as degraded.
DEGRADED_FAILURE_SHARE = 0.01
#: Share of failed requests from which a service counts as failing.
FAILING_SHARE = 0.5

NODES_FILE = "service_graph_nodes.csv"
EDGES_FILE = "service_graph_edges.csv"

_PROVENANCE = (
    data.Column("status", "status", required=True),
    data.Column("source_tags", "tags"),
    data.Column("source", "sources"),
    data.Column("derivation", "text"),
    data.Column("reason", "text"),
    data.Column("numbers_reason", "text", required=True),
    data.Column("note", "text"),
)


def _whole(row, name: str, what: str, low: int) -> None:
    value = row[name]
    if math.isnan(value) or value != int(value) or value < low:
        row.fail(name, f"{what} must be a whole number >= {low}, got {row.raw[name]!r}")


def _check_node_row(row) -> None:
    who = f"service {row['id']!r}"
    _whole(row, "workers", f"{who}: workers (its capacity)", 1)
    if not row["service_rate_per_s"] > 0:
        row.fail(
            "service_rate_per_s",
            f"{who}: service_rate_per_s (requests one worker completes per second) must be "
            f"a number > 0, got {row.raw['service_rate_per_s']!r}",
        )
    if not row["client_rate_per_s"] >= 0:
        row.fail(
            "client_rate_per_s",
            f"{who}: client_rate_per_s must be a number >= 0 (requests per second), "
            f"got {row.raw['client_rate_per_s']!r}",
        )
    if row["entry"] == "no" and row["client_rate_per_s"] > 0:
        row.fail(
            "client_rate_per_s",
            f"{who} is not an entry point (entry = no), so clients cannot send it requests; "
            "set client_rate_per_s to 0 or entry to yes",
        )
    _whole(row, "layer", f"{who}: layer (its row in the drawing, 0 at the top)", 0)
    if not data.ID_RE.match(row["stack"]):
        row.fail("stack", f"{who}: {row['stack']!r} is not a snake_case stack name")


def _check_edge_row(row) -> None:
    who = f"edge {row['caller']} -> {row['callee']}"
    for name in ("caller", "callee"):
        if not data.ID_RE.match(row[name]):
            row.fail(name, f"{row[name]!r} is not a snake_case service id such as 'sign_in'")
    if row["caller"] == row["callee"]:
        row.fail("callee", f"{who}: a service cannot call itself (that is a cycle)")
    if not row["fanout"] > 0:
        row.fail(
            "fanout",
            f"{who}: fanout (calls per request) must be a number > 0, got {row.raw['fanout']!r}",
        )
    if not row["timeout_s"] > 0:
        row.fail(
            "timeout_s",
            f"{who}: timeout_s must be a number of seconds > 0, got {row.raw['timeout_s']!r}",
        )
    _whole(row, "max_attempts", f"{who}: max_attempts", 1)
    if row["max_attempts"] > policies.MAX_ATTEMPTS_LIMIT:
        row.fail("max_attempts", f"{who}: max_attempts must be at most 1000")


#: Columns of ``data/service_graph_nodes.csv``.
NODES_SCHEMA = data.Schema(
    NODES_FILE,
    (
        data.Column("id", "id", required=True),
        data.Column("label", "text", required=True),
        data.Column("name", "text", required=True),
        data.Column("stack", "text", required=True),
        data.Column("entry", "choice", required=True, choices=("yes", "no")),
        data.Column("layer", "number", required=True),
        data.Column("column", "number", required=True),
        data.Column("workers", "number", required=True),
        data.Column("service_rate_per_s", "number", required=True),
        data.Column("client_rate_per_s", "number", required=True),
        *_PROVENANCE,
    ),
    row_checks=(_check_node_row,),
)

#: Columns of ``data/service_graph_edges.csv``; a caller's rows are in call order.
EDGES_SCHEMA = data.Schema(
    EDGES_FILE,
    (
        data.Column("caller", "text", required=True),
        data.Column("callee", "text", required=True),
        data.Column("fanout", "number", required=True),
        data.Column("dependency", "choice", required=True, choices=("hard", "soft")),
        data.Column("timeout_s", "number", required=True),
        data.Column("max_attempts", "number", required=True),
        *_PROVENANCE,
    ),
    row_checks=(_check_edge_row,),
)


# --------------------------------------------------------------------------- building


def _node_attrs(parsed: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(parsed)
    out["entry"] = parsed["entry"] == "yes"
    out["workers"] = int(parsed["workers"])
    out["layer"] = int(parsed["layer"])
    for name in ("column", "service_rate_per_s", "client_rate_per_s"):
        out[name] = float(parsed[name])
    out.pop("id")
    return out


def load_service_graph(
    nodes_path: str | Path | None = None, edges_path: str | Path | None = None
) -> nx.DiGraph:
    """Load and validate the service graph from ``data/``.

    Parameters
    ----------
    nodes_path, edges_path : str or Path, optional
        Files to read instead of ``data/service_graph_nodes.csv`` and
        ``data/service_graph_edges.csv``.

    Returns
    -------
    networkx.DiGraph
        Services as nodes, calls as edges, with the attributes listed in the module docstring
        (every column of the files; ``entry`` a bool, counts ints, numbers floats).

    Raises
    ------
    outage_kit.data.DataError
        Naming the file, line and field: a malformed cell, a negative or zero capacity or
        fan-out, an edge naming an unknown service, a duplicate edge, a cycle of calls, or a
        service that no entry point reaches.

    Examples
    --------
    >>> g = load_service_graph()
    >>> g.nodes["presence"]["status"], g.nodes["auth"]["status"]
    ('verified', 'assumed')
    >>> g.edges["voice_video_calls", "presence"]["dependency"]
    'hard'
    >>> nx.is_directed_acyclic_graph(g)
    True
    """
    nodes_file = Path(nodes_path) if nodes_path is not None else data.DATA_DIR / NODES_FILE
    edges_file = Path(edges_path) if edges_path is not None else data.DATA_DIR / EDGES_FILE
    node_rows = data.read_rows(nodes_file, NODES_SCHEMA)
    edge_rows = data.read_rows(edges_file, EDGES_SCHEMA)
    graph = nx.DiGraph(nodes_file=nodes_file.name, edges_file=edges_file.name)
    for row in node_rows:
        graph.add_node(row["id"], line=row.line, **_node_attrs(row.parsed))
    known = list(graph.nodes)
    order: dict[str, int] = {}
    for row in edge_rows:
        for name in ("caller", "callee"):
            service = row[name]
            if service not in graph:
                close = difflib.get_close_matches(service, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                row.fail(
                    name,
                    f"unknown service {service!r}{hint}; every caller and callee must be an id "
                    f"in {nodes_file.name}",
                )
        caller, callee = row["caller"], row["callee"]
        if graph.has_edge(caller, callee):
            first = graph.edges[caller, callee]["line"]
            row.fail(
                "callee",
                f"edge {caller} -> {callee} appears twice (first on line {first}); give each "
                "call once, with its total fan-out",
            )
        attrs = {k: v for k, v in row.parsed.items() if k not in ("caller", "callee")}
        attrs["max_attempts"] = int(attrs["max_attempts"])
        attrs["order"] = order.get(caller, 0)
        order[caller] = attrs["order"] + 1
        graph.add_edge(caller, callee, line=row.line, **attrs)
        if not nx.is_directed_acyclic_graph(graph):
            cycle = nx.find_cycle(graph, source=callee)
            path = " -> ".join([u for u, _ in cycle] + [cycle[-1][1]])
            row.fail(
                "callee",
                f"edge {caller} -> {callee} closes a cycle of calls ({path}); a request would "
                "call itself for ever. Remove one of these edges",
            )
    for node, attrs in graph.nodes(data=True):
        if not attrs["entry"] and graph.in_degree(node) == 0:
            raise data.DataError(
                nodes_file.name,
                attrs["line"],
                "entry",
                f"service {node!r} is not an entry point and no service calls it, so it never "
                f"receives load; set entry to yes or add a call to it in {edges_file.name}",
            )
    return graph


_NODE_DEFAULTS = {
    "workers": 1,
    "service_rate_per_s": 1.0,
    "client_rate_per_s": 0.0,
    "stack": "main",
    "layer": 0,
    "column": 0.0,
    "status": "assumed",
}
_EDGE_DEFAULTS = {"fanout": 1.0, "dependency": "hard", "timeout_s": 1.0, "max_attempts": 1}


def build_service_graph(
    nodes: Mapping[str, Mapping[str, Any]],
    edges: Iterable[tuple[str, str] | tuple[str, str, Mapping[str, Any]]],
) -> nx.DiGraph:
    """Build and validate a service graph in code (small examples, tests, exercises).

    Parameters
    ----------
    nodes : mapping
        Service id to its attributes. Defaults: ``workers=1``, ``service_rate_per_s=1``,
        ``client_rate_per_s=0``, ``stack="main"``; ``entry`` defaults to whether the client
        rate is positive; ``label`` and ``name`` to the id.
    edges : iterable
        ``(caller, callee)`` or ``(caller, callee, attributes)``, in call order per caller.
        Defaults: ``fanout=1``, ``dependency="hard"``, ``timeout_s=1``, ``max_attempts=1``.

    Returns
    -------
    networkx.DiGraph

    Raises
    ------
    ValueError
        Naming the node or edge at fault (see :func:`validate_service_graph`).

    Examples
    --------
    >>> g = build_service_graph(
    ...     {"web": {"client_rate_per_s": 10.0}, "db": {}},
    ...     [("web", "db", {"fanout": 3})],
    ... )
    >>> propagate_load(g, {"web": 10.0})
    {'web': 10.0, 'db': 30.0}
    """
    graph = nx.DiGraph()
    for node, given in nodes.items():
        attrs = {**_NODE_DEFAULTS, "label": node, "name": node, **dict(given)}
        attrs.setdefault("entry", attrs["client_rate_per_s"] > 0)
        graph.add_node(node, **attrs)
    order: dict[str, int] = {}
    for item in edges:
        caller, callee = item[0], item[1]
        given = dict(item[2]) if len(item) > 2 else {}
        for service in (caller, callee):
            if service not in graph:
                raise ValueError(
                    f"edge {caller} -> {callee} names {service!r}, which is not a node; "
                    "add it to nodes first"
                )
        if graph.has_edge(caller, callee):
            raise ValueError(f"edge {caller} -> {callee} is given twice")
        attrs = {**_EDGE_DEFAULTS, **given, "order": order.get(caller, 0)}
        order[caller] = attrs["order"] + 1
        graph.add_edge(caller, callee, **attrs)
    validate_service_graph(graph)
    return graph


def validate_service_graph(graph: nx.DiGraph) -> None:
    """Check a service graph built in code; raise ``ValueError`` naming the node or edge.

    Checks: workers a whole number >= 1, service rate > 0, client rate >= 0 (and 0 unless the
    service is an entry point), fan-out and timeout > 0, max_attempts a whole number from 1 to
    1000, dependency ``hard`` or ``soft``, and no cycle of calls.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_node("a", workers=2, service_rate_per_s=1.0, client_rate_per_s=1.0, entry=True)
    >>> g.add_node("b", workers=-1, service_rate_per_s=1.0, client_rate_per_s=0.0, entry=False)
    >>> validate_service_graph(g)
    Traceback (most recent call last):
    ...
    ValueError: service 'b': workers must be a whole number >= 1, got -1
    """
    for node, attrs in graph.nodes(data=True):
        workers = attrs.get("workers")
        if (
            isinstance(workers, bool)
            or not isinstance(workers, (int, float, np.integer, np.floating))
            or not math.isfinite(workers)
            or workers != int(workers)
            or workers < 1
        ):
            raise ValueError(
                f"service {node!r}: workers must be a whole number >= 1, got {workers!r}"
            )
        rate = attrs.get("service_rate_per_s")
        if not _finite(rate) or rate <= 0:
            raise ValueError(f"service {node!r}: service_rate_per_s must be > 0, got {rate!r}")
        client = attrs.get("client_rate_per_s", 0.0)
        if not _finite(client) or client < 0:
            raise ValueError(f"service {node!r}: client_rate_per_s must be >= 0, got {client!r}")
        if client > 0 and not attrs.get("entry", False):
            raise ValueError(
                f"service {node!r} has client_rate_per_s {client!r} but is not an entry point"
            )
    for caller, callee, attrs in graph.edges(data=True):
        who = f"edge {caller} -> {callee}"
        if caller == callee:
            raise ValueError(f"{who}: a service cannot call itself")
        fanout = attrs.get("fanout")
        if not _finite(fanout) or fanout <= 0:
            raise ValueError(
                f"{who}: fanout must be a number > 0 (calls per request), got {fanout!r}"
            )
        timeout = attrs.get("timeout_s")
        if not _finite(timeout) or timeout <= 0:
            raise ValueError(f"{who}: timeout_s must be a number > 0, got {timeout!r}")
        attempts = attrs.get("max_attempts")
        if (
            isinstance(attempts, bool)
            or not _finite(attempts)
            or attempts != int(attempts)
            or not 1 <= attempts <= policies.MAX_ATTEMPTS_LIMIT
        ):
            raise ValueError(
                f"{who}: max_attempts must be a whole number from 1 to 1000, got {attempts!r}"
            )
        if attrs.get("dependency") not in ("hard", "soft"):
            raise ValueError(
                f"{who}: dependency must be 'hard' or 'soft', got {attrs.get('dependency')!r}"
            )
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = " -> ".join([u for u, _ in cycle] + [cycle[-1][1]])
        raise ValueError(f"the calls form a cycle ({path}); a service graph must have none")


def with_dependency(
    graph: nx.DiGraph,
    caller: str,
    callee: str,
    *,
    fanout: float = 1.0,
    dependency: str = "hard",
    timeout_s: float = 1.0,
    max_attempts: int = 3,
) -> nx.DiGraph:
    """A copy of the graph with one more call, made last by its caller (for what-if questions).

    Examples
    --------
    What if Skype for Business had signed its users in against the consumer account store?

    >>> g = with_dependency(load_service_graph(), "sfb_sign_in", "user_directory")
    >>> shared_services(g, "consumer", "business")
    {'user_directory'}
    """
    for node in (caller, callee):
        if node not in graph:
            close = difflib.get_close_matches(str(node), list(graph.nodes), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{node!r} is not a service of the graph{hint}")
    if graph.has_edge(caller, callee):
        raise ValueError(f"{caller} already calls {callee}")
    out = graph.copy()
    order = 1 + max((a.get("order", 0) for _, _, a in out.out_edges(caller, data=True)), default=-1)
    out.add_edge(
        caller,
        callee,
        fanout=fanout,
        dependency=dependency,
        timeout_s=timeout_s,
        max_attempts=max_attempts,
        order=order,
        status="assumed",
        reason="a what-if dependency added in code",
        numbers_reason="chosen by the caller of with_dependency",
    )
    validate_service_graph(out)
    return out


def with_bulkheads(graph: nx.DiGraph, entries: Iterable[str] = ("sign_in",)) -> nx.DiGraph:
    """A copy of the graph in which each of ``entries`` has its own pool at every shared service.

    A **bulkhead**: the requests that start at an isolated entry point (and the calls they
    cause, all the way down) are served by workers of their own, so when that entry point's
    load explodes only its own pools overload; the other callers of the same services keep
    theirs. For each isolated entry point ``e``, every service that ``e``'s calls reach and
    some other entry point reaches too without going through ``e`` (a shared service) is split
    in two: ``<service>_for_<e>``, which serves ``e``'s call tree, and the service itself, which
    serves everyone else. (If other services call ``e`` too, the calls ``e`` makes for them are
    ``e``'s as well.) The service's workers are divided in proportion to the two parts of its
    load at the graph's baseline client rates (:func:`propagate_load`), rounded, each pool
    keeping at least one worker (so a split can add one worker in all). Services that only
    ``e`` reaches are not split; their calls to shared services go to ``e``'s pools. Nothing else
    changes: a pool is a service of the same stack, with the same own-work rate and the same
    calls. Several entry points are isolated one after another, in the order given.

    What it approximates: a fixed partition of each shared service (separate instances or
    thread pools per caller), not a dynamic share; with fewer workers per pool each queue
    pools its load less well (a little more waiting at the same utilisation).

    Parameters
    ----------
    graph : networkx.DiGraph
        A validated service graph.
    entries : iterable of str
        Entry points to isolate (default: sign-in).

    Returns
    -------
    networkx.DiGraph

    Examples
    --------
    >>> g = with_bulkheads(load_service_graph())
    >>> sorted(n for n in g if n.endswith("_for_sign_in"))  # doctest: +NORMALIZE_WHITESPACE
    ['contact_list_for_sign_in', 'instant_messaging_for_sign_in', 'message_store_for_sign_in',
     'notification_hub_for_sign_in', 'presence_for_sign_in', 'user_directory_for_sign_in']
    >>> g.has_edge("sign_in", "presence"), g.has_edge("sign_in", "presence_for_sign_in")
    (False, True)
    >>> with_bulkheads(load_service_graph(), ["auth"])
    Traceback (most recent call last):
    ...
    ValueError: 'auth' is not an entry point of the graph; bulkheads isolate entry points
    """
    entries = [entries] if isinstance(entries, str) else list(entries)
    if not entries:
        raise ValueError("entries must name at least one entry point to isolate")
    if len(set(entries)) != len(entries):
        raise ValueError(f"entries must not repeat an entry point, got {entries!r}")
    out = graph.copy()
    for e in entries:
        if e not in out:
            close = difflib.get_close_matches(str(e), list(out.nodes), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{e!r} is not a service of the graph{hint}")
        if not out.nodes[e].get("entry", False):
            raise ValueError(
                f"{e!r} is not an entry point of the graph; bulkheads isolate entry points"
            )
        base = baseline_client_rates(out)
        total = propagate_load(out, base)
        ours = nx.descendants(out, e)
        # What other entry points reach without going through e (calls made by e, whoever
        # sent e the request, are e's).
        apart = out.subgraph(n for n in out if n != e)
        others = [n for n in base if n != e]
        reached_by_others = set(others).union(*(nx.descendants(apart, n) for n in others))
        shared = ours & reached_by_others
        from_e = propagate_load(out, {e: total[e]})
        pool = {v: f"{v}_for_{e}" for v in shared}
        taken = [name for name in pool.values() if name in out]
        if taken:
            raise ValueError(f"the graph already has services named {sorted(taken)}")
        for v in sorted(shared, key=list(out.nodes).index):
            attrs = {k: a for k, a in out.nodes[v].items() if k != "line"}
            workers = int(out.nodes[v]["workers"])
            share = from_e[v] / total[v] if total[v] > 0 else 0.0
            mine = max(1, min(workers - 1, round(workers * share))) if workers > 1 else 1
            out.nodes[v]["workers"] = max(1, workers - mine)
            label = attrs.get("label", v)
            attrs.update(
                workers=mine,
                entry=False,
                client_rate_per_s=0.0,
                label=f"{label} ({out.nodes[e].get('label', e)} pool)",
                name=f"{attrs.get('name', v)}: the pool reserved for {e}",
                status="assumed",
                reason=f"a bulkhead: the part of {v} reserved for requests from {e}",
            )
            out.add_node(pool[v], **attrs)
        rewired = []
        for u, w, attrs in list(out.edges(data=True)):
            if u in pool:
                rewired.append((pool[u], pool[w], dict(attrs)))
            elif (u == e or (u in ours and u not in shared)) and w in pool:
                out.remove_edge(u, w)
                rewired.append((u, pool[w], dict(attrs)))
        for u, w, attrs in rewired:
            out.add_edge(u, w, **attrs)
    validate_service_graph(out)
    return out


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


# --------------------------------------------------------------------------- load propagation


def baseline_client_rates(
    graph: nx.DiGraph, scale: float = 1.0, stacks: Iterable[str] | None = None
) -> dict[str, float]:
    """The client rates stored in the graph, optionally scaled for some stacks.

    Parameters
    ----------
    graph : networkx.DiGraph
        A service graph.
    scale : float
        Multiplier for the client rates of the chosen stacks (>= 0).
    stacks : iterable of str, optional
        Stacks whose clients are scaled; the others keep their baseline. Default: all.

    Returns
    -------
    dict
        Entry point id to user requests per second.

    Examples
    --------
    >>> g = load_service_graph()
    >>> doubled = baseline_client_rates(g, 2.0, stacks=["consumer"])
    >>> doubled["sign_in"] / g.nodes["sign_in"]["client_rate_per_s"]
    2.0
    >>> doubled["sfb_sign_in"] == g.nodes["sfb_sign_in"]["client_rate_per_s"]
    True
    """
    scale = float(scale)
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    chosen = None if stacks is None else set(stacks)
    return {
        node: attrs["client_rate_per_s"]
        * (scale if chosen is None or attrs["stack"] in chosen else 1.0)
        for node, attrs in graph.nodes(data=True)
        if attrs.get("entry", False)
    }


def _check_rates(graph: nx.DiGraph, client_rates: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for node, rate in client_rates.items():
        if node not in graph:
            close = difflib.get_close_matches(str(node), list(graph.nodes), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"client_rates names {node!r}, which is not a service{hint}")
        if not graph.nodes[node].get("entry", False):
            raise ValueError(f"client_rates names {node!r}, which is not an entry point")
        if not _finite(rate) or rate < 0:
            raise ValueError(f"client rate of {node!r} must be a finite number >= 0, got {rate!r}")
        out[node] = float(rate)
    return out


def propagate_load(graph: nx.DiGraph, client_rates: Mapping[str, float]) -> dict[str, float]:
    """Offered load on every service when nothing fails: fan-out products summed over paths.

    ``λ_v = client_v + Σ_{u -> v} λ_u f_uv``, computed in topological order; on a graph
    without cycles this equals the sum, over every path from an entry point to ``v``, of the
    client rate times the product of the fan-outs along the path.

    Parameters
    ----------
    graph : networkx.DiGraph
        A service graph.
    client_rates : mapping
        Entry point id to user requests per second (others 0).

    Returns
    -------
    dict
        Service id to requests per second, in the graph's node order.

    Examples
    --------
    Two paths from ``a`` to ``d``, with products 2 x 3 and 4:

    >>> g = build_service_graph(
    ...     {"a": {"client_rate_per_s": 1.0}, "b": {}, "c": {}, "d": {}},
    ...     [("a", "b", {"fanout": 2}), ("b", "d", {"fanout": 3}),
    ...      ("a", "c"), ("c", "d", {"fanout": 4})],
    ... )
    >>> propagate_load(g, {"a": 5.0})
    {'a': 5.0, 'b': 10.0, 'c': 5.0, 'd': 50.0}
    """
    rates = _check_rates(graph, client_rates)
    load = dict.fromkeys(graph.nodes, 0.0)
    for node in nx.topological_sort(graph):
        load[node] += rates.get(node, 0.0)
        for _, callee, attrs in graph.out_edges(node, data=True):
            load[callee] += load[node] * attrs["fanout"]
    return load


def edge_loads(graph: nx.DiGraph, node_load: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """Calls per second on every edge: the caller's load times the fan-out.

    Examples
    --------
    >>> g = build_service_graph({"a": {"client_rate_per_s": 1.0}, "b": {}},
    ...                         [("a", "b", {"fanout": 2.5})])
    >>> edge_loads(g, propagate_load(g, {"a": 4.0}))
    {('a', 'b'): 10.0}
    """
    return {(u, v): node_load[u] * attrs["fanout"] for u, v, attrs in graph.edges(data=True)}


def downstream_cost(graph: nx.DiGraph, entry: str) -> dict[str, float]:
    """What one user request at ``entry`` costs every service: requests per user request.

    Examples
    --------
    >>> g = load_service_graph()
    >>> cost = downstream_cost(g, "sign_in")
    >>> cost["sign_in"], cost["auth"]
    (1.0, 1.0)
    >>> cost["skype_for_business"]
    0.0
    """
    if entry not in graph or not graph.nodes[entry].get("entry", False):
        raise ValueError(f"{entry!r} is not an entry point of the graph")
    return propagate_load(graph, {entry: 1.0})


# --------------------------------------------------------------------------- structure


def stack_components(graph: nx.DiGraph) -> list[set[str]]:
    """The parts of the graph that share no service (weakly connected components).

    Examples
    --------
    >>> parts = stack_components(load_service_graph())
    >>> len(parts), "skype_for_business" in parts[1]
    (2, True)
    """
    parts = [set(c) for c in nx.weakly_connected_components(graph)]
    order = {node: i for i, node in enumerate(graph.nodes)}
    return sorted(parts, key=lambda part: min(order[n] for n in part))


def _reach(graph: nx.DiGraph, entry: str) -> set[str]:
    return {entry} | nx.descendants(graph, entry)


def shared_services(graph: nx.DiGraph, stack_a: str, stack_b: str) -> set[str]:
    """Services that requests from both stacks' entry points reach: what they share.

    Examples
    --------
    >>> shared_services(load_service_graph(), "consumer", "business")
    set()
    """

    def reached(stack: str) -> set[str]:
        entries = [n for n, a in graph.nodes(data=True) if a["stack"] == stack and a["entry"]]
        if not entries:
            raise ValueError(f"no entry point belongs to stack {stack!r}")
        return set().union(*(_reach(graph, e) for e in entries))

    return reached(stack_a) & reached(stack_b)


def feature_impact(graph: nx.DiGraph) -> pd.DataFrame:
    """Which user-facing features each service's loss takes down, from the structure alone.

    A feature (an entry point) is ``down`` without service ``s`` if a path of hard calls leads
    from it to ``s`` (or it is ``s``), ``degraded`` if only paths with a soft call do, ``ok``
    if no path does. This ignores load: :func:`steady_state` with ``removed=[s]`` adds what
    retries do.

    Returns
    -------
    pandas.DataFrame
        One row per service (``service``), one column per entry point, cells ``down``,
        ``degraded`` or ``ok``; plus ``features_down`` (how many are down).

    Examples
    --------
    >>> impact = feature_impact(load_service_graph()).set_index("service")
    >>> impact.loc["presence", "voice_video_calls"], impact.loc["presence", "instant_messaging"]
    ('down', 'degraded')
    >>> int(impact.loc["user_directory", "features_down"])
    5
    """
    entries = [n for n, a in graph.nodes(data=True) if a["entry"]]
    hard = graph.edge_subgraph(
        [(u, v) for u, v, a in graph.edges(data=True) if a["dependency"] == "hard"]
    )
    rows = []
    for service in graph.nodes:
        row: dict[str, Any] = {"service": service}
        for entry in entries:
            if service == entry or (
                entry in hard and service in hard and nx.has_path(hard, entry, service)
            ):
                row[entry] = "down"
            elif nx.has_path(graph, entry, service):
                row[entry] = "degraded"
            else:
                row[entry] = "ok"
        row["features_down"] = sum(row[e] == "down" for e in entries)
        rows.append(row)
    return pd.DataFrame(rows)


def criticality(graph: nx.DiGraph, client_rates: Mapping[str, float]) -> pd.DataFrame:
    """How critical each service is: who reaches it, what it carries, what passes through it.

    Columns: ``service``; ``features`` (entry points whose requests reach it); ``features_down``
    (entry points that fail without it, see :func:`feature_impact`); ``offered_per_s`` (from
    :func:`propagate_load`); ``load_share`` (its share of all requests in the graph);
    ``load_betweenness`` (the share of shortest entry-to-service call paths that pass *through*
    it, each path weighted by its entry's client rate). Sorted, most critical first.

    Examples
    --------
    >>> g = load_service_graph()
    >>> table = criticality(g, baseline_client_rates(g))
    >>> table.iloc[0]["service"]
    'user_directory'
    """
    rates = _check_rates(graph, client_rates)
    load = propagate_load(graph, rates)
    impact = feature_impact(graph).set_index("service")
    entries = [n for n, a in graph.nodes(data=True) if a["entry"]]
    through = dict.fromkeys(graph.nodes, 0.0)
    total = 0.0
    for entry in entries:
        weight = rates.get(entry, 0.0)
        if weight == 0:
            continue
        targets = list(_reach(graph, entry))
        between = nx.betweenness_centrality_subset(
            graph, sources=[entry], targets=targets, normalized=False
        )
        for node, value in between.items():
            through[node] += weight * value
        total += weight * (len(targets) - 1)
    all_load = sum(load.values())
    rows = []
    for node in graph.nodes:
        rows.append(
            {
                "service": node,
                "features": sum(node in _reach(graph, e) for e in entries),
                "features_down": int(impact.loc[node, "features_down"]),
                "offered_per_s": load[node],
                "load_share": load[node] / all_load if all_load > 0 else 0.0,
                "load_betweenness": through[node] / total if total > 0 else 0.0,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values(
        ["features_down", "features", "offered_per_s"], ascending=False, kind="stable"
    ).reset_index(drop=True)


# --------------------------------------------------------------------------- the overload model


def client_policy_from_card() -> tuple[policies.RetryPolicy, float]:
    """The clients' retry policy and timeout assumed on the 2015 scenario card.

    ``naive_retries_per_request`` immediate retries (so that many attempts plus one) and
    ``client_timeout_s``; both are assumptions of the card, not Skype figures.

    Examples
    --------
    >>> policy, timeout_s = client_policy_from_card()
    >>> policy.max_attempts, timeout_s
    (4, 20.0)
    """
    retries = int(data.parameter("naive_retries_per_request"))
    timeout_s = float(data.parameter("client_timeout_s"))
    return policies.RetryPolicy(policies.FixedDelay(0.0), max_attempts=retries + 1), timeout_s


def _truncated_mean_response(tau, lam, mu, servers, prob_wait):
    """``E[min(T, τ)]`` for the M/M/c response time ``T = W + S`` (FCFS), vectorised in ``τ``.

    ``P(T > t) = (1 - C) e^{-μt} + C P(X + Y > t)`` with ``X ~ Exp(θ)``, ``Y ~ Exp(μ)``,
    ``θ = cμ - λ`` (the form of :func:`outage_kit.queueing.mmc_response_tail`), integrated
    from 0 to τ in closed form. With ``ν = min(θ, μ)``, ``M = max(θ, μ)``, ``δ = M - ν`` and
    ``φ(z) = (1 - e^{-z})/z``: ``E[(X + Y - τ)^+] = e^{-ντ}(1/ν + 1/M + (ν/M) τ φ(δτ))``.
    """
    tau = np.asarray(tau, dtype=float)
    theta = servers * mu - lam
    nu, big = min(theta, mu), max(theta, mu)
    z = (big - nu) * tau
    phi = np.where(z > 0, -np.expm1(-np.where(z > 0, z, 1.0)) / np.where(z > 0, z, 1.0), 1.0)
    excess = np.exp(-nu * tau) * (1.0 / nu + 1.0 / big + (nu / big) * tau * phi)
    sum_part = 1.0 / theta + 1.0 / mu - excess
    return (1.0 - prob_wait) * (-np.expm1(-mu * tau)) / mu + prob_wait * sum_part


@dataclass(frozen=True)
class _Arrays:
    """The graph as arrays: nodes in graph order, edges in (caller, call order), then clients."""

    node_ids: tuple[str, ...]
    workers: np.ndarray
    own_s: np.ndarray
    removed: np.ndarray
    topo: tuple[int, ...]
    edge_ids: tuple[tuple[str, str], ...]
    caller: np.ndarray  # -1 for a client edge
    callee: np.ndarray
    fanout: np.ndarray
    hard: np.ndarray
    timeout_s: np.ndarray
    max_attempts: np.ndarray
    exponents: np.ndarray  # 0..max(m)-1
    delays_s: np.ndarray  # per edge, mean backoff before retry k = 1..max(m)-1 (0 past m-1)
    out_edges: tuple[tuple[int, ...], ...]  # per node, in call order
    in_edges: tuple[tuple[int, ...], ...]  # per node, graph edges and its client edge
    client_edge: dict[int, int]  # entry node index -> its client edge index


class GraphModel:
    """A service graph under given conditions, ready to evaluate (see the module docstring).

    Parameters
    ----------
    graph : networkx.DiGraph
        A validated service graph.
    removed : iterable of str
        Services taken out: they refuse every call at once.
    workers_factor : mapping, optional
        Service id to a factor on its workers (the count is rounded, at least 1).
    slowdown : mapping, optional
        Service id to a factor on its own work time (2 = each request takes twice as long).
    policies : mapping or RetryPolicy, optional
        The callers' retry policy per edge ``(caller, callee)``, or one policy for every edge;
        replaces the edge's ``max_attempts`` (default: immediate retries up to the edge's
        ``max_attempts``).
    client_policy : RetryPolicy, optional
        The clients' policy at every entry point (default: :func:`client_policy_from_card`).
    client_timeout_s : float, optional
        How long clients wait for one attempt (default: the card's ``client_timeout_s``).
    throttle : bool
        If True, an overloaded service passes calls on only for the requests it completes
        (carried load); default False: for every request it receives (offered load).

    Examples
    --------
    >>> g = load_service_graph()
    >>> model = GraphModel(g, removed=["auth"])
    >>> state = model.steady_state(baseline_client_rates(g))
    >>> state.nodes.set_index("id").loc["sign_in", "health"]
    'failing'
    """

    def __init__(
        self,
        graph: nx.DiGraph,
        *,
        removed: Iterable[str] = (),
        workers_factor: Mapping[str, float] | None = None,
        slowdown: Mapping[str, float] | None = None,
        policies: Mapping[tuple[str, str], _policies.RetryPolicy]
        | _policies.RetryPolicy
        | None = None,
        client_policy: _policies.RetryPolicy | None = None,
        client_timeout_s: float | None = None,
        throttle: bool = False,
    ) -> None:
        validate_service_graph(graph)
        self.graph = graph
        self.throttle = bool(throttle)
        self.removed = tuple(removed)
        self.workers_factor = dict(workers_factor or {})
        self.slowdown = dict(slowdown or {})
        for name, given in (
            ("removed", dict.fromkeys(self.removed, 1.0)),
            ("workers_factor", self.workers_factor),
            ("slowdown", self.slowdown),
        ):
            for node, factor in given.items():
                if node not in graph:
                    close = difflib.get_close_matches(str(node), list(graph.nodes), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"{name} names {node!r}, which is not a service{hint}")
                if not _finite(factor) or factor <= 0:
                    raise ValueError(f"{name}[{node!r}] must be a number > 0, got {factor!r}")
        if client_policy is None or client_timeout_s is None:
            card_policy, card_timeout = client_policy_from_card()
            client_policy = card_policy if client_policy is None else client_policy
            client_timeout_s = card_timeout if client_timeout_s is None else client_timeout_s
        if not isinstance(client_policy, _policies.RetryPolicy):
            raise TypeError(f"client_policy must be a RetryPolicy, got {client_policy!r}")
        if not _finite(client_timeout_s) or client_timeout_s <= 0:
            raise ValueError(f"client_timeout_s must be a number > 0, got {client_timeout_s!r}")
        self.client_policy = client_policy
        self.client_timeout_s = float(client_timeout_s)
        if isinstance(policies, _policies.RetryPolicy):
            self.policies = {(u, v): policies for u, v in graph.edges}
        else:
            self.policies = dict(policies or {})
            for key, policy in self.policies.items():
                if not graph.has_edge(*key):
                    raise ValueError(f"policies names {key!r}, which is not an edge of the graph")
                if not isinstance(policy, _policies.RetryPolicy):
                    raise TypeError(f"policies[{key!r}] must be a RetryPolicy, got {policy!r}")
        self.arrays = self._compile()
        self._queue_cache: dict[int, tuple] = {}

    def _compile(self) -> _Arrays:
        graph = self.graph
        node_ids = tuple(graph.nodes)
        index = {node: i for i, node in enumerate(node_ids)}
        workers = np.array(
            [
                max(1, round(graph.nodes[n]["workers"] * self.workers_factor.get(n, 1.0)))
                for n in node_ids
            ],
            dtype=np.int64,
        )
        own_s = np.array(
            [self.slowdown.get(n, 1.0) / graph.nodes[n]["service_rate_per_s"] for n in node_ids]
        )
        removed = np.array([n in self.removed for n in node_ids])
        edges = sorted(graph.edges(data=True), key=lambda e: (index[e[0]], e[2]["order"]))
        edge_ids = [(u, v) for u, v, _ in edges]
        caller = [index[u] for u, _, _ in edges]
        callee = [index[v] for _, v, _ in edges]
        fanout = [a["fanout"] for _, _, a in edges]
        hard = [a["dependency"] == "hard" for _, _, a in edges]
        timeout = [float(a["timeout_s"]) for _, _, a in edges]
        retry_policies = [
            self.policies.get((u, v), _policies.RetryPolicy(max_attempts=int(a["max_attempts"])))
            for u, v, a in edges
        ]
        client_edge = {}
        for n in node_ids:
            if graph.nodes[n].get("entry", False):
                client_edge[index[n]] = len(edge_ids)
                edge_ids.append(("clients", n))
                caller.append(-1)
                callee.append(index[n])
                fanout.append(1.0)
                hard.append(True)
                timeout.append(self.client_timeout_s)
                retry_policies.append(self.client_policy)
        most = max([p.max_attempts for p in retry_policies], default=1)
        delays = np.zeros((len(retry_policies), most - 1))
        for e, policy in enumerate(retry_policies):
            if policy.max_attempts > 1:
                delays[e, : policy.max_attempts - 1] = policy.backoff.mean_delay_s(
                    np.arange(1, policy.max_attempts)
                )
        out_edges = [[] for _ in node_ids]
        in_edges = [[] for _ in node_ids]
        for e, (u, v) in enumerate(zip(caller, callee, strict=True)):
            if u >= 0:
                out_edges[u].append(e)
            in_edges[v].append(e)
        return _Arrays(
            node_ids=node_ids,
            workers=workers,
            own_s=own_s,
            removed=removed,
            topo=tuple(index[n] for n in nx.topological_sort(graph)),
            edge_ids=tuple(edge_ids),
            caller=np.array(caller),
            callee=np.array(callee),
            fanout=np.array(fanout, dtype=float),
            hard=np.array(hard),
            timeout_s=np.array(timeout),
            max_attempts=np.array([p.max_attempts for p in retry_policies]),
            exponents=np.arange(most),
            delays_s=delays,
            out_edges=tuple(tuple(x) for x in out_edges),
            in_edges=tuple(tuple(x) for x in in_edges),
            client_edge=client_edge,
        )

    # ----------------------------------------------------------------- the map

    def _client_vector(self, client_rates: Mapping[str, float]) -> np.ndarray:
        rates = _check_rates(self.graph, client_rates)
        arr = self.arrays
        out = np.zeros(len(arr.node_ids))
        for node, rate in rates.items():
            out[arr.node_ids.index(node)] = rate
        return out

    def _evaluate(self, p: np.ndarray, w: np.ndarray, clients: np.ndarray) -> dict[str, Any]:
        """One application of the map: current view (p, w) -> loads, metrics and new view."""
        arr = self.arrays
        m = arr.max_attempts
        p = np.clip(p, 0.0, 1.0)
        # attempts per call a = 1 + p + ... + p^(m-1), call failure p^m, backoff waiting
        powers = p[:, None] ** arr.exponents  # p^k for k = 0..max(m)-1
        attempts = np.sum(np.where(arr.exponents < m[:, None], powers, 0.0), axis=1)
        call_fail = p**m
        backoff = np.sum(powers[:, 1:] * arr.delays_s, axis=1)
        n_nodes = len(arr.node_ids)
        reach = np.ones(len(m))  # probability the call is made at all
        holding = arr.own_s.copy()
        hard_ok = np.ones(n_nodes)
        soft_ok = np.ones(n_nodes)
        for v in range(n_nodes):
            made = 1.0
            for e in arr.out_edges[v]:
                reach[e] = made
                holding[v] += made * arr.fanout[e] * (attempts[e] * w[e] + backoff[e])
                ok = (1.0 - call_fail[e]) ** arr.fanout[e]
                if arr.hard[e]:
                    made *= ok
                    hard_ok[v] *= ok
                else:
                    soft_ok[v] *= ok
        capacity = arr.workers / holding
        offered = np.zeros(n_nodes)
        passed = np.zeros(n_nodes)  # requests whose calls go out
        edge_rate = np.zeros(len(m))  # attempts per second on each edge
        for v, e in arr.client_edge.items():
            edge_rate[e] = clients[v] * attempts[e]
            offered[v] += edge_rate[e]
        for v in arr.topo:
            if arr.removed[v]:
                passed[v] = 0.0
            else:
                passed[v] = min(offered[v], capacity[v]) if self.throttle else offered[v]
            for e in arr.out_edges[v]:
                edge_rate[e] = passed[v] * reach[e] * arr.fanout[e] * attempts[e]
                offered[arr.callee[e]] += edge_rate[e]
        utilisation = offered * holding / arr.workers
        failure = np.where(arr.removed, 1.0, 1.0 - hard_ok)
        mean_response = np.full(n_nodes, np.nan)
        new_p = np.ones(len(m))
        new_w = np.zeros(len(m))
        for v in range(n_nodes):
            edges_in = list(arr.in_edges[v])
            if arr.removed[v]:
                continue  # refuses at once: p = 1, w = 0
            if utilisation[v] >= 1.0:
                failure[v] = 1.0
                new_w[edges_in] = arr.timeout_s[edges_in]
                continue
            response, late, truncated = self._queue(v, offered[v], holding[v])
            mean_response[v] = response
            new_p[edges_in] = 1.0 - (1.0 - late) * hard_ok[v]
            new_w[edges_in] = truncated
        return {
            "attempts": attempts,
            "call_fail": call_fail,
            "reach": reach,
            "holding": holding,
            "capacity": capacity,
            "offered": offered,
            "passed": passed,
            "served": np.where(arr.removed, 0.0, np.minimum(offered, capacity)),
            "edge_rate": edge_rate,
            "utilisation": utilisation,
            "failure": failure,
            "soft_fail": 1.0 - soft_ok,
            "mean_response": mean_response,
            "new_p": new_p,
            "new_w": new_w,
        }

    def _queue(self, v: int, arrival_rate: float, holding_s: float):
        """M/M/c answers for node ``v``: mean response, P(T > τ) and E[min(T, τ)] per caller.

        Memoised on the exact inputs: in a fixed-point iteration most services settle long
        before the last one does, and their queueing answers are then reused.
        """
        key = (arrival_rate, holding_s)
        cached = self._queue_cache.get(v)
        if cached is not None and cached[0] == key:
            return cached[1]
        arr = self.arrays
        mu = 1.0 / holding_s
        c = int(arr.workers[v])
        taus = arr.timeout_s[list(arr.in_edges[v])]
        metrics = queueing.mmc_metrics(arrival_rate, mu, c)
        late = np.atleast_1d(queueing.mmc_response_tail(taus, arrival_rate, mu, c))
        truncated = _truncated_mean_response(taus, arrival_rate, mu, c, metrics.prob_wait)
        answer = (float(metrics.mean_response_s), late, truncated)
        self._queue_cache[v] = (key, answer)
        return answer

    # ----------------------------------------------------------------- states

    def healthy_state(self, client_rates: Mapping[str, float]) -> GraphState:
        """The state in which every caller expects every call to succeed at once.

        Examples
        --------
        >>> g = build_service_graph({"a": {"client_rate_per_s": 0.5}}, [])
        >>> GraphModel(g, client_timeout_s=10.0).healthy_state({"a": 0.5}).failure_per_attempt
        array([0.])
        """
        n = len(self.arrays.edge_ids)
        return GraphState(self, np.zeros(n), np.zeros(n), self._client_vector(client_rates))

    def steady_state(
        self,
        client_rates: Mapping[str, float],
        *,
        start: GraphState | None = None,
        tol: float = 1e-9,
        max_iterations: int = 3000,
    ) -> GraphState:
        """Iterate the map to a fixed point, from a healthy start or from ``start``.

        Fixed-point iteration with one step size per unknown (each edge's ``p`` and
        ``w / τ``): a step starts at 1, is halved whenever that unknown's change reverses
        direction (an oscillation) and grows back by a fifth while it does not. With offered
        load (the default) this converges in a few iterations; ``throttle=True`` can create
        steep balances that take hundreds. Retries can sustain an overload, so the fixed point
        can depend on the start: a healthy start finds the least overloaded state.

        Parameters
        ----------
        client_rates : mapping
            Entry point id to user requests per second.
        start : GraphState, optional
            Where to start (default: :meth:`healthy_state`).
        tol : float
            Stop when no failure probability would move by more than ``tol`` and no time
            per attempt by more than ``tol`` times its timeout.
        max_iterations : int
            Give up after this many iterations (``converged`` is then False).

        Returns
        -------
        GraphState

        Examples
        --------
        >>> g = load_service_graph()
        >>> state = GraphModel(g).steady_state(baseline_client_rates(g))
        >>> state.converged, state.iterations < 20
        (True, True)
        """
        clients = self._client_vector(client_rates)
        n = len(self.arrays.edge_ids)
        scale = self.arrays.timeout_s
        if start is None:
            p, w = np.zeros(n), np.zeros(n)
        else:
            if len(start.failure_per_attempt) != n:
                raise ValueError("start must be a state of a model of the same graph")
            p, w = start.failure_per_attempt.copy(), start.time_per_attempt_s.copy()
        steps = np.ones(2 * n)
        previous = np.zeros(2 * n)
        for iteration in range(1, max_iterations + 1):
            result = self._evaluate(p, w, clients)
            change = np.concatenate([result["new_p"] - p, (result["new_w"] - w) / scale])
            if float(np.max(np.abs(change), initial=0.0)) <= tol:
                return GraphState(self, p, w, clients, iterations=iteration, converged=True)
            trend = change * previous
            steps = np.where(
                trend < 0,
                np.maximum(steps / 2.0, 1e-9),
                np.where(trend > 0, np.minimum(steps * 1.2, 1.0), steps),
            )
            previous = change
            p = np.clip(p + steps[:n] * change[:n], 0.0, 1.0)
            w = np.maximum(w + steps[n:] * change[n:] * scale, 0.0)
        return GraphState(self, p, w, clients, iterations=max_iterations, converged=False)


@dataclass(frozen=True, eq=False)
class GraphState:
    """Every caller's view of every call, and what it implies for every service.

    Attributes
    ----------
    model : GraphModel
        The graph and its conditions.
    failure_per_attempt : numpy.ndarray
        Per edge (graph edges in caller and call order, then one client edge per entry point):
        the probability that one attempt fails, as the caller sees it.
    time_per_attempt_s : numpy.ndarray
        Per edge: mean seconds the caller spends on one attempt.
    client_vector : numpy.ndarray
        User requests per second per node (nonzero at entry points).
    iterations : int
        Fixed-point iterations taken (0 for a state made by :func:`step`).
    converged : bool
        Whether the fixed-point iteration met its tolerance (True for stepped states).
    """

    model: GraphModel
    failure_per_attempt: np.ndarray
    time_per_attempt_s: np.ndarray
    client_vector: np.ndarray
    iterations: int = 0
    converged: bool = True

    @cached_property
    def _result(self) -> dict[str, Any]:
        return self.model._evaluate(
            self.failure_per_attempt, self.time_per_attempt_s, self.client_vector
        )

    @property
    def client_rates(self) -> dict[str, float]:
        """User requests per second per entry point."""
        arr = self.model.arrays
        return {arr.node_ids[v]: float(self.client_vector[v]) for v in arr.client_edge}

    @cached_property
    def nodes(self) -> pd.DataFrame:
        """One row per service.

        Columns: ``id``, ``label``, ``stack``, ``entry``, ``workers``, ``holding_s`` (own work
        plus waiting on calls), ``offered_per_s`` (attempts arriving), ``served_per_s``,
        ``capacity_per_s`` (workers / holding time), ``utilisation`` (offered / capacity; 1
        or more means overloaded), ``mean_response_s`` (NaN without a steady state),
        ``failure_share`` (share of requests that fail their caller: 1 if overloaded or
        removed), ``degraded_share`` (share losing a soft dependency), ``health`` (one of
        :data:`HEALTH_LEVELS`), and for entry points ``client_attempts_per_request`` and
        ``user_success_share`` (share of user requests that succeed within the clients'
        attempts; NaN elsewhere).
        """
        arr, res, graph = self.model.arrays, self._result, self.model.graph
        n = len(arr.node_ids)
        attempts = np.full(n, np.nan)
        success = np.full(n, np.nan)
        for v, e in arr.client_edge.items():
            attempts[v] = res["attempts"][e]
            success[v] = 1.0 - res["call_fail"][e]
        health = [
            _health(
                bool(arr.removed[v]),
                res["utilisation"][v],
                res["failure"][v],
                res["soft_fail"][v],
            )
            for v in range(n)
        ]
        return pd.DataFrame(
            {
                "id": list(arr.node_ids),
                "label": [graph.nodes[v].get("label", v) for v in arr.node_ids],
                "stack": [graph.nodes[v].get("stack", "main") for v in arr.node_ids],
                "entry": [bool(graph.nodes[v].get("entry", False)) for v in arr.node_ids],
                "workers": arr.workers,
                "holding_s": res["holding"],
                "offered_per_s": res["offered"],
                "served_per_s": res["served"],
                "capacity_per_s": np.where(arr.removed, 0.0, res["capacity"]),
                "utilisation": np.where(arr.removed, np.nan, res["utilisation"]),
                "mean_response_s": res["mean_response"],
                "failure_share": res["failure"],
                "degraded_share": res["soft_fail"],
                "health": health,
                "client_attempts_per_request": attempts,
                "user_success_share": success,
            }
        )

    @cached_property
    def edges(self) -> pd.DataFrame:
        """One row per call (graph edges only; the clients' view is in :attr:`nodes`).

        Columns: ``caller``, ``callee``, ``dependency``, ``fanout``, ``calls_per_s`` (calls
        made: served requests x probability the call is reached x fan-out),
        ``attempts_per_call``, ``attempts_per_s``, ``failure_per_attempt``,
        ``call_failure_share`` (all attempts failed), ``time_per_attempt_s``.
        """
        arr, res = self.model.arrays, self._result
        graph_edges = [e for e in range(len(arr.edge_ids)) if arr.caller[e] >= 0]
        ids = [arr.edge_ids[e] for e in graph_edges]
        calls = (
            res["passed"][arr.caller[graph_edges]]
            * res["reach"][graph_edges]
            * arr.fanout[graph_edges]
        )
        return pd.DataFrame(
            {
                "caller": [u for u, _ in ids],
                "callee": [v for _, v in ids],
                "dependency": ["hard" if arr.hard[e] else "soft" for e in graph_edges],
                "fanout": arr.fanout[graph_edges],
                "calls_per_s": calls,
                "attempts_per_call": res["attempts"][graph_edges],
                "attempts_per_s": res["edge_rate"][graph_edges],
                "failure_per_attempt": np.clip(self.failure_per_attempt[graph_edges], 0, 1),
                "call_failure_share": res["call_fail"][graph_edges],
                "time_per_attempt_s": self.time_per_attempt_s[graph_edges],
            }
        )

    def node(self, service: str) -> dict[str, Any]:
        """One row of :attr:`nodes` as a dict.

        Examples
        --------
        >>> g = load_service_graph()
        >>> state = steady_state(g, baseline_client_rates(g))
        >>> state.node("skype_for_business")["health"]
        'healthy'
        """
        table = self.nodes.set_index("id")
        if service not in table.index:
            raise KeyError(f"{service!r} is not a service of this graph")
        return {"id": service, **table.loc[service].to_dict()}


def _health(removed: bool, utilisation: float, failure: float, soft_fail: float) -> str:
    if removed:
        return "removed"
    if utilisation >= 1.0:
        return "overloaded"
    if failure >= FAILING_SHARE:
        return "failing"
    if (
        utilisation >= DEGRADED_UTILISATION
        or failure >= DEGRADED_FAILURE_SHARE
        or soft_fail >= DEGRADED_FAILURE_SHARE
    ):
        return "degraded"
    return "healthy"


def steady_state(
    graph: nx.DiGraph,
    client_rates: Mapping[str, float] | None = None,
    *,
    start: GraphState | None = None,
    **conditions: Any,
) -> GraphState:
    """The graph's steady state under load: :meth:`GraphModel.steady_state` in one call.

    Parameters
    ----------
    graph : networkx.DiGraph
        A service graph.
    client_rates : mapping, optional
        Entry point id to user requests per second (default: :func:`baseline_client_rates`).
    start : GraphState, optional
        Where the iteration starts (default: healthy).
    **conditions
        Passed to :class:`GraphModel`: ``removed``, ``workers_factor``, ``slowdown``,
        ``policies``, ``client_policy``, ``client_timeout_s``.

    Examples
    --------
    Three layers below the clients, each caller making up to 4 attempts, and a dead bottom:
    every request at the top becomes 4 x 4 x 4 = 64 attempts at the bottom.

    >>> chain = build_service_graph(
    ...     {"a": {"client_rate_per_s": 1.0, "workers": 100}, "b": {"workers": 100},
    ...      "c": {"workers": 100}, "d": {}},
    ...     [(u, v, {"max_attempts": 4}) for u, v in ["ab", "bc", "cd"]],
    ... )
    >>> state = steady_state(chain, {"a": 1.0}, removed=["d"],
    ...                      client_policy=policies.NoRetry(), client_timeout_s=10.0)
    >>> state.node("d")["offered_per_s"]
    64.0
    """
    rates = baseline_client_rates(graph) if client_rates is None else client_rates
    return GraphModel(graph, **conditions).steady_state(rates, start=start)


def step(state: GraphState, client_rates: Mapping[str, float], dt_s: float) -> GraphState:
    """Advance the callers' view of every call by ``dt_s`` seconds under new client rates.

    Each edge's failure probability and time per attempt relax towards what the current load
    gives, with the edge's timeout as time constant: ``x += (1 - exp(-dt/τ)) (target - x)``.
    A population model (the reconnection storm) calls this once per time step with the
    rates its clients send, and reads the entry points' ``failure_share`` and
    ``user_success_share`` back from :attr:`GraphState.nodes`.

    Parameters
    ----------
    state : GraphState
        The current state.
    client_rates : mapping
        Entry point id to user requests per second during this step.
    dt_s : float
        Time step in seconds (> 0).

    Returns
    -------
    GraphState

    Examples
    --------
    A service pushed past capacity: after a few timeouts its callers see it fail.

    >>> g = build_service_graph({"a": {"client_rate_per_s": 1.0, "workers": 1,
    ...                                "service_rate_per_s": 1.0}}, [])
    >>> model = GraphModel(g, client_policy=policies.NoRetry(), client_timeout_s=2.0)
    >>> state = model.healthy_state({"a": 2.0})
    >>> for _ in range(10):
    ...     state = step(state, {"a": 2.0}, dt_s=1.0)
    >>> state.node("a")["health"], round(float(state.failure_per_attempt[0]), 3)
    ('overloaded', 0.993)
    """
    dt_s = float(dt_s)
    if not math.isfinite(dt_s) or dt_s <= 0:
        raise ValueError(f"dt_s must be a finite number of seconds > 0, got {dt_s!r}")
    model = state.model
    clients = model._client_vector(client_rates)
    result = model._evaluate(state.failure_per_attempt, state.time_per_attempt_s, clients)
    weight = -np.expm1(-dt_s / model.arrays.timeout_s)
    p = state.failure_per_attempt + weight * (result["new_p"] - state.failure_per_attempt)
    w = state.time_per_attempt_s + weight * (result["new_w"] - state.time_per_attempt_s)
    return GraphState(model, p, w, clients)
