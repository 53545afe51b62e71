"""Why a storm outlives its trigger: metastability in the population model of :mod:`storm`.

A system is **metastable** when it has two ways of running at the same load: a good one
(clients sign in within their timeout) and a bad one (the sign-in queue is full of work for
clients that have already given up, so almost every attempt times out and is retried). A
**trigger** (a configuration push that knocks clients off, a short loss of capacity) moves
it from the good way to the bad way; a **sustaining effect** keeps it there after the trigger
has gone. Following the vocabulary of Bronson et al. (HotOS 2021), a load is

stable
    the service recovers by itself from any trigger, even one that knocks everybody off;
vulnerable
    healthy until a big enough trigger, after which it stays stuck;
overloaded
    the normal load alone exceeds capacity (it is not a metastable failure: there is no good
    way to run).

What the functions here compute (all on the population model, so all fast):

* :func:`trigger_outcome`, :func:`trigger_map`: for a trigger of a given size and duration,
  does the service recover, is it still recovering, or is it stuck? The map over trigger
  size x duration (and over base load x trigger size) is the signature figure of the
  metastability literature.
* :func:`hysteresis`: the load is raised slowly past capacity and lowered again; the load at
  which the service breaks on the way up is higher than the load at which it heals on the way
  down. :func:`load_states` turns the two thresholds into stable / vulnerable / overloaded.
* :func:`sustaining_loop`: the numbers of the loop (timeouts, retries, zombie work, queue wait
  over the timeout) at a moment of a run.
* :func:`recovery_strategies`: recovery actions taken while the service is stuck, compared
  on the time they take to bring it back.

The default scenario, :func:`lab_params`, is the card's 2015 scenario
(:meth:`~outage_kit.storm.StormParams.from_card`) over a four-hour window with the trigger ten
minutes in: the same clients, capacity, timeout and retry rule, a shorter clock.

Examples
--------
>>> p = lab_params()
>>> trigger_outcome(p, kind="push", size=0.01)["outcome"]
'recovered'
>>> trigger_outcome(p, kind="push", size=0.4)["outcome"]
'stuck'
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from outage_kit.policies import AdmissionControl, ServerPolicy
from outage_kit.storm import (
    AddCapacity,
    ConfigPush,
    ServerPolicyAt,
    StagedReadmission,
    StormParams,
    VersionMix,
    is_stuck,
    run_storm,
)

__all__ = [
    "LOAD_STATES",
    "critical_share_curve",
    "critical_trigger_share",
    "loop_frame",
    "recovery_timeseries",
    "heal_load_ratio_estimate",
    "OUTCOMES",
    "RECOVERY_STRATEGIES",
    "hysteresis",
    "hysteresis_thresholds",
    "lab_params",
    "load_states",
    "outcome_of",
    "recovery_strategies",
    "recovery_time_s",
    "sustaining_loop",
    "trigger_map",
    "trigger_outcome",
    "with_utilisation",
]

#: What happened after a trigger, judged over the last hour of the run.
OUTCOMES = ("recovered", "recovering", "stuck")
#: The three kinds of load (see the module docstring).
LOAD_STATES = ("stable", "vulnerable", "overloaded")
#: Trigger kinds of :func:`trigger_outcome`.
TRIGGER_KINDS = ("push", "capacity_dip")

#: Share of the pre-trigger connected share that counts as "back".
RECOVERED_LEVEL = 0.99
#: Window at the end of a run over which the outcome is judged.
JUDGE_WINDOW_S = 3600.0


def _number(name: str, value, *, low=None, high=None, strict_low=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (strict_low and v == low)):
        sign = ">" if strict_low else ">="
        raise ValueError(f"{name} must be {sign} {low}, got {value!r}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return v


def _params(params) -> StormParams:
    if params is None:
        return lab_params()
    if not isinstance(params, StormParams):
        raise TypeError(f"params must be StormParams, got {params!r}")
    return params


def lab_params(*, backoff: str = "immediate", horizon_s: float = 4 * 3600.0) -> StormParams:
    """The card's 2015 scenario on a short clock: the trigger 10 minutes in, ``horizon_s`` long.

    No trigger is set (the functions below add one); output every minute, 1 s steps.

    Examples
    --------
    >>> p = lab_params()
    >>> p.population, round(p.normal_utilisation, 3), p.triggers, p.horizon_s / 3600
    (40000000.0, 0.667, (), 4.0)
    """
    p = StormParams.from_card(
        backoff, horizon_s=horizon_s, dt_s=1.0, output_every_s=60.0, push_at_s=600.0
    )
    return p.with_(triggers=())


def with_utilisation(params: StormParams, utilisation: float) -> StormParams:
    """``params`` with the sign-in capacity set so that the normal load is ``utilisation`` of it.

    The queue bound keeps the same number of seconds of capacity.

    Examples
    --------
    >>> p = with_utilisation(lab_params(), 0.5)
    >>> round(p.normal_utilisation, 6), p.max_queue_length / p.signin_capacity_per_s
    (0.5, 120.0)
    >>> with_utilisation(lab_params(), 0.0)
    Traceback (most recent call last):
    ...
    ValueError: utilisation must be > 0.0, got 0.0
    """
    params = _params(params)
    u = _number("utilisation", utilisation, low=0.0, strict_low=True)
    capacity = params.normal_signin_load_per_s / u
    bound = params.max_queue_length
    if bound is not None:
        bound = bound * capacity / params.signin_capacity_per_s
    return params.with_(signin_capacity_per_s=capacity, max_queue_length=bound)


def recovery_time_s(ts: pd.DataFrame, start_s: float, *, level: float = RECOVERED_LEVEL) -> float:
    """Seconds from ``start_s`` until the connected share is back for good (``inf``: never).

    Back: at least ``level`` times the connected share just before ``start_s``, and so to the
    end of the run. 0 if it never fell below.

    Examples
    --------
    >>> ts = pd.DataFrame({"time_s": [0, 60, 120, 180, 240],
    ...                    "connected_share": [1.0, 0.5, 0.8, 1.0, 1.0]})
    >>> recovery_time_s(ts, 0.0)
    180.0
    >>> recovery_time_s(ts.iloc[:3], 0.0)
    inf
    """
    times = ts["time_s"].to_numpy(dtype=float)
    share = ts["connected_share"].to_numpy(dtype=float)
    before = times <= start_s + 1e-9
    if not before.any():
        raise ValueError(f"start_s ({start_s}) must not be before the first row ({times[0]})")
    baseline = share[before][-1]
    after = ~before
    ok = share[after] >= level * baseline
    if ok.size == 0 or not ok[-1]:
        return math.inf
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return 0.0
    return float(times[after][bad[-1] + 1] - start_s)


def outcome_of(result, start_s: float) -> str:
    """``"recovered"``, ``"recovering"`` or ``"stuck"`` for a run with a trigger at ``start_s``.

    Recovered: back for good (:func:`recovery_time_s` finite). Stuck: over the last hour of the
    run, clients are waiting while almost all the sign-in work is wasted
    (:func:`~outage_kit.storm.is_stuck`). Otherwise still recovering at the end of the run.

    Examples
    --------
    >>> p = lab_params().with_(triggers=(ConfigPush(600.0),),
    ...                        version_mix=VersionMix.two_groups(0.4))
    >>> outcome_of(run_storm(p), 600.0)
    'stuck'
    """
    ts = result.timeseries
    if math.isfinite(recovery_time_s(ts, start_s)):
        return "recovered"
    end = float(ts["time_s"].iloc[-1])
    if is_stuck(ts, after_s=max(start_s, end - JUDGE_WINDOW_S)):
        return "stuck"
    return "recovering"


def _triggered(params: StormParams, kind: str, size: float, duration_s: float, at_s: float):
    if kind == "push":
        size = _number("size", size, low=0.0, high=1.0)
        return params.with_(
            triggers=(ConfigPush(at_s, 1.0),), version_mix=VersionMix.two_groups(size)
        )
    if kind == "capacity_dip":
        size = _number("size", size, low=0.0, high=1.0)
        if size >= 1.0:
            raise ValueError("size of a capacity dip must be < 1 (some capacity must remain)")
        d = _number("duration_s", duration_s, low=0.0, strict_low=True)
        dip = (AddCapacity(at_s, 1.0 - size), AddCapacity(at_s + d, 1.0))
        return params.with_(triggers=(), actions=dip + tuple(params.actions))
    raise ValueError(f"kind must be one of {TRIGGER_KINDS}, got {kind!r}")


def trigger_outcome(
    params: StormParams | None = None,
    *,
    kind: str = "push",
    size: float,
    duration_s: float = 0.0,
    utilisation: float | None = None,
    at_s: float = 600.0,
) -> dict:
    """Run one trigger on ``params`` and say what became of the service.

    Parameters
    ----------
    params : StormParams, optional
        The scenario without its trigger (default :func:`lab_params`).
    kind : {"push", "capacity_dip"}
        ``"push"``: a configuration push knocks off ``size`` of the connected clients at once
        (``duration_s`` is ignored: the push is instantaneous). ``"capacity_dip"``: the
        sign-in service loses ``size`` of its capacity for ``duration_s`` seconds.
    size : float
        Share of clients knocked off, or share of capacity lost (0 to 1).
    utilisation : float, optional
        Set the normal load to this share of capacity first (:func:`with_utilisation`).
    at_s : float
        When the trigger starts.

    Returns
    -------
    dict
        ``outcome`` (one of :data:`OUTCOMES`), ``recovery_min`` (from the trigger's start;
        ``inf`` if not back by the end), ``lowest_connected_share``,
        ``final_connected_share``.

    Examples
    --------
    A two-minute loss of half the capacity is enough to leave the service stuck; a loss of a
    fifth is absorbed by the headroom:

    >>> trigger_outcome(kind="capacity_dip", size=0.5, duration_s=120.0)["outcome"]
    'stuck'
    >>> r = trigger_outcome(kind="capacity_dip", size=0.2, duration_s=3600.0)
    >>> r["outcome"], r["recovery_min"]
    ('recovered', 0.0)
    >>> trigger_outcome(kind="flood", size=0.1)
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of ('push', 'capacity_dip'), got 'flood'
    """
    params = _params(params)
    at_s = _number("at_s", at_s, low=0.0)
    if at_s >= params.horizon_s:
        raise ValueError(f"at_s ({at_s}) must be before the end of the run ({params.horizon_s})")
    if utilisation is not None:
        params = with_utilisation(params, utilisation)
    run = run_storm(_triggered(params, kind, size, duration_s, at_s))
    ts = run.timeseries
    share = ts["connected_share"].to_numpy()
    return {
        "outcome": outcome_of(run, at_s),
        "recovery_min": recovery_time_s(ts, at_s) / 60.0,
        "lowest_connected_share": float(share.min()),
        "final_connected_share": float(share[-1]),
    }


def trigger_map(
    params: StormParams | None = None,
    *,
    kind: str = "capacity_dip",
    sizes,
    durations_s=(0.0,),
    utilisations=None,
    executor="processes",
    progress="auto",
) -> pd.DataFrame:
    """:func:`trigger_outcome` over a grid, run by :func:`outage_kit.sweeps.sweep`.

    The grid is ``utilisations`` (if given) x ``sizes`` x ``durations_s``; each point is one
    run of the population model. The result is one row per point with the grid's columns
    (``size``, ``duration_s``, and ``utilisation`` if given) and :func:`trigger_outcome`'s.
    The runs are deterministic, so the map does not depend on the executor.

    Examples
    --------
    >>> m = trigger_map(kind="push", sizes=[0.01, 0.4], executor="serial", progress=False)
    >>> m[["size", "outcome"]].to_dict("records")
    [{'size': 0.01, 'outcome': 'recovered'}, {'size': 0.4, 'outcome': 'stuck'}]
    """
    from outage_kit import sweeps

    params = _params(params)
    if kind not in TRIGGER_KINDS:
        raise ValueError(f"kind must be one of {TRIGGER_KINDS}, got {kind!r}")
    axes = {}
    if utilisations is not None:
        axes["utilisation"] = list(utilisations)
    axes["size"] = list(sizes)
    axes["duration_s"] = list(durations_s)
    return sweeps.sweep(
        trigger_outcome,
        sweeps.grid(**axes),
        fixed={"params": params, "kind": kind},
        executor=executor,
        progress=progress,
        description="push map" if kind == "push" else "capacity-loss map",
    )


def _with_queue_bound(policy: ServerPolicy, bound: float) -> ServerPolicy:
    """``policy`` with its queue bound set to ``bound`` (its other settings kept)."""
    old = policy.admission
    admission = (
        AdmissionControl(max_queue_length=int(round(bound)))
        if old is None
        else replace(old, max_queue_length=int(round(bound)))
    )
    return replace(policy, admission=admission)


def hysteresis(
    params: StormParams | None = None,
    *,
    load_ratios=(0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2),
    down_to=(1.1, 1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.03, 0.02, 0.018, 0.016, 0.014, 0.012),
    hold_s: float = 1800.0,
) -> pd.DataFrame:
    """Raise the load slowly past capacity, then lower it, and record where the service is.

    The load ratio (normal load over sign-in capacity) is changed by changing the capacity
    (:class:`~outage_kit.storm.AddCapacity`), one level every ``hold_s`` seconds: first up
    through ``load_ratios``, then down through ``down_to``. The queue bound follows the
    capacity (it keeps the same number of seconds of work, as when servers are added each
    with its own queue); the server's other settings (``params.server_policy``) are kept. No
    trigger: the only thing that changes is the load. At the end of each hold the run records
    the connected share and the goodput share (sign-ins that reconnected someone over
    sign-ins served).

    Returns
    -------
    pandas.DataFrame
        One row per hold: ``step``, ``branch`` (``"up"`` or ``"down"``), ``load_ratio``,
        ``connected_share``, ``goodput_share`` (1 where nothing is served), ``healthy``
        (connected share at least 0.99).

    Examples
    --------
    It breaks just past capacity and heals only at about a seventieth of it:

    >>> hysteresis_thresholds(hysteresis())
    {'break_load_ratio': 1.05, 'heal_load_ratio': 0.014}
    """
    params = _params(params)
    hold_s = _number("hold_s", hold_s, low=0.0, strict_low=True)
    ups = [_number("load_ratios", v, low=0.0, strict_low=True) for v in load_ratios]
    downs = [_number("down_to", v, low=0.0, strict_low=True) for v in down_to]
    if not ups or not downs:
        raise ValueError("load_ratios and down_to must not be empty")
    levels = [("up", v) for v in ups] + [("down", v) for v in downs]
    u0 = params.normal_utilisation
    bound = params.max_queue_length
    policy = params.server_policy
    actions = []
    for i, (_, ratio) in enumerate(levels):
        factor = u0 / ratio
        actions.append(AddCapacity(i * hold_s, factor))
        if bound is not None:
            actions.append(ServerPolicyAt(i * hold_s, _with_queue_bound(policy, bound * factor)))
    run = run_storm(
        params.with_(
            triggers=(),
            actions=tuple(actions),
            max_queue_length=None,
            horizon_s=hold_s * len(levels),
        )
    )
    ts = run.timeseries
    rows = []
    for i, (branch, ratio) in enumerate(levels):
        end = ts[(ts.time_s >= i * hold_s) & (ts.time_s < (i + 1) * hold_s)].iloc[-1]
        served = float(end.served_signins_per_s)
        goodput = float(end.goodput_per_s) / served if served > 0 else 1.0
        share = float(end.connected_share)
        rows.append(
            {
                "step": i,
                "branch": branch,
                "load_ratio": ratio,
                "connected_share": share,
                "goodput_share": min(goodput, 1.0),
                "healthy": share >= RECOVERED_LEVEL,
            }
        )
    return pd.DataFrame(rows)


def critical_trigger_share(params: StormParams | None = None, *, timeouts: float = 1.0) -> float:
    """Back-of-the-envelope: the largest push surely absorbed, as a share of the clients.

    The clients knocked off all try at once. Within one client timeout the service can sign
    in ``timeout_s x (capacity - steady-state traffic)`` of them. If no more than that come,
    the push is absorbed; so it is surely absorbed below::

        timeout_s * (signin_capacity_per_s - population * steady traffic per client) / population

    Above it, the rest time out and retry at once, queueing behind their own abandoned
    attempts; those retries still get in if the abandoned work ahead of them clears within a
    second timeout. So the edge of the population model's map lies between this estimate
    and twice it (``timeouts=2``): near twice at low load, near once close to capacity, where
    the sign-ins of ordinary session churn compete for the same spare capacity.

    Examples
    --------
    For the card's scenario, about 1.4 % and 2.8 % (the population model's edge is at 1.95 %):

    >>> p = lab_params()
    >>> round(critical_trigger_share(p), 4), round(critical_trigger_share(p, timeouts=2), 4)
    (0.0139, 0.0278)
    """
    params = _params(params)
    k = _number("timeouts", timeouts, low=0.0, strict_low=True)
    steady = params.population * params.steady_signin_units_per_client_per_s
    spare = max(params.signin_capacity_per_s - steady, 0.0)
    return min(k * params.timeout_s * spare / params.population, 1.0)


def heal_load_ratio_estimate(params: StormParams | None = None) -> float:
    """Back-of-the-envelope: the load ratio below which even a total storm clears by itself.

    With everyone storming, nobody is connected, so there is no steady-state traffic; each
    client sends an attempt at least every ``timeout_s``, so ``population / timeout_s``
    attempts a second. The storm clears once the capacity exceeds that, i.e. once the load
    ratio (normal load over capacity) is below::

        normal_signin_load_per_s * timeout_s / population

    It does not depend on the capacity: it is the client timeout times what one client
    normally asks of the service per second.

    Examples
    --------
    >>> round(heal_load_ratio_estimate(lab_params()), 4)
    0.0167
    """
    params = _params(params)
    return params.normal_signin_load_per_s * params.timeout_s / params.population


def hysteresis_thresholds(frame: pd.DataFrame) -> dict:
    """The load ratio at which the service broke going up, and at which it healed coming down.

    ``break_load_ratio``: the first level on the way up at which it was no longer healthy
    (``inf`` if it never broke). ``heal_load_ratio``: the first level on the way down at which
    it was healthy again (0 if it never healed).

    Examples
    --------
    >>> f = pd.DataFrame({"branch": ["up", "up", "down", "down"],
    ...                   "load_ratio": [0.9, 1.1, 0.5, 0.1],
    ...                   "healthy": [True, False, False, True]})
    >>> hysteresis_thresholds(f)
    {'break_load_ratio': 1.1, 'heal_load_ratio': 0.1}
    """
    for col in ("branch", "load_ratio", "healthy"):
        if col not in frame:
            raise ValueError(f"frame needs a {col!r} column (from hysteresis())")
    up = frame[frame.branch == "up"]
    down = frame[frame.branch == "down"]
    broke = up[~up.healthy.astype(bool)]
    healed = down[down.healthy.astype(bool)]
    return {
        "break_load_ratio": float(broke.load_ratio.iloc[0]) if len(broke) else math.inf,
        "heal_load_ratio": float(healed.load_ratio.iloc[0]) if len(healed) else 0.0,
    }


def load_states(load_ratios, thresholds: dict) -> list[str]:
    """Name each load ratio: stable, vulnerable or overloaded (see the module docstring).

    Below the heal threshold the service gets out of any storm by itself (stable); from
    there to the break threshold it is healthy but can be tipped into a storm it cannot
    leave (vulnerable); at and beyond the break threshold the normal load alone breaks it.

    Examples
    --------
    >>> load_states([0.05, 0.5, 1.2], {"break_load_ratio": 1.05, "heal_load_ratio": 0.1})
    ['stable', 'vulnerable', 'overloaded']
    """
    brk = (
        _number("break_load_ratio", thresholds["break_load_ratio"], low=0.0)
        if math.isfinite(thresholds["break_load_ratio"])
        else math.inf
    )
    heal = _number("heal_load_ratio", thresholds["heal_load_ratio"], low=0.0)
    out = []
    for v in load_ratios:
        v = _number("load ratio", v, low=0.0)
        out.append("stable" if v < heal else "overloaded" if v >= brk else "vulnerable")
    return out


def loop_frame(result) -> pd.DataFrame:
    """The numbers of the sustaining loop at every output row of a run.

    Columns: ``time_s``; ``timeouts_per_s`` (attempts whose client gave up waiting);
    ``retries_per_s``; ``served_per_s`` (sign-ins completed, wasted ones included);
    ``goodput_per_s`` (sign-ins that reconnected someone); ``wasted_share`` (share of the
    served sign-ins whose client had gone; 0 when nothing is served); ``queue_wait_s`` (the
    queue over the capacity left for sign-ins after steady-state traffic: how long a new
    attempt waits); ``timeout_s``. When ``queue_wait_s`` exceeds ``timeout_s``, every new
    attempt times out before it is served, is retried and queues again: the loop is closed.

    Examples
    --------
    >>> p = lab_params().with_(triggers=(ConfigPush(600.0),),
    ...                        version_mix=VersionMix.two_groups(0.4))
    >>> f = loop_frame(run_storm(p))
    >>> bool((f.queue_wait_s > f.timeout_s).iloc[-1]), round(float(f.wasted_share.iloc[-1]), 2)
    (True, 1.0)
    """
    ts = result.timeseries
    params = result.params
    steady = ts["connected"].to_numpy() * params.steady_signin_units_per_client_per_s
    left = np.maximum(ts["capacity_per_s"].to_numpy() - steady, 1e-12)
    served = ts["served_signins_per_s"].to_numpy()
    goodput = ts["goodput_per_s"].to_numpy()
    safe = np.where(served > 0, served, 1.0)
    wasted = np.where(served > 0, np.clip(1.0 - goodput / safe, 0.0, 1.0), 0.0)
    return pd.DataFrame(
        {
            "time_s": ts["time_s"].to_numpy(),
            "timeouts_per_s": ts["timeouts_per_s"].to_numpy(),
            "retries_per_s": ts["retries_per_s"].to_numpy(),
            "served_per_s": served,
            "goodput_per_s": goodput,
            "wasted_share": wasted,
            "queue_wait_s": ts["queue_length"].to_numpy() / left,
            "timeout_s": params.timeout_s,
        }
    )


def sustaining_loop(result, at_s: float) -> dict:
    """:func:`loop_frame` at ``at_s`` (the output row holding it), as a dict.

    Examples
    --------
    >>> p = lab_params().with_(triggers=(ConfigPush(600.0),),
    ...                        version_mix=VersionMix.two_groups(0.4))
    >>> loop = sustaining_loop(run_storm(p), 7200.0)
    >>> loop["queue_wait_s"] > loop["timeout_s"], round(loop["wasted_share"], 2)
    (True, 1.0)
    """
    at_s = _number("at_s", at_s, low=0.0)
    frame = loop_frame(result)
    if at_s > frame["time_s"].iloc[-1] + result.params.output_every_s:
        raise ValueError(f"at_s ({at_s}) lies after the end of the run")
    i = int(np.searchsorted(frame["time_s"].to_numpy(), at_s + 1e-9, side="right")) - 1
    return {k: float(v) for k, v in frame.iloc[i].items()}


def critical_share_curve(params: StormParams | None = None, utilisations=()) -> pd.DataFrame:
    """:func:`critical_trigger_share` at each base load, for one and for two timeouts.

    The two curves bracket the edge of the load map. Returns a long frame with
    ``utilisation``, ``size`` and ``label`` (``"one timeout"``, ``"two timeouts"``); loads at
    which the estimate reaches 1 (even a push of everyone is absorbed) are left out.

    Examples
    --------
    >>> c = critical_share_curve(lab_params(), [0.3, 0.9])
    >>> c.round(4).values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[0.3, 0.0444, 'one timeout'], [0.9, 0.0074, 'one timeout'],
     [0.3, 0.0889, 'two timeouts'], [0.9, 0.0148, 'two timeouts']]
    """
    params = _params(params)
    us = [_number("utilisations", u, low=0.0, strict_low=True) for u in utilisations]
    rows = [
        {
            "utilisation": u,
            "size": critical_trigger_share(with_utilisation(params, u), timeouts=k),
            "label": label,
        }
        for k, label in ((1.0, "one timeout"), (2.0, "two timeouts"))
        for u in us
    ]
    frame = pd.DataFrame(rows, columns=["utilisation", "size", "label"])
    return frame[frame["size"] < 1.0].reset_index(drop=True)


#: Recovery actions of :func:`recovery_strategies`: name -> (description, builder). A builder
#: takes (params, at_s) and returns the actions to add.
def _admission(share):
    def build(p, at_s):
        rate = share * p.signin_capacity_per_s
        return (ServerPolicyAt(at_s, ServerPolicy(AdmissionControl(rate_per_s=rate))),)

    return build


def _drop_expired(p, at_s):
    return (ServerPolicyAt(at_s, ServerPolicy(drop_expired=True)),)


def _capacity(factor):
    def build(p, at_s):
        return (AddCapacity(at_s, factor),)

    return build


def _readmit(duration_s):
    def build(p, at_s):
        return (StagedReadmission(at_s, duration_s, 0.0, p.signin_capacity_per_s),)

    return build


RECOVERY_STRATEGIES = {
    "none": ("do nothing", lambda p, at_s: ()),
    "admission_0.5": ("cut load: admit sign-ins at half the capacity", _admission(0.5)),
    "drop_expired": ("drop queued work whose client has gone", _drop_expired),
    "capacity_x2": ("add capacity: twice the servers", _capacity(2.0)),
    "capacity_x10": ("add capacity: ten times the servers", _capacity(10.0)),
    "readmit_1h": ("re-admit in stages over 1 hour", _readmit(3600.0)),
    "readmit_2h": ("re-admit in stages over 2 hours", _readmit(7200.0)),
}


def _recovery_runs(params, strategies, trigger_share, action_at_s):
    params = lab_params(horizon_s=8 * 3600.0) if params is None else _params(params)
    names = list(RECOVERY_STRATEGIES) if strategies is None else list(strategies)
    for name in names:
        if name not in RECOVERY_STRATEGIES:
            raise ValueError(
                f"unknown strategy {name!r}; choose from {sorted(RECOVERY_STRATEGIES)}"
            )
    share = _number("trigger_share", trigger_share, low=0.0, high=1.0)
    at_s = _number("action_at_s", action_at_s, low=0.0)
    if not 600.0 < at_s < params.horizon_s:
        raise ValueError(
            f"action_at_s must lie after the push (600 s) and before the end of the run "
            f"({params.horizon_s} s), got {action_at_s!r}"
        )
    base = _triggered(params, "push", share, 0.0, 600.0)
    for name in names:
        description, build = RECOVERY_STRATEGIES[name]
        yield name, description, at_s, run_storm(base.with_(actions=tuple(build(base, at_s))))


def recovery_strategies(
    params: StormParams | None = None,
    *,
    strategies=None,
    trigger_share: float = 0.4,
    action_at_s: float = 7200.0,
) -> pd.DataFrame:
    """Push, let the storm settle, then try each recovery action; compare time to recover.

    The push knocks off ``trigger_share`` of the clients 10 minutes in; at ``action_at_s``
    (well after the storm has become self-sustaining) one action from
    :data:`RECOVERY_STRATEGIES` is taken. Staged re-admission lets sign-ins in at a rate
    rising from 0 to the sign-in capacity, then lifts the limit. The default scenario is
    :func:`lab_params` over eight hours.

    Returns
    -------
    pandas.DataFrame
        One row per strategy: ``strategy``, ``description``, ``outcome``,
        ``recovery_min`` (from the action to back for good; ``inf``: not by the end of the
        run), ``user_hours_lost`` (clients not connected, integrated from the action to the
        end of the run).

    Examples
    --------
    >>> t = recovery_strategies(strategies=["none", "drop_expired", "capacity_x2"])
    >>> t[["strategy", "outcome"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'strategy': 'none', 'outcome': 'stuck'},
     {'strategy': 'drop_expired', 'outcome': 'recovered'},
     {'strategy': 'capacity_x2', 'outcome': 'stuck'}]
    """
    rows = []
    for name, description, at_s, run in _recovery_runs(
        params, strategies, trigger_share, action_at_s
    ):
        ts = run.timeseries
        after = ts[ts.time_s >= at_s - 1e-9]
        population = run.params.population
        every = run.params.output_every_s
        lost_h = float(((population - after.connected) * every).sum() / 3600.0)
        since_push_s = recovery_time_s(ts, 600.0)
        rows.append(
            {
                "strategy": name,
                "description": description,
                "outcome": outcome_of(run, 600.0),
                "recovery_min": max(since_push_s - (at_s - 600.0), 0.0) / 60.0,
                "user_hours_lost": lost_h,
            }
        )
    return pd.DataFrame(rows)


def recovery_timeseries(
    params: StormParams | None = None,
    *,
    strategies=None,
    trigger_share: float = 0.4,
    action_at_s: float = 7200.0,
) -> pd.DataFrame:
    """The runs of :func:`recovery_strategies` over time: ``strategy``, ``time_s``,
    ``connected_share`` (long format, for :func:`outage_kit.metastability_charts.recovery_chart`).

    Examples
    --------
    >>> f = recovery_timeseries(strategies=["none", "drop_expired"])
    >>> f.groupby("strategy", sort=False).connected_share.last().round(2).to_dict()
    {'none': 0.0, 'drop_expired': 1.0}
    """
    parts = [
        pd.DataFrame(
            {
                "strategy": name,
                "time_s": run.timeseries["time_s"],
                "connected_share": run.timeseries["connected_share"],
            }
        )
        for name, _, _, run in _recovery_runs(params, strategies, trigger_share, action_at_s)
    ]
    return pd.concat(parts, ignore_index=True)
