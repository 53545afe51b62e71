"""Check functions for the lessons' exercises: a verdict and a hint, never the answer.

Every check takes the student's answer and returns a :class:`Verdict`. The
expected value is computed from the kit's own models and data each time, so an
exercise and the lesson's numbers cannot drift apart. A check given ``None``
(the value of an answer cell the student has not filled in yet) returns a
"no answer yet" verdict rather than an error, so a lesson still runs top to
bottom without its solutions.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from numbers import Real

from outage_kit import queueing


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    Attributes
    ----------
    correct : bool or None
        ``True`` right, ``False`` wrong, ``None`` no answer given yet.
    message : str
        Why, and a hint when the answer is not right. Never the answer itself.
    """

    correct: bool | None
    message: str

    @property
    def label(self) -> str:
        return {True: "Correct", False: "Not yet", None: "No answer yet"}[self.correct]

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = {True: "#009E73", False: "#D55E00", None: "#666666"}[self.correct]
        return (
            f"<div style='border-left:5px solid {colour};padding:0.3em 0.8em'>"
            f"<b style='color:{colour}'>{self.label}</b>: {html.escape(self.message)}</div>"
        )


_NO_ANSWER = Verdict(None, "replace None with your answer and run the cell again.")


def _as_number(answer: object, what: str) -> float | Verdict:
    if answer is None:
        return _NO_ANSWER
    if isinstance(answer, bool) or not isinstance(answer, Real):
        return Verdict(
            False, f"the answer should be a number ({what}), not {type(answer).__name__}."
        )
    value = float(answer)
    if not math.isfinite(value):
        return Verdict(False, f"the answer should be a finite number ({what}).")
    return value


def _close(value: float, expected: float, rel_tol: float) -> bool:
    return math.isclose(value, expected, rel_tol=rel_tol, abs_tol=1e-12)


# --- lesson 00 -----------------------------------------------------------------------------


def outage_duration_hours(answer: object) -> Verdict:
    """Lesson 00: hours from the first wave of reports to full restoration on 21 Sept 2015.

    Examples
    --------
    >>> outage_duration_hours(None).correct is None
    True
    >>> outage_duration_hours(12).correct
    False
    """
    from outage_kit import data

    value = _as_number(answer, "hours")
    if isinstance(value, Verdict):
        return value
    start = data.parameter("outage_start_utc")
    end = data.parameter("restoration_utc")
    expected = (end - start).total_seconds() / 3600.0
    if abs(value - expected) <= 0.05:
        return Verdict(True, "that is the span between the two sourced timestamps in the timeline.")
    if abs(value - 12) < 0.5 or abs(value - 15) < 0.25:
        return Verdict(
            False,
            "some press reports gave that figure; compute it yourself from the first and the "
            "last timestamps in the timeline table.",
        )
    if abs(abs(value - expected) - 7) < 0.5 or abs(abs(value - expected) - 4) < 0.5:
        return Verdict(
            False,
            "that looks like a time-zone slip: put both ends in UTC before subtracting.",
        )
    return Verdict(False, "subtract the onset time from the restoration time (both in UTC).")


def unaffected_product(answer: object) -> Verdict:
    """Lesson 00: the product that Microsoft said the outage did not touch (a service id).

    Examples
    --------
    >>> unaffected_product("presence").correct
    False
    """
    from outage_kit import data

    if answer is None:
        return _NO_ANSWER
    if not isinstance(answer, str):
        return Verdict(False, "give the service id as a string, as in the services table.")
    services = data.load_services_2015()
    unaffected = set(services.loc[services["affected"] == "no", "id"])
    known = set(services["id"])
    chosen = answer.strip().lower()
    if chosen in unaffected:
        return Verdict(True, "it ran on a separate stack and stayed up all day.")
    if chosen not in known:
        return Verdict(False, "that is not an id in the services table; copy one from there.")
    return Verdict(False, "that service was affected; look for the row whose 'affected' is 'no'.")


