"""Named scenarios built from ``data/``: the population model driving the service graph in time.

A scenario is data plus a little code, not a copy of a model: a :class:`Scenario` holds the
population model's parameters (:class:`~outage_kit.storm.StormParams`), the service graph, the
wall-clock time of the run's time 0, the recovery actions and the names (and statuses) of the
card rows it used. :meth:`Scenario.run` returns a :class:`Replay`: one table over the day and
the verdicts the lessons compare with the public record (onset, restoration, duration, which
services were overloaded, the phase at a given time).

The coupling, both ways
-----------------------
:func:`~outage_kit.storm.run_storm` runs the whole day at its own step (1 s). At every output
interval (5 minutes by default) its rates become the client-facing rates of the scenario's
stack in the service graph:

* the sign-in entry point receives its baseline rate times the sign-ins the sign-in service
  serves (``served_signins_per_s``: work for clients that have already timed out included,
  since the service cannot tell; attempts rejected at the door or dropped from its queue make
  no calls) over the normal sign-in rate (churn, ``population / session_s``);
* every other entry point of the stack receives its baseline rate times the connected share
  (only signed-in clients send presence, messages, calls);
* entry points of other stacks (Skype for Business) keep their baseline.

The graph is then evaluated at that load, from a healthy start
(:meth:`~outage_kit.services.GraphModel.steady_state`, the least overloaded consistent state).
The population model carries the memory (the metastable storm); the graph says which
services that load overloads, and, back the other way, what share of sign-ins fails in the
sign-in service's hard dependencies (authentication, the contact list, presence): one minus
the product of their calls' success shares, internal retries included. That share becomes a
:class:`~outage_kit.storm.DownstreamFailure` of the population model for the interval: a
sign-in the sign-in service completed, but whose call failed, does not connect its client,
which retries at once. The sign-in service's own overload is not fed back, since the
population model's queue already is that service.

The two models are solved together by rounds. Each round runs the population model with the
failure shares found so far and evaluates the graph; the first interval whose share changed
is settled, the new share is assumed to last from there, and the next round checks where it
stops. The run ends when no share changes (three rounds for the 2015 card), and raises
``RuntimeError`` after :data:`MAX_FEEDBACK_ROUNDS`. An interval that flips between two
shares (each one's load calls for the other) keeps the larger. ``Scenario(feedback=False)``
skips the way back: the graph then only reports.

Examples
--------
>>> replay = skype_2015().run()
>>> replay.onset_utc(), replay.restoration_utc()
(Timestamp('2015-09-21 08:20:00+0000', tz='UTC'), Timestamp('2015-09-21 23:50:00+0000', tz='UTC'))
>>> round(replay.outage_duration_h(), 2)
15.5
>>> "skype_for_business" in replay.services_overloaded()
False
>>> replay.phase_at("2015-09-21T10:00Z"), replay.phase_at("2015-09-21T18:00Z")
('cascade', 'stuck')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np
import pandas as pd

from outage_kit import data, services
from outage_kit.policies import AdmissionControl, NoRetry, ServerPolicy
from outage_kit.storm import (
    AddCapacity,
    DownstreamFailure,
    ServerPolicyAt,
    StagedReadmission,
    StormParams,
    StormResult,
    run_storm,
)

__all__ = [
    "MAX_FEEDBACK_ROUNDS",
    "PHASES",
    "Replay",
    "Scenario",
    "normal_signin_rate_per_s",
    "sign_in_dependencies",
    "sign_in_path_limit",
    "skype_2015",
]

#: Phase labels of :attr:`Replay.timeseries`, in the order they normally occur.
PHASES = (
    "normal",
    "push",
    "disconnection",
    "storm",
    "cascade",
    "stuck",
    "rebalancing",
    "restoration",
)

#: Health levels that count as "down" for a service when judging restoration.
_DOWN = ("overloaded", "failing", "removed")

#: Card rows :func:`skype_2015` reads.
_SKYPE_2015_ROWS = (
    "outage_start_utc",
    "restoration_utc",
    "concurrent_users_at_onset",
    "affected_client_share",
    "client_timeout_s",
    "signin_cost_ratio",
    "capacity_headroom",
    "reconnect_policy",
    "recovery_action",
    "recovery_model",
    "config_push_utc",
    "rebalancing_utc",
    "rebalancing_admission_share",
)


def _utc(name: str, value) -> pd.Timestamp:
    """A tz-aware UTC timestamp from ``value`` (naive times are taken as UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a time (e.g. '2015-09-21T23:10Z'), got {value!r}"
        ) from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise ValueError(f"{name} must be a time, got {value!r}")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


