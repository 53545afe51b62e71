"""Checks for the exercises of lesson 04 (the bad push): a verdict, a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from
:mod:`outage_kit.rollout` and the data each time, and ``None`` (an answer cell not yet filled
in) gives a "no answer yet" verdict.
"""

from __future__ import annotations

from outage_kit import rollout
from outage_kit.exercises import Verdict, _as_number, _close

#: Exercise 4.2: the health check's verdict takes this long (assumed), longer than the
#: 30 minutes between waves.
LATE_DETECTION_DELAY_S = 45 * 60.0


def _is_any(value: float, candidates: list[float]) -> bool:
    return any(_close(value, c, 1e-3) for c in candidates)


def all_at_once_disconnected(answer: object) -> Verdict:
    """Lesson 04, exercise 4.1: clients one push to every client disconnects (the 2015 case).

    Examples
    --------
    >>> all_at_once_disconnected(None).correct is None
    True
    >>> all_at_once_disconnected(40e6).correct
    False
    """
    value = _as_number(answer, "a number of clients")
    if isinstance(value, Verdict):
        return value
    users = rollout.concurrent_users_at_onset()
    share = rollout.incompatible_share()
    expected = rollout.disconnected_clients(reach=1.0)
    if _close(value, expected, 1e-3):
        return Verdict(
            True,
            "every client is reached, and each incompatible version loses all of its clients; "
            "remember that the mix and the 40 M online are assumptions.",
        )
    if _close(value, expected / 1e6, 1e-3):
        return Verdict(False, "give the number of clients, not millions.")
    if _close(value, share, 1e-3) or _close(value, 100 * share, 1e-3):
        return Verdict(False, "that is a share; turn it into clients with the clients online.")
    if _close(value, users, 1e-3):
        return Verdict(
            False, "that is every client online; only the versions that cannot process it drop."
        )
    if _close(value, 300e6 * share, 1e-3):
        return Verdict(
            False, "300 M is the monthly users; the push meets the clients online at the time."
        )
    return Verdict(
        False,
        "add up, over the versions that cannot process the push, share × clients online "
        "(rollout.blast_radius lists them).",
    )


def late_check_disconnected(answer: object) -> Verdict:
    """Lesson 04, exercise 4.2: the 1/10/50/100 % rollout when the check takes 45 minutes.

    Examples
    --------
    >>> late_check_disconnected(160_000).correct
    False
    >>> late_check_disconnected("lots").correct
    False
    """
    value = _as_number(answer, "a number of clients")
    if isinstance(value, Verdict):
        return value
    versions = rollout.load_client_versions_2015()
    late = rollout.staged_rollout(
        versions, rollout.STAGED_WAVES, detection_delay_s=LATE_DETECTION_DELAY_S
    )
    expected = late.total_disconnected
    if _close(value, expected, 1e-3):
        return Verdict(
            True,
            "the second wave went out before the first wave's check had a verdict; the halt "
            "stopped the third.",
        )
    users = late.concurrent_users
    bad = late.incompatible_share
    waves = rollout.STAGED_WAVES
    if _close(value, expected / 1e6, 1e-3):
        return Verdict(False, "give the number of clients, not millions.")
    if _close(value, waves[0] * users * bad, 1e-3):
        return Verdict(
            False,
            "that is the first wave alone. When does its check have a verdict, and when does "
            "the second wave start?",
        )
    if _is_any(value, [(waves[0] + waves[1]) * users * bad]):
        return Verdict(
            False, "the wave shares are cumulative: the second wave takes the total to its share."
        )
    if _close(value, (waves[1] - waves[0]) * users * bad, 1e-3):
        return Verdict(False, "that is the second wave's new clients; add the first wave's.")
    if _is_any(value, [waves[2] * users * bad, users * bad]):
        return Verdict(
            False,
            "the check does halt the rollout, at the first wave's start plus the delay; which "
            "waves have started by then?",
        )
    return Verdict(
        False,
        "list the waves that start before the halt (first wave's start + 45 min); the clients "
        "they reach × the incompatible share are the ones lost.",
    )


def slack_plan_disconnected(answer: object) -> Verdict:
    """Lesson 04, checkpoint: the same push in 25 % steps, with the lesson's health check.

    Examples
    --------
    >>> slack_plan_disconnected(16e6).correct
    False
    """
    value = _as_number(answer, "a number of clients")
    if isinstance(value, Verdict):
        return value
    result = rollout.staged_rollout(waves=rollout.SLACK_2022_WAVES)
    expected = result.total_disconnected
    if _close(value, expected, 1e-3):
        return Verdict(
            True, "the check stops it after the first step, but a step is a quarter of everyone."
        )
    if _close(value, expected / 1e6, 1e-3):
        return Verdict(False, "give the number of clients, not millions.")
    if _close(value, result.concurrent_users * result.incompatible_share, 1e-3):
        return Verdict(False, "the health check halts the rollout; how many steps go out first?")
    return Verdict(
        False,
        "the first step reaches a quarter of the clients online; how many of them cannot "
        "process the push?",
    )
