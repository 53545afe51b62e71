"""Checks for lesson 08 (the mitigations lab): a verdict and a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from
:mod:`outage_kit.mitigations` each time (and kept for the session), and ``None`` (an answer
cell not yet filled in) gives a "no answer yet" verdict. Every run keeps the operators'
rebalancing, as the lesson's scorecard does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from outage_kit import mitigations as m
from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close
from outage_kit.mitigation_widgets import MENU, TARGET_OUTAGE_MIN
from outage_kit.scenarios import skype_2015

#: Exercise 8.2 (the challenge): the longest acceptable outage, in minutes. At a looser target
#: one cheap server-side defence wins (admission control at the rate the path behind sign-in
#: carries, which lets everyone back in within the hour); at this one the search has to find
#: what keeps the storm from starting at all.
CHALLENGE_TARGET_MIN = 10.0
#: Exercise 8.3: the defence whose breaking point the student reads off the map (a name of
#: :data:`outage_kit.mitigations.DEFAULT_SINGLE_DEFENCES`).
BREAKING_POINT_DEFENCE = "capacity x2"

#: What each defence of :data:`MENU` does, in words the hints use.
KINDS = {
    "staged rollout": "a defence that keeps the trigger small",
    "backoff": "a client-side change that spaces reconnects out",
    "retry budget": "a client-side change that spaces reconnects out",
    "circuit breaker": "a client-side change that spaces reconnects out",
    "admission control 0.3": "a defence that limits the work let in at the door",
    "drop expired": "a defence that removes the wasted work",
    "bounded queue 10 s": "a defence that removes the wasted work",
    "capacity ×2": "more capacity",
    "bulkheads": "an isolation of the shared services",
}

#: Why a defence that does not keep the outage within the target alone falls short, by kind.
_WHY_NOT = {
    "a defence that keeps the trigger small": "a rollout's health check cannot halt a push it "
    "does not see failing; check its run.",
    "a client-side change that spaces reconnects out": "slower or spaced-out reconnects still "
    "queue behind work whose clients have already gone; check the scorecard's outage for it.",
    "a defence that limits the work let in at the door": "check its run: is the limit below "
    "what the sign-in path behind the door carries (scenarios.sign_in_path_limit)?",
    "a defence that removes the wasted work": "without wasted work the sign-in service serves "
    "flat out; compare that rate with what the path behind it carries "
    "(scenarios.sign_in_path_limit), and look at downstream_failure_share in its run.",
    "more capacity": "a wider sign-in service serves more sign-ins into the same shared "
    "services behind it; check its outage and its downstream_failure_share.",
    "an isolation of the shared services": "bulkheads keep the other services up for those "
    "signed in, but sign-in's own pools are smaller than the whole services were; check its "
    "outage.",
}


# --------------------------------------------------------------------------- answers


def _menu_name(item: object) -> str | None:
    """A name of :data:`MENU` for a menu name (any case, ``x`` for ``×``) or a defence."""
    if isinstance(item, m.Defence):
        return next((name for name, d in MENU.items() if d == item), None)
    if not isinstance(item, str):
        return None
    text = " ".join(item.strip().lower().replace(" x2", " ×2").split())
    if text in MENU:
        return text
    if text in m.DEFAULT_SINGLE_DEFENCES:
        return _menu_name(m.DEFAULT_SINGLE_DEFENCES[text])
    return None


def _set_of_names(answer: object) -> set[str] | Verdict:
    if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
        return Verdict(False, "give a set of names from the menu, like {'backoff'}.")
    items = list(answer)
    names = {_menu_name(item) for item in items}
    unknown = [item for item in items if _menu_name(item) is None]
    if unknown:
        return Verdict(
            False,
            f"{', '.join(repr(u) for u in unknown)} is not a name of the menu; copy the names "
            "from mitigation_widgets.MENU.",
        )
    return names


@functools.lru_cache(maxsize=1)
def _alone_outages() -> dict[str, float]:
    card = m.scorecard({name: [d] for name, d in MENU.items()}, metrics=["outage_min"])
    rows = card.iloc[1:]
    return dict(zip(rows["name"], rows["outage_min"].astype(float), strict=True))


def defences_alone_enough() -> set[str]:
    """The names of :data:`MENU` that alone keep the 2015 outage within :data:`TARGET_OUTAGE_MIN`.

    Examples
    --------
    >>> "capacity ×2" in defences_alone_enough()
    False
    """
    return {name for name, outage in _alone_outages().items() if outage <= TARGET_OUTAGE_MIN}


def alone_enough(answer: object) -> Verdict:
    """Lesson 08, exercise 8.1: the defences of the menu that, each alone, keep it within an hour.

    The answer is a set of names of :data:`outage_kit.mitigation_widgets.MENU` (defence
    objects of the menu are accepted too).

    Examples
    --------
    >>> alone_enough(None).correct is None
    True
    >>> alone_enough({"capacity ×2"}).correct
    False
    >>> alone_enough("backoff").correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    chosen = _set_of_names(answer)
    if isinstance(chosen, Verdict):
        return chosen
    expected = defences_alone_enough()
    if chosen == expected:
        return Verdict(
            True,
            "each of them keeps the storm from starting, or lets sign-ins in no faster than "
            "the path behind the sign-in service can answer them. The others either leave "
            "the queue full of work for clients that have gone, or serve sign-ins faster than "
            "authentication can take them, so that those sign-ins fail behind the door.",
        )
    extra = sorted(chosen - expected, key=list(MENU).index)
    if extra:
        kind = KINDS[extra[0]]
        return Verdict(
            False, f"one of your choices is {kind}, and alone it is not enough: {_WHY_NOT[kind]}"
        )
    if not chosen:
        return Verdict(False, "some defences of the menu do keep it within an hour; find them.")
    missing = sorted(expected - chosen, key=list(MENU).index)
    kind = KINDS[missing[0]]
    if any(KINDS[name] == kind for name in chosen):
        kind = "another " + kind.removeprefix("a ")
    return Verdict(False, f"every defence you chose works, but you missed {kind}.")


