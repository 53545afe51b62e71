"""Checks for lesson 09 (the postmortem and beyond): a verdict and a hint, never the answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from the package
each time it is first needed (then cached for the session), and ``None`` (an answer cell not
yet filled in) gives a "no answer yet" verdict.

* 9.1 :func:`user_hours_lost`: the 2015 replay's users without a connection, in **millions of
  user-hours** (model, assumed inputs);
* 9.2 :func:`without_megas`: the **share** of expected users online at the end of the two days
  in the calibrated 2010 model with the mega-supernodes removed;
* 9.3 :func:`recovered_by_cutting_load`: the incidents of ``data/related_incidents.csv`` whose
  ``recovery_kind`` is ``cut_load``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close

__all__ = [
    "RECOVERY_KIND_9_3",
    "expected_user_hours_lost_millions",
    "recovered_by_cutting_load",
    "share_online_without_megas",
    "user_hours_lost",
    "without_megas",
]

#: The recovery kind exercise 9.3 asks about.
RECOVERY_KIND_9_3 = "cut_load"


# --- 9.1 -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _replay_metric(name: str) -> float:
    """One metric of :func:`outage_kit.mitigations.score` for ``skype_2015()``."""
    from outage_kit import mitigations
    from outage_kit.scenarios import skype_2015

    return float(mitigations.score(skype_2015(), metrics=[name])[name])


def expected_user_hours_lost_millions() -> float:
    """The 2015 replay's ``user_min_lost`` in millions of user-hours (model, assumed inputs).

    Examples
    --------
    >>> round(expected_user_hours_lost_millions(), -1)
    560.0
    """
    return _replay_metric("user_min_lost") / 60 / 1e6


def user_hours_lost(answer: object) -> Verdict:
    """Lesson 09, exercise 9.1: user-hours without a connection in the 2015 replay.

    The answer is in **millions of user-hours**: ``mitigations.score(...)["user_min_lost"]``
    of ``skype_2015()`` (the replay coupled both ways, as in lesson 06) turned from user-minutes
    into user-hours, then into millions. It is a model figure, built on assumed inputs (the
    clients online, the share the push knocks off, immediate retries: rows of
    ``data/scenario_2015.csv``): say so wherever you quote it.

    Examples
    --------
    >>> user_hours_lost(None).correct is None
    True
    >>> user_hours_lost("a lot").correct
    False
    >>> user_hours_lost(248).message.startswith("that counts only")
    True
    """
    value = _as_number(answer, "millions of user-hours")
    if isinstance(value, Verdict):
        return value
    expected = expected_user_hours_lost_millions()
    if _close(value, expected, 0.015):
        return Verdict(
            True,
            "that is the model's figure (assumed inputs). It is more than the clients the push "
            "knocked off would lose alone: in the model the others drop off too as their "
            "sessions end and they cannot sign back in.",
        )
    for scale, hint in (
        (60, "that looks like user-minutes: divide by 60 for user-hours."),
        (60 * 1e6, "that looks like user-minutes: divide by 60 for hours, then by a million."),
        (1e6, "give the answer in millions of user-hours (divide by 1,000,000)."),
        (1e-3, "that looks like billions: give millions of user-hours."),
        (60 * 1e-3, "that looks like billions of user-minutes: give millions of user-hours."),
        (1 / 60, "you divided by 60 once too often: user-minutes ÷ 60 gives user-hours."),
    ):
        if _close(value, expected * scale, 0.015):
            return Verdict(False, hint)
    unserved = _replay_metric("user_min_unserved") / 60 / 1e6
    if _close(value, unserved, 0.01):
        return Verdict(
            False,
            "that is user_min_unserved, which also counts connected users whose services were "
            "down; the exercise asks for users without a connection (user_min_lost).",
        )
    from outage_kit import data
    from outage_kit.scenarios import skype_2015

    params = skype_2015().params
    hours = data.parameter("restoration_utc") - data.parameter("outage_start_utc")
    hours = hours.total_seconds() / 3600
    knocked = params.population * params.version_mix.affected_share()
    if _close(value, knocked * hours / 1e6, 0.02):
        return Verdict(
            False,
            "that counts only the clients the push knocked off, for the whole outage. Use the "
            "model's own count, which follows every client over the day.",
        )
    if _close(value, params.population * hours / 1e6, 0.02):
        return Verdict(
            False,
            "that assumes every client was off for the whole outage; in the model the clients "
            "the push spared drop off over the morning. Take the figure from mitigations.score.",
        )
    return Verdict(
        False,
        'take mitigations.score(scenarios.skype_2015())["user_min_lost"] (user-minutes), turn '
        "it into user-hours, then into millions.",
    )


# --- 9.2 -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _calibrated_params():
    from outage_kit import supernodes

    return supernodes.calibrate_2010(executor="serial", progress=False).params


def _end_shares(params) -> tuple[float, float]:
    """Share of expected users online at the end of a 2-day run, without and with megas."""
    from outage_kit import supernodes

    without = supernodes.run_supernodes(params.with_(mega_start_h=None))
    with_ = supernodes.run_supernodes(params)
    return (
        float(without["users_online_share"].iloc[-1]),
        float(with_["users_online_share"].iloc[-1]),
    )


def share_online_without_megas(calibration=None) -> float:
    """Share of expected users online at the end of the two days, mega-supernodes removed.

    Parameters
    ----------
    calibration : Calibration2010, optional
        The calibration to start from (default: :func:`outage_kit.supernodes.calibrate_2010`
        on its default grid, run here once, serially, and kept for the session).

    Examples
    --------
    >>> round(share_online_without_megas(), 2)
    0.25
    """
    params = _calibrated_params() if calibration is None else calibration.params
    return _end_shares(params)[0]


def without_megas(answer: object, calibration=None) -> Verdict:
    """Lesson 09, exercise 9.2: what is left at the end of the two days with no mega-supernodes.

    Take the calibrated 2010 model (``calibrate_2010(...).params``), remove the mega-supernodes
    (``mega_start_h=None``), run it for the usual 48 hours and give the **share** of the
    expected users online at the last step (``users_online_share``: a number between 0 and 1).

    Parameters
    ----------
    answer : float
        Your share.
    calibration : Calibration2010, optional
        The lesson's calibration, to check against it without calibrating again (default:
        calibrate on the default grid, once per session).

    Examples
    --------
    >>> without_megas(None).correct is None
    True
    >>> without_megas(2).correct
    False
    """
    value = _as_number(answer, "a share between 0 and 1")
    if isinstance(value, Verdict):
        return value
    if calibration is not None and not hasattr(calibration, "params"):
        raise TypeError(
            "calibration must be a Calibration2010 (from supernodes.calibrate_2010), "
            f"got {type(calibration).__name__}"
        )
    params = _calibrated_params() if calibration is None else calibration.params
    expected, with_megas = _end_shares(params)
    if abs(value - expected) <= 0.01:
        return Verdict(
            True,
            "without them the network stays on its low plateau for the whole two days: the "
            "surviving supernodes keep switching themselves off under the reconnection load, "
            "and only capacity from outside breaks that loop (in the model, assumed inputs).",
        )
    if abs(value / 100 - expected) <= 0.01:
        return Verdict(False, "give a share (0.05 for 5 %), not a percentage.")
    if abs(value - with_megas) <= 0.01:
        return Verdict(
            False,
            "that is the run with the mega-supernodes: set mega_start_h=None on the calibrated "
            "parameters before running.",
        )
    if abs(value - expected * params.expected_online_users) <= 0.01 * params.expected_online_users:
        return Verdict(
            False,
            "that is a number of users: give the share of the expected users online "
            "(users_online_share).",
        )
    if abs(value - (1 - expected)) <= 0.01:
        return Verdict(False, "that is the share offline: give the share online.")
    if value > 1 or value < 0:
        return Verdict(False, "a share lies between 0 and 1.")
    return Verdict(
        False,
        "run supernodes.run_supernodes(cal.params.with_(mega_start_h=None)) and read "
        "users_online_share at the last row (the end of the 48 hours).",
    )


# --- 9.3 -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _incidents():
    from outage_kit import incidents

    return incidents.load_incidents()


def _expected_ids() -> frozenset[str]:
    table = _incidents()
    return frozenset(table.loc[table["recovery_kind"] == RECOVERY_KIND_9_3, "id"])


def recovered_by_cutting_load(answer: object) -> Verdict:
    """Lesson 09, exercise 9.3: which incidents recovered by cutting load (``cut_load``)?

    Give the **set of ids** (the ``id`` column of ``data/related_incidents.csv``, as
    :func:`outage_kit.incidents.load_incidents` returns it) whose ``recovery_kind`` is
    ``cut_load``: shedding, pausing or re-routing load until the system copes. Letting traffic
    back in gradually (``staged_readmission``) is a different kind.

    Examples
    --------
    >>> recovered_by_cutting_load(None).correct is None
    True
    >>> recovered_by_cutting_load("skype_2015").correct
    False
    >>> print(recovered_by_cutting_load({"skype_2010"}).message)
    skype_2010 (add_capacity) recovered another way; some cut_load incidents are missing too.
    """
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return Verdict(
            False,
            "give a set of incident ids, such as {'id_one', 'id_two'}, not "
            f"{type(answer).__name__}.",
        )
    items = list(answer)
    if not all(isinstance(a, str) for a in items):
        return Verdict(False, "every id should be a string from the id column.")
    given = {a.strip().lower() for a in items}
    table = _incidents()
    ids = set(table["id"])
    by_name = {name.lower(): i for name, i in zip(table["name"], table["id"], strict=True)}
    if given & set(by_name) and not given & ids:
        return Verdict(False, "use the id column (such as 'skype_2007'), not the names.")
    unknown = sorted(given - ids)
    if unknown:
        return Verdict(
            False,
            f"not incident ids: {', '.join(unknown)}. Use the id column of load_incidents().",
        )
    expected = _expected_ids()
    extra = sorted(given - expected)
    missing = expected - given
    if not extra and not missing:
        return Verdict(
            True,
            "each came back once less load reached it (a pause, a throttle, traffic moved off "
            "the congested path) rather than once capacity was added.",
        )
    kinds = table.set_index("id")["recovery_kind"]
    parts = []
    if extra:
        said = ", ".join(f"{i} ({kinds[i]})" for i in extra)
        parts.append(f"{said} recovered another way")
        if any(kinds[i] == "staged_readmission" for i in extra):
            parts.append("letting load back in gradually is staged_readmission, a kind of its own")
    if missing:
        what = "one cut_load incident is" if len(missing) == 1 else "some cut_load incidents are"
        parts.append(f"{what} missing" + (" too" if extra else ""))
    return Verdict(False, "; ".join(parts) + ".")
