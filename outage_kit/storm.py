"""Population (fluid) model of a reconnection storm: millions of clients, counted by state.

The request-level simulation (:mod:`outage_kit.simulation`) follows every attempt; this model
follows *how many* clients are in each state, so its cost does not depend on the population:
a day at one-second steps costs the same for a million clients as for 300 million.

States (every client is in exactly one, always; they sum to ``population``)
---------------------------------------------------------------------------
connected
    Signed in. Each sends steady-state traffic (``steady_rate_per_client_per_s`` requests per
    second, each costing ``1 / signin_cost_ratio`` of a sign-in). Sessions end at rate
    ``1 / session_s`` and the user signs in again at once (**churn**: it keeps a baseline
    sign-in load and the number online constant in normal times).
signing in
    Sent a sign-in attempt and waiting for it, by the step the attempt arrived (its **age**),
    up to the client timeout ``timeout_s``, and by how many attempts it has failed before.
backing off
    Its last attempt failed (timed out, or rejected at once); waiting to retry, by retry
    number, on a calendar of the step at which it will retry (see *Backoff* below).
gave up
    Only with a ``max_attempts`` limit: the last allowed attempt failed. The user tries again
    later (after ``restart_after_s`` on average, exponentially distributed).
partitioned
    Cut off by a :class:`NetworkPartition` until it heals.

The sign-in service
-------------------
Its capacity is ``signin_capacity_per_s`` sign-ins per second if it did nothing else.
Connected clients' steady-state traffic uses ``connected * steady_rate_per_client_per_s /
signin_cost_ratio`` of it, served first (an assumption: sessions already open are kept
alive in preference to new ones); the rest serves the sign-in queue, first come first
served, as a fluid (no service time: an attempt served ``a`` seconds after it arrived
succeeds if ``a < timeout_s``). The queue holds **work**, not clients: an attempt whose
client timed out stays queued and is still served (**zombie work**, wasted) unless the
server drops it (``drop_expired`` or ``max_wait_s`` of
:class:`~outage_kit.policies.ServerPolicy`). Admission control rejects attempts beyond a
rate; a queue bound rejects those that find the queue full. A rejected client learns at
once and backs off.

**Goodput** is sign-ins completed within their client's timeout (clients reconnected);
**served** counts every sign-in the service completed, zombie work included. Load relative to
capacity is offered work (every attempt offered, at a sign-in each, plus steady-state
traffic) over capacity; utilisation is the work done over capacity.

Time steps and approximations
-----------------------------
The model advances in steps of ``dt_s`` (0.5-10 s in the lessons); within a step, in this
order: triggers and actions due; churn and returning users; retries due; the server drops
expired work; it serves the queue oldest first; it admits new attempts (those it can serve
at once are served); cohorts reaching the timeout fail; failed clients give up or are
scheduled to retry. Stated approximations:

* The timeout, the server's drop age and action times are rounded to whole steps (the
  timeout to at least one step).
* **Backoff.** The delay before retry ``n`` is uniform on the policy's
  ``[min_delay_s(n), max_delay_s(n)]``: exact for :class:`~outage_kit.policies.FixedDelay`
  (a point: a delay line), :class:`~outage_kit.policies.ExponentialBackoff` (with or
  without jitter), :class:`~outage_kit.policies.FullJitter` and
  :class:`~outage_kit.policies.EqualJitter`; an approximation for
  :class:`~outage_kit.policies.DecorrelatedJitter` (whose delay depends on the previous one).
  A delay is counted from the end of the step in which the attempt failed, and spread over
  whole steps by linear interpolation (the hat kernel), which keeps the number of clients
  and the mean delay exact. So a rejected client with no delay retries in the next step.
  Retry numbers past the point where the policy's delays stop changing share one stage, so
  the cost does not grow with the number of retries (unless ``max_attempts`` is set: then
  every attempt number up to it is a stage).
* **Delay floors** (:class:`DelayFloor`, a per-client retry budget or circuit breaker): from a
  given retry number on, the delay is ``max(backoff delay, floor)``, a point mass at the floor
  plus the part of the uniform above it; exact for the uniform rules above. A floor has no
  jitter of its own: clients that failed in the same step and reach the floor retry together.
* A configuration push knocks off, once, a share of the clients connected at that moment;
  they reconnect at once (attempt 1), and a client that signs in again is not knocked off
  again. Clients signing in or backing off at the push are not affected.
* A network partition holds its share of connected clients until it heals; they all
  reconnect at once then (the synchronised case: clients cut off for longer than their
  backoff cap would retry in step anyway).
* Per-version shares of the push's reach apply to the connected clients in proportion
  (the version mix of the connected clients is that of the population).

Everything is linear in the population, so with capacity (and every rate and queue bound)
proportional to it, normalised trajectories do not depend on it (a test checks 10^6 against
3 x 10^8). The step loop is plain Python, compiled with numba when it is installed
(``OUTAGE_KIT_DISABLE_NUMBA=1`` or ``use_numba=False`` forces plain Python); results are
identical either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from outage_kit import _storm_kernel as kern
from outage_kit._checks import finite_number as _finite
from outage_kit.policies import (
    Backoff,
    ExponentialBackoff,
    FixedDelay,
    RetryPolicy,
    ServerPolicy,
)

__all__ = [
    "AddCapacity",
    "ConfigPush",
    "DelayFloor",
    "DownstreamFailure",
    "NetworkPartition",
    "ServerPolicyAt",
    "StagedReadmission",
    "StormParams",
    "StormResult",
    "VersionMix",
    "is_stuck",
    "run_storm",
    "scenario_from_card",
    "staged_rollout",
    "time_to_recover_s",
]

#: Assumed in this module (not on the parameter card): mean session length, so churn.
DEFAULT_SESSION_S = 3600.0
#: Assumed: steady-state requests per connected client per second (presence, keep-alives).
DEFAULT_STEADY_RATE_PER_CLIENT_PER_S = 1.0 / 60.0
#: Assumed: the sign-in queue holds at most this many seconds of sign-in capacity.
DEFAULT_QUEUE_SECONDS = 120.0
#: Assumed: a user whose client gave up tries again after this long on average.
DEFAULT_RESTART_AFTER_S = 600.0
#: Seconds from midnight UTC to the outage onset (08:23 UTC on the card).
ONSET_SECONDS_AFTER_MIDNIGHT = 8 * 3600 + 23 * 60

_COLUMNS = [
    "time_s",
    "connected",
    "signing_in",
    "backing_off",
    "gave_up",
    "partitioned",
    "connected_share",
    "queue_length",
    "zombie_queue_share",
    "offered_signins_per_s",
    "new_signins_per_s",
    "retries_per_s",
    "admitted_per_s",
    "rejected_per_s",
    "served_signins_per_s",
    "goodput_per_s",
    "dropped_per_s",
    "timeouts_per_s",
    "load_ratio",
    "utilisation",
    "capacity_per_s",
    "failed_per_s",
]


def _time(name: str, value) -> float:
    value = _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (it is before the start of the run), got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionMix:
    """Client versions, the share of clients running each, and which cannot take the push.

    Parameters
    ----------
    shares : Mapping[str, float]
        Version -> share of clients (each >= 0, summing to 1 within 1e-9).
    incompatible : iterable of str
        Versions that a configuration push knocks off.

    Examples
    --------
    >>> mix = VersionMix({"7.8": 0.5, "7.9": 0.3, "7.10": 0.2}, incompatible={"7.8", "7.9"})
    >>> mix.affected_share()
    0.8
    >>> mix.affected_share(reach={"7.8": 0.5, "7.9": 1.0, "7.10": 1.0})
    0.55
    >>> VersionMix({"a": 0.5, "b": 0.4})
    Traceback (most recent call last):
    ...
    ValueError: version_mix shares must sum to 1, got 0.9
    """

    shares: Mapping[str, float]
    incompatible: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if not isinstance(self.shares, Mapping) or not self.shares:
            raise TypeError(f"version_mix shares must be a non-empty mapping, got {self.shares!r}")
        shares = {str(k): _finite(f"version_mix share of {k!r}", v) for k, v in self.shares.items()}
        if any(v < 0 for v in shares.values()):
            raise ValueError(f"version_mix shares must be >= 0, got {shares!r}")
        total = math.fsum(shares.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"version_mix shares must sum to 1, got {total!r}")
        incompatible = frozenset(str(v) for v in self.incompatible)
        unknown = sorted(incompatible - set(shares))
        if unknown:
            raise ValueError(
                f"version_mix incompatible versions {unknown} are not among the shares "
                f"{sorted(shares)}"
            )
        object.__setattr__(self, "shares", shares)
        object.__setattr__(self, "incompatible", incompatible)

    @classmethod
    def two_groups(cls, affected_share: float) -> VersionMix:
        """Two groups: "affected versions" (incompatible) and "other versions".

        Examples
        --------
        >>> VersionMix.two_groups(0.4).shares
        {'affected versions': 0.4, 'other versions': 0.6}
        """
        a = _finite("affected_share", affected_share, low=0.0)
        if a > 1:
            raise ValueError(f"affected_share must lie in [0, 1], got {a!r}")
        return cls(
            {"affected versions": a, "other versions": 1.0 - a},
            incompatible={"affected versions"},
        )

    @classmethod
    def from_data(cls, path=None) -> VersionMix:
        """The teaching version mix of ``data/client_versions_2015.csv`` (every row assumed).

        Version ids, their shares of online clients and which of them the push knocks off,
        as loaded and validated by :func:`outage_kit.rollout.load_client_versions_2015`.

        Examples
        --------
        >>> mix = VersionMix.from_data()
        >>> round(mix.affected_share(), 6)
        0.4
        """
        from outage_kit.rollout import load_client_versions_2015

        table = load_client_versions_2015(path)
        return cls(
            dict(zip(table["id"], table["share_of_online"], strict=True)),
            incompatible=set(table.loc[table["incompatible"], "id"]),
        )

    def affected_share(self, reach: float | Mapping[str, float] = 1.0) -> float:
        """Share of clients a push reaching ``reach`` of each version knocks off.

        ``reach`` is one share for every version or a mapping version -> share (missing
        versions: 0).
        """
        total = 0.0
        for version in sorted(self.incompatible):
            if isinstance(reach, Mapping):
                r = _finite(f"reach of {version!r}", reach.get(version, 0.0), low=0.0)
            else:
                r = _finite("reach", reach, low=0.0)
            if r > 1:
                raise ValueError(f"reach must lie in [0, 1], got {r!r}")
            total += self.shares[version] * r
        return round(total, 15)


@dataclass(frozen=True)
class ConfigPush:
    """A configuration push at ``time_s`` reaching ``reach`` of each version's clients.

    It knocks off, once, ``version_mix.affected_share(reach)`` of the clients connected at
    that moment; they reconnect at once. A staged rollout is several pushes, each reaching
    its slice of the clients (see :func:`staged_rollout`).

    Examples
    --------
    >>> ConfigPush(time_s=60.0, reach=0.25)
    ConfigPush(time_s=60.0, reach=0.25)
    """

    time_s: float
    reach: float | Mapping[str, float] = 1.0

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("ConfigPush time_s", self.time_s))
        if not isinstance(self.reach, Mapping):
            r = _finite("ConfigPush reach", self.reach, low=0.0)
            if r > 1:
                raise ValueError(f"ConfigPush reach must lie in [0, 1], got {r!r}")
            object.__setattr__(self, "reach", r)


def staged_rollout(start_s: float, waves: int, interval_s: float) -> tuple[ConfigPush, ...]:
    """A push in ``waves`` equal waves, ``interval_s`` apart, each reaching ``1 / waves``.

    Examples
    --------
    >>> [(p.time_s, p.reach) for p in staged_rollout(0.0, 4, 600.0)]
    [(0.0, 0.25), (600.0, 0.25), (1200.0, 0.25), (1800.0, 0.25)]
    """
    if isinstance(waves, bool) or int(waves) != waves or waves < 1:
        raise ValueError(f"waves must be a whole number >= 1, got {waves!r}")
    interval_s = _finite("interval_s", interval_s, low=0.0)
    return tuple(ConfigPush(start_s + i * interval_s, 1.0 / waves) for i in range(int(waves)))


@dataclass(frozen=True)
class NetworkPartition:
    """``share`` of the connected clients cut off at ``time_s`` for ``duration_s``.

    Examples
    --------
    >>> NetworkPartition(time_s=100.0, duration_s=300.0, share=0.5).end_s
    400.0
    """

    time_s: float
    duration_s: float
    share: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("NetworkPartition time_s", self.time_s))
        d = _finite("NetworkPartition duration_s", self.duration_s, low=0.0, strict=True)
        object.__setattr__(self, "duration_s", d)
        share = _finite("NetworkPartition share", self.share, low=0.0)
        if share > 1:
            raise ValueError(f"NetworkPartition share must lie in [0, 1], got {share!r}")
        object.__setattr__(self, "share", share)

    @property
    def end_s(self) -> float:
        """When the partition heals."""
        return self.time_s + self.duration_s


@dataclass(frozen=True)
class ServerPolicyAt:
    """From ``time_s`` on, the sign-in service follows ``policy`` (replacing the previous one).

    ``policy.admission.rate_per_s`` is admission control (sign-ins admitted per second at
    most; the token bucket's ``burst`` is not modelled); ``policy.admission.max_queue_length``
    bounds the queue (together with :attr:`StormParams.max_queue_length`, the smaller wins);
    ``drop_expired`` and ``max_wait_s`` drop queued work. ``ServerPolicy()`` lifts them all.

    Examples
    --------
    >>> from outage_kit.policies import AdmissionControl
    >>> ServerPolicyAt(3600.0, ServerPolicy(AdmissionControl(rate_per_s=1e4))).time_s
    3600.0
    """

    time_s: float
    policy: ServerPolicy

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("ServerPolicyAt time_s", self.time_s))
        if not isinstance(self.policy, ServerPolicy):
            raise TypeError(f"ServerPolicyAt policy must be a ServerPolicy, got {self.policy!r}")


@dataclass(frozen=True)
class AddCapacity:
    """From ``time_s`` on, capacity is ``factor`` times the base capacity (1 restores it).

    Examples
    --------
    >>> AddCapacity(7200.0, factor=2.0)
    AddCapacity(time_s=7200.0, factor=2.0)
    """

    time_s: float
    factor: float

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("AddCapacity time_s", self.time_s))
        f = _finite("AddCapacity factor", self.factor, low=0.0, strict=True)
        object.__setattr__(self, "factor", f)


@dataclass(frozen=True)
class DownstreamFailure:
    """From ``time_s`` on, ``share`` of the sign-ins served in time fail after service.

    A sign-in calls other services (authentication, the contact list, presence); when one
    of those calls fails, the sign-in service has done its work but the client is not
    signed in. It hears so at once and retries like a client whose attempt timed out. The
    service graph supplies this share when a scenario couples the two models
    (:mod:`outage_kit.scenarios`); ``share=0`` lifts it.

    Examples
    --------
    >>> DownstreamFailure(600.0, share=0.25)
    DownstreamFailure(time_s=600.0, share=0.25)
    >>> DownstreamFailure(600.0, share=1.5)
    Traceback (most recent call last):
    ...
    ValueError: DownstreamFailure share must lie between 0 and 1, got 1.5
    """

    time_s: float
    share: float

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("DownstreamFailure time_s", self.time_s))
        v = _finite("DownstreamFailure share", self.share, low=0.0)
        if v > 1.0:
            raise ValueError(
                f"DownstreamFailure share must lie between 0 and 1, got {self.share!r}"
            )
        object.__setattr__(self, "share", v)


@dataclass(frozen=True)
class StagedReadmission:
    """Let clients back in at a rate rising from ``start_rate_per_s`` to ``end_rate_per_s``.

    From ``time_s`` for ``duration_s`` seconds the service admits sign-ins at a linearly
    rising rate and rejects the rest (the Roblox "return of players", Slack's boot throttle);
    afterwards admission control is lifted.

    Examples
    --------
    >>> StagedReadmission(3600.0, duration_s=1800.0, start_rate_per_s=0.0,
    ...                   end_rate_per_s=5e4).end_rate_per_s
    50000.0
    """

    time_s: float
    duration_s: float
    start_rate_per_s: float
    end_rate_per_s: float

    def __post_init__(self):
        object.__setattr__(self, "time_s", _time("StagedReadmission time_s", self.time_s))
        d = _finite("StagedReadmission duration_s", self.duration_s, low=0.0, strict=True)
        object.__setattr__(self, "duration_s", d)
        for name in ("start_rate_per_s", "end_rate_per_s"):
            v = _finite(f"StagedReadmission {name}", getattr(self, name), low=0.0)
            object.__setattr__(self, name, v)


@dataclass(frozen=True)
class DelayFloor:
    """From retry number ``from_retry`` on, a client waits at least ``min_delay_s`` to retry.

    The delay before retry ``n >= from_retry`` becomes ``max(D_n, min_delay_s)``, with
    ``D_n`` the backoff rule's delay. A client-side rule that spaces retries out whatever the
    backoff says: a per-client retry budget (a token bucket of ``b`` tokens refilled at ``r``
    per second: ``DelayFloor(b + 1, 1 / r)``) or a circuit breaker (``failure_threshold``
    consecutive failures open it for ``cooldown_s``: ``DelayFloor(failure_threshold,
    cooldown_s)``). Several floors combine by taking the largest one that applies.

    In the population model the floor is exact for the backoff rules whose delay is uniform
    on ``[min_delay_s(n), max_delay_s(n)]``: ``max(D_n, f)`` is a point mass at ``f`` (the
    share of ``D_n`` below it) plus the part of the uniform above ``f``.

    Examples
    --------
    >>> DelayFloor(from_retry=11, min_delay_s=10.0)
    DelayFloor(from_retry=11, min_delay_s=10.0)
    >>> DelayFloor(from_retry=0, min_delay_s=10.0)
    Traceback (most recent call last):
    ...
    ValueError: DelayFloor from_retry must be a whole number from 1 to 1000, got 0
    """

    from_retry: int
    min_delay_s: float

    def __post_init__(self):
        n = self.from_retry
        if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"DelayFloor from_retry must be a whole number from 1 to 1000, got {n!r}"
            )
        if not (math.isfinite(n) and n == int(n) and 1 <= n <= 1000):
            raise ValueError(
                f"DelayFloor from_retry must be a whole number from 1 to 1000, got {n!r}"
            )
        object.__setattr__(self, "from_retry", int(n))
        d = _finite("DelayFloor min_delay_s", self.min_delay_s, low=0.0)
        object.__setattr__(self, "min_delay_s", d)


Trigger = ConfigPush | NetworkPartition
Action = ServerPolicyAt | AddCapacity | StagedReadmission | DownstreamFailure


@dataclass(frozen=True)
class StormParams:
    """A reconnection-storm scenario for :func:`run_storm` (see the module docstring).

    Parameters
    ----------
    population : float
        Clients online at the start (> 0); all connected at time 0.
    signin_capacity_per_s : float
        Sign-ins per second the service could do with no other traffic (> 0).
    timeout_s : float
        Client timeout per sign-in attempt (> 0).
    version_mix : VersionMix or Mapping
        Client versions (a mapping ``{"shares": {...}, "incompatible": [...]}`` or a
        :class:`VersionMix`); default: everyone on one incompatible version.
    triggers : tuple of ConfigPush and NetworkPartition
        What knocks clients off (partitions must not overlap).
    retry : Backoff or RetryPolicy
        Clients' reconnect policy. A :class:`~outage_kit.policies.Backoff` retries forever;
        a :class:`~outage_kit.policies.RetryPolicy` gives up after its ``max_attempts``
        (its shared retry budgets and circuit breakers are not modelled: a ``ValueError``;
        per-client ones are delay floors, see ``delay_floors``).
    signin_cost_ratio : float
        Cost of a sign-in over one steady-state request (> 0).
    steady_rate_per_client_per_s : float
        Steady-state requests per connected client per second (>= 0).
    session_s : float
        Mean session length (> 0, may be ``inf`` for no churn).
    max_queue_length : float or None
        Sign-ins that may wait in the queue at most (>= 0); None: unbounded.
    server_policy : ServerPolicy
        The sign-in service's policy at the start.
    actions : tuple of ServerPolicyAt, AddCapacity, StagedReadmission, DownstreamFailure
        Recovery actions at given times (and failures of the calls a sign-in makes).
    restart_after_s : float
        Mean time before a user whose client gave up tries again (> 0).
    horizon_s, dt_s, output_every_s : float
        Length of the run, step, and output resolution (a multiple of the step, rounded).
    delay_floors : tuple of DelayFloor
        Smallest delays before retries from given retry numbers on (a per-client retry
        budget, a circuit breaker; see :class:`DelayFloor`). Default: none.

    Examples
    --------
    >>> p = StormParams(population=1e6, signin_capacity_per_s=2000.0, timeout_s=20.0)
    >>> round(p.normal_signin_load_per_s), round(p.normal_utilisation, 3)
    (833, 0.417)
    >>> StormParams(population=1e6, signin_capacity_per_s=-1.0, timeout_s=20.0)
    Traceback (most recent call last):
    ...
    ValueError: signin_capacity_per_s must be a finite number > 0, got -1.0
    """

    population: float
    signin_capacity_per_s: float
    timeout_s: float
    version_mix: VersionMix | Mapping = field(
        default_factory=lambda: VersionMix({"all": 1.0}, incompatible={"all"})
    )
    triggers: tuple = ()
    retry: Backoff | RetryPolicy = field(default_factory=lambda: FixedDelay(0.0))
    signin_cost_ratio: float = 30.0
    steady_rate_per_client_per_s: float = DEFAULT_STEADY_RATE_PER_CLIENT_PER_S
    session_s: float = DEFAULT_SESSION_S
    max_queue_length: float | None = None
    server_policy: ServerPolicy = field(default_factory=ServerPolicy)
    actions: tuple = ()
    restart_after_s: float = DEFAULT_RESTART_AFTER_S
    horizon_s: float = 3600.0
    dt_s: float = 1.0
    output_every_s: float = 60.0
    delay_floors: tuple = ()

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "population", _finite("population", self.population, low=0.0, strict=True))
        cap = _finite("signin_capacity_per_s", self.signin_capacity_per_s, low=0.0, strict=True)
        set_(self, "signin_capacity_per_s", cap)
        set_(self, "timeout_s", _finite("timeout_s", self.timeout_s, low=0.0, strict=True))
        mix = self.version_mix
        if isinstance(mix, Mapping):
            if "shares" in mix:
                mix = VersionMix(mix["shares"], frozenset(mix.get("incompatible", ())))
            else:
                raise TypeError(
                    "version_mix must be a VersionMix or a mapping with 'shares' and "
                    f"'incompatible', got {mix!r}"
                )
        if not isinstance(mix, VersionMix):
            raise TypeError(f"version_mix must be a VersionMix, got {mix!r}")
        set_(self, "version_mix", mix)
        triggers = tuple(self.triggers)
        for t in triggers:
            if not isinstance(t, (ConfigPush, NetworkPartition)):
                raise TypeError(f"triggers must be ConfigPush or NetworkPartition, got {t!r}")
        parts = sorted(
            (t for t in triggers if isinstance(t, NetworkPartition)), key=lambda t: t.time_s
        )
        for a, b in zip(parts, parts[1:], strict=False):
            if b.time_s < a.end_s:
                raise ValueError(f"triggers: network partitions must not overlap ({a}, {b})")
        set_(self, "triggers", triggers)
        actions = tuple(self.actions)
        for a in actions:
            if not isinstance(
                a, (ServerPolicyAt, AddCapacity, StagedReadmission, DownstreamFailure)
            ):
                raise TypeError(
                    "actions must be ServerPolicyAt, AddCapacity, StagedReadmission or "
                    f"DownstreamFailure, got {a!r}"
                )
        set_(self, "actions", actions)
        retry = self.retry
        if isinstance(retry, RetryPolicy):
            if retry.budget is not None or retry.circuit_breaker is not None:
                raise ValueError(
                    "retry: retry budgets and circuit breakers are not modelled by the "
                    "population model; use the request-level simulation"
                )
        elif not isinstance(retry, Backoff):
            raise TypeError(f"retry must be a Backoff or a RetryPolicy, got {retry!r}")
        cost = _finite("signin_cost_ratio", self.signin_cost_ratio, low=0.0, strict=True)
        set_(self, "signin_cost_ratio", cost)
        steady = _finite("steady_rate_per_client_per_s", self.steady_rate_per_client_per_s, low=0.0)
        set_(self, "steady_rate_per_client_per_s", steady)
        session = float(self.session_s)
        if not session > 0 or math.isnan(session):
            raise ValueError(f"session_s must be > 0 (inf: no churn), got {self.session_s!r}")
        set_(self, "session_s", session)
        if self.max_queue_length is not None:
            q = _finite("max_queue_length", self.max_queue_length, low=0.0)
            set_(self, "max_queue_length", q)
        if not isinstance(self.server_policy, ServerPolicy):
            raise TypeError(f"server_policy must be a ServerPolicy, got {self.server_policy!r}")
        set_(
            self,
            "restart_after_s",
            _finite("restart_after_s", self.restart_after_s, low=0.0, strict=True),
        )
        set_(self, "horizon_s", _finite("horizon_s", self.horizon_s, low=0.0, strict=True))
        set_(self, "dt_s", _finite("dt_s", self.dt_s, low=0.0, strict=True))
        out = _finite("output_every_s", self.output_every_s, low=0.0, strict=True)
        set_(self, "output_every_s", out)
        if self.dt_s > self.horizon_s:
            raise ValueError(f"dt_s ({self.dt_s!r}) must be <= horizon_s ({self.horizon_s!r})")
        if self.horizon_s / self.dt_s > 5e7:
            raise ValueError("horizon_s / dt_s exceeds 50 million steps; choose a larger dt_s")
        floors = tuple(self.delay_floors)
        for f in floors:
            if not isinstance(f, DelayFloor):
                raise TypeError(f"delay_floors must hold DelayFloor, got {f!r}")
        set_(self, "delay_floors", floors)

    # ---- derived numbers ----------------------------------------------------------------

    @property
    def steady_signin_units_per_client_per_s(self) -> float:
        """Steady-state traffic of one connected client, in sign-ins per second."""
        return self.steady_rate_per_client_per_s / self.signin_cost_ratio

    @property
    def churn_per_s(self) -> float:
        """Sign-ins per connected client per second from sessions ending (``1 / session_s``)."""
        return 0.0 if math.isinf(self.session_s) else 1.0 / self.session_s

    @property
    def normal_signin_load_per_s(self) -> float:
        """Normal load in sign-ins per second: churn sign-ins plus steady-state traffic."""
        per_client = self.churn_per_s + self.steady_signin_units_per_client_per_s
        return self.population * per_client

    @property
    def normal_utilisation(self) -> float:
        """Normal load over capacity (the inverse of the capacity headroom)."""
        return self.normal_signin_load_per_s / self.signin_capacity_per_s

    @property
    def max_attempts(self) -> int | None:
        """The attempt limit (None: clients retry forever)."""
        return self.retry.max_attempts if isinstance(self.retry, RetryPolicy) else None

    @property
    def backoff(self) -> Backoff:
        """The backoff rule."""
        return self.retry.backoff if isinstance(self.retry, RetryPolicy) else self.retry

    def with_(self, **changes) -> StormParams:
        """A copy with some fields changed (``dataclasses.replace``).

        Examples
        --------
        >>> StormParams(1e6, 2000.0, 20.0).with_(timeout_s=5.0).timeout_s
        5.0
        """
        return replace(self, **changes)

    @classmethod
    def from_card(
        cls,
        backoff: str = "immediate",
        *,
        affected_share: float | None = None,
        horizon_s: float = 86_400.0,
        dt_s: float = 1.0,
        output_every_s: float = 60.0,
        push_at_s: float = float(ONSET_SECONDS_AFTER_MIDNIGHT),
        actions: tuple = (),
        path=None,
    ) -> StormParams:
        """The 2015 scenario from the parameter card (``data/scenario_2015.csv``).

        Time 0 is midnight UTC on 21 September 2015; the push is at the onset, 08:23 UTC
        (30,180 s). From the card: ``concurrent_users_at_onset`` (population, assumed 40 M),
        ``affected_client_share`` (assumed 0.4, the incompatible versions as one group),
        ``client_timeout_s`` (assumed 20 s), ``signin_cost_ratio`` (assumed 30) and
        ``capacity_headroom`` (assumed 1.5: capacity is 1.5 times the normal peak load);
        ``backoff="immediate"`` is the card's ``reconnect_policy`` (retry at once, no
        jitter), ``backoff="grpc"`` uses the card's ``grpc_*`` rows (gRPC's documented
        connection backoff: 1 s, x1.6, cap 120 s, jitter 0.2). Assumed here, not on the
        card: sessions last 1 h on average (churn), each connected client sends one
        steady-state request a minute, the sign-in queue holds 120 s of sign-in capacity,
        clients retry forever.

        Examples
        --------
        >>> p = StormParams.from_card()
        >>> p.population, p.timeout_s, round(p.normal_utilisation, 3)
        (40000000.0, 20.0, 0.667)
        >>> StormParams.from_card("grpc").backoff
        ExponentialBackoff(base_s=1.0, cap_s=120.0, multiplier=1.6, jitter=0.2)
        """
        from outage_kit.data import parameter

        population = float(parameter("concurrent_users_at_onset", path))
        share = (
            float(parameter("affected_client_share", path))
            if affected_share is None
            else affected_share
        )
        timeout_s = float(parameter("client_timeout_s", path))
        cost = float(parameter("signin_cost_ratio", path))
        headroom = float(parameter("capacity_headroom", path))
        if backoff == "immediate":
            rule: Backoff = FixedDelay(0.0)
        elif backoff == "grpc":
            rule = ExponentialBackoff(
                base_s=float(parameter("grpc_initial_backoff_s", path)),
                cap_s=float(parameter("grpc_max_backoff_s", path)),
                multiplier=float(parameter("grpc_backoff_multiplier", path)),
                jitter=float(parameter("grpc_jitter_fraction", path)),
            )
        else:
            raise ValueError(f"backoff must be 'immediate' or 'grpc', got {backoff!r}")
        steady = DEFAULT_STEADY_RATE_PER_CLIENT_PER_S
        per_client = 1.0 / DEFAULT_SESSION_S + steady / cost
        capacity = headroom * population * per_client
        return cls(
            population=population,
            signin_capacity_per_s=capacity,
            timeout_s=timeout_s,
            version_mix=VersionMix.two_groups(share),
            triggers=(ConfigPush(push_at_s, 1.0),),
            retry=rule,
            signin_cost_ratio=cost,
            steady_rate_per_client_per_s=steady,
            session_s=DEFAULT_SESSION_S,
            max_queue_length=DEFAULT_QUEUE_SECONDS * capacity,
            actions=tuple(actions),
            horizon_s=horizon_s,
            dt_s=dt_s,
            output_every_s=output_every_s,
        )


def scenario_from_card(backoff: str = "immediate", **kwargs) -> StormParams:
    """The 2015 scenario from the parameter card: :meth:`StormParams.from_card`.

    Examples
    --------
    >>> scenario_from_card(horizon_s=3600.0, push_at_s=600.0).triggers
    (ConfigPush(time_s=600.0, reach=1.0),)
    """
    return StormParams.from_card(backoff, **kwargs)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


class StormResult:
    """What :func:`run_storm` returns.

    Attributes
    ----------
    timeseries : pandas.DataFrame
        One row per output interval, wide, ready for altair. States (counts of clients,
        ``connected_share``, ``queue_length``, ``zombie_queue_share``) are snapshots at
        ``time_s``; rates (per second) are averages over ``[time_s, time_s +
        output_every_s)``. Columns: ``time_s``, ``connected``, ``signing_in``,
        ``backing_off``, ``gave_up``, ``partitioned``, ``connected_share``,
        ``queue_length`` (sign-ins waiting, zombie work included), ``zombie_queue_share``
        (share of the queue whose client has timed out), ``offered_signins_per_s``
        (attempts, rejected included) = ``new_signins_per_s`` + ``retries_per_s``,
        ``admitted_per_s``, ``rejected_per_s``, ``served_signins_per_s`` (zombie work
        included), ``goodput_per_s`` (sign-ins that reconnected a client),
        ``dropped_per_s``, ``timeouts_per_s``, ``load_ratio`` (offered work over capacity),
        ``utilisation`` (work done over capacity), ``capacity_per_s`` (sign-ins per second),
        ``failed_per_s`` (sign-ins served in time that failed after service, see
        :class:`DownstreamFailure`; in ``served_signins_per_s`` but not in ``goodput_per_s``).
    params : StormParams
    accelerated : bool
        Whether the step loop ran compiled by numba.
    conservation_error : float
        With ``check_conservation=True``: the largest relative gap, over every output row,
        between the population and the sum of the states (recounted from the model's
        internal rings and from its running totals); nan otherwise.
    min_state_share : float
        With ``check_conservation=True``: the smallest state entry (any cohort or calendar
        cell) over the population; nan otherwise.
    """

    def __init__(self, timeseries, params, accelerated, conservation_error, min_state_share):
        self.timeseries: pd.DataFrame = timeseries
        self.params: StormParams = params
        self.accelerated: bool = accelerated
        self.conservation_error: float = conservation_error
        self.min_state_share: float = min_state_share

    def __repr__(self):
        ts = self.timeseries
        return (
            f"StormResult(rows={len(ts)}, final_connected_share="
            f"{ts.connected_share.iloc[-1]:.3f}, accelerated={self.accelerated})"
        )


# --------------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------------


def _delay_floor_s(floors, retry_numbers) -> np.ndarray:
    """The largest :class:`DelayFloor` that applies to each retry number (0 where none)."""
    n = np.asarray(retry_numbers)
    out = np.zeros(n.shape)
    for f in floors:
        out = np.where(n >= f.from_retry, np.maximum(out, f.min_delay_s), out)
    return out


def _floored_spread_table(lo: float, hi: float, floor: float):
    """:func:`~outage_kit._storm_kernel.spread_table` for ``max(U[lo, hi], floor)``, in steps.

    With ``floor > lo``: a point mass ``(floor - lo) / (hi - lo)`` at ``floor`` (all of it if
    ``floor >= hi`` or the delay is a point) plus the uniform on ``[floor, hi]`` with the rest;
    both parts keep their mass and mean under the hat kernel, so the mixture does too.
    """
    if hi - lo < 1e-9 or floor >= hi:
        return kern.spread_table(floor, floor)
    above = (hi - floor) / (hi - lo)
    u_off, u_w, b_lo, b_hi, b_rate = kern.spread_table(floor, hi)
    p_off, p_w, _, _, _ = kern.spread_table(floor, floor)
    cells: dict[int, float] = {}
    for off, w in zip(u_off, u_w, strict=True):
        cells[off] = cells.get(off, 0.0) + above * w
    for off, w in zip(p_off, p_w, strict=True):
        cells[off] = cells.get(off, 0.0) + (1.0 - above) * w
    offsets = sorted(cells)
    if len(offsets) > kern.MAX_DIRECT_CELLS:  # pragma: no cover - at most 6 by construction
        raise RuntimeError("floored delay spread needs too many cells")
    return offsets, [cells[o] for o in offsets], b_lo, b_hi, b_rate * above


def _stage_tables(params: StormParams, dt: float):
    """Stages, calendars and delay ranges (in steps) for the retry policy."""
    backoff = params.backoff
    m = params.max_attempts
    if m is None:
        n = np.arange(1, 1001)
        lo = backoff.min_delay_s(n)
        hi = backoff.max_delay_s(n)
        # First retry number from which the delays no longer change.
        same = (lo == lo[-1]) & (hi == hi[-1])
        if params.delay_floors:
            floor = _delay_floor_s(params.delay_floors, n)
            same &= floor == floor[-1]
        changing = np.flatnonzero(~same)
        n_sat = int(changing[-1]) + 2 if changing.size else 1
        n_stage = n_sat
        n_cal = n_sat
        gives_up = np.zeros(n_stage, dtype=np.int64)
        next_cal = np.minimum(np.arange(n_stage) + 1, n_cal).astype(np.int64)
        release_stage = np.minimum(np.arange(n_cal + 1), n_stage - 1).astype(np.int64)
    else:
        n_stage = m
        n_cal = m - 1
        gives_up = np.zeros(n_stage, dtype=np.int64)
        gives_up[m - 1] = 1
        next_cal = np.minimum(np.arange(n_stage) + 1, max(n_cal, 1)).astype(np.int64)
        release_stage = np.arange(n_cal + 1, dtype=np.int64)
    size = kern.MAX_DIRECT_CELLS
    tables = {
        "sp_n": np.zeros(n_cal + 1, dtype=np.int64),
        "sp_off": np.zeros((n_cal + 1) * size, dtype=np.int64),
        "sp_w": np.zeros((n_cal + 1) * size),
        "box_lo": np.full(n_cal + 1, -1, dtype=np.int64),
        "box_hi": np.full(n_cal + 1, -1, dtype=np.int64),
        "box_rate": np.zeros(n_cal + 1),
        "sp_last": np.zeros(n_cal + 1, dtype=np.int64),
    }
    longest = 0
    if n_cal:
        retry_numbers = np.arange(1, n_cal + 1)
        lo = backoff.min_delay_s(retry_numbers) / dt
        hi = backoff.max_delay_s(retry_numbers) / dt
        floor = _delay_floor_s(params.delay_floors, retry_numbers) / dt
        for cal in range(1, n_cal + 1):
            if floor[cal - 1] > lo[cal - 1]:
                offsets, weights, b_lo, b_hi, b_rate = _floored_spread_table(
                    float(lo[cal - 1]), float(hi[cal - 1]), float(floor[cal - 1])
                )
            else:
                offsets, weights, b_lo, b_hi, b_rate = kern.spread_table(
                    float(lo[cal - 1]), float(hi[cal - 1])
                )
            n = len(offsets)
            tables["sp_n"][cal] = n
            tables["sp_off"][cal * size : cal * size + n] = offsets
            tables["sp_w"][cal * size : cal * size + n] = weights
            tables["box_lo"][cal], tables["box_hi"][cal] = b_lo, b_hi
            tables["box_rate"][cal] = b_rate
            tables["sp_last"][cal] = max(max(offsets), b_hi + 1)
            longest = max(longest, int(tables["sp_last"][cal]))
    ring_len = longest + 3
    return n_stage, n_cal, gives_up, next_cal, release_stage, tables, ring_len


def _server_settings(policy: ServerPolicy, base_bound, timeout_s, dt):
    """(admission rate or -1, queue bound or -1, drop steps or 0) for a server policy."""
    adm = policy.admission
    rate = -1.0 if adm is None or adm.rate_per_s is None else float(adm.rate_per_s)
    bounds = [
        b for b in (base_bound, None if adm is None else adm.max_queue_length) if b is not None
    ]
    bound = float(min(bounds)) if bounds else -1.0
    drop = policy.drop_wait_s(timeout_s)
    drop_steps = 0 if math.isinf(drop) else max(1, int(round(drop / dt)))
    return rate, bound, drop_steps


def _events(params: StormParams, dt: float, n_steps: int):
    """Sorted event arrays (step, kind, a, b, c) for the kernel."""
    rows = []  # (step, order, kind, a, b, c)
    order = 0
    horizon = params.horizon_s

    def step_of(t):
        return int(round(t / dt))

    for t in params.triggers:
        if t.time_s > horizon:
            raise ValueError(f"triggers: {t} is after the end of the run ({horizon} s)")
        if isinstance(t, ConfigPush):
            share = params.version_mix.affected_share(t.reach)
            rows.append((step_of(t.time_s), order, kern.EV_KNOCK_OFF, share, 0.0, 0.0))
        else:
            rows.append((step_of(t.time_s), order, kern.EV_PARTITION_START, t.share, 0.0, 0.0))
            end = max(step_of(t.end_s), step_of(t.time_s) + 1)
            rows.append((end, order, kern.EV_PARTITION_END, 0.0, 0.0, 0.0))
        order += 1
    for a in params.actions:
        if a.time_s > horizon:
            raise ValueError(f"actions: {a} is after the end of the run ({horizon} s)")
        s = step_of(a.time_s)
        if isinstance(a, AddCapacity):
            rows.append((s, order, kern.EV_CAPACITY, a.factor, 0.0, 0.0))
        elif isinstance(a, DownstreamFailure):
            rows.append((s, order, kern.EV_FAIL, a.share, 0.0, 0.0))
        elif isinstance(a, ServerPolicyAt):
            rate, bound, drop = _server_settings(
                a.policy, params.max_queue_length, params.timeout_s, dt
            )
            rows.append((s, order, kern.EV_SERVER, rate, bound, float(drop)))
        else:
            steps = max(1.0, a.duration_s / dt)
            rows.append((s, order, kern.EV_RAMP, a.start_rate_per_s, a.end_rate_per_s, steps))
        order += 1
    rows.sort(key=lambda r: (r[0], r[1]))
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.int64),
        np.array([r[3] for r in rows], dtype=np.float64),
        np.array([r[4] for r in rows], dtype=np.float64),
        np.array([r[5] for r in rows], dtype=np.float64),
    )


def run_storm(
    params: StormParams,
    *,
    use_numba: bool | None = None,
    check_conservation: bool = False,
) -> StormResult:
    """Run the population model of a reconnection storm.

    Parameters
    ----------
    params : StormParams
        The scenario.
    use_numba : bool or None
        Compile the step loop with numba (None: if installed and ``OUTAGE_KIT_DISABLE_NUMBA``
        is unset). ``True`` without numba raises ``ImportError``.
    check_conservation : bool
        Recount every state from the model's rings at each output row and record the
        largest gap to the population (:attr:`StormResult.conservation_error`) and the
        smallest state (:attr:`StormResult.min_state_share`). Slower; for tests.

    Returns
    -------
    StormResult

    Examples
    --------
    A million clients, 40 % knocked off at once after 10 minutes, immediate retries. The
    service's spare capacity signs in about 14,000 clients within the 20 s timeout, far fewer
    than 400,000: the queue fills with work whose clients have gone, goodput collapses, and
    it stays that way; sessions that end join the storm, so it gets worse.

    >>> p = StormParams(population=1e6, signin_capacity_per_s=1250.0, timeout_s=20.0,
    ...                 version_mix=VersionMix.two_groups(0.4),
    ...                 triggers=(ConfigPush(600.0),), max_queue_length=150_000,
    ...                 horizon_s=7200.0)
    >>> ts = run_storm(p).timeseries
    >>> cols = ["time_s", "connected_share", "goodput_per_s", "zombie_queue_share"]
    >>> ts.loc[ts.time_s.isin([0, 1200, 7140]), cols].round(2)
         time_s  connected_share  goodput_per_s  zombie_queue_share
    0       0.0             1.00         277.74                0.00
    20   1200.0             0.52           0.00                0.88
    119  7140.0             0.10           0.00                0.85
    >>> is_stuck(ts, after_s=3600.0)
    True

    Dropping expired work at 1 h gets it out:

    >>> drop = ServerPolicyAt(3600.0, ServerPolicy(drop_expired=True))
    >>> fixed = run_storm(p.with_(actions=(drop,)))
    >>> is_stuck(fixed, after_s=5400.0), round(time_to_recover_s(fixed))
    (False, 4080)
    """
    if not isinstance(params, StormParams):
        raise TypeError(f"params must be StormParams, got {params!r}")
    if use_numba is None:
        use_numba = kern.numba_available()
    elif use_numba and not kern.numba_available():
        raise ImportError("use_numba=True but numba is not installed (or is disabled)")
    dt = params.dt_s
    n_steps = max(1, int(math.ceil(params.horizon_s / dt - 1e-9)))
    every = max(1, int(round(params.output_every_s / dt)))
    n_rows = -(-n_steps // every)
    timeout_steps = max(1, int(round(params.timeout_s / dt)))
    stages = _stage_tables(params, dt)
    n_stage, n_cal, gives_up, next_cal, release_stage, tables, ring_len = stages
    rate0, bound0, drop0 = _server_settings(
        params.server_policy, params.max_queue_length, params.timeout_s, dt
    )
    ev = _events(params, dt, n_steps)
    churn = params.churn_per_s
    restart = 1.0 / params.restart_after_s
    arrays = {
        "queue_mass": np.zeros(n_steps),
        "cohort_left": np.zeros(timeout_steps),
        "cohort_comp": np.zeros(timeout_steps * n_stage),
        "cal_direct": np.zeros((n_cal + 1) * ring_len),
        "cal_diff": np.zeros((n_cal + 1) * ring_len),
        "cal_ends": np.zeros((n_cal + 1) * ring_len, dtype=np.int64),
        "cal_rate": np.zeros(n_cal + 1),
        "cal_active": np.zeros(n_cal + 1, dtype=np.int64),
        "cal_last": np.full(n_cal + 1, -1, dtype=np.int64),
        "arrivals": np.zeros(n_stage),
        "failing": np.zeros(n_stage),
        "out": np.zeros(n_rows * kern.N_COLS),
    }
    scalars = [
        n_steps,
        dt,
        every,
        params.population,
        timeout_steps,
        n_stage,
        n_cal,
        gives_up,
        next_cal,
        release_stage,
        *tables.values(),
        ring_len,
        params.signin_capacity_per_s,
        params.steady_signin_units_per_client_per_s,
        churn,
        restart,
        bound0,
        rate0,
        drop0,
        *ev,
        bool(check_conservation),
    ]
    kernel = kern.get_kernel("storm_loop", use_numba)
    if use_numba:
        kernel(*scalars, *arrays.values())
        out = arrays["out"]
    else:
        py_scalars = [a.tolist() if isinstance(a, np.ndarray) else a for a in scalars]
        py_arrays = {k: v.tolist() for k, v in arrays.items()}
        kernel(*py_scalars, *py_arrays.values())
        out = np.array(py_arrays["out"], dtype=np.float64)
    out = out.reshape(n_rows, kern.N_COLS)
    frame = _frame(out, params, every, dt)
    if check_conservation:
        err = float(out[:, kern.C_CONSERVATION_ERROR].max())
        low = float(out[:, kern.C_MIN_STATE].min())
    else:
        err = low = float("nan")
    return StormResult(frame, params, bool(use_numba), err, low)


def _frame(out: np.ndarray, params: StormParams, every: int, dt: float) -> pd.DataFrame:
    n = params.population
    span = out[:, kern.C_STEPS] * dt
    queue = out[:, kern.C_QUEUE]
    zombie = out[:, kern.C_ZOMBIE_QUEUE]
    capacity_work = out[:, kern.C_CAPACITY_WORK]
    with np.errstate(invalid="ignore", divide="ignore"):
        zombie_share = np.where(queue > 0, np.minimum(zombie / np.where(queue > 0, queue, 1), 1), 0)
        load = out[:, kern.C_OFFERED_WORK] / capacity_work
        util = out[:, kern.C_BUSY_WORK] / capacity_work
    columns = {
        "time_s": np.arange(out.shape[0]) * every * dt,
        "connected": out[:, kern.C_CONNECTED],
        "signing_in": out[:, kern.C_SIGNING_IN],
        "backing_off": out[:, kern.C_BACKING_OFF],
        "gave_up": out[:, kern.C_GAVE_UP],
        "partitioned": out[:, kern.C_PARTITIONED],
        "connected_share": out[:, kern.C_CONNECTED] / n,
        "queue_length": queue,
        "zombie_queue_share": zombie_share,
        "offered_signins_per_s": out[:, kern.C_OFFERED] / span,
        "new_signins_per_s": out[:, kern.C_NEW_SIGNINS] / span,
        "retries_per_s": out[:, kern.C_RETRIES] / span,
        "admitted_per_s": out[:, kern.C_ADMITTED] / span,
        "rejected_per_s": out[:, kern.C_REJECTED] / span,
        "served_signins_per_s": out[:, kern.C_SERVED] / span,
        "goodput_per_s": out[:, kern.C_GOODPUT] / span,
        "dropped_per_s": out[:, kern.C_DROPPED] / span,
        "timeouts_per_s": out[:, kern.C_TIMEOUTS] / span,
        "load_ratio": load,
        "utilisation": util,
        "capacity_per_s": capacity_work / span,
        "failed_per_s": out[:, kern.C_FAILED] / span,
    }
    return pd.DataFrame({k: columns[k] for k in _COLUMNS})


# --------------------------------------------------------------------------------------------
# Verdicts for the lessons
# --------------------------------------------------------------------------------------------


def _frame_of(result) -> pd.DataFrame:
    if isinstance(result, StormResult):
        return result.timeseries
    if isinstance(result, pd.DataFrame):
        return result
    raise TypeError(f"result must be a StormResult or its timeseries, got {type(result)!r}")


def is_stuck(
    result, after_s: float, *, goodput_share: float = 0.1, waiting_share: float = 0.01
) -> bool:
    """Whether the service is stuck from ``after_s`` to the end of the run.

    Stuck: over the rows at or after ``after_s``, clients are still waiting to sign in
    (more than ``waiting_share`` of the population on average) while the sign-ins that
    reconnect someone are fewer than ``goodput_share`` of the sign-ins the service completes
    (almost all its work is wasted on clients that have gone), or nothing is served at all.

    Parameters
    ----------
    result : StormResult or pandas.DataFrame
        A run (or its ``timeseries``).
    after_s : float
        Start of the window judged (>= 0, before the end of the run).

    Examples
    --------
    >>> p = StormParams(1e6, 1250.0, 20.0, triggers=(ConfigPush(600.0, reach=0.01),),
    ...                 horizon_s=3600.0)
    >>> is_stuck(run_storm(p), after_s=1800.0)
    False
    """
    ts = _frame_of(result)
    after_s = _time("after_s", after_s)
    window = ts[ts.time_s >= after_s - 1e-9]
    if window.empty:
        raise ValueError(f"after_s ({after_s}) must be before the last row ({ts.time_s.iloc[-1]})")
    total = window.connected + window.signing_in + window.backing_off + window.gave_up
    total = total + window.partitioned
    waiting = ((window.signing_in + window.backing_off) / total).mean()
    if waiting <= waiting_share:
        return False
    served = window.served_signins_per_s.mean()
    if served <= 0:
        return True
    return bool(window.goodput_per_s.mean() < goodput_share * served)


def time_to_recover_s(result, *, level: float = 0.99) -> float:
    """Seconds from the first trigger until the connected share is back for good.

    Recovered: the connected share is at least ``level`` times its value just before the
    first trigger, and stays so to the end of the run. ``inf`` if it never does (still
    down at the end); 0 if it never dropped below.

    Examples
    --------
    >>> card = StormParams.from_card(horizon_s=3600.0, push_at_s=600.0, output_every_s=1.0)
    >>> time_to_recover_s(run_storm(card.with_(triggers=(ConfigPush(600.0, reach=0.045),))))
    35.0
    >>> time_to_recover_s(run_storm(card.with_(triggers=(ConfigPush(600.0, reach=0.001),))))
    0.0
    """
    if not isinstance(result, StormResult):
        raise TypeError("time_to_recover_s needs a StormResult (it reads the trigger times)")
    ts = result.timeseries
    times = [t.time_s for t in result.params.triggers]
    if not times:
        return 0.0
    start = min(times)
    before = ts[ts.time_s <= start + 1e-9]
    baseline = float(before.connected_share.iloc[-1])
    after = ts[ts.time_s > start + 1e-9]
    ok = (after.connected_share >= level * baseline).to_numpy()
    if ok.size == 0 or not ok[-1]:
        return math.inf
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return 0.0  # never below the level at the output resolution
    first_good = bad[-1] + 1
    return float(after.time_s.iloc[first_good] - start)
