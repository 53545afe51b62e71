"""Defences against the 2015 reconnection storm, a scorecard to compare them, and what they cost.

Each defence is a parameter of the scenario, not a copy of it: a small frozen dataclass, checked
when it is built, whose :meth:`~Defence.apply` takes a :class:`~outage_kit.scenarios.Scenario`
and returns a modified copy (through ``Scenario.with_`` and ``StormParams.with_``); nothing is
changed in place. :func:`apply_all` applies a set of them.

========================  ==========================================================  ===========
defence                   what it changes                                             model
========================  ==========================================================  ===========
:class:`StagedRollout`    the configuration push goes out in waves; a health check    population
                          after each wave can halt the later ones
:class:`ClientBackoff`    clients wait (capped exponential backoff with jitter)       population
                          before reconnecting
:class:`RetryBudget`      a per-client token bucket spaces retries out once it is     population
                          empty
:class:`CircuitBreaker`   after a run of failures a client waits a cooldown before    population
                          its next (half-open) attempt
:class:`AdmissionControl` sign-in admits at most a share of its capacity, from the    population
                          start; the rest is rejected at the door
:class:`DropExpired`      sign-in drops queued work whose client has timed out        population
:class:`BoundedQueue`     sign-in drops queued work that has waited too long          population
:class:`CapacityHeadroom` the sign-in path has ``factor`` times its capacity          both
:class:`Bulkheads`        sign-in's calls get their own pools at every shared         graph
                          service
========================  ==========================================================  ===========

The population model (:mod:`outage_kit.storm`) and the service graph are coupled both ways
(:mod:`outage_kit.scenarios`): the graph sees the sign-ins the sign-in service serves, and the
share of them that fail behind it (authentication, the contact list, presence) goes back into
the population model as clients that must retry. A defence at the door is therefore judged
against the path behind it too: a sign-in service that serves faster than authentication can
answer (:func:`~outage_kit.scenarios.sign_in_path_limit`, 1.52 times the normal sign-in rate
for the card) completes sign-ins that fail anyway, and the storm goes on. A defence of the
graph alone (bulkheads) changes which services are overloaded and the user-minutes without
service (signed-in users keep messaging), and, through the feedback, where the path breaks.

Recovery
--------
The question a student asks is "would this defence have prevented or shortened the outage?".
The operators' rebalancing (the card's ``rebalancing_utc``, 22:25 UTC, modelled as admission
control at ``rebalancing_admission_share`` of capacity) is therefore kept in the baseline and
in every defended run by default; ``recovery=False`` (:func:`scorecard`, :func:`cheapest_defences`,
:func:`defence_breaking_point`) removes it, to see whether a defence alone gets the service
out. A defence that acts on the sign-in service's policy (admission control, dropping
expired work, a queue-wait bound) stays on when the rebalancing replaces that policy: it is
merged into every :class:`~outage_kit.storm.ServerPolicyAt` of the scenario (the stricter
admission rate, the shorter wait bound).

The scorecard
-------------
:func:`score` turns one run into numbers and :func:`scorecard` compares sets of defences with
the 2015 baseline (its first row). Every metric's unit is in its name; values are finite or
``inf`` (never NaN):

``outage_min``
    Minutes during which users are hurt: from the first moment that either the replay's
    sign-in service is overloaded (its onset) or more than :data:`OUTAGE_OFFLINE_SHARE` of
    the clients connected before the trigger are offline, to the last such moment (the
    stack back for good and the clients back above that level), or to the end of the run if
    that never comes; 0 if neither ever happens. The service's state is judged at the
    replay's resolution (5 minutes), the clients at the model's step. Counting offline
    clients keeps a defence from scoring well by turning users away at the door (admission
    control at a very low rate never overloads sign-in, but leaves clients offline for
    hours). Needs the service graph.
``restored_by_end``
    Whether the outage (if any) was over before the end of the run. Needs the graph.
``user_min_lost``
    User-minutes without a connection: the sum over the population model's steps, from the
    first trigger on, of the clients connected just before it minus those connected (when
    positive), times the step, in minutes. 0 without a trigger.
``user_min_unserved``
    ``user_min_lost`` plus the connected user-minutes during which the services those users
    use were down (overloaded, failing or removed in the graph), each service weighted by its
    share of the stack's baseline client requests (sign-in excluded). Needs the graph.
``peak_load_ratio``
    The largest offered sign-in work over capacity, averaged over an output interval of the
    replay (5 minutes).
``goodput_signins``
    Sign-ins completed within their client's timeout (clients reconnected), over the run.
``zombie_signins``
    Sign-ins completed for clients that had already timed out (wasted work), over the run.
``failed_signins``
    Sign-ins completed in time that failed behind the sign-in service (a hard dependency
    failed, the service graph's feedback), over the run; their clients retry.
``served_signins``
    Every sign-in the service completed (``goodput_signins + zombie_signins +
    failed_signins``).
``time_to_recover_min``
    Minutes from the first trigger until the connected share is back (99 % of its value
    before the trigger) for good: :func:`~outage_kit.metastability.recovery_time_s` at the model's
    step. ``inf`` if it never is; 0 without a trigger or if it never fell below.
``n_services_overloaded``, ``services_overloaded``
    How many services, and which, were overloaded at some time (graph order). Needs the graph.

Costs
-----
``data/mitigation_costs.csv`` prices one unit of each defence in engineer-weeks (every row
assumed, with its reason: the record prices nothing); :func:`cost` adds up a set.
:func:`cheapest_defences` searches the combinations of a candidate list for the cheapest set
that keeps the outage at most a target (the lesson's challenge, with its checked answer), and
:func:`defence_breaking_point` maps, for each defence alone, how large a trigger it survives.
Both run their scenarios through :func:`score_combination`, a module-level function of plain
picklable arguments, with :func:`outage_kit.sweeps.sweep` (in this process, on a process
pool, or on any ``concurrent.futures`` executor such as a Dask cluster's).

Speed
-----
A replay spends almost all its time evaluating the service graph (a fixed point per distinct
load, a few dozen per day); the population model takes milliseconds. :func:`score` keeps the
graph's states between runs (``Scenario.run(graph_cache=...)``, keyed by the rounded load and
everything about the graph the evaluation reads), which gives the same numbers, and runs no
graph at all when only population-model metrics are asked for.

Examples
--------
>>> from outage_kit.scenarios import skype_2015
>>> s = apply_all(skype_2015(), [DropExpired(), AdmissionControl(rate_share=0.5)])
>>> s.params.server_policy.drop_expired, s.params.server_policy.admission.rate_per_s
(True, 25000.0)
>>> s.actions[0].policy.drop_expired  # the rebalancing keeps the defence on
True
>>> apply_all(skype_2015(), [ClientBackoff(), ClientBackoff(cap_s=60.0)])
Traceback (most recent call last):
...
ValueError: conflicting defences: ClientBackoff is given twice (client backoff 1-120 s x1.6 \
jitter 0.2; client backoff 1-60 s x1.6 jitter 0.2); give each kind of defence at most once
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import networkx as nx
import numpy as np
import pandas as pd

from outage_kit import data, services
from outage_kit import policies as pol
from outage_kit._checks import finite_number as _number
from outage_kit.metastability import recovery_time_s
from outage_kit.rollout import DETECTION_DELAY_S, HALT_THRESHOLD, WAVE_INTERVAL_S
from outage_kit.scenarios import _DOWN, Replay, Scenario, sign_in_path_limit, skype_2015
from outage_kit.storm import (
    ConfigPush,
    DelayFloor,
    ServerPolicyAt,
    StagedReadmission,
    StormParams,
    VersionMix,
    run_storm,
)

__all__ = [
    "COSTS_SCHEMA",
    "DEFAULT_CANDIDATES",
    "DEFAULT_SHARES",
    "OUTAGE_OFFLINE_SHARE",
    "DEFENCES",
    "METRICS",
    "AdmissionControl",
    "BoundedQueue",
    "Bulkheads",
    "CapacityHeadroom",
    "CheapestDefences",
    "CircuitBreaker",
    "ClientBackoff",
    "Defence",
    "DropExpired",
    "HealthCheck",
    "RetryBudget",
    "StagedRollout",
    "apply_all",
    "cheapest_defences",
    "clear_graph_cache",
    "cost",
    "defence_breaking_point",
    "door_and_path",
    "graph_cache",
    "load_mitigation_costs",
    "parse_defence",
    "score",
    "score_combination",
    "scorecard",
]

COSTS_FILE = "mitigation_costs.csv"


def _whole(name: str, value, low: int, high: int) -> int:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float, np.integer, np.floating))
        and math.isfinite(value)
        and value == int(value)
        and low <= value <= high
    )
    if not ok:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _check_scenario(scenario) -> Scenario:
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario (e.g. skype_2015()), got {scenario!r}")
    return scenario


def _fmt(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------------
# Server policies: merging a defence into every policy of a scenario
# --------------------------------------------------------------------------------------------


def _merge_policy(
    policy: pol.ServerPolicy,
    *,
    rate_per_s: float | None = None,
    drop_expired: bool = False,
    max_wait_s: float | None = None,
) -> pol.ServerPolicy:
    """``policy`` with a defence added: the lower admission rate, drop on, the shorter wait."""
    admission = policy.admission
    if rate_per_s is not None:
        if admission is None:
            admission = pol.AdmissionControl(rate_per_s=rate_per_s)
        else:
            now = math.inf if admission.rate_per_s is None else admission.rate_per_s
            admission = replace(admission, rate_per_s=min(now, rate_per_s))
    wait = policy.max_wait_s
    if max_wait_s is not None:
        wait = max_wait_s if wait is None else min(wait, max_wait_s)
    return pol.ServerPolicy(admission, policy.drop_expired or drop_expired, wait)


def _map_policies(scenario: Scenario, change: Callable[[pol.ServerPolicy], pol.ServerPolicy]):
    """Apply ``change`` to the starting server policy and to every ServerPolicyAt action."""

    def action(a):
        return ServerPolicyAt(a.time_s, change(a.policy)) if isinstance(a, ServerPolicyAt) else a

    p = scenario.params
    params = p.with_(
        server_policy=change(p.server_policy), actions=tuple(action(a) for a in p.actions)
    )
    return scenario.with_(params=params, actions=tuple(action(a) for a in scenario.actions))


def _private_services(graph: nx.DiGraph, entry: str) -> list[str]:
    """``entry`` and the services that only its requests reach, in graph order."""
    others = [n for n, a in graph.nodes(data=True) if a.get("entry", False) and n != entry]
    shared = set(others).union(*(nx.descendants(graph, n) for n in others))
    mine = ({entry} | nx.descendants(graph, entry)) - shared
    return [n for n in graph.nodes if n in mine]


# --------------------------------------------------------------------------------------------
# Defences
# --------------------------------------------------------------------------------------------


class Defence:
    """Base class of the defences: a parameter of a scenario.

    Subclasses are frozen dataclasses. ``key`` names the defence's row in
    ``data/mitigation_costs.csv``; :meth:`units` says how many of that row's units it takes
    (1 unless it says otherwise); :attr:`label` is a short description for tables.
    """

    key: ClassVar[str] = ""

    def apply(self, scenario: Scenario) -> Scenario:  # pragma: no cover - abstract
        """A copy of ``scenario`` with this defence in place."""
        raise NotImplementedError

    def units(self) -> float:
        """How many units of the cost table's row this defence takes."""
        return 1.0

    @property
    def label(self) -> str:  # pragma: no cover - every subclass defines it
        return type(self).__name__

    @property
    def spec(self) -> str:
        """The defence as a plain string that :func:`parse_defence` reads back (its repr)."""
        return repr(self)