_ACTIONS = (ServerPolicyAt, AddCapacity, StagedReadmission, DownstreamFailure)


@dataclass(frozen=True)
class Scenario:
    """An incident replay: population model, service graph, clock and recovery actions.

    Parameters
    ----------
    name : str
        Short id, such as ``"skype_2015"``.
    params : StormParams
        The population model (its ``actions`` are kept; :attr:`actions` are added to them).
    graph : networkx.DiGraph
        The service graph the population drives.
    start_utc : pandas.Timestamp
        Wall-clock time of the run's time 0 (tz-aware; naive is taken as UTC).
    actions : tuple
        Recovery actions (:class:`~outage_kit.storm.ServerPolicyAt`,
        :class:`~outage_kit.storm.AddCapacity`, :class:`~outage_kit.storm.StagedReadmission`).
    description : str
        One paragraph for the lessons.
    parameters : Mapping[str, str]
        Card rows used, name -> status (``verified``, ``derived`` or ``assumed``).
    stack : str
        The graph stack whose clients the population model stands for.
    signin_service : str
        The entry point that receives the population model's sign-ins.
    output_every_s : float
        Resolution of the replay (and of the graph's evaluation), a multiple of
        ``params.dt_s``.
    feedback : bool
        True (the default): the graph's failures on the sign-in path go back into the
        population model (two-way coupling). False: the graph only reports (one-way).

    Examples
    --------
    >>> s = skype_2015()
    >>> s.name, s.stack, s.signin_service, s.output_every_s
    ('skype_2015', 'consumer', 'sign_in', 300.0)
    >>> s.parameters["rebalancing_utc"]
    'assumed'
    >>> Scenario("", s.params, s.graph, s.start_utc)
    Traceback (most recent call last):
    ...
    ValueError: name must be a non-empty string, got ''
    """

    name: str
    params: StormParams
    graph: nx.DiGraph
    start_utc: pd.Timestamp
    actions: tuple = ()
    description: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    stack: str = "consumer"
    signin_service: str = "sign_in"
    output_every_s: float = 300.0
    feedback: bool = True

    def __post_init__(self):
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.params, StormParams):
            raise ValueError(f"params must be a StormParams, got {type(self.params).__name__}")
        if not isinstance(self.graph, nx.DiGraph):
            raise ValueError(f"graph must be a networkx.DiGraph, got {type(self.graph).__name__}")
        set_(self, "start_utc", _utc("start_utc", self.start_utc))
        actions = tuple(self.actions)
        for a in actions:
            if not isinstance(a, _ACTIONS):
                raise ValueError(
                    "actions must be ServerPolicyAt, AddCapacity, StagedReadmission or "
                    f"DownstreamFailure, got {a!r}"
                )
        set_(self, "actions", actions)
        set_(self, "parameters", dict(self.parameters))
        stacks = {attrs.get("stack") for _, attrs in self.graph.nodes(data=True)}
        if self.stack not in stacks:
            raise ValueError(f"stack must be one of {sorted(stacks)}, got {self.stack!r}")
        node = self.graph.nodes.get(self.signin_service)
        if node is None or not node.get("entry", False) or node.get("stack") != self.stack:
            raise ValueError(
                f"signin_service must be an entry point of stack {self.stack!r}, "
                f"got {self.signin_service!r}"
            )
        every = float(self.output_every_s)
        if not math.isfinite(every) or every < self.params.dt_s or every > self.params.horizon_s:
            raise ValueError(
                f"output_every_s must lie between dt_s ({self.params.dt_s:g}) and horizon_s "
                f"({self.params.horizon_s:g}), got {self.output_every_s!r}"
            )
        set_(self, "output_every_s", every)
        if not isinstance(self.feedback, bool):
            raise ValueError(f"feedback must be True or False, got {self.feedback!r}")

    def with_(self, **changes) -> Scenario:
        """A copy with some fields changed (``dataclasses.replace``).

        Examples
        --------
        >>> skype_2015().with_(actions=()).actions
        ()
        """
        return replace(self, **changes)

    def seconds(self, t) -> float:
        """Seconds from the run's time 0 to the wall-clock time ``t``.

        Examples
        --------
        >>> skype_2015().seconds("2015-09-21T08:23Z")
        30180.0
        """
        return float((_utc("t", t) - self.start_utc).total_seconds())

    def storm_params(self, *, output_every_s: float | None = None) -> StormParams:
        """The population model's parameters as :meth:`run` uses them.

        :attr:`params` with the scenario's :attr:`actions` added to its own and the output
        resolution set to :attr:`output_every_s` (or to ``output_every_s`` if given).

        Examples
        --------
        >>> s = skype_2015()
        >>> p = s.storm_params()
        >>> p.actions == s.actions, p.output_every_s
        (True, 300.0)
        >>> s.storm_params(output_every_s=1.0).output_every_s
        1.0
        """
        every = self.output_every_s if output_every_s is None else output_every_s
        return self.params.with_(
            actions=tuple(self.params.actions) + self.actions, output_every_s=every
        )

    def run(self, *, graph_cache: dict | None = None) -> Replay:
        """Run the population model and the service graph together over the day.

        With :attr:`feedback` (the default) the two models are solved together: the
        population model runs, the graph is evaluated at every output interval, the share of
        sign-ins that fail in the sign-in service's hard dependencies goes back into the
        population model (:class:`~outage_kit.storm.DownstreamFailure`), and the pair runs
        again until that share no longer changes (see the module docstring). Without it the
        graph only reports.

        Parameters
        ----------
        graph_cache : dict, optional
            A dict shared between runs: the graph's state at each rounded load is kept in it,
            keyed by the load and by everything about the graph and the clients' timeout that
            the evaluation reads, and reused by later runs (of any scenario) that meet the
            same load on the same graph. The result is the same as without it (a test checks
            it); only the time differs. Default: nothing is kept between runs.

        Returns
        -------
        Replay

        Raises
        ------
        RuntimeError
            If the feedback has not settled after :data:`MAX_FEEDBACK_ROUNDS` rounds.
        """
        params = self.storm_params()
        if graph_cache is not None and not isinstance(graph_cache, dict):
            raise TypeError(f"graph_cache must be a dict or None, got {graph_cache!r}")
        evaluate = _GraphEvaluator(self, params, graph_cache)
        every = self.output_every_s
        applied: np.ndarray | None = None
        settled = 0  # rows before this one are final
        tries: dict[int, int] = {}
        rounds = 0
        while True:
            rounds += 1
            run_params = params
            if applied is not None and applied.any():
                run_params = params.with_(
                    actions=tuple(params.actions) + _failure_actions(applied, every)
                )
            storm = run_storm(run_params, check_conservation=True)
            util, health, failure = evaluate(storm.timeseries)
            if applied is None:
                applied = np.zeros(len(failure))
            if not self.feedback:
                break
            changed = np.flatnonzero(failure[settled:] != applied[settled:])
            if changed.size == 0:
                break
            if rounds >= MAX_FEEDBACK_ROUNDS:
                raise RuntimeError(
                    f"{self.name}: the feedback between the population model and the service "
                    f"graph did not settle in {MAX_FEEDBACK_ROUNDS} rounds"
                )
            # The first row whose share changed: rows before it are settled. From it on, the
            # new share is assumed to last, and the next round checks where it stops.
            i = settled + int(changed[0])
            settled = i
            tries[i] = tries.get(i, 0) + 1
            if tries[i] > 2:
                # The row flips between two shares (each one's load calls for the other):
                # no share is consistent at this resolution; take the larger one and move on.
                applied[i:] = max(failure[i], applied[i])
                settled = i + 1
            else:
                applied[i:] = failure[i]
        failure_applied = applied
        ts = storm.timeseries
        frame = pd.DataFrame(
            {
                "time_utc": self.start_utc + pd.to_timedelta(ts["time_s"].to_numpy(), unit="s"),
                "time_s": ts["time_s"].to_numpy(),
                "connected_share": ts["connected_share"].to_numpy(),
                "signin_load_ratio": ts["load_ratio"].to_numpy(),
                "signin_utilisation": ts["utilisation"].to_numpy(),
                "goodput_per_s": ts["goodput_per_s"].to_numpy(),
                "served_signins_per_s": ts["served_signins_per_s"].to_numpy(),
                "signin_rate_ratio": evaluate.signin_scale(ts),
                "connected": ts["connected"].to_numpy(),
                "signing_in": ts["signing_in"].to_numpy(),
                "backing_off": ts["backing_off"].to_numpy(),
                "gave_up": ts["gave_up"].to_numpy(),
                "partitioned": ts["partitioned"].to_numpy(),
                "downstream_failure_share": failure_applied,
                "failed_signins_per_s": ts["failed_per_s"].to_numpy(),
            }
        )
        for j, n in enumerate(evaluate.ids):
            frame[f"{n}_utilisation"] = util[:, j]
            frame[f"{n}_health"] = health[:, j]
        return Replay(
            self,
            frame,
            storm,
            feedback_rounds=rounds,
            feedback_actions=_failure_actions(failure_applied, every),
        )