# --------------------------------------------------------------------------- the challenge


@functools.lru_cache(maxsize=1)
def cheapest_found() -> m.CheapestDefences:
    """:func:`outage_kit.mitigations.cheapest_defences` at :data:`CHALLENGE_TARGET_MIN`.

    Over :data:`outage_kit.mitigations.DEFAULT_CANDIDATES` (72 combinations), run here.

    Examples
    --------
    >>> found = cheapest_found()
    >>> found.outage_min <= CHALLENGE_TARGET_MIN
    True
    """
    return m.cheapest_defences(CHALLENGE_TARGET_MIN, executor="serial", progress=False)


def _candidate_options() -> list[m.Defence]:
    return [o for options in m.DEFAULT_CANDIDATES.values() for o in options if o is not None]


def _to_defence(item: object) -> m.Defence | None:
    if isinstance(item, m.Defence):
        return item
    if not isinstance(item, str):
        return None
    name = _menu_name(item)
    if name is not None:
        return MENU[name]
    for option in _candidate_options():
        if item.strip().lower() == option.label.lower():
            return option
    try:
        return m.parse_defence(item)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _outage_of(specs: tuple[str, ...]) -> float:
    choices = {f"d{i}": spec for i, spec in enumerate(specs)}
    return float(m.score_combination(metrics=("outage_min",), **choices)["outage_min"])