@dataclass(frozen=True)
class HealthCheck:
    """What a staged rollout watches after each wave, and when it decides.

    The check of a wave has its verdict ``delay_s`` after the wave was pushed. It fails if,
    at some step between the push and the verdict, the connected clients fell below their
    number just before the wave by more than ``max_disconnected_share`` of the clients the
    wave reached, or if the sign-in load (offered work over capacity) averaged over that
    window exceeded ``max_load_ratio``. The defaults are lesson 04's (assumed) detection delay
    and halt threshold (:data:`outage_kit.rollout.DETECTION_DELAY_S`,
    :data:`~outage_kit.rollout.HALT_THRESHOLD`).

    Examples
    --------
    >>> HealthCheck()
    HealthCheck(delay_s=600.0, max_disconnected_share=0.05, max_load_ratio=1.0)
    >>> HealthCheck(delay_s=0.0)
    Traceback (most recent call last):
    ...
    ValueError: HealthCheck delay_s must be a finite number > 0, got 0.0
    """

    delay_s: float = DETECTION_DELAY_S
    max_disconnected_share: float = HALT_THRESHOLD
    max_load_ratio: float = 1.0

    def __post_init__(self):
        d = _number("HealthCheck delay_s", self.delay_s, low=0.0, strict=True)
        share = _number("HealthCheck max_disconnected_share", self.max_disconnected_share, low=0)
        if share > 1:
            raise ValueError(
                f"HealthCheck max_disconnected_share must lie in [0, 1], got {share!r}"
            )
        load = _number("HealthCheck max_load_ratio", self.max_load_ratio, low=0.0, strict=True)
        object.__setattr__(self, "delay_s", d)
        object.__setattr__(self, "max_disconnected_share", share)
        object.__setattr__(self, "max_load_ratio", load)


@dataclass(frozen=True)
class StagedRollout(Defence):
    """Push the configuration in waves, ``interval_s`` apart, and halt on a failing check.

    Models: the scenario's configuration push (exactly one
    :class:`~outage_kit.storm.ConfigPush`, with one reach for every version) is replaced by
    waves starting at its time. ``waves`` is a number of equal waves, or the cumulative
    shares reached after each wave (strictly increasing, the last at most 1, as
    :data:`outage_kit.rollout.STAGED_WAVES`); wave ``i`` reaches its slice of the push's reach,
    of the clients connected at that moment (as :func:`outage_kit.storm.staged_rollout`).

    With a :class:`HealthCheck`, a wave is pushed only if no earlier wave's check has failed
    by then (a wave due at the very moment of a failing verdict is not pushed, as in
    :func:`outage_kit.rollout.staged_rollout`). The population model fixes its triggers
    before a run, so the halt is found **wave by wave**: going through the waves in time
    order, each check is judged, when its verdict is due, on a run of the population model
    holding exactly the waves pushed before that verdict (at the model's step, up to the
    verdict); a failing check stops every later wave. No run ever contains a wave that had
    not been decided when its check was read, so the halt is what the operators would have
    seen. ``health_check=None`` pushes every wave.

    Approximates: instant waves (lesson 04 spreads a wave over a minute), and a check that
    sees the whole population's connected count and the sign-in load.

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> rollout = StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=1800.0)
    >>> table = rollout.plan(skype_2015())
    >>> table[["wave", "reach", "pushed", "check"]]
       wave  reach  pushed     check
    0     1   0.01    True    failed
    1     2   0.09   False   not run
    2     3   0.40   False   not run
    3     4   0.50   False   not run
    >>> [t.reach for t in rollout.apply(skype_2015()).params.triggers]
    [0.01]
    >>> StagedRollout(waves=0, interval_s=600.0)
    Traceback (most recent call last):
    ...
    ValueError: StagedRollout waves must be a whole number from 1 to 1000 or cumulative shares \
that strictly increase to at most 1, got 0
    """

    key: ClassVar[str] = "staged_rollout"

    waves: int | tuple[float, ...]
    interval_s: float = WAVE_INTERVAL_S
    health_check: HealthCheck | None = field(default_factory=HealthCheck)

    def __post_init__(self):
        w = self.waves
        problem = (
            "StagedRollout waves must be a whole number from 1 to 1000 or cumulative shares "
            f"that strictly increase to at most 1, got {w!r}"
        )
        if isinstance(w, (list, tuple, np.ndarray)):
            try:
                shares = tuple(_number("wave share", x, low=0.0, strict=True) for x in w)
            except (TypeError, ValueError):
                raise ValueError(problem) from None
            if not shares or any(b <= a for a, b in itertools.pairwise(shares)) or shares[-1] > 1:
                raise ValueError(problem)
            object.__setattr__(self, "waves", shares)
        else:
            try:
                object.__setattr__(self, "waves", _whole("waves", w, 1, 1000))
            except ValueError:
                raise ValueError(problem) from None
        interval = _number("StagedRollout interval_s", self.interval_s, low=0.0, strict=True)
        object.__setattr__(self, "interval_s", interval)
        if self.health_check is not None and not isinstance(self.health_check, HealthCheck):
            raise TypeError(
                f"StagedRollout health_check must be a HealthCheck or None, got "
                f"{self.health_check!r}"
            )

    @property
    def label(self) -> str:
        if isinstance(self.waves, int):
            plan = f"{self.waves} equal waves"
        else:
            plan = ", ".join(f"{100 * s:g} %" for s in self.waves)
        check = "health check" if self.health_check is not None else "no check"
        return f"staged rollout ({plan}; {self.interval_s / 60:g} min apart; {check})"

    def _wave_reaches(self) -> list[float]:
        if isinstance(self.waves, int):
            return [1.0 / self.waves] * self.waves
        return list(np.diff((0.0, *self.waves)))

    def _push(self, scenario: Scenario) -> ConfigPush:
        pushes = [t for t in scenario.params.triggers if isinstance(t, ConfigPush)]
        if len(pushes) != 1:
            raise ValueError(
                "StagedRollout needs a scenario with exactly one ConfigPush trigger to stage, "
                f"got {len(pushes)}"
            )
        if isinstance(pushes[0].reach, Mapping):
            raise ValueError(
                "StagedRollout stages a push with one reach for every version; this push has "
                f"per-version reaches {pushes[0].reach!r}"
            )
        return pushes[0]

    def plan(self, scenario: Scenario) -> pd.DataFrame:
        """The waves, which were pushed, and what each health check saw.

        Returns
        -------
        pandas.DataFrame
            One row per planned wave: ``wave`` (1, 2, ...), ``time_s``, ``reach`` (share of
            the connected clients it reaches), ``pushed``, ``check`` (``"passed"``,
            ``"failed"``, ``"no check"``, ``"not run"``: not pushed, or its verdict falls
            after the end of the run), ``verdict_s``, ``disconnected_share_of_wave`` and
            ``load_ratio`` (what the check saw; 0 where it did not run).
        """
        scenario = _check_scenario(scenario)
        push = self._push(scenario)
        p = scenario.params
        reaches = [push.reach * r for r in self._wave_reaches()]
        times = [push.time_s + i * self.interval_s for i in range(len(reaches))]
        if times[-1] > p.horizon_s:
            raise ValueError(
                f"StagedRollout: the last wave ({times[-1]:g} s) falls after the end of the run "
                f"({p.horizon_s:g} s); use fewer waves or a shorter interval_s"
            )
        others = tuple(t for t in p.triggers if t is not push)
        check = self.health_check
        n = len(reaches)
        rows = [
            {
                "wave": i + 1,
                "time_s": times[i],
                "reach": round(reaches[i], 12),
                "pushed": False,
                "check": "not run",
                "verdict_s": times[i] + check.delay_s if check else math.inf,
                "disconnected_share_of_wave": 0.0,
                "load_ratio": 0.0,
            }
            for i in range(n)
        ]
        halt_at = math.inf
        pending: list[int] = []
        for k in range(n + 1):
            now = times[k] if k < n else math.inf
            for j in sorted(pending, key=lambda i: rows[i]["verdict_s"]):
                verdict = rows[j]["verdict_s"]
                if verdict > now:
                    continue
                pending.remove(j)
                if verdict > p.horizon_s:
                    continue  # the run ends before the verdict
                pushed = [i for i in range(n) if rows[i]["pushed"]]
                seen = self._look(scenario, others, pushed, times, reaches, j, verdict)
                rows[j]["disconnected_share_of_wave"], rows[j]["load_ratio"] = seen
                failed = seen[0] > check.max_disconnected_share or seen[1] > check.max_load_ratio
                rows[j]["check"] = "failed" if failed else "passed"
                if failed:
                    halt_at = min(halt_at, verdict)
            if k < n and times[k] < halt_at:
                rows[k]["pushed"] = True
                if check is None:
                    rows[k]["check"] = "no check"
                else:
                    pending.append(k)
        return pd.DataFrame(rows)

    @staticmethod
    def _look(scenario, others, pushed, times, reaches, j, verdict):
        """(disconnected share of wave j, mean load ratio) from the push of j to its verdict."""
        p = scenario.params
        dt = p.dt_s
        end = min(p.horizon_s, verdict + dt)
        triggers = others + tuple(ConfigPush(times[i], reaches[i]) for i in pushed)
        params = scenario.storm_params(output_every_s=dt)
        params = params.with_(
            horizon_s=end,
            triggers=tuple(t for t in triggers if t.time_s <= end),
            actions=tuple(a for a in params.actions if a.time_s <= end),
        )
        ts = run_storm(params).timeseries
        t = ts["time_s"].to_numpy()
        start = round(times[j] / dt) * dt
        stop = round(verdict / dt) * dt
        connected = ts["connected"].to_numpy()
        before = float(connected[np.searchsorted(t, start - 1e-9)])
        window = (t > start + 1e-9) & (t <= stop + 1e-9)
        lowest = float(connected[window].min()) if window.any() else before
        reached = reaches[j] * before
        drop = max(0.0, before - lowest) / reached if reached > 0 else 0.0
        busy = (t >= start - 1e-9) & (t < stop - 1e-9)
        cap = ts["capacity_per_s"].to_numpy()[busy]
        load = ts["load_ratio"].to_numpy()[busy]
        mean_load = float(np.dot(load, cap) / cap.sum()) if cap.size else 0.0
        return drop, mean_load

    def apply(self, scenario: Scenario) -> Scenario:
        """The scenario with the push replaced by the waves that :meth:`plan` pushes.

        The halt depends on everything else about the scenario (backoff, admission control
        ...), so :func:`apply_all` applies a staged rollout after every other defence.
        """
        table = self.plan(scenario)
        push = self._push(scenario)
        waves = tuple(
            ConfigPush(float(r.time_s), push.reach * share)
            for r, share in zip(table.itertuples(), self._wave_reaches(), strict=True)
            if r.pushed
        )
        others = tuple(t for t in scenario.params.triggers if t is not push)
        return scenario.with_(params=scenario.params.with_(triggers=others + waves))


