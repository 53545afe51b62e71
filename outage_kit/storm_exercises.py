"""Checks for lesson 05 (the reconnection storm): a verdict and a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from
:mod:`outage_kit.storm` and the parameter card each time, and ``None`` (an answer cell not yet
filled in) gives a "no answer yet" verdict.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from outage_kit import storm, storm_widgets
from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close


def herd_seconds_at_capacity() -> float:
    """Seconds the whole sign-in capacity needs for the clients the card's push knocks off.

    Examples
    --------
    >>> herd_seconds_at_capacity()
    320.0
    """
    p = storm.scenario_from_card()
    return round(p.population * p.version_mix.affected_share() / p.signin_capacity_per_s, 9)


def herd_drain_seconds(answer: object) -> Verdict:
    """Lesson 05, exercise 5.1: seconds of full sign-in capacity the herd needs.

    Examples
    --------
    >>> herd_drain_seconds(None).correct is None
    True
    >>> herd_drain_seconds(20).correct
    False
    """
    value = _as_number(answer, "a number of seconds")
    if isinstance(value, Verdict):
        return value
    p = storm.scenario_from_card()
    knocked = p.population * p.version_mix.affected_share()
    expected = herd_seconds_at_capacity()
    if _close(value, expected, 1e-3):
        return Verdict(
            True,
            "many times the client's timeout: most clients give up waiting and retry long "
            "before their turn comes.",
        )
    if _close(value, expected / 60, 1e-3):
        return Verdict(False, "give seconds, not minutes.")
    if _close(value, p.population / p.signin_capacity_per_s, 1e-3):
        return Verdict(False, "that is every client online; only the knocked-off ones sign in.")
    spare = p.signin_capacity_per_s - p.normal_signin_load_per_s
    if _close(value, knocked / spare, 1e-3):
        return Verdict(
            False,
            "that uses only the spare capacity; the question gives the service nothing else to do.",
        )
    if _close(value, p.timeout_s, 1e-3):
        return Verdict(
            False, "that is the client timeout; compare it with the answer, do not use it."
        )
    return Verdict(
        False,
        "divide the clients knocked off (card share × clients online) by the sign-ins per "
        "second (p.signin_capacity_per_s).",
    )


@functools.lru_cache(maxsize=1)
def _stuck_by_share() -> tuple[tuple[float, bool], ...]:
    return tuple(
        (s, not storm_widgets.recovers(storm.run_storm(storm_widgets.storm_scenario(s))))
        for s in storm_widgets.TRIGGER_SHARES
    )


def smallest_stuck_share() -> float:
    """The smallest trigger of :data:`~outage_kit.storm_widgets.TRIGGER_SHARES` that sticks.

    Examples
    --------
    >>> smallest_stuck_share()
    0.02
    """
    return min(s for s, stuck in _stuck_by_share() if stuck)


def stuck_threshold_share(answer: object) -> Verdict:
    """Lesson 05, exercise 5.2: the smallest of the explorer's triggers that stays stuck.

    Examples
    --------
    >>> stuck_threshold_share(0.4).correct
    False
    """
    value = _as_number(answer, "a share between 0 and 1")
    if isinstance(value, Verdict):
        return value
    table = _stuck_by_share()
    expected = smallest_stuck_share()
    if _close(value, expected, 1e-9):
        return Verdict(
            True,
            "a small share of the clients online is already far more than the spare capacity "
            "signs in within one timeout.",
        )
    if value > 1:
        return Verdict(False, "give a share between 0 and 1, not a percentage.")
    shares = [s for s, _ in table]
    if not any(_close(value, s, 1e-9) for s in shares):
        return Verdict(False, "pick one of the trigger sizes of the explorer (TRIGGER_SHARES).")
    stuck = dict(table)[min(shares, key=lambda s: abs(s - value))]
    if not stuck:
        return Verdict(False, "that trigger recovers by itself; look at larger ones.")
    return Verdict(False, "that one stays stuck, but so does a smaller one; look further down.")


def levers_that_recover() -> frozenset[str]:
    """The levers of :data:`~outage_kit.storm_widgets.LEVERS` after which the day recovers.

    Examples
    --------
    >>> sorted(levers_that_recover())
    ['admission control (30 %)', 'drop expired work', 'short queue (10 s)']
    """
    return frozenset(
        name
        for name in storm_widgets.LEVERS
        if storm_widgets.recovers(storm.run_storm(storm_widgets.lever_scenario(name)))
    )


def levers_that_get_out(answer: object) -> Verdict:
    """Lesson 05, exercise 5.3: the set of levers that get the service out of the stuck state.

    Examples
    --------
    >>> levers_that_get_out({"capacity × 5"}).correct
    False
    >>> levers_that_get_out("drop expired work").correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return Verdict(False, "give a set of lever names, like {'no action'}.")
    chosen = {str(a) for a in answer}
    unknown = sorted(chosen - set(storm_widgets.LEVERS))
    if unknown:
        return Verdict(
            False, f"{unknown} are not lever names; copy them from storm_widgets.LEVERS."
        )
    expected = levers_that_recover()
    if chosen == expected:
        return Verdict(
            True,
            "each of them stops the service from spending its capacity on attempts whose "
            "clients have already given up; more capacity or slower clients alone do not.",
        )
    wrong = chosen - expected
    if any(name.startswith("capacity") for name in wrong):
        return Verdict(
            False,
            "more capacity also serves the queue of expired work first; check the runs of the "
            "capacity levers again.",
        )
    if wrong:
        return Verdict(False, "one lever you chose leaves the service stuck; check its run.")
    return Verdict(False, "each lever you chose works, but there are more that do.")