def cheapest_set(answer: object) -> Verdict:
    """Lesson 08, exercise 8.2 (the challenge): the cheapest defences for an outage ≤ 10 minutes.

    The answer is a collection of defences, each a defence object, its ``.spec`` string (e.g.
    ``"DropExpired()"``), its label, or a name of
    :data:`outage_kit.mitigation_widgets.MENU`, chosen from the options of
    :data:`outage_kit.mitigations.DEFAULT_CANDIDATES`. It is right if it keeps the outage
    within :data:`CHALLENGE_TARGET_MIN` and costs no more than the cheapest set that does.

    Examples
    --------
    >>> cheapest_set(None).correct is None
    True
    >>> cheapest_set(["DropExpired()"]).correct
    False
    >>> cheapest_set("DropExpired()").correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, (str, bytes, m.Defence)) or not isinstance(answer, Iterable):
        return Verdict(False, "give a list of defences, like [DropExpired()] or ['DropExpired()'].")
    items = list(answer)
    defences = [_to_defence(item) for item in items]
    unread = [item for item, d in zip(items, defences, strict=True) if d is None]
    if unread:
        return Verdict(
            False,
            f"could not read {', '.join(repr(u) for u in unread)} as a defence; write each "
            "as a defence object or its spec string, such as 'BoundedQueue(max_wait_s=10.0)'.",
        )
    try:
        m.apply_all(skype_2015(), defences)
    except ValueError as error:
        return Verdict(False, f"{error}.")
    target = CHALLENGE_TARGET_MIN
    specs = tuple(sorted(d.spec for d in defences))
    outage = _outage_of(specs)
    price = m.cost(defences)
    options = _candidate_options()
    outside = [d for d in defences if d not in options]
    if outside:
        note = ""
        found = cheapest_found()
        if outage <= target and price < found.cost_engineer_weeks:
            note = (
                " (Your set does meet the target for less: worth a sentence in your "
                "write-up, but the challenge ranks the candidates only.)"
            )
        return Verdict(
            False,
            f"{', '.join(d.label for d in outside)} is not among the challenge's options; "
            "choose from mitigations.DEFAULT_CANDIDATES, at most one option per group." + note,
        )
    best = cheapest_found().cost_engineer_weeks
    meets = outage <= target
    if meets and price <= best:
        return Verdict(
            True,
            f"an outage of {outage:g} min for {price:g} engineer-weeks, and no set of the "
            "candidates meets the target for less. The server-side defences that work at all "
            "let clients back in at a rate the path can take, which takes longer than the "
            "target; only keeping the storm from starting meets it.",
        )
    if meets:
        return Verdict(
            False,
            f"it meets the target ({outage:g} min), but for {price:g} engineer-weeks; a "
            "cheaper set of the candidates meets it too. Try dropping defences, or swapping "
            "an expensive one for a cheaper kind.",
        )
    if not defences:
        return Verdict(False, "with no defence the outage is 2015's; choose some defences.")
    detail = f"its outage is {outage:g} min, over the {target:g}-minute target"
    if math.isfinite(best) and price > best:
        return Verdict(
            False,
            f"{detail}, and it costs more than the cheapest set that meets it. Start again "
            "from the scorecard.",
        )
    return Verdict(
        False,
        f"{detail}. A server-side defence that works lets clients back in no faster than "
        "the path behind sign-in carries, and the outage counts every minute clients are "
        "offline. What would keep the storm from starting?",
    )


# --------------------------------------------------------------------------- breaking point


@functools.lru_cache(maxsize=1)
def breaking_point_grid():
    """:func:`outage_kit.mitigations.defence_breaking_point` for :data:`BREAKING_POINT_DEFENCE`.

    At :data:`TARGET_OUTAGE_MIN` and the default shares (with the no-defence rows).

    Examples
    --------
    >>> sorted(set(breaking_point_grid()["defence"]))
    ['capacity x2', 'no defence']
    """
    defence = m.DEFAULT_SINGLE_DEFENCES[BREAKING_POINT_DEFENCE]
    return m.defence_breaking_point(
        TARGET_OUTAGE_MIN,
        defences={BREAKING_POINT_DEFENCE: defence},
        executor="serial",
        progress=False,
    )


def capacity_breaking_point() -> float:
    """The largest share tried up to which :data:`BREAKING_POINT_DEFENCE` alone holds the target.

    Examples
    --------
    >>> 0 < capacity_breaking_point() < 0.4
    True
    """
    grid = breaking_point_grid()
    row = grid[grid["defence"] == BREAKING_POINT_DEFENCE]
    return float(row["breaking_point_share"].iloc[0])


def breaking_point(answer: object) -> Verdict:
    """Lesson 08, exercise 8.3: the largest share knocked off at which capacity ×2 still holds.

    The answer is a share (0.3 for 30 %), one of the shares the breaking-point map tried
    (:data:`outage_kit.mitigations.DEFAULT_SHARES`): the largest up to which doubling the
    capacity alone kept every outage within :data:`TARGET_OUTAGE_MIN`.

    Examples
    --------
    >>> breaking_point(None).correct is None
    True
    >>> breaking_point(0.4).correct
    False
    """
    value = _as_number(answer, "a share between 0 and 1")
    if isinstance(value, Verdict):
        return value
    expected = capacity_breaking_point()
    grid = breaking_point_grid()
    shares = sorted(set(grid["affected_share"].astype(float)))
    if _close(value, expected, 1e-6):
        return Verdict(
            True,
            "twice the capacity absorbs a trigger that size, but the next share tried already "
            "leaves users without service for hours: capacity buys a margin, not immunity.",
        )
    if 1 < value <= 100 and any(_close(value / 100, s, 1e-6) for s in shares):
        return Verdict(False, "give a share (0.3 for 30 %), not a percentage.")
    if not 0 <= value <= 1:
        return Verdict(False, "a share lies between 0 and 1.")
    if not any(_close(value, s, 1e-6) or value == s for s in shares):
        return Verdict(
            False,
            "the map only tried the shares in mitigations.DEFAULT_SHARES; answer with one of them.",
        )
    row = grid[
        (grid["defence"] == BREAKING_POINT_DEFENCE)
        & (grid["affected_share"].sub(value).abs() < 1e-9)
    ]
    outage = float(row["outage_min"].iloc[0])
    if value > expected:
        return Verdict(
            False,
            f"at that share the outage is {outage:,.0f} min, over the target: look for where "
            "its row on the map turns red.",
        )
    return Verdict(
        False,
        "it holds there, and at a larger share too: read its row on the map up to the first "
        "red square.",
    )