def _card(name: str) -> float:
    return float(data.parameter(name))


@dataclass(frozen=True)
class ClientBackoff(Defence):
    """Clients reconnect with capped exponential backoff and jitter.

    Models: the clients' reconnect delay before retry ``n`` is uniform on ``t_n (1 ± jitter)``
    with ``t_n = min(cap_s, base_s * multiplier**(n - 1))``
    (:class:`~outage_kit.policies.ExponentialBackoff`); it replaces the scenario's backoff rule
    (an attempt limit, if the scenario has one, is kept). Defaults: the card's ``grpc_*`` rows
    (gRPC's documented connection backoff: 1 s, x1.6, cap 120 s, jitter 0.2).

    Approximates: every client runs the new policy (old versions would keep the old one).

    Examples
    --------
    >>> ClientBackoff()
    ClientBackoff(base_s=1.0, cap_s=120.0, multiplier=1.6, jitter=0.2)
    >>> ClientBackoff(base_s=10.0, cap_s=5.0)
    Traceback (most recent call last):
    ...
    ValueError: cap_s (5.0) must be >= base_s (10.0)
    """

    key: ClassVar[str] = "client_backoff"

    base_s: float | None = None
    cap_s: float | None = None
    multiplier: float | None = None
    jitter: float | None = None

    def __post_init__(self):
        card = {
            "base_s": "grpc_initial_backoff_s",
            "cap_s": "grpc_max_backoff_s",
            "multiplier": "grpc_backoff_multiplier",
            "jitter": "grpc_jitter_fraction",
        }
        for name, row in card.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, _card(row))
            else:
                object.__setattr__(self, name, _number(name, getattr(self, name)))
        self.backoff  # noqa: B018  (validates through ExponentialBackoff)

    @property
    def backoff(self) -> pol.ExponentialBackoff:
        """The backoff rule it gives the clients."""
        return pol.ExponentialBackoff(self.base_s, self.cap_s, self.multiplier, self.jitter)

    @property
    def label(self) -> str:
        return (
            f"client backoff {_fmt(self.base_s)}-{_fmt(self.cap_s)} s x{_fmt(self.multiplier)} "
            f"jitter {_fmt(self.jitter)}"
        )

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        retry = scenario.params.retry
        new = replace(retry, backoff=self.backoff) if isinstance(retry, pol.RetryPolicy) else None
        return scenario.with_(params=scenario.params.with_(retry=new or self.backoff))


def _add_floor(scenario: Scenario, floor: DelayFloor) -> Scenario:
    p = scenario.params
    return scenario.with_(params=p.with_(delay_floors=(*p.delay_floors, floor)))


@dataclass(frozen=True)
class RetryBudget(Defence):
    """A per-client retry budget: a token bucket of ``tokens`` refilled at ``refill_per_s``.

    Models: every retry (reconnect attempt after a failure) costs a token; the bucket starts
    full. A client that has spent its ``tokens`` can retry at most every ``1 / refill_per_s``
    seconds, so the delay before retry ``n > tokens`` is at least ``1 / refill_per_s``:
    :class:`~outage_kit.storm.DelayFloor` ``(tokens + 1, 1 / refill_per_s)``, the delay
    becoming ``max(backoff delay, floor)``. (Not the same thing as
    :class:`outage_kit.policies.RetryBudget`, a bucket shared by all the clients of the
    request-level simulation.)

    Approximates: the floor counts from the failure of the previous attempt, not from its
    send, and ignores tokens refilled during earlier delays and attempts; so it spaces
    retries a little more than a real bucket would (by at most the attempt's time in the
    service, up to the timeout, plus what refilled meanwhile): it slightly flatters the
    defence. The floor has no jitter: clients that failed in the same step and have run out
    of tokens retry in the same step, a synchronised wave. Under admission control (the 2015
    rebalancing) each wave gets one step's worth of admissions and the rest is rejected and
    comes back together, which slows the recovery.

    Examples
    --------
    >>> RetryBudget(tokens=5, refill_per_s=0.1).floor
    DelayFloor(from_retry=6, min_delay_s=10.0)
    >>> RetryBudget(tokens=5, refill_per_s=0.0)
    Traceback (most recent call last):
    ...
    ValueError: RetryBudget refill_per_s must be a finite number > 0, got 0.0
    """

    key: ClassVar[str] = "retry_budget"

    tokens: int = 5
    refill_per_s: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "tokens", _whole("RetryBudget tokens", self.tokens, 0, 999))
        r = _number("RetryBudget refill_per_s", self.refill_per_s, low=0.0, strict=True)
        object.__setattr__(self, "refill_per_s", r)

    @property
    def floor(self) -> DelayFloor:
        """The delay floor it puts on retries."""
        return DelayFloor(self.tokens + 1, 1.0 / self.refill_per_s)

    @property
    def label(self) -> str:
        return f"retry budget ({self.tokens} tokens, 1 per {_fmt(1 / self.refill_per_s)} s)"

    def apply(self, scenario: Scenario) -> Scenario:
        return _add_floor(_check_scenario(scenario), self.floor)


