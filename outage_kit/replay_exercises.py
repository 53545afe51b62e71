"""Checks for lesson 06 (the cascade, step by step): a verdict and a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from
:mod:`outage_kit.scenarios` each time (the runs are cached), and ``None`` (an answer cell not
yet filled in) gives a "no answer yet" verdict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from outage_kit import data, replay_charts, scenarios
from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close


@functools.lru_cache(maxsize=1)
def _card_replay() -> scenarios.Replay:
    return scenarios.skype_2015().run()


def stuck_hours() -> float:
    """Hours the card's replay spends in the ``stuck`` phase.

    Examples
    --------
    >>> stuck_hours()
    9.25
    """
    r = _card_replay()
    rows = int((r.timeseries["phase"] == "stuck").sum())
    return round(rows * r.scenario.output_every_s / 3600.0, 9)


def hours_stuck(answer: object) -> Verdict:
    """Lesson 06, exercise 6.1: hours the replay spends stuck.

    Examples
    --------
    >>> hours_stuck(None).correct is None
    True
    >>> hours_stuck(15.5).correct
    False
    """
    value = _as_number(answer, "a number of hours")
    if isinstance(value, Verdict):
        return value
    expected = stuck_hours()
    r = _card_replay()
    if _close(value, expected, 1e-3):
        return Verdict(True, "most of the outage is spent busy and useless, long after the push.")
    if _close(value, expected * 60, 1e-3):
        return Verdict(False, "give hours, not minutes.")
    if _close(value, r.outage_duration_h(), 1e-3):
        return Verdict(False, "that is the whole outage; count only the rows in the stuck phase.")
    return Verdict(
        False,
        "count the rows of replay.timeseries whose phase is 'stuck' and multiply by the "
        "replay's step (5 minutes).",
    )


@functools.lru_cache(maxsize=1)
def _restored_by_noon() -> tuple[tuple[str, bool], ...]:
    out = []
    for name in replay_charts.VARIANTS:
        r = replay_charts.variant_scenario(name).run()
        t = r.restoration_utc()
        out.append((name, t is not None and t.hour < 12 and t.day == 21))
    return tuple(out)


def variants_back_before_noon() -> set[str]:
    """Variants of :data:`~outage_kit.replay_charts.VARIANTS` restored before 12:00 UTC."""
    return {name for name, ok in _restored_by_noon() if ok}


def back_before_noon(answer: object) -> Verdict:
    """Lesson 06, exercise 6.2: which one-change variants are back before noon UTC?

    Examples
    --------
    >>> back_before_noon(None).correct is None
    True
    >>> back_before_noon({"gRPC backoff"}).correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return Verdict(False, "give a set of names from replay_charts.VARIANTS.")
    chosen = set(answer)
    unknown = chosen - set(replay_charts.VARIANTS)
    if unknown:
        return Verdict(False, f"not a variant name: {sorted(unknown)[0]!r}; copy from VARIANTS.")
    expected = variants_back_before_noon()
    if chosen == expected:
        return Verdict(
            True,
            "only a change that stops the storm from starting keeps the morning; once stuck, "
            "the service waits for the operators.",
        )
    if "gRPC backoff" in chosen:
        return Verdict(False, "backoff changes the herd's shape, not whether it gets stuck.")
    if "sign-in capacity × 10" in chosen:
        return Verdict(
            False,
            "a wider door lets more sign-ins through to the path behind it; check that row's "
            "restoration time.",
        )
    if "rebalancing at 12:00 UTC" in chosen:
        return Verdict(False, "rebalancing at noon is not the same as being back by noon.")
    if chosen - expected:
        return Verdict(False, "one of those is still down at noon; check its restoration time.")
    return Verdict(False, "another variant is also back before noon; look at the whole table.")


@functools.lru_cache(maxsize=1)
def _door_and_path() -> tuple[float, float, float]:
    """The card's normal sign-in rate, sign-in capacity (per s) and path's limit (× normal)."""
    s = scenarios.skype_2015()
    normal = replay_charts.normal_signin_rate_per_s(s)
    return normal, s.params.signin_capacity_per_s, scenarios.sign_in_path_limit(s)


def largest_safe_share() -> float:
    """Largest rebalancing share (to 0.01 of the sign-in capacity) the sign-in path carries.

    The admitted rate, ``share × signin_capacity_per_s``, must not pass the sign-in path's
    limit (:func:`outage_kit.scenarios.sign_in_path_limit`) times the normal sign-in rate;
    the share is rounded down to a multiple of 0.01.

    Examples
    --------
    >>> largest_safe_share()
    0.33
    """
    normal, capacity, limit = _door_and_path()
    return math.floor(limit * normal / capacity * 100 + 1e-9) / 100


def safe_share(answer: object) -> Verdict:
    """Lesson 06, exercise 6.3: the widest the rebalancing can open the door, to 0.01.

    Examples
    --------
    >>> safe_share(None).correct is None
    True
    >>> safe_share(0.5).correct
    False
    """
    value = _as_number(answer, "a share of the sign-in capacity")
    if isinstance(value, Verdict):
        return value
    expected = largest_safe_share()
    normal, capacity, limit = _door_and_path()
    if _close(value, expected, 1e-9):
        return Verdict(
            True,
            "below the path's limit every admitted sign-in connects its client; one step "
            "wider and authentication collapses, so no one does.",
        )
    if _close(value, limit, 1e-9):
        return Verdict(
            False,
            "that is the limit as a multiple of the normal sign-in rate; turn it into a "
            "share of the sign-in service's capacity.",
        )
    if not 0 < value <= 1:
        return Verdict(False, "a share of the capacity lies between 0 and 1.")
    if value * capacity > limit * normal * (1 + 1e-9):
        return Verdict(
            False,
            "too wide: at that share the sign-ins admitted pass what the path behind the "
            "door carries (compare share × capacity with the limit × the normal rate).",
        )
    if not _close(value * 100, round(value * 100), 1e-9):
        return Verdict(
            False, "right side of the limit; now give the share to 0.01, still under it."
        )
    if _close(value, float(data.parameter("rebalancing_admission_share")), 1e-9):
        return Verdict(False, "that is the card's share: safe, but the door can open wider.")
    return Verdict(False, "safe, but the door can open wider; find the largest share to 0.01.")
