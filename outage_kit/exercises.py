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
    # Only a service unaffected for the whole incident counts: Skype for Web was reported
    # working in the early phase only.
    whole_day = services["applies_to"] == "whole incident"
    unaffected = set(services.loc[whole_day & (services["affected"] == "no"), "id"])
    known = set(services["id"])
    chosen = answer.strip().lower()
    if chosen in unaffected:
        return Verdict(True, "it ran on a separate stack and stayed up all day.")
    if chosen not in known:
        return Verdict(False, "that is not an id in the services table; copy one from there.")
    row = services[services["id"] == chosen].iloc[0]
    if row["affected"] == "no":
        return Verdict(
            False,
            f"the record says that only for part of the day ({row['applies_to']}); find the "
            "product that was unaffected for the whole incident.",
        )
    return Verdict(False, "that service was affected; look for the row whose 'affected' is 'no'.")


# --- lesson 01 -----------------------------------------------------------------------------

#: Exercise 1.1: the sign-in tier of the lesson (assumed teaching numbers, stated in the lesson).
SIGNIN_ARRIVAL_RATE_PER_S = 180.0
SIGNIN_SERVICE_RATE_PER_S = 10.0
SIGNIN_MAX_WAIT_S = 0.1
SIGNIN_MAX_PROBABILITY = 0.01


def signin_servers(answer: object) -> Verdict:
    """Lesson 01, exercise 1.2: the fewest servers so that at most 1 % of sign-ins wait over 0.1 s.

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
    """Lesson 01, exercise 1.1: requests held by the sign-in service in the storm (Little's law).

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


# --- lesson 02 -----------------------------------------------------------------------------


def _choice(answer: object, options: dict[str, set[str]]) -> str | Verdict:
    """The option an answer names (case and spaces ignored), or a verdict listing the options."""
    if answer is None:
        return _NO_ANSWER
    chosen = " ".join(str(answer).strip().lower().replace("-", " ").split())
    for option, spellings in options.items():
        if chosen == option or chosen in spellings:
            return option
    listed = " or ".join(repr(o) for o in options)
    return Verdict(False, f"answer {listed}.")


def storm_comes_back(answer: object) -> Verdict:
    """Lesson 02, checkpoint: after the spike, with immediate retries, does goodput come back?

    The expected answer comes from a seeded run of the lesson's scenario.

    Examples
    --------
    >>> storm_comes_back("maybe").message
    "answer 'yes' or 'no'."
    """
    from outage_kit import retries

    chosen = _choice(answer, {"yes": {"y", "true", "it comes back"}, "no": {"n", "false"}})
    if isinstance(chosen, Verdict):
        return chosen
    s = retries.SpikeScenario()
    stuck = retries.is_stuck(s.run(retries.retry_setups(s)["immediate retries"], seed=0))
    expected = "no" if stuck else "yes"
    if chosen == expected:
        return Verdict(
            True,
            "the spike is long gone, yet every request still times out: the retries keep the "
            "service overloaded.",
        )
    return Verdict(
        False,
        "run the simulation below and compare the goodput after the spike with the arrivals; "
        "then count the attempts each request sends while every attempt times out.",
    )


#: Exercise 2.1: attempts per request in the storm-threshold exercise.
THRESHOLD_ATTEMPTS = 3


def storm_threshold(answer: object) -> Verdict:
    """Lesson 02, exercise 1: the highest normal utilisation at which a retry storm dies out.

    Clients make up to :data:`THRESHOLD_ATTEMPTS` attempts per request; the answer is a
    share of capacity (between 0 and 1).

    Examples
    --------
    >>> storm_threshold(0.9).correct
    False
    >>> storm_threshold(33).message.startswith("give the utilisation as a share")
    True
    """
    from outage_kit import retries

    value = _as_number(answer, "a utilisation, as a share of capacity")
    if isinstance(value, Verdict):
        return value
    if value > 1:
        return Verdict(
            False, "give the utilisation as a share of capacity between 0 and 1, not in per cent."
        )
    expected = retries.storm_threshold_utilisation(THRESHOLD_ATTEMPTS)
    if abs(value - expected) <= 0.005:
        return Verdict(
            True,
            "below it, even a storm in which every attempt fails offers less than the capacity, "
            "so the queue drains.",
        )
    if abs(value - retries.storm_threshold_utilisation(THRESHOLD_ATTEMPTS + 1)) <= 0.005:
        return Verdict(
            False, "that is the threshold for one attempt more; count the attempts again."
        )
    if abs(value - retries.storm_threshold_utilisation(THRESHOLD_ATTEMPTS - 1)) <= 0.005:
        return Verdict(
            False,
            "the first attempt counts too: count every attempt a request sends, not only "
            "the retries.",
        )
    return Verdict(
        False,
        "in a storm every attempt times out, so each request sends all of its attempts; find "
        "the utilisation at which attempts per second equal the capacity.",
    )


#: Exercise 2.2: the layered stack (attempts per call at every layer, retrying layers).
LAYERED_ATTEMPTS = 4
LAYERED_LAYERS = 3


def bottom_service_calls(answer: object) -> Verdict:
    """Lesson 02, exercise 2: calls reaching the bottom service per user action, when it fails.

    Examples
    --------
    >>> bottom_service_calls(12).message.startswith("you added")
    True
    """
    from outage_kit import retries

    value = _as_number(answer, "a number of calls")
    if isinstance(value, Verdict):
        return value
    m, n = LAYERED_ATTEMPTS, LAYERED_LAYERS
    expected = retries.layered_calls(1.0, m, n)
    if _close(value, expected, 1e-9):
        return Verdict(
            True,
            "each layer multiplies the calls of the layer above, so the bottom service takes the "
            "product.",
        )
    if _close(value, m * n, 1e-9):
        return Verdict(False, "you added the attempts of the layers; retries multiply instead.")
    if _close(value, float(n**m), 1e-9):
        return Verdict(False, "check which number is the base and which the exponent.")
    if _close(value, float(m ** (n - 1)), 1e-9) or _close(value, float(m ** (n + 1)), 1e-9):
        return Verdict(False, "count the retrying layers again: each one multiplies once.")
    return Verdict(
        False,
        "follow one user action down: how many calls does the top layer make, and how many does "
        "each of those cause one layer down?",
    )


def _fewest_calls_rule() -> str:
    from outage_kit import tables

    table = tables.jitter_experiment([JITTER_CLIENTS])
    return str(table.loc[table["mean_calls"].idxmin(), "rule"])


#: Checkpoint in lesson 02: the number of contending clients.
JITTER_CLIENTS = 50


def fewest_calls_rule(answer: object) -> Verdict:
    """Lesson 02, checkpoint: which backoff rule makes the fewest calls with 50 clients?

    The expected answer comes from the kit's contention experiment
    (:func:`outage_kit.tables.jitter_experiment`).

    Examples
    --------
    >>> fewest_calls_rule("random").correct
    False
    """
    options = {
        "exponential, no jitter": {"exponential", "no jitter", "exponential no jitter"},
        "equal jitter": {"equal"},
        "full jitter": {"full"},
        "decorrelated jitter": {"decorrelated"},
    }
    chosen = _choice(answer, options)
    if isinstance(chosen, Verdict):
        return chosen
    expected = _fewest_calls_rule()
    if chosen == expected:
        return Verdict(
            True, "spreading the retries over the whole window wastes the fewest writes."
        )
    if chosen == "exponential, no jitter":
        return Verdict(
            False,
            "without jitter, clients that collided back off by the same delay and collide "
            "again; look at the work chart.",
        )
    return Verdict(False, "close: the jittered rules are near each other. Read the table for 50.")
