"""Checks for the exercises of lesson 03 (the service graph): a verdict, a hint, no answer.

Same pattern as :mod:`outage_kit.exercises`: every expected value is computed from the kit's
own graph and models each time, and ``None`` (an answer cell not yet filled in) gives a
"no answer yet" verdict. The lead will merge this module into :mod:`outage_kit.exercises`.
"""

from __future__ import annotations

import difflib

import networkx as nx

from outage_kit import services
from outage_kit.exercises import _NO_ANSWER, Verdict, _as_number, _close

#: Exercises 3.1 and 3.2: the entry point, and the shared account store that sign-ins reach.
GRAPH_SIGNIN = "sign_in"
GRAPH_SHARED_STORE = "user_directory"


def _graph():
    return services.load_service_graph()


def signin_account_calls(answer: object) -> Verdict:
    """Lesson 03, exercise 3.1: account-store requests caused by one sign-in (no failures).

    Examples
    --------
    >>> signin_account_calls(None).correct is None
    True
    >>> signin_account_calls(1).correct
    False
    """
    value = _as_number(answer, "requests per sign-in")
    if isinstance(value, Verdict):
        return value
    graph = _graph()
    expected = services.downstream_cost(graph, GRAPH_SIGNIN)[GRAPH_SHARED_STORE]
    paths = list(nx.all_simple_paths(graph, GRAPH_SIGNIN, GRAPH_SHARED_STORE))
    if _close(value, expected, 1e-6):
        return Verdict(
            True,
            f"{len(paths)} call paths lead from sign-in to the account store, and every one "
            "of them adds its product of fan-outs.",
        )
    if value == 1:
        return Verdict(
            False,
            "sign-in → auth → accounts is one path, but not the only one; follow every arrow "
            "that leaves sign-in.",
        )
    if 1 < value < expected:
        return Verdict(
            False,
            "you have found some of the paths. Presence and messaging also lead to the "
            "account store, through other services.",
        )
    return Verdict(
        False,
        "list every path from sign-in to accounts, multiply the fan-outs along each, then "
        "add the products (or use services.downstream_cost).",
    )


def attempts_at_dead_service(answer: object) -> Verdict:
    """Lesson 03, exercise 3.2: attempts reaching a dead account store per user sign-in.

    Every sign-in fails, so the clients, the sign-in service and auth all retry; the expected
    value comes from :func:`outage_kit.services.steady_state` with the account store removed
    and one sign-in per second.

    Examples
    --------
    >>> attempts_at_dead_service(9).correct
    False
    >>> attempts_at_dead_service("many").correct
    False
    """
    value = _as_number(answer, "attempts per sign-in")
    if isinstance(value, Verdict):
        return value
    graph = _graph()
    state = services.steady_state(graph, {GRAPH_SIGNIN: 1.0}, removed=[GRAPH_SHARED_STORE])
    expected = state.node(GRAPH_SHARED_STORE)["offered_per_s"]
    client_attempts = state.node(GRAPH_SIGNIN)["client_attempts_per_request"]
    if _close(value, expected, 1e-6):
        return Verdict(
            True,
            "retries multiply along the path: every layer retries every attempt of the "
            "layer above.",
        )
    if _close(value * client_attempts, expected, 1e-6):
        return Verdict(
            False,
            "you counted the retries inside the back end; the clients retry each failed "
            "sign-in too.",
        )
    if value < expected / 3:
        return Verdict(
            False,
            "count the attempts layer by layer: each attempt of a caller makes up to "
            "max_attempts attempts below it, so the counts multiply, they do not add.",
        )
    return Verdict(
        False,
        "trace one sign-in: which call fails first (the calls are made in order and a hard "
        "failure stops the request), and how many times is each layer tried?",
    )


def most_critical_service(answer: object) -> Verdict:
    """Lesson 03, checkpoint: the service whose loss takes down the most user-facing features.

    Examples
    --------
    >>> most_critical_service("presense").correct
    False
    >>> most_critical_service(3).correct
    False
    """
    if answer is None:
        return _NO_ANSWER
    if not isinstance(answer, str):
        return Verdict(False, "give a service id as a string, such as 'presence'.")
    graph = _graph()
    chosen = answer.strip()
    if chosen not in graph:
        close = difflib.get_close_matches(chosen, list(graph.nodes), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return Verdict(False, f"{chosen!r} is not a service id of the graph.{hint}")
    impact = services.feature_impact(graph).set_index("service")["features_down"]
    best = int(impact.max())
    if int(impact[chosen]) == best:
        return Verdict(
            True,
            "every feature that needs an account goes through it by hard calls. A service no "
            "one names in the record can matter more than the ones they do.",
        )
    return Verdict(
        False,
        f"losing {chosen!r} takes down {int(impact[chosen])} features; another service takes "
        "down more. Look for one that many paths of hard calls reach.",
    )
