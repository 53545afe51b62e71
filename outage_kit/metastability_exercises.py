"""Checks for lesson 07 (stuck: metastability and recovery): a verdict and a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from
:mod:`outage_kit.metastability` each time, and ``None`` (an answer cell not yet filled in)
gives a "no answer yet" verdict.
"""

from __future__ import annotations

import functools

from outage_kit import metastability as ms
from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close
from outage_kit.policies import ServerPolicy
from outage_kit.storm import AddCapacity, run_storm

#: Capacity factors exercise 7.2 searches (whole numbers).
CAPACITY_FACTORS = tuple(range(2, 16))
#: Changes compared in exercise 7.3.
LOOP_CHANGES = ("grpc_backoff", "drop_expired")


def critical_push_share(answer: object) -> Verdict:
    """Lesson 07, exercise 7.1: the one-timeout estimate of the largest push surely absorbed.

    Examples
    --------
    >>> critical_push_share(None).correct is None
    True
    >>> critical_push_share(1.39).correct
    False
    """
    value = _as_number(answer, "a share between 0 and 1")
    if isinstance(value, Verdict):
        return value
    p = ms.lab_params()
    expected = ms.critical_trigger_share(p)
    if _close(value, expected, 0.01):
        return Verdict(
            True,
            "about 1.4 % of the clients. The map puts the model's edge a little above it, "
            "below the two-timeout estimate.",
        )
    if _close(value, 100 * expected, 0.01):
        return Verdict(False, "give a share (0.05 for 5 %), not a percentage.")
    if _close(value, p.timeout_s * p.signin_capacity_per_s / p.population, 0.01):
        return Verdict(
            False,
            "connected clients' steady-state traffic is served first: subtract it from the "
            "capacity before multiplying by the timeout.",
        )
    spare = p.signin_capacity_per_s - p.normal_signin_load_per_s
    if _close(value, p.timeout_s * spare / p.population, 0.01):
        return Verdict(
            False,
            "subtract only the steady-state traffic, not the session churn: in the first "
            "timeout the burst is ahead of the churn's new sign-ins in the queue.",
        )
    return Verdict(
        False,
        "multiply the client timeout by the capacity left after steady-state traffic "
        "(capacity - population × p.steady_signin_units_per_client_per_s), then divide by "
        "the population.",
    )


def capacity_gets_it_out(factor: float) -> bool:
    """Whether adding ``factor`` times the capacity two hours into the card's storm gets it out.

    Examples
    --------
    >>> capacity_gets_it_out(2), capacity_gets_it_out(10)
    (False, True)
    """
    p = ms.lab_params(horizon_s=8 * 3600.0)
    base = ms._triggered(p, "push", 0.4, 0.0, 600.0)
    run = run_storm(base.with_(actions=(AddCapacity(7200.0, float(factor)),)))
    return ms.outcome_of(run, 600.0) == "recovered"


@functools.lru_cache(maxsize=1)
def smallest_capacity_factor() -> int:
    """The smallest whole factor in :data:`CAPACITY_FACTORS` that gets the storm out alone.

    Examples
    --------
    >>> smallest_capacity_factor()
    7
    """
    for f in CAPACITY_FACTORS:
        if capacity_gets_it_out(f):
            return f
    raise RuntimeError("no capacity factor in CAPACITY_FACTORS gets the storm out")


def capacity_factor(answer: object) -> Verdict:
    """Lesson 07, exercise 7.2: the smallest whole capacity factor that gets it out alone.

    Examples
    --------
    >>> capacity_factor(None).correct is None
    True
    >>> capacity_factor(2).correct
    False
    """
    value = _as_number(answer, "a whole number")
    if isinstance(value, Verdict):
        return value
    if value != int(value):
        return Verdict(False, "capacity comes in whole servers here: give a whole factor.")
    expected = smallest_capacity_factor()
    if value == expected:
        return Verdict(
            True,
            "the queue's 120 s of work (at the old capacity) now drains within the 20 s "
            "timeout, so new attempts are served before their clients give up.",
        )
    if value > expected:
        return Verdict(False, "that gets it out, but a smaller factor does too.")
    return Verdict(
        False,
        "still stuck: the full queue takes longer than the client timeout to drain. Find the "
        "factor at which the queue (p.max_queue_length sign-ins) drains in under timeout_s.",
    )


@functools.lru_cache(maxsize=1)
def _loop_heal_ratios() -> dict[str, float]:
    p = ms.lab_params()
    runs = {
        "grpc_backoff": ms.lab_params(backoff="grpc"),
        "drop_expired": p.with_(server_policy=ServerPolicy(drop_expired=True)),
    }
    out = {}
    for name, params in runs.items():
        t = ms.hysteresis_thresholds(ms.hysteresis(params))
        out[name] = t["heal_load_ratio"] / t["break_load_ratio"]
    return out


def loop_closer() -> str:
    """Of :data:`LOOP_CHANGES`, the one whose heal point is closest to its break point.

    Examples
    --------
    >>> loop_closer()
    'drop_expired'
    """
    ratios = _loop_heal_ratios()
    return max(ratios, key=ratios.get)


def closes_the_loop(answer: object) -> Verdict:
    """Lesson 07, exercise 7.3: which change nearly closes the hysteresis loop.

    Examples
    --------
    >>> closes_the_loop(None).correct is None
    True
    >>> closes_the_loop("grpc").correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    if not isinstance(answer, str) or answer.strip().lower() not in LOOP_CHANGES:
        return Verdict(False, f"answer with one of {', '.join(repr(c) for c in LOOP_CHANGES)}.")
    expected = loop_closer()
    if answer.strip().lower() == expected:
        ratio = _loop_heal_ratios()[expected]
        return Verdict(
            True,
            f"it heals at {ratio:.0%} of the load at which it broke: with no work wasted on "
            "clients that have gone, only a real overload keeps it down.",
        )
    return Verdict(
        False,
        "compare hysteresis_thresholds for both: backoff slows the retries but the queue "
        "still holds work whose clients have gone.",
    )