@dataclass(frozen=True)
class CircuitBreaker(Defence):
    """A per-client circuit breaker on sign-in: ``failure_threshold`` failures, ``cooldown_s``.

    Models: after ``failure_threshold`` consecutive failed attempts the breaker opens and the
    client waits ``cooldown_s`` before its next (half-open) attempt; a failed half-open
    attempt opens it again. Attempt ``n`` failing is followed by retry ``n``, so the delay
    before every retry ``n >= failure_threshold`` is at least ``cooldown_s``:
    :class:`~outage_kit.storm.DelayFloor` ``(failure_threshold, cooldown_s)``, the delay
    becoming ``max(backoff delay, cooldown)``. (Not the same thing as
    :class:`outage_kit.policies.CircuitBreaker`, one breaker shared by all the clients of the
    request-level simulation.)

    Approximates: the cooldown counts from the failure (a breaker's ``open`` time does too);
    a client is not told the service is healthy again, it only finds out on its next attempt.
    The cooldown has no jitter, so clients that failed together retry together (see
    :class:`RetryBudget`: under the 2015 rebalancing's admission control this slows the
    recovery).

    Examples
    --------
    >>> CircuitBreaker(failure_threshold=3, cooldown_s=60.0).floor
    DelayFloor(from_retry=3, min_delay_s=60.0)
    """

    key: ClassVar[str] = "circuit_breaker"

    failure_threshold: int = 5
    cooldown_s: float = 30.0

    def __post_init__(self):
        n = _whole("CircuitBreaker failure_threshold", self.failure_threshold, 1, 1000)
        object.__setattr__(self, "failure_threshold", n)
        c = _number("CircuitBreaker cooldown_s", self.cooldown_s, low=0.0, strict=True)
        object.__setattr__(self, "cooldown_s", c)

    @property
    def floor(self) -> DelayFloor:
        """The delay floor it puts on retries."""
        return DelayFloor(self.failure_threshold, self.cooldown_s)

    @property
    def label(self) -> str:
        return f"circuit breaker ({self.failure_threshold} failures, {_fmt(self.cooldown_s)} s)"

    def apply(self, scenario: Scenario) -> Scenario:
        return _add_floor(_check_scenario(scenario), self.floor)


@dataclass(frozen=True)
class AdmissionControl(Defence):
    """Sign-in admits at most ``rate_share`` x its capacity in sign-ins per second, from the start.

    Models: fast rejection at the door: attempts beyond the rate are rejected at once and
    cost the service nothing (as every rejection in the population model); the rejected
    client backs off as after any failure. The rate is ``rate_share`` times the scenario's
    sign-in capacity (``signin_capacity_per_s``, after any :class:`CapacityHeadroom`). Set on
    the starting server policy and merged into every later
    :class:`~outage_kit.storm.ServerPolicyAt` (the lower rate wins).

    Approximates: a steady rate limit (no token-bucket burst). The rate counts sign-ins only;
    a share below the normal sign-in rate over capacity (sessions ending and starting again:
    0.22 in 2015) would reject normal sign-ins too.

    Examples
    --------
    >>> AdmissionControl(rate_share=0.5).label
    'admission control at 0.5 x capacity'
    >>> AdmissionControl(rate_share=0.0)
    Traceback (most recent call last):
    ...
    ValueError: AdmissionControl rate_share must be a finite number > 0, got 0.0
    """

    key: ClassVar[str] = "admission_control"

    rate_share: float

    def __post_init__(self):
        s = _number("AdmissionControl rate_share", self.rate_share, low=0.0, strict=True)
        object.__setattr__(self, "rate_share", s)

    @property
    def label(self) -> str:
        return f"admission control at {_fmt(self.rate_share)} x capacity"

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        rate = self.rate_share * scenario.params.signin_capacity_per_s
        return _map_policies(scenario, lambda p: _merge_policy(p, rate_per_s=rate))


@dataclass(frozen=True)
class DropExpired(Defence):
    """Sign-in drops queued work whose client has already timed out, from the start.

    Models: :class:`~outage_kit.policies.ServerPolicy` ``drop_expired=True`` on the starting
    server policy and on every later :class:`~outage_kit.storm.ServerPolicyAt`: work that has
    waited the client timeout is discarded instead of served (no zombie work).

    Approximates: the server knows each attempt's deadline (clients send it); the drop age is
    the timeout rounded to the model's step.

    Examples
    --------
    >>> DropExpired().label
    'drop expired work'
    """

    key: ClassVar[str] = "drop_expired"

    @property
    def label(self) -> str:
        return "drop expired work"

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        return _map_policies(scenario, lambda p: _merge_policy(p, drop_expired=True))


@dataclass(frozen=True)
class BoundedQueue(Defence):
    """Sign-in's queue is bounded by wait: work that has waited ``max_wait_s`` is dropped.

    Models: the "bounded queue under backlog" defence,
    :class:`~outage_kit.policies.ServerPolicy` ``max_wait_s`` on the starting server policy and
    on every later :class:`~outage_kit.storm.ServerPolicyAt` (the shorter bound wins). Below the
    client timeout it sheds work that could no longer finish in time, not only work that is
    already too late; the client is not told and times out as usual.

    Approximates: the wait is rounded to the model's step (at least one step); the queue
    stays first come, first served.

    Examples
    --------
    >>> BoundedQueue(max_wait_s=10.0).label
    'queue wait bound 10 s'
    >>> BoundedQueue(max_wait_s=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: BoundedQueue max_wait_s must be a finite number > 0, got -1.0
    """

    key: ClassVar[str] = "bounded_queue"

    max_wait_s: float

    def __post_init__(self):
        w = _number("BoundedQueue max_wait_s", self.max_wait_s, low=0.0, strict=True)
        object.__setattr__(self, "max_wait_s", w)

    @property
    def label(self) -> str:
        return f"queue wait bound {_fmt(self.max_wait_s)} s"

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        return _map_policies(scenario, lambda p: _merge_policy(p, max_wait_s=self.max_wait_s))


@dataclass(frozen=True)
class CapacityHeadroom(Defence):
    """The sign-in path has ``factor`` times its capacity, from the start.

    Models: in the population model the sign-in capacity and the queue bound (120 s of
    capacity) are multiplied by ``factor``, and so is every admission rate of the scenario
    (starting policy, :class:`~outage_kit.storm.ServerPolicyAt`,
    :class:`~outage_kit.storm.StagedReadmission`), which are shares of capacity: the
    rebalancing still admits the card's share of the (larger) capacity. In the service graph
    the sign-in service and the services only its requests reach (authentication, client
    configuration; with :class:`Bulkheads`, its own pools) get ``factor`` times their
    workers (rounded).
    Costed per unit of extra capacity: ``factor - 1``.

    Approximates: shared services (presence, contacts, messaging) keep their size, so more
    sign-ins let in can push the overload further down the graph.

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> s = CapacityHeadroom(factor=2.0).apply(skype_2015())
    >>> s.params.signin_capacity_per_s, s.graph.nodes["sign_in"]["workers"]
    (100000.0, 690)
    >>> CapacityHeadroom(factor=2.0).units()
    1.0
    """

    key: ClassVar[str] = "capacity_headroom"

    factor: float

    def __post_init__(self):
        f = _number("CapacityHeadroom factor", self.factor, low=0.0, strict=True)
        if f < 1:
            raise ValueError(f"CapacityHeadroom factor must be >= 1 (more capacity), got {f!r}")
        object.__setattr__(self, "factor", f)

    def units(self) -> float:
        return self.factor - 1.0

    @property
    def label(self) -> str:
        return f"capacity x{_fmt(self.factor)}"

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        f = self.factor

        def scale(policy: pol.ServerPolicy) -> pol.ServerPolicy:
            adm = policy.admission
            if adm is None or adm.rate_per_s is None:
                return policy
            return replace(policy, admission=replace(adm, rate_per_s=adm.rate_per_s * f))

        def ramp(a):
            if isinstance(a, StagedReadmission):
                return replace(
                    a, start_rate_per_s=a.start_rate_per_s * f, end_rate_per_s=a.end_rate_per_s * f
                )
            return a

        scaled = _map_policies(scenario, scale)
        p = scaled.params
        params = p.with_(
            signin_capacity_per_s=p.signin_capacity_per_s * f,
            max_queue_length=None if p.max_queue_length is None else p.max_queue_length * f,
            actions=tuple(ramp(a) for a in p.actions),
        )
        graph = scenario.graph.copy()
        for n in _private_services(graph, scenario.signin_service):
            graph.nodes[n]["workers"] = max(1, round(graph.nodes[n]["workers"] * f))
        services.validate_service_graph(graph)
        return scaled.with_(
            params=params, graph=graph, actions=tuple(ramp(a) for a in scaled.actions)
        )


@dataclass(frozen=True)
class Bulkheads(Defence):
    """Each of ``entries`` gets its own pool at every shared service of the graph.

    Models: :func:`outage_kit.services.with_bulkheads`: the calls that start at an isolated
    entry point (sign-in by default) are served by workers of their own at every service
    they share with other entry points (presence, contacts, messaging, ...), sized for their
    share of the baseline load. Sign-in's overload then stays in sign-in's pools: presence,
    messaging and contacts keep serving the users who are signed in. The population model is
    unchanged; through the feedback, the pools change how many sign-ins the path carries
    (:func:`~outage_kit.scenarios.sign_in_path_limit`: the card's 1.52 becomes 1.35, since
    sign-in's share of the account store is smaller than the whole store), and they show in
    the services overloaded and in ``user_min_unserved``. Costed per isolated entry point.

    Approximates: a fixed partition of workers (no borrowing between pools).

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> s = Bulkheads().apply(skype_2015())
    >>> s.graph.nodes["presence_for_sign_in"]["workers"] + s.graph.nodes["presence"]["workers"]
    967
    """

    key: ClassVar[str] = "bulkheads"

    entries: tuple[str, ...] = ("sign_in",)

    def __post_init__(self):
        entries = (self.entries,) if isinstance(self.entries, str) else tuple(self.entries)
        if not entries or not all(isinstance(e, str) and e for e in entries):
            raise ValueError(f"Bulkheads entries must name entry points, got {self.entries!r}")
        object.__setattr__(self, "entries", entries)

    def units(self) -> float:
        return float(len(self.entries))

    @property
    def label(self) -> str:
        return f"bulkheads for {', '.join(self.entries)}"

    def apply(self, scenario: Scenario) -> Scenario:
        scenario = _check_scenario(scenario)
        return scenario.with_(graph=services.with_bulkheads(scenario.graph, self.entries))