#: Most rounds :meth:`Scenario.run` takes to settle the feedback before it gives up.
MAX_FEEDBACK_ROUNDS = 200


def _failure_actions(shares: np.ndarray, every_s: float) -> tuple:
    """:class:`DownstreamFailure` actions for a share per output interval (changes only)."""
    actions = []
    last = 0.0
    for i, share in enumerate(shares):
        if share != last:
            actions.append(DownstreamFailure(i * every_s, float(share)))
            last = float(share)
    return tuple(actions)


class _GraphEvaluator:
    """The service graph's state at each output interval of a population-model run.

    Loads are rounded to 1 % of the baseline, so the graph is evaluated once per distinct
    load (a few dozen times a day); ``graph_cache`` keeps the states between runs.
    """

    def __init__(self, scenario: Scenario, params: StormParams, graph_cache: dict | None):
        graph = scenario.graph
        self.graph = graph
        self.scenario = scenario
        self.model = services.GraphModel(
            graph, client_policy=NoRetry(), client_timeout_s=params.timeout_s
        )
        self.base = services.baseline_client_rates(graph)
        self.ours = [n for n in self.base if graph.nodes[n].get("stack") == scenario.stack]
        self.normal_signins = normal_signin_rate_per_s(scenario.with_(params=params))
        self.ids = list(graph.nodes)
        self.hard = sign_in_dependencies(scenario)
        self.cache: dict[tuple, tuple[np.ndarray, list[str], float]] = {}
        self.shared = graph_cache
        if graph_cache is not None:
            self.graph_id = _graph_identity(graph, scenario.stack, scenario.signin_service, params)

    def signin_scale(self, ts: pd.DataFrame) -> np.ndarray:
        """The graph's sign-in rate over its baseline: sign-ins served over the churn."""
        return ts["served_signins_per_s"].to_numpy() / self.normal_signins

    def _state(self, key: tuple) -> tuple[np.ndarray, list[str], float]:
        if key in self.cache:
            return self.cache[key]
        if self.shared is not None and (self.graph_id, key) in self.shared:
            self.cache[key] = self.shared[(self.graph_id, key)]
            return self.cache[key]
        rates = dict(self.base)
        rates.update({n: self.base[n] * k for n, k in zip(self.ours, key, strict=True)})
        state = self.model.steady_state(rates)
        table = state.nodes.set_index("id").loc[self.ids]
        edges = state.edges
        calls = edges[
            (edges["caller"] == self.scenario.signin_service) & edges["callee"].isin(self.hard)
        ]
        ok = float(np.prod(1.0 - calls["call_failure_share"].to_numpy(float)))
        failure = round(min(max(1.0 - ok, 0.0), 1.0), 2)
        value = (table["utilisation"].to_numpy(float), list(table["health"]), failure)
        self.cache[key] = value
        if self.shared is not None:
            self.shared[(self.graph_id, key)] = value
        return value

    def __call__(self, ts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Utilisation and health per row and service, and the sign-in path's failure share."""
        signin = self.signin_scale(ts)
        connected = ts["connected_share"].to_numpy()
        util = np.empty((len(ts), len(self.ids)))
        health = np.empty((len(ts), len(self.ids)), dtype=object)
        failure = np.empty(len(ts))
        for i in range(len(ts)):
            # Scales rounded to 1 % of the baseline (entry points with no baseline get 0).
            key = tuple(
                round(float(signin[i] if n == self.scenario.signin_service else connected[i]), 2)
                if self.base[n] > 0
                else 0.0
                for n in self.ours
            )
            util[i], health[i], failure[i] = self._state(key)
        return util, health, failure


def normal_signin_rate_per_s(scenario: Scenario) -> float:
    """Sign-ins per second on a normal day: clients whose session ends sign in again.

    ``population × churn_per_s`` of the population model (with sessions that never end, the
    model's normal sign-in load instead). The graph's sign-in load is this rate times its
    baseline; :func:`sign_in_path_limit` is a multiple of it.

    Examples
    --------
    >>> round(normal_signin_rate_per_s(skype_2015()), 1)
    11111.1
    """
    p = scenario.params
    normal = float(p.population * p.churn_per_s)
    return normal if normal > 0 else float(p.normal_signin_load_per_s)


def sign_in_dependencies(scenario: Scenario) -> list[str]:
    """The services a sign-in cannot do without: the sign-in service's hard dependencies.

    A sign-in fails when a call to one of them fails; the feedback of :meth:`Scenario.run`
    is the share of sign-ins failing there.

    Examples
    --------
    >>> sign_in_dependencies(skype_2015())
    ['auth', 'contact_list', 'presence']
    """
    return [
        v
        for _, v, attrs in scenario.graph.out_edges(scenario.signin_service, data=True)
        if attrs.get("dependency") == "hard"
    ]


def sign_in_path_limit(
    scenario: Scenario, *, connected_share: float = 0.0, upper: float = 100.0
) -> float:
    """The largest sign-in rate (over the normal one) that the sign-in path still carries.

    The service graph is evaluated as :meth:`Scenario.run` evaluates it, with the other entry
    points of the stack at ``connected_share`` of their baseline, and the sign-in rate
    (in steps of 0.01 of the normal rate) is searched by bisection for the last one at which
    no sign-in fails in the sign-in service's hard dependencies. Above it the feedback of a
    two-way replay fails sign-ins that the sign-in service completed.

    Parameters
    ----------
    scenario : Scenario
    connected_share : float
        Share of the clients signed in (the load of the other entry points), in [0, 1].
    upper : float
        Search up to this many times the normal rate (returned if the path carries it).

    Returns
    -------
    float

    Examples
    --------
    >>> s = skype_2015()
    >>> sign_in_path_limit(s)
    1.52
    >>> rebalancing = s.actions[0].policy.admission.rate_per_s
    >>> round(rebalancing / normal_signin_rate_per_s(s), 2)
    1.35
    >>> sign_in_path_limit(s, connected_share=2)
    Traceback (most recent call last):
    ...
    ValueError: connected_share must lie between 0 and 1, got 2
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario, got {scenario!r}")
    c = float(connected_share) if isinstance(connected_share, (int, float)) else math.nan
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"connected_share must lie between 0 and 1, got {connected_share!r}")
    top = float(upper) if isinstance(upper, (int, float)) else math.nan
    if not (math.isfinite(top) and top > 0):
        raise ValueError(f"upper must be a positive number, got {upper!r}")
    evaluate = _GraphEvaluator(scenario, scenario.params, None)
    signin = scenario.signin_service

    def fails(hundredths: int) -> bool:
        key = tuple(
            (hundredths / 100 if n == signin else round(c, 2)) if evaluate.base[n] > 0 else 0.0
            for n in evaluate.ours
        )
        return evaluate._state(key)[2] > 0.0

    lo, hi = 0, int(round(top * 100))
    if fails(lo):
        return 0.0
    if not fails(hi):
        return hi / 100
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid
    return lo / 100


def _graph_identity(graph: nx.DiGraph, stack: str, signin_service: str, params) -> tuple:
    """Everything :meth:`Scenario.run` reads to turn a rounded load into the graph's state.

    The services in order with the attributes the graph model and the health levels read,
    the calls with theirs, the stack and its sign-in entry point, and the clients' timeout
    (the clients' policy is always :class:`~outage_kit.policies.NoRetry`).
    """
    node_keys = ("workers", "service_rate_per_s", "client_rate_per_s", "entry", "stack", "label")
    edge_keys = ("fanout", "dependency", "timeout_s", "max_attempts", "order")
    nodes = tuple((n, *(attrs.get(k) for k in node_keys)) for n, attrs in graph.nodes(data=True))
    edges = tuple(
        sorted((u, v, *(attrs.get(k) for k in edge_keys)) for u, v, attrs in graph.edges(data=True))
    )
    return (nodes, edges, stack, signin_service, float(params.timeout_s))


class Replay:
    """What :meth:`Scenario.run` returns: the day as a table, and verdicts on it.

    Attributes
    ----------
    scenario : Scenario
    timeseries : pandas.DataFrame
        One row per output interval. ``time_utc`` (tz-aware) and ``time_s`` (from the run's
        start); states (``connected_share`` and the counts ``connected``, ``signing_in``,
        ``backing_off``, ``gave_up``, ``partitioned``, summing to the population) are snapshots
        at that time; rates are averages over the interval that starts there:
        ``signin_load_ratio`` (offered sign-in work over capacity), ``signin_utilisation``,
        ``goodput_per_s``, ``served_signins_per_s``, ``signin_rate_ratio`` (the graph's sign-in
        rate over its baseline). Per graph service ``<id>_utilisation`` and ``<id>_health``
        (:data:`outage_kit.services.HEALTH_LEVELS`), and ``phase`` (one of :data:`PHASES`):
        ``normal`` before the push; ``push`` the interval holding it; then ``cascade`` while an
        entry point of the stack other than sign-in is overloaded, ``storm`` / ``stuck`` while
        sign-in is down and its goodput is at least / under 10 % of the sign-ins it serves,
        ``disconnection`` if nothing is down yet; ``rebalancing`` from the first recovery
        action; ``restoration`` from :meth:`restoration_utc` on. At 5-minute resolution the
        2015 replay goes straight from ``push`` to ``cascade``.
    storm : StormResult
        The population model's run (at the replay's resolution).
    """

    def __init__(
        self,
        scenario: Scenario,
        frame: pd.DataFrame,
        storm: StormResult,
        *,
        feedback_rounds: int = 1,
        feedback_actions: tuple = (),
    ):
        self.scenario = scenario
        self.feedback_rounds = feedback_rounds
        self.feedback_actions = tuple(feedback_actions)
        self.storm = storm
        self._ids = list(scenario.graph.nodes)
        self._ours = [
            n for n in self._ids if scenario.graph.nodes[n].get("stack") == scenario.stack
        ]
        self.timeseries = frame
        self._restoration_s = self._find_restoration()
        frame["phase"] = self._phases()

    def __repr__(self):
        onset, restored = self.onset_utc(), self.restoration_utc()
        return (
            f"Replay({self.scenario.name!r}, rows={len(self.timeseries)}, onset={onset}, "
            f"restoration={restored})"
        )

    def storm_params(self, *, output_every_s: float | None = None) -> StormParams:
        """The population model's parameters of this replay, the graph's feedback included.

        :meth:`Scenario.storm_params` plus :attr:`feedback_actions` (the
        :class:`~outage_kit.storm.DownstreamFailure` shares the graph settled on), so that a
        run at another resolution (``output_every_s=1.0`` for per-second metrics) is the
        same day as the replay.

        Examples
        --------
        >>> r = skype_2015().run()
        >>> fine = run_storm(r.storm_params(output_every_s=1.0)).timeseries
        >>> bool(fine["connected"].iloc[36_000] == r.timeseries["connected"].iloc[120])
        True
        """
        params = self.scenario.storm_params(output_every_s=output_every_s)
        return params.with_(actions=tuple(params.actions) + self.feedback_actions)

    # ---- internals ---------------------------------------------------------------------------

    def _push_s(self) -> float | None:
        times = [t.time_s for t in self.scenario.params.triggers]
        return min(times) if times else None

    def _down(self) -> np.ndarray:
        """Rows in which a service of the scenario's stack is down (overloaded or failing)."""
        ts = self.timeseries
        cols = [f"{n}_health" for n in self._ours]
        return ts[cols].isin(_DOWN).any(axis=1).to_numpy()

    def _find_restoration(self) -> float | None:
        push = self._push_s()
        if push is None:
            return None
        ts = self.timeseries
        t = ts["time_s"].to_numpy()
        before = ts["connected_share"].to_numpy()[t <= push + 1e-9]
        baseline = float(before[-1]) if before.size else 1.0
        ok = (ts["connected_share"].to_numpy() >= 0.99 * baseline) & ~self._down()
        ok &= t > push + 1e-9
        after = t > push + 1e-9
        if not ok[-1] or not after.any():
            return None
        bad = np.flatnonzero(after & ~ok)
        if bad.size == 0:
            return float(t[after][0])
        return float(t[bad[-1] + 1])

    def _phases(self) -> list[str]:
        ts = self.timeseries
        every = self.scenario.output_every_s
        push = self._push_s()
        acts = [a.time_s for a in self.scenario.actions]
        act = min(acts) if acts else None
        restored = self._restoration_s
        sign_in = ts[f"{self.scenario.signin_service}_health"].to_numpy()
        graph = self.scenario.graph
        others = [
            n
            for n in self._ours
            if n != self.scenario.signin_service and graph.nodes[n].get("entry", False)
        ]
        other_over = (ts[[f"{n}_health" for n in others]] == "overloaded").any(axis=1).to_numpy()
        useful = ts["goodput_per_s"].to_numpy() >= 0.1 * ts["served_signins_per_s"].to_numpy()
        out = []
        for i, t in enumerate(ts["time_s"].to_numpy()):
            if push is None or t + every <= push + 1e-9:
                phase = "normal"
            elif restored is not None and t >= restored - 1e-9:
                phase = "restoration"
            elif act is not None and t + every > act + 1e-9:
                phase = "rebalancing"
            elif t <= push + 1e-9:
                phase = "push"
            elif other_over[i]:
                phase = "cascade"
            elif sign_in[i] in _DOWN:
                phase = "storm" if useful[i] else "stuck"
            else:
                phase = "disconnection"
            out.append(phase)
        return out

    # ---- verdicts ----------------------------------------------------------------------------

    def onset_utc(self) -> pd.Timestamp | None:
        """Start of the interval in which the sign-in service first became overloaded.

        None if it never did.
        """
        ts = self.timeseries
        over = ts[f"{self.scenario.signin_service}_health"] == "overloaded"
        return ts.loc[over, "time_utc"].iloc[0] if over.any() else None

    def restoration_utc(self) -> pd.Timestamp | None:
        """When the stack was back for good: connected share >= 99 % of its value before the
        first trigger and no service of the stack overloaded or failing, to the end of the run.

        None if that never happens (still down at the end).
        """
        if self._restoration_s is None:
            return None
        return self.scenario.start_utc + pd.Timedelta(seconds=self._restoration_s)

    def outage_duration_h(self) -> float:
        """Hours from :meth:`onset_utc` to :meth:`restoration_utc` (``inf`` if never restored,
        0 if there was no onset)."""
        onset = self.onset_utc()
        if onset is None:
            return 0.0
        restored = self.restoration_utc()
        if restored is None:
            return math.inf
        return (restored - onset).total_seconds() / 3600.0

    def services_overloaded(self) -> list[str]:
        """Services that were overloaded (utilisation >= 1) at some time, in graph order."""
        ts = self.timeseries
        return [n for n in self._ids if (ts[f"{n}_health"] == "overloaded").any()]

    def phase_at(self, t) -> str:
        """Phase of the output interval holding the wall-clock time ``t``.

        Raises
        ------
        ValueError
            If ``t`` is not a time inside the run.
        """
        s = self.scenario.seconds(t)
        ts = self.timeseries
        end = float(ts["time_s"].iloc[-1]) + self.scenario.output_every_s
        if not 0 <= s < end:
            raise ValueError(
                f"t must lie inside the run ({self.scenario.start_utc} to "
                f"{self.scenario.start_utc + pd.Timedelta(seconds=end)}), got {t!r}"
            )
        i = int(np.searchsorted(ts["time_s"].to_numpy(), s + 1e-9, side="right")) - 1
        return str(ts["phase"].iloc[i])


def skype_2015(
    *,
    rebalancing_utc=None,
    recovery: bool = True,
    backoff: str = "immediate",
    output_every_s: float = 300.0,
    path=None,
    feedback: bool = True,
) -> Scenario:
    """The 21 September 2015 outage of consumer Skype, from the parameter card.

    Time 0 is midnight UTC on 21 September 2015 and the run lasts the day. The population
    model is :meth:`StormParams.from_card` (40 M clients, 0.4 knocked off, immediate retries,
    all assumed) with the push at the card's ``config_push_utc`` (assumed, 08:20). The
    recovery action, the record's "re-balanced the traffic load" (``recovery_action``,
    verified), is admission control (``recovery_model``, assumed) from ``rebalancing_utc``
    (assumed, 22:25) at ``rebalancing_admission_share`` (assumed, 0.3) of the sign-in
    capacity, which keeps sign-ins below the rate at which the graph's authentication
    collapses. The service graph is ``data/service_graph_*.csv``; the population stands for
    its consumer stack, and the two are coupled both ways (``feedback``).

    Parameters
    ----------
    rebalancing_utc : time, optional
        When the rebalancing starts (default: the card's ``rebalancing_utc``).
    recovery : bool
        False: no recovery action (the service stays stuck).
    backoff : {"immediate", "grpc"}
        The clients' reconnect policy (see :meth:`StormParams.from_card`).
    output_every_s : float
        Resolution of the replay in seconds (a multiple of 1 s).
    path : str or Path, optional
        Card to read instead of ``data/scenario_2015.csv``.
    feedback : bool
        True (the default): the graph's failures on the sign-in path go back into the
        population model. False: one-way (the graph only reports).

    Examples
    --------
    >>> s = skype_2015()
    >>> s.start_utc, s.actions[0].time_s / 3600
    (Timestamp('2015-09-21 00:00:00+0000', tz='UTC'), 22.416666666666668)
    >>> s.actions[0].policy.admission.rate_per_s
    15000.0
    >>> skype_2015(recovery=False).actions
    ()
    >>> skype_2015(rebalancing_utc="yesterday-ish")
    Traceback (most recent call last):
    ...
    ValueError: rebalancing_utc must be a time (e.g. '2015-09-21T23:10Z'), got 'yesterday-ish'
    """
    if not isinstance(recovery, bool):
        raise ValueError(f"recovery must be True or False, got {recovery!r}")
    onset = data.parameter("outage_start_utc", path)
    start = onset.normalize()
    push = _utc("config_push_utc", data.parameter("config_push_utc", path))
    when = data.parameter("rebalancing_utc", path) if rebalancing_utc is None else rebalancing_utc
    when = _utc("rebalancing_utc", when)
    horizon = 86_400.0
    push_s = (push - start).total_seconds()
    when_s = (when - start).total_seconds()
    if not push_s < when_s < horizon:
        raise ValueError(
            f"rebalancing_utc must lie after the push ({push}) and before the end of the day, "
            f"got {when}"
        )
    every = float(output_every_s) if isinstance(output_every_s, (int, float)) else math.nan
    if not math.isfinite(every) or every < 1 or every != round(every):
        raise ValueError(
            f"output_every_s must be a whole number of seconds >= 1, got {output_every_s!r}"
        )
    params = StormParams.from_card(
        backoff, horizon_s=horizon, dt_s=1.0, output_every_s=every, push_at_s=push_s, path=path
    )
    share = float(data.parameter("rebalancing_admission_share", path))
    rate = share * params.signin_capacity_per_s
    actions = (
        (ServerPolicyAt(when_s, ServerPolicy(AdmissionControl(rate_per_s=rate))),)
        if recovery
        else ()
    )
    used = {name: data.parameter_record(name, path)["status"] for name in _SKYPE_2015_ROWS}
    description = (
        "21 September 2015: a larger-than-usual configuration change knocks some client "
        "versions off consumer Skype; their reconnection attempts overload sign-in and, "
        "through it, presence, messaging and the contact list; Skype for Business, a "
        "separate stack, stays up. Engineers re-balance the traffic load (modelled as "
        "admission control) and service is fully restored before midnight UTC."
    )
    return Scenario(
        name="skype_2015",
        params=params,
        graph=services.load_service_graph(),
        start_utc=start,
        actions=actions,
        description=description,
        parameters=used,
        stack="consumer",
        signin_service="sign_in",
        output_every_s=every,
        feedback=feedback,
    )