# --- lesson 01 -----------------------------------------------------------------------------

#: Exercise 1.1: the sign-in tier of the lesson (assumed teaching numbers, stated in the lesson).
SIGNIN_ARRIVAL_RATE_PER_S = 180.0
SIGNIN_SERVICE_RATE_PER_S = 10.0
SIGNIN_MAX_WAIT_S = 0.1
SIGNIN_MAX_PROBABILITY = 0.01


def signin_servers(answer: object) -> Verdict:
    """Lesson 01, exercise 1: the fewest servers so that at most 1 % of sign-ins wait over 0.1 s.

    Examples
    --------
    >>> signin_servers(18).message.startswith("with 18 servers")
    True
    >>> signin_servers(2.5).correct
    False
    """
    value = _as_number(answer, "a count of servers")
    if isinstance(value, Verdict):
        return value
    if value != int(value) or value < 1:
        return Verdict(False, "a number of servers is a whole number of at least 1.")
    servers = int(value)
    lam, mu = SIGNIN_ARRIVAL_RATE_PER_S, SIGNIN_SERVICE_RATE_PER_S
    expected = queueing.servers_for_wait_tail(lam, mu, SIGNIN_MAX_WAIT_S, SIGNIN_MAX_PROBABILITY)
    if servers == expected:
        return Verdict(True, "that count meets the target, and one server fewer would not.")
    if servers * mu <= lam:
        return Verdict(
            False,
            f"with {servers} servers the utilisation is {lam / (servers * mu):.0%}: the queue "
            "grows without bound. Start above the offered load in Erlangs.",
        )
    if servers > expected:
        return Verdict(False, "that meets the target, but is it the fewest? Try one server fewer.")
    tail = float(queueing.mmc_wait_tail(SIGNIN_MAX_WAIT_S, lam, mu, servers))
    return Verdict(
        False,
        f"with {servers} servers, {tail:.1%} of sign-ins wait longer than "
        f"{SIGNIN_MAX_WAIT_S:g} s; the target is at most {SIGNIN_MAX_PROBABILITY:.0%}.",
    )


#: Exercise 1.2: Little's law during a storm (assumed teaching numbers, stated in the lesson).
STORM_ATTEMPT_RATE_PER_S = 2_000.0
STORM_TIME_IN_SYSTEM_S = 12.0


def requests_in_system(answer: object) -> Verdict:
    """Lesson 01, exercise 2: requests held in the sign-in service during the storm (Little's law).

    Examples
    --------
    >>> requests_in_system(None).label
    'No answer yet'
    """
    value = _as_number(answer, "a count of requests")
    if isinstance(value, Verdict):
        return value
    expected = float(queueing.littles_law_number(STORM_ATTEMPT_RATE_PER_S, STORM_TIME_IN_SYSTEM_S))
    if _close(value, expected, 0.01):
        return Verdict(True, "each of those requests holds a connection, a thread or memory.")
    if _close(value, STORM_ATTEMPT_RATE_PER_S / STORM_TIME_IN_SYSTEM_S, 0.01):
        return Verdict(False, "you divided; Little's law multiplies the rate by the time.")
    return Verdict(False, "Little's law: number in the system = arrival rate × time in the system.")


def pooling_choice(answer: object) -> Verdict:
    """Lesson 01, checkpoint: one shared pool of servers or separate queues per server?

    Examples
    --------
    >>> pooling_choice("separate").correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    choice = str(answer).strip().lower()
    if choice in {"pooled", "pool", "shared", "one pool"}:
        return Verdict(True, "a shared queue never leaves a server idle while a request waits.")
    if choice in {"separate", "split", "dedicated"}:
        return Verdict(
            False,
            "with separate queues one server can sit idle while another has a queue; "
            "compare the mean waits the two set-ups give.",
        )
    return Verdict(False, "answer 'pooled' or 'separate'.")