#: Every defence class, in the order :func:`apply_all` applies them (a staged rollout last: its
#: health checks see the scenario with every other defence in place).
DEFENCES: tuple[type[Defence], ...] = (
    Bulkheads,
    CapacityHeadroom,
    ClientBackoff,
    RetryBudget,
    CircuitBreaker,
    AdmissionControl,
    DropExpired,
    BoundedQueue,
    StagedRollout,
)


def apply_all(scenario: Scenario, defences: Sequence[Defence]) -> Scenario:
    """``scenario`` with every defence of ``defences`` in place, whatever their order.

    They are applied in a fixed order (:data:`DEFENCES`): bulkheads before capacity (extra
    capacity goes to sign-in's own pools), capacity before admission control (whose rate is
    a share of it), and a staged rollout last (its health checks see every other defence).

    Raises
    ------
    ValueError
        If a kind of defence is given twice (naming both), or an item is not a defence.

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> a = apply_all(skype_2015(), [AdmissionControl(0.5), CapacityHeadroom(2.0)])
    >>> b = apply_all(skype_2015(), [CapacityHeadroom(2.0), AdmissionControl(0.5)])
    >>> a.params == b.params, a.params.server_policy.admission.rate_per_s
    (True, 50000.0)
    """
    scenario = _check_scenario(scenario)
    if isinstance(defences, Defence):
        defences = [defences]
    by_kind: dict[type, Defence] = {}
    for d in defences:
        if not isinstance(d, Defence):
            raise TypeError(f"defences must be Defence objects (e.g. DropExpired()), got {d!r}")
        kind = type(d)
        if kind in by_kind:
            raise ValueError(
                f"conflicting defences: {kind.__name__} is given twice ({by_kind[kind].label}; "
                f"{d.label}); give each kind of defence at most once"
            )
        by_kind[kind] = d
    for kind in DEFENCES:
        if kind in by_kind:
            scenario = by_kind[kind].apply(scenario)
    return scenario


_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (*DEFENCES, HealthCheck)}


