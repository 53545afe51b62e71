"""The bad push: which clients one configuration change knocks off, and what a staged rollout saves.

Microsoft's account of 21 September 2015 says a larger-than-usual configuration change reached
the clients and *some* versions could not process it, so those clients dropped off the network.
Which versions, and how many clients ran them, was never published: the client version mix in
``data/client_versions_2015.csv`` is assumed, row by row, and its incompatible shares add up to
the scenario card's assumed ``affected_client_share``.

Two models, both pure (numbers in, numbers out):

:func:`blast_radius`
    A push reaches a share of each version's clients; the incompatible ones that it reaches
    disconnect. Clients disconnected = Σ over versions of reach × share × incompatible ×
    concurrent users.
:func:`staged_rollout`
    The push goes out in waves (cumulative shares such as 1 %, 10 %, 50 %, 100 %), one wave every
    ``wave_interval_s``, each wave spread over ``push_duration_s``. A health check looks at the
    share of a wave's clients that disconnected, ``detection_delay_s`` after the wave started; if
    it exceeds ``halt_threshold`` the rollout halts: nothing more is pushed from then on.

:func:`disconnected_over_time` gives the cumulative count of disconnected clients at any times,
the trigger that the population model of the reconnection storm (lesson 05) starts from.
Reconnection is not modelled here: a disconnected client counts as disconnected for good.

Examples
--------
>>> versions = load_client_versions_2015()
>>> incompatible_share(versions)
0.4
>>> disconnected_clients(versions, 1.0, concurrent_users=40e6)
16000000.0
>>> staged_rollout(versions).total_disconnected
160000.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from outage_kit.data import DATA_DIR, Column, DataError, Schema, load_table, read_rows

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CLIENT_VERSIONS_SCHEMA",
    "PLATFORMS",
    "SHARE_SUM_TOL",
    "STAGED_WAVES",
    "SLACK_2022_WAVES",
    "ALL_AT_ONCE",
    "WAVE_PLANS",
    "WAVE_INTERVAL_S",
    "DETECTION_DELAY_S",
    "HALT_THRESHOLD",
    "PUSH_DURATION_S",
    "RolloutResult",
    "load_client_versions_2015",
    "incompatible_share",
    "concurrent_users_at_onset",
    "blast_radius",
    "disconnected_clients",
    "plan_waves",
    "staged_rollout",
    "baseline_2015",
    "disconnected_over_time",
    "compare_plans",
]

#: Platforms a version row may name.
PLATFORMS = ("windows", "mac", "linux", "android", "ios", "web", "other")

#: How far the shares of online clients may stray from adding up to 1.
SHARE_SUM_TOL = 1e-9

# --- wave plans (cumulative share of clients reached after each wave) ----------------------------

#: The 2015 baseline (assumed on the scenario card as ``rollout_waves = 1``): every client at once.
ALL_AT_ONCE: tuple[float, ...] = (1.0,)
#: A staged rollout of the kind the lesson proposes (a teaching choice): 1 %, 10 %, 50 %, 100 %.
STAGED_WAVES: tuple[float, ...] = (0.01, 0.10, 0.50, 1.0)
#: Slack's 2022 rollout step (25 % of hosts per step, FACTS §5/§6.5), applied to clients here.
SLACK_2022_WAVES: tuple[float, ...] = (0.25, 0.50, 0.75, 1.0)
#: The plans the lesson and the panel offer, by name.
WAVE_PLANS: dict[str, tuple[float, ...]] = {
    "all at once": ALL_AT_ONCE,
    "1 %, 10 %, 50 %, 100 %": STAGED_WAVES,
    "25 % steps (as Slack, 2022)": SLACK_2022_WAVES,
}

# --- rollout timing and health check: all ASSUMED teaching values, none is a Skype figure -------

#: Assumed: time between the starts of two waves (the "soak" time), 30 minutes.
WAVE_INTERVAL_S = 1800.0
#: Assumed: time from a wave's start until its health check has a verdict, 10 minutes.
DETECTION_DELAY_S = 600.0
#: Assumed: the check halts the rollout when more than 5 % of a wave's clients disconnected.
HALT_THRESHOLD = 0.05
#: Assumed: one wave takes one minute to reach its clients (spread evenly over that minute).
PUSH_DURATION_S = 60.0


def _check_platform_share(row) -> None:
    share = row["share_of_online"]
    if not 0.0 <= share <= 1.0:
        row.fail("share_of_online", f"{share:g} is not a share; give a number between 0 and 1")
    if row["status"] == "verified":
        row.fail(
            "status",
            "the public record never said which client versions failed or how many clients ran "
            "them; a row of the version mix is 'assumed' (with a reason), not 'verified'",
        )


CLIENT_VERSIONS_SCHEMA = Schema(
    "client_versions_2015.csv",
    (
        Column("id", "id", required=True),
        Column("platform", "choice", required=True, choices=PLATFORMS),
        Column("version", "text", required=True),
        Column("share_of_online", "number", required=True),
        Column("incompatible_with_push", "choice", required=True, choices=("yes", "no")),
        Column("status", "status", required=True),
        Column("source_tags", "tags"),
        Column("source", "sources"),
        Column("reason", "text"),
        Column("note", "text"),
    ),
    row_checks=(_check_platform_share,),
)


def load_client_versions_2015(path: str | Path | None = None) -> pd.DataFrame:
    """The assumed client version mix of September 2015, validated.

    Parameters
    ----------
    path : str or Path, optional
        File to read instead of ``data/client_versions_2015.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``platform``, ``version`` (a label, invented), ``share_of_online``
        (float), ``incompatible_with_push`` (``yes``/``no``), ``status``, ``source_tags``,
        ``source``, ``reason``, ``note``, plus ``incompatible`` (bool).

    Raises
    ------
    DataError
        If a row is malformed, or the shares do not add up to 1 (within :data:`SHARE_SUM_TOL`);
        the message names the file, the line and the field.

    Examples
    --------
    >>> versions = load_client_versions_2015()
    >>> set(versions["status"])
    {'assumed'}
    >>> round(float(versions["share_of_online"].sum()), 9)
    1.0
    """
    schema = CLIENT_VERSIONS_SCHEMA
    path = DATA_DIR / schema.filename if path is None else Path(path)
    rows = read_rows(path, schema)
    if not rows:
        raise DataError(path.name, 2, None, "the file has no version rows; add at least one")
    total = math.fsum(row["share_of_online"] for row in rows)
    if abs(total - 1.0) > SHARE_SUM_TOL:
        raise DataError(
            path.name,
            rows[-1].line,
            "share_of_online",
            f"the shares of online clients add up to {total:.12g}, not 1; every online client "
            "runs exactly one version, so correct the shares until they add up to 1",
        )
    frame = load_table(path, schema)
    frame["incompatible"] = frame["incompatible_with_push"] == "yes"
    return frame


def _versions(versions: pd.DataFrame | None) -> pd.DataFrame:
    if versions is None:
        return load_client_versions_2015()
    missing = {"id", "share_of_online", "incompatible"} - set(versions.columns)
    if missing:
        raise ValueError(
            f"versions lacks columns {sorted(missing)}; pass a table from "
            "load_client_versions_2015()"
        )
    return versions


def incompatible_share(versions: pd.DataFrame | None = None) -> float:
    """Share of online clients whose version cannot process the push.

    Examples
    --------
    >>> incompatible_share()
    0.4
    """
    v = _versions(versions)
    share = math.fsum(
        float(s) for s, bad in zip(v["share_of_online"], v["incompatible"], strict=True) if bad
    )
    return round(share, 12)


def concurrent_users_at_onset() -> float:
    """The scenario card's assumed concurrent users at the onset (40 M; not a published figure).

    Examples
    --------
    >>> concurrent_users_at_onset()
    40000000.0
    """
    from outage_kit import data

    return float(data.parameter("concurrent_users_at_onset"))


def _users(concurrent_users: float | None) -> float:
    if concurrent_users is None:
        return concurrent_users_at_onset()
    if isinstance(concurrent_users, bool) or not isinstance(concurrent_users, (int, float)):
        raise TypeError(f"concurrent_users must be a number, got {type(concurrent_users).__name__}")
    if not math.isfinite(concurrent_users) or concurrent_users < 0:
        raise ValueError(
            f"concurrent_users must be a finite number of clients >= 0, got {concurrent_users!r}"
        )
    return float(concurrent_users)


def _share(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a share between 0 and 1, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a share between 0 and 1, got {value!r}")
    return value


def blast_radius(
    versions: pd.DataFrame | None = None,
    reach: float | Mapping[str, float] = 1.0,
    *,
    concurrent_users: float | None = None,
) -> pd.DataFrame:
    """Clients a push reaches and disconnects, version by version.

    Parameters
    ----------
    versions : pandas.DataFrame, optional
        From :func:`load_client_versions_2015` (default: the 2015 mix, assumed).
    reach : float or mapping
        Share of each version's clients the push reaches: one share for every version, or a
        mapping from version id to share (versions left out are not reached).
    concurrent_users : float, optional
        Clients online (default: the card's assumed ``concurrent_users_at_onset``, 40 M).

    Returns
    -------
    pandas.DataFrame
        One row per version: ``id``, ``platform``, ``share_of_online``, ``incompatible``,
        ``reach``, ``clients_online``, ``clients_reached``, ``clients_disconnected``.

    Raises
    ------
    ValueError
        If a reach is not a share between 0 and 1, or names an unknown version.

    Examples
    --------
    >>> table = blast_radius(reach={"windows_desktop_older": 0.5}, concurrent_users=1e6)
    >>> float(table["clients_disconnected"].sum())
    90000.0
    """
    import pandas as pd

    v = _versions(versions)
    users = _users(concurrent_users)
    ids = list(v["id"])
    if isinstance(reach, Mapping):
        unknown = sorted(set(reach) - set(ids))
        if unknown:
            raise ValueError(f"reach names unknown versions {unknown}; use ids among {ids}")
        shares = [_share(reach.get(i, 0.0), f"reach[{i!r}]") for i in ids]
    else:
        shares = [_share(reach, "reach")] * len(ids)
    online = v["share_of_online"].to_numpy(dtype=float) * users
    reached = online * np.asarray(shares)
    bad = v["incompatible"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "id": ids,
            "platform": list(v["platform"]) if "platform" in v else ["?"] * len(ids),
            "share_of_online": v["share_of_online"].to_numpy(dtype=float),
            "incompatible": bad,
            "reach": shares,
            "clients_online": np.round(online, 6),
            "clients_reached": np.round(reached, 6),
            "clients_disconnected": np.round(np.where(bad, reached, 0.0), 6),
        }
    )


def disconnected_clients(
    versions: pd.DataFrame | None = None,
    reach: float | Mapping[str, float] = 1.0,
    *,
    concurrent_users: float | None = None,
) -> float:
    """Total clients one push disconnects: Σ reach × share × incompatible × concurrent users.

    Same parameters as :func:`blast_radius`.

    Examples
    --------
    >>> disconnected_clients(reach=0.25, concurrent_users=40e6)
    4000000.0
    >>> disconnected_clients(reach=1.5)
    Traceback (most recent call last):
    ...
    ValueError: reach must be a share between 0 and 1, got 1.5
    """
    table = blast_radius(versions, reach, concurrent_users=concurrent_users)
    return round(math.fsum(table["clients_disconnected"]), 6)


def plan_waves(plan: Sequence[float], push_share: float = 1.0) -> tuple[float, ...]:
    """A wave plan cut off at ``push_share``: the waves below it, then the push share itself.

    Examples
    --------
    >>> plan_waves(STAGED_WAVES, 0.3)
    (0.01, 0.1, 0.3)
    >>> plan_waves(ALL_AT_ONCE, 0.3)
    (0.3,)
    """
    push_share = _share(push_share, "push_share")
    if push_share == 0:
        raise ValueError("push_share must be above 0: a push that reaches no client has no waves")
    waves = _check_waves(plan)
    return tuple(w for w in waves if w < push_share) + (push_share,)


def _check_waves(waves: Sequence[float]) -> tuple[float, ...]:
    if isinstance(waves, (str, bytes)) or not isinstance(waves, Sequence):
        raise TypeError(
            "waves must be a sequence of cumulative shares such as (0.01, 0.1, 0.5, 1.0)"
        )
    if len(waves) == 0:
        raise ValueError("waves is empty; give at least one cumulative share, such as (1.0,)")
    out = tuple(_share(w, "waves") for w in waves)
    if out[0] <= 0 or any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(
            f"waves must be cumulative shares that strictly increase from above 0 to at most 1, "
            f"such as (0.01, 0.1, 0.5, 1.0); got {list(out)}"
        )
    return out


def _non_negative(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class RolloutResult:
    """The outcome of one rollout.

    Attributes
    ----------
    waves : pandas.DataFrame
        One row per planned wave: ``wave`` (1, 2, ...), ``target_share`` (cumulative share
        planned after it), ``start_s``, ``pushed_share`` (share of all clients it actually
        reached), ``clients_reached``, ``clients_disconnected``, ``disconnected_share_of_wave``
        (what its health check sees), ``check`` (``"failed"``, ``"passed"``, ``"no check"`` or
        ``"not run"``), ``status`` (``"pushed"``, ``"partly pushed"``, ``"not pushed"``) and
        ``cumulative_disconnected``.
    total_disconnected : float
        Clients disconnected by the whole rollout.
    total_reached : float
        Clients the push reached.
    halted : bool
        Whether the health check halted the rollout.
    halted_at_s : float or None
        When it halted (the failing wave's start plus the detection delay).
    halted_by_wave : int or None
        The wave whose check failed.
    concurrent_users : float
    incompatible_share : float
    push_duration_s : float
    """

    waves: pd.DataFrame
    total_disconnected: float
    total_reached: float
    halted: bool
    halted_at_s: float | None
    halted_by_wave: int | None
    concurrent_users: float
    incompatible_share: float
    push_duration_s: float
    _starts: tuple[float, ...] = field(repr=False, default=())
    _sizes: tuple[float, ...] = field(repr=False, default=())

    @property
    def end_s(self) -> float:
        """When the last client was reached (or the halt, if later)."""
        pushed = [
            s + self.push_duration_s
            for s, p in zip(self._starts, self.pushed, strict=True)
            if p > 0
        ]
        ends = pushed + ([self.halted_at_s] if self.halted_at_s is not None else [])
        return max(ends, default=0.0)

    @property
    def pushed(self) -> tuple[float, ...]:
        return tuple(float(p) for p in self.waves["pushed_share"])

    def reached_at(self, times_s: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Clients the push had reached by each time (seconds after the first wave started)."""
        t = np.asarray(times_s, dtype=float)
        share = np.zeros_like(t)
        stop = math.inf if self.halted_at_s is None else self.halted_at_s
        for start, size in zip(self._starts, self._sizes, strict=True):
            until = np.minimum(t, stop) - start
            if self.push_duration_s > 0:
                with np.errstate(over="ignore"):
                    fraction = np.clip(until / self.push_duration_s, 0.0, 1.0)
            else:
                # An instant wave goes out at its start unless the halt came first (or at once).
                fraction = ((until >= 0) & (start < stop)).astype(float)
            share += size * fraction
        return share * self.concurrent_users

    def disconnected_at(self, times_s: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Clients disconnected by each time: the trigger of the reconnection storm.

        Examples
        --------
        >>> r = staged_rollout(waves=(1.0,), concurrent_users=1000.0, push_duration_s=10.0)
        >>> r.disconnected_at([0.0, 5.0, 10.0, 60.0]).tolist()
        [0.0, 200.0, 400.0, 400.0]
        """
        return self.reached_at(times_s) * self.incompatible_share

    def disconnection_rate_per_s(self, times_s: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Clients disconnecting per second at each time (0 where nothing is being pushed).

        With ``push_duration_s = 0`` every wave is instantaneous and this is 0 everywhere; use
        :meth:`disconnected_at` and difference it over the model's time step instead.

        Examples
        --------
        >>> r = staged_rollout(waves=(1.0,), concurrent_users=1000.0, push_duration_s=10.0)
        >>> r.disconnection_rate_per_s([5.0, 20.0]).tolist()
        [40.0, 0.0]
        """
        t = np.asarray(times_s, dtype=float)
        rate = np.zeros_like(t)
        if self.push_duration_s <= 0:
            return rate
        stop = math.inf if self.halted_at_s is None else self.halted_at_s
        for start, size in zip(self._starts, self._sizes, strict=True):
            active = (t >= start) & (t < start + self.push_duration_s) & (t < stop)
            rate += np.where(active, size / self.push_duration_s, 0.0)
        return rate * self.concurrent_users * self.incompatible_share

    def timeseries(self, end_s: float | None = None, step_s: float = 60.0) -> pd.DataFrame:
        """Reached and disconnected clients on a regular time grid, for charts.

        Parameters
        ----------
        end_s : float, optional
            Last time (default: :attr:`end_s` rounded up to a whole step, at least one step).
        step_s : float
            Grid step.

        Returns
        -------
        pandas.DataFrame
            Columns ``time_s``, ``time_min``, ``clients_reached``, ``clients_disconnected``.

        Examples
        --------
        >>> r = staged_rollout(waves=(1.0,), concurrent_users=1000.0)
        >>> r.timeseries(end_s=120.0)["clients_disconnected"].tolist()
        [0.0, 400.0, 400.0]
        """
        import pandas as pd

        step_s = _non_negative(step_s, "step_s")
        if step_s == 0:
            raise ValueError("step_s must be above 0 seconds")
        if end_s is None:
            end_s = max(step_s, math.ceil(self.end_s / step_s) * step_s)
        end_s = _non_negative(end_s, "end_s")
        times = np.arange(0.0, end_s + step_s / 2, step_s)
        return pd.DataFrame(
            {
                "time_s": times,
                "time_min": np.round(times / 60.0, 6),
                "clients_reached": np.round(self.reached_at(times), 3),
                "clients_disconnected": np.round(self.disconnected_at(times), 3),
            }
        )


def staged_rollout(
    versions: pd.DataFrame | None = None,
    waves: Sequence[float] = STAGED_WAVES,
    *,
    concurrent_users: float | None = None,
    wave_interval_s: float = WAVE_INTERVAL_S,
    detection_delay_s: float = DETECTION_DELAY_S,
    halt_threshold: float | None = HALT_THRESHOLD,
    push_duration_s: float = PUSH_DURATION_S,
) -> RolloutResult:
    """Push in waves, check each wave's health, halt when a wave loses too many clients.

    Each wave reaches a random sample of the clients not yet reached, so every version is
    reached in proportion (in expectation; the model works with expected counts). Wave ``i``
    (from 0) starts at ``i × wave_interval_s`` and reaches its clients evenly over
    ``push_duration_s``. Its health check has a verdict ``detection_delay_s`` after the wave
    started; if the share of the wave's clients that disconnected exceeds ``halt_threshold``,
    the rollout halts at that moment: what is still being pushed stops, later waves never start.
    A detection delay longer than the wave interval lets the next waves go out before the check
    catches the first bad one. A wave due to start at the very moment of the halt, or later,
    does not go out.

    Parameters
    ----------
    versions : pandas.DataFrame, optional
        From :func:`load_client_versions_2015` (default: the 2015 mix, assumed).
    waves : sequence of float
        Cumulative shares of clients reached after each wave, strictly increasing, the last at
        most 1. ``(1.0,)`` is the all-at-once push.
    concurrent_users : float, optional
        Clients online (default: the card's assumed 40 M).
    wave_interval_s, detection_delay_s, push_duration_s : float
        Timing, in seconds (defaults: assumed teaching values, see the module constants).
    halt_threshold : float or None
        Share of a wave's clients disconnected above which the rollout halts; None: no check.

    Returns
    -------
    RolloutResult

    Raises
    ------
    ValueError or TypeError
        Naming the argument that is wrong and what would be right.

    Examples
    --------
    >>> r = staged_rollout(concurrent_users=40e6)
    >>> r.halted, r.halted_by_wave, r.halted_at_s, r.total_disconnected
    (True, 1, 600.0, 160000.0)
    >>> staged_rollout(waves=ALL_AT_ONCE, concurrent_users=40e6).total_disconnected
    16000000.0
    >>> staged_rollout(waves=(0.5, 0.2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: waves must be cumulative shares that strictly increase ...; got [0.5, 0.2]
    """
    import pandas as pd

    v = _versions(versions)
    plan = _check_waves(waves)
    users = _users(concurrent_users)
    interval = _non_negative(wave_interval_s, "wave_interval_s")
    delay = _non_negative(detection_delay_s, "detection_delay_s")
    duration = _non_negative(push_duration_s, "push_duration_s")
    threshold = None if halt_threshold is None else _share(halt_threshold, "halt_threshold")
    if interval == 0 and len(plan) > 1:
        raise ValueError("wave_interval_s must be above 0 when there is more than one wave")
    bad = incompatible_share(v)

    sizes = np.diff((0.0,) + plan)
    starts = np.arange(len(plan)) * interval
    # The health check sees the share of a wave's clients that disconnected: with waves drawn
    # at random across versions, that is the incompatible share for every wave.
    seen = bad
    halted_at = None
    halted_by = None
    if threshold is not None and seen > threshold:
        halted_by = 1
        halted_at = float(starts[0] + delay)
    stop = math.inf if halted_at is None else halted_at
    if duration > 0:
        with np.errstate(over="ignore"):
            fractions = np.clip((stop - starts) / duration, 0.0, 1.0)
    else:
        fractions = (starts < stop).astype(float)
    pushed = sizes * fractions
    reached = pushed * users
    disconnected = reached * bad
    checks = []
    for i, start in enumerate(starts):
        if pushed[i] == 0:
            checks.append("not run")
        elif threshold is None:
            checks.append("no check")
        elif start + delay > stop:
            checks.append("not run")
        else:
            checks.append("failed" if seen > threshold else "passed")
    status = np.where(
        np.isclose(pushed, sizes), "pushed", np.where(pushed > 0, "partly pushed", "not pushed")
    )
    table = pd.DataFrame(
        {
            "wave": np.arange(1, len(plan) + 1),
            "target_share": list(plan),
            "start_s": starts.astype(float),
            "pushed_share": np.round(pushed, 12),
            "clients_reached": np.round(reached, 6),
            "clients_disconnected": np.round(disconnected, 6),
            "disconnected_share_of_wave": [round(seen, 12) if p > 0 else np.nan for p in pushed],
            "check": checks,
            "status": status,
            "cumulative_disconnected": np.round(np.cumsum(disconnected), 6),
        }
    )
    return RolloutResult(
        waves=table,
        total_disconnected=round(math.fsum(disconnected), 6),
        total_reached=round(math.fsum(reached), 6),
        halted=halted_at is not None,
        halted_at_s=halted_at,
        halted_by_wave=halted_by,
        concurrent_users=users,
        incompatible_share=bad,
        push_duration_s=duration,
        _starts=tuple(float(s) for s in starts),
        _sizes=tuple(float(s) for s in sizes),
    )


def baseline_2015(
    versions: pd.DataFrame | None = None, *, concurrent_users: float | None = None
) -> RolloutResult:
    """The 2015 baseline: one wave to every client, no health check (the card's assumption).

    Examples
    --------
    >>> r = baseline_2015()
    >>> r.total_disconnected, r.halted
    (16000000.0, False)
    """
    return staged_rollout(
        versions, ALL_AT_ONCE, concurrent_users=concurrent_users, halt_threshold=None
    )


def disconnected_over_time(
    times_s: float | Sequence[float] | np.ndarray, result: RolloutResult | None = None
) -> np.ndarray:
    """Clients disconnected by each time (s after the push began): a storm model's trigger.

    Parameters
    ----------
    times_s : float or array
        Times in seconds from the start of the first wave.
    result : RolloutResult, optional
        A rollout (default: :func:`baseline_2015`, every client at once over the assumed
        push duration of one minute).

    Returns
    -------
    numpy.ndarray
        Cumulative disconnected clients at each time; non-decreasing, ending at
        ``result.total_disconnected``. Nobody reconnects in this model.

    Examples
    --------
    >>> disconnected_over_time([0.0, 30.0, 60.0, 3600.0]).tolist()
    [0.0, 8000000.0, 16000000.0, 16000000.0]
    """
    return (baseline_2015() if result is None else result).disconnected_at(times_s)


def compare_plans(
    plans: Mapping[str, Sequence[float]] | None = None,
    versions: pd.DataFrame | None = None,
    **kwargs: float | None,
) -> pd.DataFrame:
    """One row per wave plan: clients reached and disconnected, whether and when it halted.

    ``kwargs`` go to :func:`staged_rollout` (timing, threshold, concurrent users).

    Examples
    --------
    >>> table = compare_plans(concurrent_users=40e6)
    >>> table["clients_disconnected"].tolist()
    [16000000.0, 160000.0, 4000000.0]
    >>> table["plan"].tolist()[2]
    '25 % steps (as Slack, 2022)'
    """
    import pandas as pd

    v = _versions(versions)
    rows = []
    for name, waves in (WAVE_PLANS if plans is None else plans).items():
        r = staged_rollout(v, waves, **kwargs)
        rows.append(
            {
                "plan": name,
                "waves": len(waves),
                "clients_reached": r.total_reached,
                "clients_disconnected": r.total_disconnected,
                "halted": r.halted,
                "halted_at_min": np.nan if r.halted_at_s is None else r.halted_at_s / 60.0,
                "waves_pushed": int((r.waves["pushed_share"] > 0).sum()),
            }
        )
    return pd.DataFrame(rows)