def parse_defence(spec: str | Defence) -> Defence:
    """A defence from its plain-string form (:attr:`Defence.spec`, its repr).

    Only the defence classes of this module (and :class:`HealthCheck` inside a
    :class:`StagedRollout`) with literal arguments are read; nothing is evaluated.

    Examples
    --------
    >>> parse_defence("AdmissionControl(rate_share=0.7)")
    AdmissionControl(rate_share=0.7)
    >>> d = StagedRollout(waves=4, interval_s=900.0)
    >>> parse_defence(d.spec) == d
    True
    >>> parse_defence("os.system('ls')")
    Traceback (most recent call last):
    ...
    ValueError: not a defence: "os.system('ls')"; write one such as 'DropExpired()' or \
'AdmissionControl(rate_share=0.5)'
    """
    if isinstance(spec, Defence):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a defence spec must be a string or a Defence, got {spec!r}")
    problem = (
        f"not a defence: {spec!r}; write one such as 'DropExpired()' or "
        "'AdmissionControl(rate_share=0.5)'"
    )

    def build(node):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CLASSES
            and all(k.arg is not None for k in node.keywords)
        ):
            raise ValueError(problem)
        args = [value(a) for a in node.args]
        kwargs = {k.arg: value(k.value) for k in node.keywords}
        return _CLASSES[node.func.id](*args, **kwargs)

    def value(node):
        if isinstance(node, ast.Call):
            return build(node)
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise ValueError(problem) from None

    try:
        tree = ast.parse(spec.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(problem) from None
    out = build(tree.body)
    if not isinstance(out, Defence):
        raise ValueError(problem)
    return out


# --------------------------------------------------------------------------------------------
# Costs
# --------------------------------------------------------------------------------------------


def _check_cost_row(row) -> None:
    keys = [cls.key for cls in DEFENCES]
    if row["id"] not in keys:
        row.fail("id", f"{row['id']!r} is not a defence; use one of {', '.join(keys)}")
    if row["engineer_weeks_per_unit"] < 0:
        row.fail(
            "engineer_weeks_per_unit",
            f"{row['engineer_weeks_per_unit']:g} is negative; a cost is a number >= 0",
        )
    if row["status"] != "assumed":
        row.fail(
            "status",
            "no public source prices these defences for Skype; a cost is 'assumed' (with a "
            f"reason), not {row['status']!r}",
        )


#: Columns of ``data/mitigation_costs.csv``.
COSTS_SCHEMA = data.Schema(
    COSTS_FILE,
    (
        data.Column("id", "id", required=True),
        data.Column("engineer_weeks_per_unit", "number", required=True),
        data.Column("unit", "text", required=True),
        data.Column("status", "status", required=True),
        data.Column("source_tags", "tags"),
        data.Column("source", "sources"),
        data.Column("derivation", "text"),
        data.Column("reason", "text"),
        data.Column("note", "text"),
    ),
    row_checks=(_check_cost_row,),
)


def load_mitigation_costs(path: str | Path | None = None) -> pd.DataFrame:
    """The cost table ``data/mitigation_costs.csv``, validated: one row per defence.

    Columns: ``id`` (the defence's :attr:`Defence.key`), ``engineer_weeks_per_unit``, ``unit``
    (what one unit is), ``status`` (always ``assumed``), ``reason``, ``note`` and the other
    provenance columns of ``data/``.

    Raises
    ------
    outage_kit.data.DataError
        Naming the file, the line and the field: an unknown defence, a negative cost, a status
        other than ``assumed``, a missing reason, a defence without a row...

    Examples
    --------
    >>> costs = load_mitigation_costs().set_index("id")
    >>> float(costs.loc["capacity_headroom", "engineer_weeks_per_unit"])
    26.0
    """
    file = data.DATA_DIR / COSTS_FILE if path is None else Path(path)
    rows = data.read_rows(file, COSTS_SCHEMA)
    have = {row["id"] for row in rows}
    missing = [cls.key for cls in DEFENCES if cls.key not in have]
    if missing:
        line = rows[-1].line + 1 if rows else 2
        raise data.DataError(
            file.name, line, "id", f"no row for {', '.join(missing)}; every defence needs a cost"
        )
    return data._to_frame(rows, COSTS_SCHEMA)


@functools.lru_cache(maxsize=8)
def _unit_costs(path: str | None) -> dict[str, float]:
    table = load_mitigation_costs(path)
    return dict(zip(table["id"], table["engineer_weeks_per_unit"].astype(float), strict=True))


def cost(defences: Sequence[Defence], *, path: str | Path | None = None) -> float:
    """Cost of a set of defences in engineer-weeks: the sum of unit cost x units.

    Examples
    --------
    >>> cost([DropExpired(), CapacityHeadroom(factor=3.0)])
    54.0
    >>> cost([])
    0.0
    """
    if isinstance(defences, Defence):
        defences = [defences]
    unit = _unit_costs(None if path is None else str(path))
    total = 0.0
    for d in defences:
        if not isinstance(d, Defence):
            raise TypeError(f"defences must be Defence objects, got {d!r}")
        total += unit[d.key] * d.units()
    return float(total)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

#: The scorecard's metrics, in column order (see the module docstring for each definition).
METRICS: tuple[str, ...] = (
    "outage_min",
    "restored_by_end",
    "user_min_lost",
    "user_min_unserved",
    "peak_load_ratio",
    "goodput_signins",
    "zombie_signins",
    "failed_signins",
    "served_signins",
    "time_to_recover_min",
    "n_services_overloaded",
    "services_overloaded",
)
_GRAPH_METRICS = frozenset(
    {
        "outage_min",
        "restored_by_end",
        "user_min_unserved",
        "n_services_overloaded",
        "services_overloaded",
    }
)
_FINE_METRICS = frozenset(
    {"outage_min", "restored_by_end", "user_min_lost", "user_min_unserved", "time_to_recover_min"}
)
#: Share of the clients connected before the trigger that may be offline without the time
#: counting as outage (``outage_min``).
OUTAGE_OFFLINE_SHARE = 0.05

#: Graph states kept between runs by :func:`score` (per process); cleared when it grows large.
_GRAPH_CACHE: dict = {}
_GRAPH_CACHE_LIMIT = 50_000


def graph_cache() -> dict:
    """The graph states :func:`score` keeps between runs, for ``Scenario.run(graph_cache=...)``.

    Other runs of the same graph (a panel, a postmortem) can share it: a state is reused only
    for the same load and the same graph, so the numbers are the same with or without it.
    Cleared when it grows past 50,000 states.

    Examples
    --------
    >>> graph_cache() is graph_cache()
    True
    """
    if len(_GRAPH_CACHE) > _GRAPH_CACHE_LIMIT:
        _GRAPH_CACHE.clear()
    return _GRAPH_CACHE


def clear_graph_cache() -> None:
    """Forget every graph state kept between runs (to time a cold run, or free memory).

    Examples
    --------
    >>> clear_graph_cache(); len(graph_cache())
    0
    """
    _GRAPH_CACHE.clear()


def _metrics(metrics) -> tuple[str, ...]:
    if metrics is None:
        return METRICS
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be chosen from {', '.join(METRICS)}, got {metrics!r}")
    return metrics


def _run_end_s(params: StormParams) -> float:
    """Where the population model's last step ends (the horizon, on the step grid)."""
    return math.ceil(params.horizon_s / params.dt_s - 1e-9) * params.dt_s


def score(
    run: Scenario | Replay,
    *,
    metrics: Sequence[str] | None = None,
    cache: bool = True,
) -> dict[str, Any]:
    """The scorecard's numbers for one run (definitions and units in the module docstring).

    Parameters
    ----------
    run : Scenario or Replay
        A scenario (run here) or a replay already run.
    metrics : sequence of str, optional
        Metrics to compute (default: all of :data:`METRICS`, in that order). A scenario with
        ``feedback`` is always run with the service graph (the graph changes the day); without
        it, and if none of the metrics needs the graph (``user_min_lost``,
        ``peak_load_ratio``, ``goodput_signins``, ``zombie_signins``, ``failed_signins``,
        ``served_signins``, ``time_to_recover_min``), it is run through the population model
        only.
    cache : bool
        Keep the graph's states between runs (the numbers are the same either way).

    Returns
    -------
    dict
        Metric name -> value: finite floats (ints for counts, a bool, a str of service ids),
        or ``inf`` for "never".

    Examples
    --------
    >>> from outage_kit.scenarios import skype_2015
    >>> m = score(skype_2015(), metrics=["user_min_lost", "time_to_recover_min"])
    >>> round(m["user_min_lost"] / 1e9, 2), round(m["time_to_recover_min"], 2)
    (33.83, 929.28)
    """
    names = _metrics(metrics)
    if isinstance(run, Replay):
        scenario, replay = run.scenario, run
    elif isinstance(run, Scenario):
        scenario, replay = run, None
    else:
        raise TypeError(f"run must be a Scenario or a Replay, got {run!r}")
    if replay is None and (scenario.feedback or _GRAPH_METRICS.intersection(names)):
        # With feedback the graph changes the population's day, so every metric needs it.
        replay = scenario.run(graph_cache=graph_cache() if cache else None)
    params = scenario.storm_params() if replay is None else replay.storm_params()
    coarse = replay.storm if replay is not None else run_storm(params)
    ts = coarse.timeseries
    end = _run_end_s(params)
    span = np.diff(np.append(ts["time_s"].to_numpy(), end))
    served_i = ts["served_signins_per_s"].to_numpy() * span
    good_i = ts["goodput_per_s"].to_numpy() * span
    failed_i = ts["failed_per_s"].to_numpy() * span
    values: dict[str, Any] = {
        "peak_load_ratio": float(ts["load_ratio"].max()),
        "goodput_signins": float(good_i.sum()),
        "zombie_signins": float(np.maximum(served_i - good_i - failed_i, 0.0).sum()),
        "failed_signins": float(failed_i.sum()),
        "served_signins": float(served_i.sum()),
    }
    connected = None
    offline = None
    if _FINE_METRICS.intersection(names):
        fine = run_storm(
            scenario.storm_params(output_every_s=params.dt_s)
            if replay is None
            else replay.storm_params(output_every_s=params.dt_s)
        )
        connected = fine.timeseries["connected"].to_numpy()
        triggers = [t.time_s for t in params.triggers]
        if triggers:
            first = min(int(round(min(triggers) / params.dt_s)), len(connected) - 1)
            lost_s = np.maximum(connected[first] - connected[first:], 0.0).sum() * params.dt_s
            offline = _offline_span_s(connected, first, params.dt_s)
        else:
            lost_s = 0.0
        values["user_min_lost"] = float(lost_s / 60.0)
        values["time_to_recover_min"] = float(_recover_s(fine) / 60.0)
    if replay is not None:
        values.update(_graph_metrics(replay, end, offline))
        if connected is not None:
            unserved = _connected_min_without_service(replay, connected)
            values["user_min_unserved"] = values["user_min_lost"] + unserved
    return {name: values[name] for name in names}


def _recover_s(result) -> float:
    """Seconds from the first trigger until the clients are back for good (0 if they never fell
    below the level; see :func:`outage_kit.metastability.recovery_time_s`)."""
    times = [t.time_s for t in result.params.triggers]
    if not times:
        return 0.0
    return recovery_time_s(result.timeseries, min(times))


def _offline_span_s(connected: np.ndarray, first: int, dt_s: float) -> tuple | None:
    """(start, end, over) of the time more than OUTAGE_OFFLINE_SHARE of the clients are offline.

    Times in seconds of the run; ``end`` is one step after the last such step; ``over`` is
    False if the clients are still below the level at the end. None if they never are.
    """
    level = (1.0 - OUTAGE_OFFLINE_SHARE) * connected[first]
    low = np.flatnonzero(connected[first:] < level)
    if low.size == 0:
        return None
    start = (first + low[0]) * dt_s
    end = (first + low[-1] + 1) * dt_s
    return start, end, bool(first + low[-1] < len(connected) - 1)


def _graph_metrics(replay: Replay, end_s: float, offline: tuple | None = None) -> dict[str, Any]:
    """Outage minutes, whether it ended, and the services overloaded, from a replay.

    ``offline``: :func:`_offline_span_s` of the run (None: clients never below the level, or
    not computed); the outage spans both the service's and the clients' trouble.
    """
    scenario = replay.scenario
    onset = replay.onset_utc()
    restored = replay.restoration_utc()
    spans = []
    over = True
    if onset is not None:
        until = restored
        if until is None:
            until = scenario.start_utc + pd.Timedelta(seconds=end_s)
            over = False
        spans.append(
            (
                (onset - scenario.start_utc).total_seconds(),
                (until - scenario.start_utc).total_seconds(),
            )
        )
    if offline is not None:
        spans.append((offline[0], offline[1] if offline[2] else end_s))
        over = over and offline[2]
    outage_min = 0.0
    if spans:
        start = min(a for a, _ in spans)
        stop = max(b for _, b in spans)
        outage_min = max(0.0, (stop - start) / 60.0)
    overloaded = replay.services_overloaded()
    return {
        "outage_min": float(outage_min),
        "restored_by_end": bool(over),
        "n_services_overloaded": len(overloaded),
        "services_overloaded": ", ".join(overloaded),
    }


def _connected_min_without_service(replay: Replay, connected: np.ndarray) -> float:
    """Connected user-minutes whose services were down, weighted by usage.

    Per replay interval: the connected user-seconds (the population model's snapshots at each
    step) times the share of the stack's baseline client requests (sign-in excluded) that go
    to entry points down (overloaded, failing or removed) in that interval.
    """
    scenario = replay.scenario
    graph = scenario.graph
    users = [
        n
        for n, a in graph.nodes(data=True)
        if a.get("entry", False)
        and a.get("stack") == scenario.stack
        and n != scenario.signin_service
    ]
    weight = np.array([graph.nodes[n]["client_rate_per_s"] for n in users], dtype=float)
    if not users or weight.sum() <= 0:
        return 0.0
    weight = weight / weight.sum()
    ts = replay.timeseries
    down = np.column_stack([ts[f"{n}_health"].isin(_DOWN).to_numpy() for n in users])
    down_share = down.astype(float) @ weight
    dt = scenario.params.dt_s
    starts = np.round(ts["time_s"].to_numpy() / dt).astype(np.int64)
    user_s = np.add.reduceat(connected, starts) * dt
    return float(np.dot(user_s, down_share) / 60.0)


# --------------------------------------------------------------------------------------------
# Scorecard
# --------------------------------------------------------------------------------------------

#: Name of the scorecard's first row: the scenario with no defence.
BASELINE_ROW = "baseline (2015)"


def _base_for(base: Scenario | None, recovery: bool | None) -> Scenario:
    if base is not None:
        if recovery is not None:
            raise ValueError(
                "give base or recovery, not both: recovery=False means skype_2015(recovery=False)"
            )
        return _check_scenario(base)
    if recovery is None:
        recovery = True
    if not isinstance(recovery, bool):
        raise ValueError(f"recovery must be True or False, got {recovery!r}")
    return _skype_2015(recovery, None)


@functools.lru_cache(maxsize=32)
def _skype_2015(recovery: bool, affected_share: float | None) -> Scenario:
    """``skype_2015(recovery=...)``, with ``affected_share`` knocked off by the push if given."""

    scenario = skype_2015(recovery=recovery)
    if affected_share is None:
        return scenario
    mix = VersionMix.two_groups(affected_share)
    return scenario.with_(params=scenario.params.with_(version_mix=mix))


def _labels(defences: Sequence[Defence]) -> str:
    order = {kind: i for i, kind in enumerate(DEFENCES)}
    ordered = sorted(defences, key=lambda d: order[type(d)])
    return " + ".join(d.label for d in ordered) if ordered else "none"


def _row_sets(rows) -> list[tuple[str, list[Defence]]]:
    """``rows`` (name -> defences, or one defence) as checked (name, list of defences) pairs."""
    if not isinstance(rows, Mapping):
        raise TypeError(f"rows must be a mapping of row name -> list of defences, got {rows!r}")
    sets = []
    for name, defences in rows.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"row names must be non-empty strings, got {name!r}")
        sets.append((name, [defences] if isinstance(defences, Defence) else list(defences)))
    return sets


def scorecard(
    rows: Mapping[str, Sequence[Defence]],
    base: Scenario | None = None,
    *,
    recovery: bool | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compare sets of defences with the 2015 baseline on every metric of :func:`score`.

    Parameters
    ----------
    rows : mapping
        Row name -> the defences of that row (a list, possibly empty).
    base : Scenario, optional
        The scenario every row starts from (default: ``skype_2015(recovery=recovery)``).
    recovery : bool, optional
        With the default base: keep the operators' rebalancing (True, the default) or
        not (False: does the defence alone get the service out?). Not with ``base``.
    metrics : sequence of str, optional
        Metrics to compute (default: all; see :func:`score`).

    Returns
    -------
    pandas.DataFrame
        One row per set, the baseline (no defence, named :data:`BASELINE_ROW`) first:
        ``name``, ``defences`` (labels, or ``"none"``), ``cost_engineer_weeks``
        (:func:`cost`), then the metrics (units in their names; ``inf`` for never).

    Examples
    --------
    >>> card = scorecard({"drop expired work": [DropExpired()]},
    ...                  metrics=["outage_min", "zombie_signins", "failed_signins"])
    >>> card[["name", "outage_min", "zombie_signins", "failed_signins"]]
                    name  outage_min  zombie_signins  failed_signins
    0    baseline (2015)       930.0    2.494428e+09    3.079108e+06
    1  drop expired work       930.0    0.000000e+00    2.492457e+09
    """
    scenario = _base_for(base, recovery)
    if not isinstance(rows, Mapping):
        raise TypeError(f"rows must be a mapping of row name -> list of defences, got {rows!r}")
    if BASELINE_ROW in rows:
        raise ValueError(f"{BASELINE_ROW!r} is the baseline row's name; call your row otherwise")
    names = _metrics(metrics)
    records = []
    for name, defences in _row_sets({BASELINE_ROW: [], **rows}):
        defended = apply_all(scenario, defences)
        records.append(
            {
                "name": name,
                "defences": _labels(defences),
                "cost_engineer_weeks": cost(defences),
                **score(defended, metrics=names),
            }
        )
    return pd.DataFrame(records)


def door_and_path(
    rows: Mapping[str, Sequence[Defence]],
    base: Scenario | None = None,
) -> pd.DataFrame:
    """How fast the sign-in service served at its busiest, against what the path behind it carries.

    For each set of defences the 2015 replay (two-way, rebalancing kept, unless ``base`` says
    otherwise) is run once. Its busiest 5 minutes after the push give the sign-ins served per
    second, over the normal sign-in rate (the door); the sign-in path's limit
    (:func:`~outage_kit.scenarios.sign_in_path_limit`) at that moment's connected share gives
    what the path carries (the path). Sign-ins fail behind the door whenever the door serves
    more than the path carries, and then the storm cannot drain.

    Parameters
    ----------
    rows : mapping
        Row name -> the defences of that row (a list, possibly empty).
    base : Scenario, optional
        The scenario every row starts from (default: ``skype_2015()``).

    Returns
    -------
    pandas.DataFrame
        One row per set: ``name``, ``defences``, ``cost_engineer_weeks``,
        ``peak_served_ratio``, ``path_limit_ratio``, ``failing_min`` (minutes during which
        sign-ins failed behind the door), ``outage_min`` (:func:`score`).

    Examples
    --------
    >>> t = door_and_path({"none": [], "admission 0.3": [AdmissionControl(rate_share=0.3)]})
    >>> t[["name", "peak_served_ratio", "path_limit_ratio", "failing_min", "outage_min"]]
                name  peak_served_ratio  path_limit_ratio  failing_min  outage_min
    0           none               4.50              1.52        850.0       930.0
    1  admission 0.3               1.35              1.52          0.0        37.7
    """
    scenario = _base_for(base, None)
    records = []
    for name, defences in _row_sets(rows):
        defended = apply_all(scenario, defences)
        replay = defended.run(graph_cache=graph_cache())
        ts = replay.timeseries
        push = min((t.time_s for t in defended.params.triggers), default=0.0)
        after = ts[ts["time_s"] >= push - 1e-9]
        busiest = after.loc[after["signin_rate_ratio"].idxmax()]
        limit = sign_in_path_limit(defended, connected_share=float(busiest["connected_share"]))
        failing = float((ts["downstream_failure_share"] > 0).sum() * defended.output_every_s / 60)
        records.append(
            {
                "name": name,
                "defences": _labels(defences),
                "cost_engineer_weeks": cost(defences),
                "peak_served_ratio": round(float(busiest["signin_rate_ratio"]), 2),
                "path_limit_ratio": limit,
                "failing_min": failing,
                "outage_min": score(replay, metrics=["outage_min"])["outage_min"],
            }
        )
    return pd.DataFrame(records)


# --------------------------------------------------------------------------------------------
# Searches: one picklable function per task, run over a sweep executor
# --------------------------------------------------------------------------------------------


def _chosen(value) -> Defence | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return parse_defence(value)


def score_combination(
    *,
    recovery: bool = True,
    affected_share: float | None = None,
    metrics: Sequence[str] | None = ("outage_min", "user_min_lost"),
    **choices: str | Defence | None,
) -> dict[str, Any]:
    """Score one set of defences on the 2015 scenario; plain, picklable arguments.

    Built for sweeps (``fn(**task, **fixed)``): each keyword of ``choices`` names a group
    (any name) and gives one defence as its plain string (:attr:`Defence.spec`, e.g.
    ``"DropExpired()"``), a :class:`Defence`, or ``None`` / ``"none"`` for none.

    Parameters
    ----------
    recovery : bool
        Keep the operators' rebalancing.
    affected_share : float, optional
        Share of clients the push knocks off (default: the card's 0.4).
    metrics : sequence of str or None
        Metrics of :func:`score` (None: all).
    **choices
        Group name -> defence (or none).

    Returns
    -------
    dict
        ``defences`` (labels), ``cost_engineer_weeks``, then the metrics.

    Examples
    --------
    >>> r = score_combination(server="DropExpired()", client=None)
    >>> r["defences"], r["cost_engineer_weeks"], r["outage_min"]
    ('drop expired work', 2.0, 930.0)
    """
    if not isinstance(recovery, bool):
        raise ValueError(f"recovery must be True or False, got {recovery!r}")
    if affected_share is not None:
        affected_share = _number("affected_share", affected_share, low=0.0)
        if affected_share > 1:
            raise ValueError(f"affected_share must lie in [0, 1], got {affected_share!r}")
    defences = [d for d in (_chosen(v) for v in choices.values()) if d is not None]
    scenario = apply_all(_skype_2015(recovery, affected_share), defences)
    return {
        "defences": _labels(defences),
        "cost_engineer_weeks": cost(defences),
        **score(scenario, metrics=metrics),
    }


def _sweep(fn: Callable[..., dict], tasks: list[dict], **options) -> pd.DataFrame:
    """Run ``fn(**task, **fixed)`` for every task with :func:`outage_kit.sweeps.sweep`."""
    from outage_kit.sweeps import sweep

    return sweep(fn, tasks, **options)


#: The default candidates of :func:`cheapest_defences`: group -> options (``None``: none).
#: 2 x 2 x 3 x 3 x 2 = 72 combinations.
DEFAULT_CANDIDATES: dict[str, tuple[Defence | None, ...]] = {
    "rollout": (None, StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=WAVE_INTERVAL_S)),
    "backoff": (None, ClientBackoff()),
    "admission": (None, AdmissionControl(rate_share=0.5), AdmissionControl(rate_share=0.3)),
    "stale_work": (None, BoundedQueue(max_wait_s=10.0), DropExpired()),
    "capacity": (None, CapacityHeadroom(factor=2.0)),
}


@dataclass(frozen=True)
class CheapestDefences:
    """What :func:`cheapest_defences` found.

    Attributes
    ----------
    defences : tuple of Defence, or None
        The cheapest set keeping the outage at most the target (None if no set does).
    cost_engineer_weeks : float
        Its cost (``inf`` if none).
    outage_min : float
        Its outage (``inf`` if none).
    target_outage_min : float
    table : pandas.DataFrame
        Every combination searched, cheapest first (ties: shorter outage, then fewer
        defences): one column per candidate group (the option's label or ``"none"``),
        ``defences``, ``n_defences``, ``cost_engineer_weeks``, ``outage_min``,
        ``user_min_lost``, ``meets_target``.
    """

    defences: tuple[Defence, ...] | None
    cost_engineer_weeks: float
    outage_min: float
    target_outage_min: float
    table: pd.DataFrame = field(repr=False)


def _check_candidates(candidates) -> dict[str, tuple[Defence | None, ...]]:
    if not isinstance(candidates, Mapping) or not candidates:
        raise TypeError(
            "candidates must be a non-empty mapping of group name -> options "
            f"(defences or None), got {candidates!r}"
        )
    out = {}
    for group, options in candidates.items():
        if not isinstance(group, str) or not group.isidentifier():
            raise ValueError(f"candidate group names must be identifiers, got {group!r}")
        if group in ("recovery", "affected_share", "metrics"):
            raise ValueError(f"{group!r} cannot name a candidate group (it is an argument)")
        if isinstance(options, (Defence, str)) or not isinstance(options, Sequence):
            raise TypeError(f"candidates[{group!r}] must be a sequence of options")
        opts = tuple(None if o is None else parse_defence(o) for o in options)
        if not opts:
            raise ValueError(f"candidates[{group!r}] has no option")
        out[group] = opts
    return out


def cheapest_defences(
    target_outage_min: float,
    candidates: Mapping[str, Sequence[Defence | None]] | None = None,
    *,
    recovery: bool = True,
    executor="serial",
    max_workers: int | None = None,
    progress="auto",
) -> CheapestDefences:
    """The cheapest combination of candidate defences that keeps the outage at most a target.

    Every combination (one option per group; ``None`` means none from that group) is run
    through :func:`score_combination` on the 2015 scenario and costed with :func:`cost`; the
    answer is the cheapest with ``outage_min <= target_outage_min`` (ties: the shorter outage,
    then fewer defences, then the earlier candidates). The search is exhaustive, so the answer
    costs no more than any other combination of the candidates that meets the target.

    Parameters
    ----------
    target_outage_min : float
        Longest acceptable outage in minutes (>= 0).
    candidates : mapping, optional
        Group name -> options (defences or ``None``); default :data:`DEFAULT_CANDIDATES`
        (72 combinations).
    recovery : bool
        Keep the operators' rebalancing (default) or not.
    executor, max_workers, progress
        How to run the combinations: ``"serial"``, ``"processes"`` or a
        ``concurrent.futures.Executor`` (see :func:`outage_kit.sweeps.sweep`).

    Returns
    -------
    CheapestDefences

    Examples
    --------
    >>> found = cheapest_defences(60.0, {"server": [None, DropExpired(), BoundedQueue(10.0)],
    ...                                  "admission": [None, AdmissionControl(0.3)]})
    >>> [d.label for d in found.defences], found.cost_engineer_weeks, found.outage_min
    (['admission control at 0.3 x capacity'], 2.0, 37.7)
    """
    target = _number("target_outage_min", target_outage_min, low=0.0)
    groups = _check_candidates(DEFAULT_CANDIDATES if candidates is None else candidates)
    if not isinstance(recovery, bool):
        raise ValueError(f"recovery must be True or False, got {recovery!r}")
    combos = list(itertools.product(*groups.values()))
    tasks = [
        {g: (None if o is None else o.spec) for g, o in zip(groups, combo, strict=True)}
        for combo in combos
    ]
    results = _sweep(
        score_combination,
        tasks,
        executor=executor,
        max_workers=max_workers,
        progress=progress,
        description="cheapest defences",
        fixed={"recovery": recovery, "metrics": ("outage_min", "user_min_lost")},
    )
    rows = []
    for i, combo in enumerate(combos):
        chosen = [o for o in combo if o is not None]
        row = {g: ("none" if o is None else o.label) for g, o in zip(groups, combo, strict=True)}
        row.update(
            defences=_labels(chosen),
            n_defences=len(chosen),
            cost_engineer_weeks=cost(chosen),
            outage_min=float(results["outage_min"].iloc[i]),
            user_min_lost=float(results["user_min_lost"].iloc[i]),
            _order=i,
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    table["meets_target"] = table["outage_min"] <= target
    table = table.sort_values(
        ["cost_engineer_weeks", "outage_min", "n_defences", "_order"], kind="stable"
    )
    met = table[table["meets_target"]]
    if met.empty:
        best, best_cost, best_outage = None, math.inf, math.inf
    else:
        first = met.iloc[0]
        best = tuple(o for o in combos[int(first["_order"])] if o is not None)
        best_cost, best_outage = float(first["cost_engineer_weeks"]), float(first["outage_min"])
    table = table.drop(columns="_order").reset_index(drop=True)
    return CheapestDefences(best, best_cost, best_outage, target, table)


#: Default trigger sizes of :func:`defence_breaking_point` (shares of clients knocked off).
DEFAULT_SHARES: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)

#: The defences :func:`defence_breaking_point` maps by default, one at a time.
DEFAULT_SINGLE_DEFENCES: dict[str, Defence] = {
    "staged rollout": StagedRollout(waves=(0.01, 0.1, 0.5, 1.0), interval_s=WAVE_INTERVAL_S),
    "client backoff": ClientBackoff(),
    "retry budget": RetryBudget(),
    "circuit breaker": CircuitBreaker(),
    "admission control": AdmissionControl(rate_share=0.3),
    "drop expired": DropExpired(),
    "bounded queue": BoundedQueue(max_wait_s=10.0),
    "capacity x2": CapacityHeadroom(factor=2.0),
    "bulkheads": Bulkheads(),
}


def defence_breaking_point(
    target_outage_min: float = 60.0,
    shares: Sequence[float] = DEFAULT_SHARES,
    defences: Mapping[str, Defence] | Sequence[Defence] | None = None,
    *,
    recovery: bool = True,
    executor="serial",
    max_workers: int | None = None,
    progress="auto",
) -> pd.DataFrame:
    """Where each defence stops working as the trigger grows: a grid of share x defence.

    Each defence alone (and ``"no defence"``, the baseline) is scored at every affected share
    (the share of clients the push knocks off, the card's ``affected_client_share``) through
    :func:`score_combination`.

    Parameters
    ----------
    target_outage_min : float
        Longest acceptable outage in minutes (>= 0).
    shares : sequence of float
        Affected shares to try, each in [0, 1] (default :data:`DEFAULT_SHARES`).
    defences : mapping or sequence, optional
        Name -> defence (or defences, named by their labels); default
        :data:`DEFAULT_SINGLE_DEFENCES`.
    recovery, executor, max_workers, progress
        As for :func:`cheapest_defences`.

    Returns
    -------
    pandas.DataFrame
        Tidy, one row per (defence, share), in the order given: ``defence``,
        ``affected_share``, ``outage_min``, ``user_min_lost``, ``meets_target``
        (``outage_min <= target_outage_min``) and ``breaking_point_share``: the largest
        share tried up to which the defence meets the target at every share tried (0 if it
        fails at the smallest share; with share 0 in the grid that means it failed at no
        trigger at all).

    Examples
    --------
    >>> grid = defence_breaking_point(60.0, shares=[0.0, 0.01, 0.4],
    ...                               defences={"admission 0.3": AdmissionControl(0.3)})
    >>> grid[["defence", "affected_share", "outage_min", "breaking_point_share"]]
             defence  affected_share  outage_min  breaking_point_share
    0     no defence            0.00         0.0                  0.01
    1     no defence            0.01         0.0                  0.01
    2     no defence            0.40       930.0                  0.01
    3  admission 0.3            0.00         0.0                  0.40
    4  admission 0.3            0.01         0.0                  0.40
    5  admission 0.3            0.40        37.7                  0.40
    """
    target = _number("target_outage_min", target_outage_min, low=0.0)
    if isinstance(shares, (str, bytes)) or not isinstance(shares, (Sequence, np.ndarray)):
        raise TypeError(f"shares must be a sequence of shares in [0, 1], got {shares!r}")
    grid = sorted({_number("affected share", s, low=0.0) for s in shares})
    if not grid or grid[-1] > 1:
        raise ValueError(f"shares must be one or more shares in [0, 1], got {list(shares)!r}")
    if not isinstance(recovery, bool):
        raise ValueError(f"recovery must be True or False, got {recovery!r}")
    if defences is None:
        defences = DEFAULT_SINGLE_DEFENCES
    if isinstance(defences, Mapping):
        named = {str(k): parse_defence(v) for k, v in defences.items()}
    else:
        named = {d.label: d for d in (parse_defence(x) for x in defences)}
    if "no defence" in named:
        raise ValueError("'no defence' is the baseline's name; call your defence otherwise")
    entries = [("no defence", None), *named.items()]
    tasks = [
        {"defence": None if d is None else d.spec, "affected_share": s}
        for _, d in entries
        for s in grid
    ]
    results = _sweep(
        score_combination,
        tasks,
        executor=executor,
        max_workers=max_workers,
        progress=progress,
        description="defence breaking points",
        fixed={"recovery": recovery, "metrics": ("outage_min", "user_min_lost")},
    )
    table = pd.DataFrame(
        {
            "defence": [name for name, _ in entries for _ in grid],
            "affected_share": [s for _ in entries for s in grid],
            "outage_min": results["outage_min"].to_numpy(float),
            "user_min_lost": results["user_min_lost"].to_numpy(float),
        }
    )
    table["meets_target"] = table["outage_min"] <= target
    points = {}
    for name, part in table.groupby("defence", sort=False):
        ok = part["meets_target"].to_numpy()
        fails = np.flatnonzero(~ok)
        last = len(ok) - 1 if fails.size == 0 else fails[0] - 1
        points[name] = float(part["affected_share"].iloc[last]) if last >= 0 else 0.0
    table["breaking_point_share"] = table["defence"].map(points)
    return table
