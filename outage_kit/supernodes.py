"""Population model of the December 2010 supernode collapse, and its calibration to the record.

In 2010 Skype was a peer-to-peer network: ordinary clients kept a connection to a
*supernode*, a user's machine promoted to relay sign-in, presence and search for several hundred
peers. On 22 December a Windows build crashed on delayed replies from overloaded offline-messaging
servers; the crashed machines included a large share of the supernodes, the surviving ones,
swamped by clients looking for a new supernode, switched themselves off under the load, and the
network stayed down until Skype added hundreds of dedicated "mega-supernodes"
(``data/incident_2010.csv`` holds the figures; ``data/scenario_2010.csv`` this model's card).

Like :mod:`outage_kit.storm`, this model counts, it does not follow individuals: the cost of a
run does not depend on the population (a 2-day run at 1-minute steps takes a few milliseconds).

States (counts that always add up)
----------------------------------
Clients (``expected_online_users`` of them, held constant: the model has no daily cycle):

online
    Connected to a supernode (user-run or mega). These are the "users online" of the record.
reconnecting
    Running but without a supernode: restarted after a crash, or orphaned when their supernode
    went away. Each tries to connect every ``retry_interval_s``; an attempt costs
    ``reconnect_cost`` minutes of an online client's steady traffic.
crashed
    Knocked out by the bug; the user restarts the client after ``client_restart_min`` on
    average (it then reconnects).

User-run supernodes (``supernodes`` of them):

online
    Serving clients. Each normally carries ``clients_per_supernode`` = expected online users /
    supernodes clients' worth of load (its *normal load*) and can take ``overload_threshold``
    times that.
resyncing
    Restarted but re-synchronising with the network for ``resync_min`` on average: not yet
    useful, and its re-sync adds ``resync_load`` times a supernode's normal load.
offline
    Crashed by the bug or shut down by its own overload protection; back (into re-sync) after
    ``supernode_restart_min`` on average.

Mega-supernodes are Skype's own servers: from ``mega_start_h`` on, a batch of
``mega_per_batch`` arrives every ``mega_interval_h``, ``mega_batches`` batches in all, each one
as strong as ``mega_capacity`` supernodes' normal loads. They never shut down.

One time step (``dt_min``, 1 minute by default)
-----------------------------------------------
1. **Trigger** (the first ``crash_duration_min``, in equal parts): ``buggy_build_share *
   crash_share_of_buggy`` of all clients crash (taken from the online and reconnecting clients
   in proportion) and ``supernode_buggy_share * crash_share_of_buggy`` of the supernodes are hit
   (those online or resyncing go offline); the clients of the online supernodes that go
   offline are orphaned and start reconnecting.
2. **Restarts**: crashed clients restart, offline supernodes come back into re-sync, resynced
   supernodes go online; each with the chance ``1 - exp(-dt / mean time)`` per step.
3. **Load and self-protection**: offered load = online clients + reconnecting clients x
   attempts per minute x ``reconnect_cost`` + resyncing supernodes x ``resync_load`` x normal
   load, shared among the online supernodes and the megas in proportion to their capacity. A
   supernode's share is spread: its load is the average times a factor spread evenly between
   ``1 - load_spread`` and ``1 + load_spread``. With ``self_protection`` on, those above their
   threshold shut down (each with the chance ``1 - exp(-dt / protection_delay_min)`` per step);
   their online clients are orphaned (the domino).
4. **Connections**: reconnecting clients attempt; each attempt succeeds with the share of
   offered work that capacity can serve (``min(1, capacity / offered load)``), and no more
   clients connect than there is room for.

``load_per_supernode`` is the offered load on one online user-run supernode over its normal
load: ``overload_threshold x offered load / capacity``; 1 in normal times, the record's
"about 100 times" at the height of the collapse. In the stuck state it is roughly (share of
clients reconnecting) x attempts per minute (``60 / retry_interval_s``) x ``reconnect_cost`` x
(``protection_delay_min`` + ``supernode_restart_min`` + ``resync_min``) /
``protection_delay_min``: the record's 100x pins the reconnect cost once the delays are chosen.

The stuck state is a property of the network, not of the trigger: once the crash is large enough
to tip it (with the card's values, somewhere between 20 % and 30 % of clients on the buggy
build crashing), a larger crash leads to the same plateau, about a quarter of users online, and
only added capacity gets it out.

Calibration
-----------
Four parameters are not published and are fitted by :func:`calibrate_2010`: the share of
supernodes on the buggy build, the overload threshold, when the mega-supernodes started, and how
strong each one is. It runs a grid (:func:`default_grid_2010`) through
:func:`outage_kit.sweeps.sweep` and scores each run with :func:`fit_score` against the targets of
:func:`targets_2010`, all taken from ``data/incident_2010.csv``.

Examples
--------
>>> run = run_supernodes(scenario_2010())
>>> at = run.set_index("time_utc")["users_online"]
>>> print(f"{at['2010-12-22 18:40Z'] / 1e6:.1f} M online at 18:40 UTC on 22 Dec")
5.2 M online at 18:40 UTC on 22 Dec
>>> print(f"peak load per surviving supernode: {run.load_per_supernode.max():.0f} times normal")
peak load per surviving supernode: 125 times normal
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from outage_kit import data

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Executor

__all__ = [
    "CALIBRATED",
    "CARD_2010",
    "Calibration2010",
    "SupernodeParams",
    "calibrate_2010",
    "default_grid_2010",
    "evaluate_2010",
    "fit_score",
    "measure_2010",
    "run_supernodes",
    "scenario_2010",
    "targets_2010",
]

#: The model's parameter card.
CARD_2010 = data.DATA_DIR / "scenario_2010.csv"

#: Parameters that :func:`calibrate_2010` fits (the card marks them assumed, chosen by it).
CALIBRATED = ("supernode_buggy_share", "overload_threshold", "mega_start_h", "mega_capacity")

#: Card rows that are not model parameters (shown for reference).
_CARD_ONLY = ("clients_per_supernode", "crashed_client_share", "recovery_action")

_START_UTC = pd.Timestamp("2010-12-22T16:00Z")


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _number(name: str, value, *, low: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float (>= ``low``, or > with ``strict``), or a named error."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (number <= low if strict else number < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low:g}, got {value!r}")
    return number


def _share(name: str, value) -> float:
    number = _number(name, value, low=0.0)
    if number > 1.0:
        raise ValueError(f"{name} must be a share between 0 and 1, got {value!r}")
    return number


def _whole(name: str, value) -> int:
    number = _number(name, value, low=0.0)
    if number != int(number):
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(number)


@dataclass(frozen=True)
class SupernodeParams:
    """Parameters of the 2010 supernode model (see the module docstring for the mechanics).

    Defaults are the values of ``data/scenario_2010.csv``; :func:`scenario_2010` reads them
    from the card. Times are means unless said otherwise.

    Parameters
    ----------
    start_utc : str or pandas.Timestamp
        Wall-clock time of the run's start, when the crashes begin (the failure window's start).
    expected_online_users : float
        Users who would be online in normal times (constant over the run), > 0.
    supernodes : float
        User-run supernodes online in normal times, > 0.
    buggy_build_share, crash_share_of_buggy : float
        Share of clients on the faulty build, and share of those that crash (in [0, 1]).
    supernode_buggy_share : float
        Share of supernodes on the faulty build (in [0, 1]); the same share of them crashes.
    crash_duration_min : float
        The crashes are spread evenly over this long, > 0.
    client_restart_min : float
        Time before a user restarts a crashed client, > 0.
    retry_interval_s : float
        Time between a reconnecting client's attempts, > 0.
    reconnect_cost : float
        Cost of one attempt, in minutes of an online client's steady traffic, >= 0.
    overload_threshold : float
        What a supernode can take, as a multiple of its normal load, >= 1 + ``load_spread``
        (so that no supernode is over its threshold in normal times).
    load_spread : float
        Supernodes' loads spread evenly between ``1 - load_spread`` and ``1 + load_spread``
        times the average, in (0, 1].
    self_protection : bool
        Whether supernodes above their threshold shut themselves down.
    protection_delay_min : float
        Time an overloaded supernode keeps going before it shuts down, > 0.
    supernode_restart_min : float
        Time before an offline supernode is back and starts re-synchronising, > 0.
    resync_min : float
        Time a restarted supernode spends re-synchronising before it is useful, > 0.
    resync_load : float
        Load of one re-synchronising supernode on the network, in supernode normal loads, >= 0.
    mega_start_h : float or None
        Hours after the start when the first batch of mega-supernodes arrives (None: never).
    mega_interval_h : float
        Hours between batches, > 0.
    mega_per_batch, mega_batches : int
        Mega-supernodes per batch, and number of batches (whole numbers >= 0).
    mega_capacity : float
        What one mega-supernode can take, in supernode normal loads, >= 0.

    Examples
    --------
    >>> p = SupernodeParams()
    >>> p.clients_per_supernode
    437.5
    >>> round(p.client_crash_share, 2), p.mega_per_batch * p.mega_batches
    (0.2, 800)
    >>> p.with_(overload_threshold=1.5)
    Traceback (most recent call last):
    ...
    ValueError: overload_threshold (1.5) must be at least 1 + load_spread (2); below that some \
supernodes are over their threshold in normal times
    """

    start_utc: pd.Timestamp = _START_UTC
    expected_online_users: float = 21_000_000.0
    supernodes: float = 48_000.0
    buggy_build_share: float = 0.5
    crash_share_of_buggy: float = 0.4
    supernode_buggy_share: float = 0.625
    crash_duration_min: float = 60.0
    client_restart_min: float = 10.0
    retry_interval_s: float = 60.0
    reconnect_cost: float = 30.0
    overload_threshold: float = 2.5
    load_spread: float = 1.0
    self_protection: bool = True
    protection_delay_min: float = 15.0
    supernode_restart_min: float = 30.0
    resync_min: float = 30.0
    resync_load: float = 1.0
    mega_start_h: float | None = 19.0
    mega_interval_h: float = 1.0
    mega_per_batch: int = 50
    mega_batches: int = 16
    mega_capacity: float = 50.0

    def __post_init__(self):
        try:
            start = pd.Timestamp(self.start_utc)
        except (TypeError, ValueError):
            raise ValueError(
                f"start_utc must be a time such as '2010-12-22T16:00Z', got {self.start_utc!r}"
            ) from None
        if start is pd.NaT:
            raise ValueError(f"start_utc must be a time, got {self.start_utc!r}")
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        object.__setattr__(self, "start_utc", start)
        positive = (
            "expected_online_users",
            "supernodes",
            "crash_duration_min",
            "client_restart_min",
            "retry_interval_s",
            "protection_delay_min",
            "supernode_restart_min",
            "resync_min",
            "mega_interval_h",
        )
        for name in positive:
            object.__setattr__(self, name, _number(name, getattr(self, name), low=0, strict=True))
        for name in ("buggy_build_share", "crash_share_of_buggy", "supernode_buggy_share"):
            object.__setattr__(self, name, _share(name, getattr(self, name)))
        for name in ("reconnect_cost", "resync_load", "mega_capacity"):
            object.__setattr__(self, name, _number(name, getattr(self, name), low=0))
        for name in ("mega_per_batch", "mega_batches"):
            object.__setattr__(self, name, _whole(name, getattr(self, name)))
        spread = _number("load_spread", self.load_spread, low=0, strict=True)
        if spread > 1:
            raise ValueError(f"load_spread must lie in (0, 1], got {self.load_spread!r}")
        object.__setattr__(self, "load_spread", spread)
        threshold = _number("overload_threshold", self.overload_threshold, low=0, strict=True)
        if threshold < 1 + spread:
            raise ValueError(
                f"overload_threshold ({threshold:g}) must be at least 1 + load_spread "
                f"({1 + spread:g}); below that some supernodes are over their threshold in "
                "normal times"
            )
        object.__setattr__(self, "overload_threshold", threshold)
        if not isinstance(self.self_protection, (bool, np.bool_)):
            raise TypeError(f"self_protection must be True or False, got {self.self_protection!r}")
        object.__setattr__(self, "self_protection", bool(self.self_protection))
        if self.mega_start_h is not None:
            object.__setattr__(
                self, "mega_start_h", _number("mega_start_h", self.mega_start_h, low=0)
            )

    @property
    def clients_per_supernode(self) -> float:
        """Normal load of one supernode, in online clients."""
        return self.expected_online_users / self.supernodes

    @property
    def client_crash_share(self) -> float:
        """Share of all clients that the bug crashes."""
        return self.buggy_build_share * self.crash_share_of_buggy

    @property
    def supernode_crash_share(self) -> float:
        """Share of all supernodes that the bug hits."""
        return self.supernode_buggy_share * self.crash_share_of_buggy

    def with_(self, **changes) -> SupernodeParams:
        """A copy with some parameters changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"unknown SupernodeParams parameter(s): {', '.join(unknown)}")
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every parameter by name (plain values, suitable as keyword arguments)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _card_value(record: dict[str, Any], field_name: str, default):
    value = record["value"]
    if field_name == "self_protection":
        if value not in ("on", "off"):
            raise ValueError(f"card row self_protection must be 'on' or 'off', got {value!r}")
        return value == "on"
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, float) and math.isnan(value):
            raise ValueError(f"card row {field_name!r} has no single value")
    return value


def scenario_2010(path: str | Path | None = None) -> SupernodeParams:
    """The 2010 scenario: :class:`SupernodeParams` read from ``data/scenario_2010.csv``.

    Parameters
    ----------
    path : str or Path, optional
        Card to read instead of ``data/scenario_2010.csv`` (same columns as the 2015 card).

    Raises
    ------
    outage_kit.data.DataError
        If the card is malformed (names the file, the line and the field).
    ValueError
        If a model parameter is missing from the card or has no single value.

    Examples
    --------
    >>> p = scenario_2010()
    >>> p.start_utc, p.expected_online_users
    (Timestamp('2010-12-22 16:00:00+0000', tz='UTC'), 21000000.0)
    >>> p.self_protection
    True
    """
    card_path = CARD_2010 if path is None else Path(path)
    card = data.load_table(card_path, data.SCENARIO_SCHEMA)
    records = {r["parameter"]: r for r in card.to_dict(orient="records")}
    defaults = SupernodeParams()
    values: dict[str, Any] = {}
    for f in fields(SupernodeParams):
        card_name = "failure_window_start_utc" if f.name == "start_utc" else f.name
        if card_name not in records:
            raise ValueError(f"{card_path.name} has no row {card_name!r}, a model parameter")
        values[f.name] = _card_value(records[card_name], f.name, getattr(defaults, f.name))
    for name in ("mega_per_batch", "mega_batches"):
        values[name] = _whole(name, values[name])
    return SupernodeParams(**values)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _mega_counts(params: SupernodeParams, times_min: np.ndarray) -> np.ndarray:
    """Mega-supernodes in service at each time (minutes from the start)."""
    if params.mega_start_h is None or params.mega_batches == 0:
        return np.zeros(times_min.shape)
    since_h = (times_min / 60.0 - params.mega_start_h) / params.mega_interval_h
    batches = np.where(since_h >= 0, np.floor(since_h + 1e-9) + 1, 0)
    return np.minimum(batches, params.mega_batches) * params.mega_per_batch


def _step_loop(
    n_steps: int,
    dt: float,
    users: float,
    supernodes: float,
    crash_steps: int,
    client_crash: float,
    supernode_crash: float,
    p_client_restart: float,
    p_supernode_restart: float,
    p_resync: float,
    p_protect: float,
    attempts_per_min: float,
    reconnect_cost: float,
    threshold: float,
    spread: float,
    resync_load: float,
    mega_capacity: list,
    protection: bool,
) -> list:
    """Advance the counts ``n_steps`` steps; one tuple of counts per step (see run_supernodes).

    Plain Python floats: a step is a few dozen arithmetic operations, which Python does faster
    one by one than NumPy does on arrays this small.
    """
    normal = users / supernodes  # one supernode's normal load, in online clients
    online, reconnecting, crashed = users, 0.0, 0.0
    sn_online, sn_resync, sn_offline = supernodes, 0.0, 0.0
    crashed_sn = shut_sn = 0.0
    client_crash_per_step = client_crash * users / crash_steps
    supernode_crash_per_step = supernode_crash * supernodes / crash_steps
    attempt_share = attempts_per_min * dt
    if attempt_share > 1.0:
        attempt_share = 1.0
    attempt_load = attempts_per_min * reconnect_cost
    resync_work = resync_load * normal
    threshold_load = threshold * normal
    rows = []
    append = rows.append
    for i in range(n_steps):
        mega = mega_capacity[i]
        if i < crash_steps:
            running = online + reconnecting
            if running > 0.0:
                f = client_crash_per_step / running
                if f > 1.0:
                    f = 1.0
                crashed += running * f
                online -= online * f
                reconnecting -= reconnecting * f
            up = sn_online + sn_resync
            if up > 0.0:
                g = supernode_crash_per_step / up
                if g > 1.0:
                    g = 1.0
                user_cap = sn_online * threshold_load
                capacity = user_cap + mega
                orphans = online * g * user_cap / capacity if capacity > 0.0 else online * g
                online -= orphans
                reconnecting += orphans
                crashed_sn += up * g
                sn_offline += up * g
                sn_online -= sn_online * g
                sn_resync -= sn_resync * g
        moved = crashed * p_client_restart
        crashed -= moved
        reconnecting += moved
        moved = sn_offline * p_supernode_restart
        sn_offline -= moved
        sn_resync += moved
        moved = sn_resync * p_resync
        sn_resync -= moved
        sn_online += moved
        user_cap = sn_online * threshold_load
        capacity = user_cap + mega
        load = online + reconnecting * attempt_load + sn_resync * resync_work
        if protection and sn_online > 0.0 and load > 0.0:
            # Share of online supernodes whose load (the average times a factor spread evenly
            # over [1 - spread, 1 + spread]) is above the threshold: factor > capacity / load.
            over = (1.0 + spread - capacity / load) / (2.0 * spread)
            if over > 0.0:
                q = (over if over < 1.0 else 1.0) * p_protect
                orphans = online * q * user_cap / capacity
                online -= orphans
                reconnecting += orphans
                shut = sn_online * q
                sn_online -= shut
                sn_offline += shut
                shut_sn += shut
                user_cap = sn_online * threshold_load
                capacity = user_cap + mega
                load = online + reconnecting * attempt_load + sn_resync * resync_work
        joining = reconnecting * attempt_share
        if load > capacity:
            joining *= capacity / load
        room = capacity - online
        if joining > room:
            joining = room if room > 0.0 else 0.0
        reconnecting -= joining
        online += joining
        append(
            (
                online,
                reconnecting,
                crashed,
                sn_online,
                sn_resync,
                sn_offline,
                crashed_sn,
                shut_sn,
                load,
                capacity,
            )
        )
    return rows


_COLUMNS = (
    "time_utc",
    "hours_since_trigger",
    "users_online",
    "users_online_share",
    "clients_reconnecting",
    "clients_crashed",
    "supernodes_online",
    "supernodes_resyncing",
    "supernodes_offline",
    "supernodes_online_share",
    "supernodes_crashed_share",
    "supernodes_shut_down",
    "mega_supernodes",
    "offered_load_share",
    "capacity_share",
    "load_per_supernode",
)


def run_supernodes(
    params: SupernodeParams | None = None, *, horizon_h: float = 48.0, dt_min: float = 1.0
) -> pd.DataFrame:
    """Run the 2010 supernode model.

    Parameters
    ----------
    params : SupernodeParams, optional
        The scenario (default: ``SupernodeParams()``, the card's values).
    horizon_h : float
        Length of the run in hours, > 0 (48: from 16:00 UTC on 22 December to 16:00 UTC on
        24 December).
    dt_min : float
        Time step in minutes, > 0 and at most ``horizon_h`` hours.

    Returns
    -------
    pandas.DataFrame
        One row per step boundary, the first at the start (normal state), the last at the end:

        ``time_utc``, ``hours_since_trigger``
            When (the crashes begin at hour 0).
        ``users_online``, ``users_online_share``
            Clients online, and their share of ``expected_online_users``.
        ``clients_reconnecting``, ``clients_crashed``
            The other two client states (the three add up to ``expected_online_users``).
        ``supernodes_online``, ``supernodes_resyncing``, ``supernodes_offline``
            User-run supernodes by state (they add up to ``supernodes``);
            ``supernodes_online_share`` is the first over ``supernodes``.
        ``supernodes_crashed_share``
            Supernodes taken offline by the bug so far, over ``supernodes``.
        ``supernodes_shut_down``
            Self-protection shutdowns so far (a supernode can shut down more than once).
        ``mega_supernodes``
            Mega-supernodes in service.
        ``offered_load_share``, ``capacity_share``
            Offered load over the normal load of the network, and capacity (online user-run
            and mega-supernodes) over the normal capacity.
        ``load_per_supernode``
            Offered load on one online user-run supernode over its normal load (1 in normal
            times; 0 while nothing at all is online to carry load).

    Examples
    --------
    Without the bug nothing moves:

    >>> calm = run_supernodes(SupernodeParams(crash_share_of_buggy=0.0), horizon_h=2)
    >>> calm[["users_online", "supernodes_online", "load_per_supernode"]].iloc[-1].tolist()
    [21000000.0, 48000.0, 1.0]

    With it, and the card's values: a fall within the hour, a long low plateau, recovery once
    the mega-supernodes come in, and the user-run supernodes back by the end:

    >>> run = run_supernodes(scenario_2010())
    >>> rows = [0, 60, 160, 1200, 1320, 1610, 2880]
    >>> cols = ["users_online_share", "supernodes_online_share"]
    >>> run.iloc[rows].set_index("time_utc")[cols].round(2)
                               users_online_share  supernodes_online_share
    time_utc
    2010-12-22 16:00:00+00:00                1.00                     1.00
    2010-12-22 17:00:00+00:00                0.56                     0.26
    2010-12-22 18:40:00+00:00                0.25                     0.20
    2010-12-23 12:00:00+00:00                0.30                     0.20
    2010-12-23 14:00:00+00:00                0.42                     0.20
    2010-12-23 18:50:00+00:00                0.77                     0.21
    2010-12-24 16:00:00+00:00                1.00                     1.00
    >>> run.mega_supernodes.iloc[[1200, 1610, 2880]].tolist()
    [100.0, 400.0, 800.0]
    """
    times_min, columns = _simulate(params, horizon_h, dt_min)
    columns["time_utc"] = params.start_utc + pd.to_timedelta(times_min, unit="min")
    columns["hours_since_trigger"] = times_min / 60.0
    return pd.DataFrame({name: columns[name] for name in _COLUMNS})


def _simulate(params, horizon_h, dt_min) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Validate the run settings, run the step loop and return (times in minutes, columns)."""
    params = SupernodeParams() if params is None else params
    if not isinstance(params, SupernodeParams):
        raise TypeError(f"params must be SupernodeParams, got {type(params).__name__}")
    horizon_h = _number("horizon_h", horizon_h, low=0, strict=True)
    dt = _number("dt_min", dt_min, low=0, strict=True)
    if dt > horizon_h * 60:
        raise ValueError(f"dt_min ({dt:g}) must not exceed the run ({horizon_h:g} h)")
    n_steps = int(math.ceil(horizon_h * 60 / dt - 1e-9))
    if n_steps > 5_000_000:
        raise ValueError(f"horizon_h / dt_min gives {n_steps} steps; use a larger dt_min")
    times_min = np.arange(n_steps + 1) * dt
    megas = _mega_counts(params, times_min)
    normal = params.clients_per_supernode
    mega_capacity = megas * params.mega_capacity * normal

    def chance(mean_min: float) -> float:
        return -math.expm1(-dt / mean_min)

    users, supernodes = params.expected_online_users, params.supernodes
    normal_capacity = supernodes * params.overload_threshold * normal
    first = (users, 0.0, 0.0, supernodes, 0.0, 0.0, 0.0, 0.0, users)
    first += (normal_capacity + mega_capacity[0],)
    rows = _step_loop(
        n_steps,
        dt,
        users,
        supernodes,
        max(1, int(round(params.crash_duration_min / dt))),
        params.client_crash_share,
        params.supernode_crash_share,
        chance(params.client_restart_min),
        chance(params.supernode_restart_min),
        chance(params.resync_min),
        chance(params.protection_delay_min),
        60.0 / params.retry_interval_s,
        params.reconnect_cost,
        params.overload_threshold,
        params.load_spread,
        params.resync_load,
        mega_capacity[:-1].tolist(),
        params.self_protection,
    )
    out = np.array([first, *rows], dtype=float)
    online, reconnecting, crashed, sn_online, sn_resync, sn_offline = out[:, :6].T
    crashed_sn, shut_sn, load, capacity = out[:, 6:].T
    safe = np.where(capacity > 0, capacity, 1.0)
    per_supernode = np.where(capacity > 0, params.overload_threshold * load / safe, 0.0)
    columns = {
        "users_online": online,
        "users_online_share": online / users,
        "clients_reconnecting": reconnecting,
        "clients_crashed": crashed,
        "supernodes_online": sn_online,
        "supernodes_resyncing": sn_resync,
        "supernodes_offline": sn_offline,
        "supernodes_online_share": sn_online / supernodes,
        "supernodes_crashed_share": crashed_sn / supernodes,
        "supernodes_shut_down": shut_sn,
        "mega_supernodes": megas,
        "offered_load_share": load / users,
        "capacity_share": capacity / normal_capacity,
        "load_per_supernode": per_supernode,
    }
    return times_min, columns


# --------------------------------------------------------------------------------------------
# Targets from the record, and the score
# --------------------------------------------------------------------------------------------

#: Half-width of the window around a reading whose clock time is only approximate, in minutes.
APPROXIMATE_WINDOW_MIN = 15.0
#: Tolerance on a count of users online, as a share of the reading.
COUNT_TOLERANCE = 0.10
#: Tolerance on a share of expected users online (readings rounded to tens of percent).
SHARE_TOLERANCE = 0.05


def targets_2010(path: str | Path | None = None) -> pd.DataFrame:
    """What the record says, as targets the model is scored against.

    Every number comes from ``data/incident_2010.csv`` (read with
    :func:`outage_kit.data.load_incident_2010`); the windows and tolerances are this module's
    rules:

    * A reading at an exact clock time is compared at that minute; one at an approximate clock
      time over a window of +/- :data:`APPROXIMATE_WINDOW_MIN` minutes around it; the error of a
      ``closest`` target is that of the model's closest approach within the window (the
      record's clock is no more precise than that).
    * Counts of users online get a tolerance of :data:`COUNT_TOLERANCE` of the reading; shares
      of expected users online :data:`SHARE_TOLERANCE` (the press rounded them to tens of
      percent). Where the record gives both a count and a share for one moment, the target is
      the range between the two, the count turned into a share of the 21 M online before the
      fall: the model holds the expected number constant, while Skype's own expectation at
      that hour was lower.
    * "Later that day" (the 23 Dec peak, about 90 % of normal) is the rest of 23 Dec after the
      18:50 reading; "fully restored on 24 Dec" is a share of 95-100 % at some moment of
      24 Dec that the run covers (95 % is what Skype expected for that day, in the note of
      ``full_restore_utc``).
    * The share of supernodes the bug took offline must fall in the record's 25-30 %
      (tolerance: half the width of that range).
    * The load on the surviving supernodes ("about 100 times" normal) is compared with the
      model's peak over the failure window, tolerance 50 (the record gives an order of size).

    Parameters
    ----------
    path : str or Path, optional
        Incident file to read instead of ``data/incident_2010.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target``, ``description``, ``measure`` (a column of
        :func:`run_supernodes`' frame), ``kind`` (``closest`` or ``peak``),
        ``window_start_utc``, ``window_end_utc``, ``low``, ``high`` (the record's value or
        range), ``tolerance``, ``record_ids`` (rows of the incident file).

    Examples
    --------
    >>> t = targets_2010().set_index("target")
    >>> t.loc["online_at_1840", ["low", "high", "tolerance"]].tolist()
    [5140000.0, 5140000.0, 514000.0]
    >>> t.loc["recovery_at_1400", ["low", "high"]].round(3).tolist()
    [0.476, 0.6]
    >>> list(t.index)  # doctest: +NORMALIZE_WHITESPACE
    ['online_after_fall', 'online_at_1840', 'recovery_at_1200', 'recovery_at_1400',
     'recovery_at_1850', 'peak_on_23_dec', 'restored_on_24_dec', 'supernodes_crashed',
     'load_on_survivors']
    """
    incident = data.load_incident_2010(path).set_index("id")

    def value(row_id: str) -> Any:
        return incident.loc[row_id, "value"]

    def reading_time(row_id: str) -> pd.Timestamp:
        return incident.loc[row_id, "time_utc"]

    start = value("failure_window_start_utc")
    before = float(value("online_users_before_drop"))
    half = pd.Timedelta(minutes=APPROXIMATE_WINDOW_MIN)
    rows = []

    def add(target, description, measure, kind, window, low, high, tolerance, ids):
        low, high = sorted((float(low), float(high)))
        rows.append(
            {
                "target": target,
                "description": description,
                "measure": measure,
                "kind": kind,
                "window_start_utc": window[0],
                "window_end_utc": window[1],
                "low": low,
                "high": high,
                "tolerance": float(tolerance),
                "record_ids": ids,
            }
        )

    after = incident.loc["online_users_after_drop"]
    fall_end = start + pd.Timedelta(hours=float(value("drop_duration_h")))
    add(
        "online_after_fall",
        "users online about an hour after the start (21 M fell to 12.5-12.8 M)",
        "users_online",
        "closest",
        (fall_end - half, fall_end + half),
        after["value_low"],
        after["value_high"],
        COUNT_TOLERANCE * float(after["value"]),
        ("online_users_after_drop", "drop_duration_h", "failure_window_start_utc"),
    )
    rid = "online_users_2010_12_22_1840"
    add(
        "online_at_1840",
        "users online at 18:40 UTC on 22 Dec (public counter)",
        "users_online",
        "closest",
        (reading_time(rid), reading_time(rid)),
        value(rid),
        value(rid),
        COUNT_TOLERANCE * float(value(rid)),
        (rid,),
    )
    for hhmm, clock in (("1200", "12:00"), ("1400", "14:00"), ("1850", "18:50")):
        share_id = f"recovery_share_2010_12_23_{hhmm}"
        count_id = f"online_users_2010_12_23_{hhmm}"
        when = reading_time(share_id)
        add(
            f"recovery_at_{hhmm}",
            f"share of expected users online at about {clock} UTC on 23 Dec",
            "users_online_share",
            "closest",
            (when - half, when + half),
            value(share_id),
            float(value(count_id)) / before,
            SHARE_TOLERANCE,
            (share_id, count_id, "online_users_before_drop"),
        )
    last = reading_time("recovery_share_2010_12_23_1850")
    midnight = last.normalize() + pd.Timedelta(days=1)
    add(
        "peak_on_23_dec",
        "later on 23 Dec, users online reached about 90 % of normal (near 20 M)",
        "users_online_share",
        "closest",
        (last + half, midnight),
        value("recovery_share_2010_12_23_peak"),
        float(value("online_users_2010_12_23_peak")) / before,
        SHARE_TOLERANCE,
        ("recovery_share_2010_12_23_peak", "online_users_2010_12_23_peak"),
    )
    restore_day = value("full_restore_utc").normalize()
    add(
        "restored_on_24_dec",
        "fully restored on 24 Dec (Skype expected more than 95 % to connect)",
        "users_online_share",
        "closest",
        (restore_day, restore_day + pd.Timedelta(days=1)),
        0.95,
        1.0,
        SHARE_TOLERANCE,
        ("full_restore_utc",),
    )
    lost = incident.loc["supernodes_lost_share"]
    add(
        "supernodes_crashed",
        "share of supernodes the bug took offline (25-30 %)",
        "supernodes_crashed_share",
        "peak",
        (start, value("failure_window_end_utc")),
        lost["value_low"],
        lost["value_high"],
        (lost["value_high"] - lost["value_low"]) / 2,
        ("supernodes_lost_share",),
    )
    add(
        "load_on_survivors",
        "peak load on a surviving supernode over its normal load (about 100 times)",
        "load_per_supernode",
        "peak",
        (start, value("failure_window_end_utc")),
        value("surviving_supernode_load_factor"),
        value("surviving_supernode_load_factor"),
        0.5 * float(value("surviving_supernode_load_factor")),
        ("surviving_supernode_load_factor", "failure_window_end_utc"),
    )
    return pd.DataFrame(rows)


@lru_cache(maxsize=4)
def _cached_targets(path: str | None) -> pd.DataFrame:
    return targets_2010(path)


def _compare(times_min, column, start_utc, targets: pd.DataFrame) -> tuple[list, list]:
    """Model value and error of every target; ``column(name)`` gives a run's column."""
    models, errors = [], []
    minute = pd.Timedelta(minutes=1)
    for t in targets.itertuples(index=False):
        first = (t.window_start_utc - start_utc) / minute
        last = (t.window_end_utc - start_utc) / minute
        lo = int(np.searchsorted(times_min, first - 1e-9, side="left"))
        hi = int(np.searchsorted(times_min, last + 1e-9, side="right"))
        if hi <= lo:
            raise ValueError(
                f"the run (minutes {times_min[0]:g} to {times_min[-1]:g} after {start_utc}) does "
                f"not reach the window of target {t.target!r} ({t.window_start_utc} to "
                f"{t.window_end_utc}); lengthen horizon_h"
            )
        values = column(t.measure)[lo:hi]
        if t.kind == "peak":
            model = float(values.max())
        else:
            gaps = np.maximum(0.0, np.maximum(t.low - values, values - t.high))
            model = float(values[int(np.argmin(gaps))])
        models.append(model)
        errors.append(max(0.0, t.low - model, model - t.high) / t.tolerance)
    return models, errors


def measure_2010(run: pd.DataFrame, targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Compare a run with the record's targets, target by target.

    Parameters
    ----------
    run : pandas.DataFrame
        A frame from :func:`run_supernodes`, covering every target's window.
    targets : pandas.DataFrame, optional
        From :func:`targets_2010` (default: the record's).

    Returns
    -------
    pandas.DataFrame
        The targets with three more columns: ``model`` (the model's value: its closest
        approach to the record's range within the window, or its peak there), ``error`` (the
        distance from ``model`` to the range ``[low, high]`` over ``tolerance``: 0 inside the
        range, 1 at the edge of the tolerance) and ``met`` (``error <= 1``).

    Raises
    ------
    ValueError
        If the run does not reach a target's window.

    Examples
    --------
    >>> m = measure_2010(run_supernodes(scenario_2010())).set_index("target")
    >>> m.loc["supernodes_crashed", ["low", "high", "model"]].round(3).tolist()
    [0.25, 0.3, 0.25]
    >>> m["met"].all()
    np.True_
    """
    targets = _cached_targets(None) if targets is None else targets
    start = run["time_utc"].iloc[0]
    times_min = ((run["time_utc"] - start) / pd.Timedelta(minutes=1)).to_numpy(dtype=float)
    models, errors = _compare(
        times_min, lambda name: run[name].to_numpy(dtype=float), start, targets
    )
    out = targets.copy()
    out["model"] = models
    out["error"] = errors
    out["met"] = out["error"] <= 1.0
    return out


def fit_score(errors) -> float:
    """How far a run is from the record: the root mean square of the targets' errors.

    Each error is a distance from the record's value (or range) in units of that target's
    tolerance (see :func:`measure_2010`), so every target weighs the same and a score of at
    most 1 means "within tolerance on average"; 0 is a perfect fit.

    Parameters
    ----------
    errors : sequence of float
        One non-negative, finite error per target.

    Examples
    --------
    >>> fit_score([0.0, 0.0, 3.0])
    1.7320508075688772
    >>> fit_score([0.5, 0.5])
    0.5
    >>> fit_score([])
    Traceback (most recent call last):
    ...
    ValueError: errors must hold at least one target's error
    """
    values = np.asarray(list(errors), dtype=float)
    if values.size == 0:
        raise ValueError("errors must hold at least one target's error")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"errors must be finite and >= 0, got {values.tolist()}")
    return float(math.sqrt(float(np.mean(values**2))))


def evaluate_2010(**params) -> dict[str, float]:
    """Run the model with ``params`` and score it against the record: one sweep task.

    Parameters
    ----------
    **params
        Keyword arguments of :class:`SupernodeParams`.

    Returns
    -------
    dict
        ``score`` (:func:`fit_score`), then ``error_<target>`` and ``model_<target>`` for every
        target of :func:`targets_2010`.

    Examples
    --------
    >>> out = evaluate_2010(**scenario_2010().as_dict())
    >>> round(out["score"], 2), round(out["model_online_at_1840"] / 1e6, 2)
    (0.21, 5.24)
    """
    p = SupernodeParams(**params)
    targets = _cached_targets(None)
    times_min, columns = _simulate(p, 48.0, 1.0)
    models, errors = _compare(times_min, columns.__getitem__, p.start_utc, targets)
    out = {"score": fit_score(errors)}
    for name, error in zip(targets["target"], errors, strict=True):
        out[f"error_{name}"] = error
    for name, model in zip(targets["target"], models, strict=True):
        out[f"model_{name}"] = model
    return out


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


def default_grid_2010() -> dict[str, tuple[float, ...]]:
    """The grid :func:`calibrate_2010` searches by default (750 runs).

    * ``supernode_buggy_share``: 0.625 to 0.75, the shares that make 25-30 % of supernodes crash
      when 40 % of those on the buggy build do (the record's range);
    * ``overload_threshold``: 2 (the least that ``load_spread`` = 1 allows) to 3; above about
      2.8 the network absorbs the crash and nothing collapses;
    * ``mega_start_h``: 18 to 20 hours after the start, 10:00 to 12:00 UTC on 23 Dec (the
      record has the network still at 30 % at 12:00 and at 60 % two hours later);
    * ``mega_capacity``: 40 to 60 supernode normal loads per mega-supernode.

    The ranges were narrowed around the best fit of a coarser search over wider ones, so that
    a lesson's call finishes in seconds.

    Examples
    --------
    >>> grid = default_grid_2010()
    >>> list(grid) == list(CALIBRATED)
    True
    >>> math.prod(len(v) for v in grid.values())
    750
    """
    return {
        "supernode_buggy_share": (0.625, 0.65, 0.675, 0.7, 0.725, 0.75),
        "overload_threshold": (2.0, 2.25, 2.5, 2.75, 3.0),
        "mega_start_h": (18.0, 18.5, 19.0, 19.5, 20.0),
        "mega_capacity": (40.0, 45.0, 50.0, 55.0, 60.0),
    }


@dataclass(frozen=True)
class Calibration2010:
    """What :func:`calibrate_2010` found.

    Attributes
    ----------
    best : dict
        The grid point with the lowest score (the first one, on a tie).
    params : SupernodeParams
        The base parameters with ``best`` applied.
    scores : pandas.DataFrame
        Every grid point in grid order: its parameters, ``score``, ``error_<target>`` and
        ``model_<target>`` (from :func:`evaluate_2010`).
    comparison : pandas.DataFrame
        Target by target for ``params``: the record's range, the model's value, the error and
        whether it is met (:func:`measure_2010`).
    run : pandas.DataFrame
        The run of ``params`` (:func:`run_supernodes`).
    """

    best: dict[str, float]
    params: SupernodeParams
    scores: pd.DataFrame
    comparison: pd.DataFrame
    run: pd.DataFrame

    @property
    def score(self) -> float:
        """Score of the best grid point."""
        return fit_score(self.comparison["error"])

    def __repr__(self) -> str:
        met = int(self.comparison["met"].sum())
        return (
            f"Calibration2010(best={self.best}, score={self.score:.3f}, "
            f"targets met={met}/{len(self.comparison)}, runs={len(self.scores)})"
        )


def calibrate_2010(
    grid: dict[str, Any] | None = None,
    *,
    base: SupernodeParams | None = None,
    executor: str | Executor = "processes",
    progress: bool | str = "auto",
    max_workers: int | None = None,
) -> Calibration2010:
    """Fit the unpublished parameters to the record by a grid search.

    Every grid point is run and scored (:func:`evaluate_2010`) through
    :func:`outage_kit.sweeps.sweep`; the point with the lowest :func:`fit_score` wins.

    Parameters
    ----------
    grid : dict of sequences, optional
        Parameter name -> values to try (default :func:`default_grid_2010`); any parameter of
        :class:`SupernodeParams` may be an axis.
    base : SupernodeParams, optional
        Values of the parameters that are not axes (default: the card, :func:`scenario_2010`).
    executor : {"processes", "serial"} or concurrent.futures.Executor
        Where the runs go (see :func:`outage_kit.sweeps.sweep`); every choice gives the same
        result.
    progress : {"auto", True, False}
        Progress bar, as for :func:`outage_kit.sweeps.sweep`.
    max_workers : int, optional
        Processes for ``executor="processes"``.

    Returns
    -------
    Calibration2010

    Examples
    --------
    >>> small = {"overload_threshold": [2.25, 2.5, 3.0], "mega_capacity": [40.0, 50.0]}
    >>> cal = calibrate_2010(small, executor="serial", progress=False)
    >>> cal
    Calibration2010(best={'overload_threshold': 2.5, 'mega_capacity': 50.0}, score=0.213, \
targets met=9/9, runs=6)
    >>> cal.scores[["overload_threshold", "mega_capacity", "score"]].round(2)
       overload_threshold  mega_capacity  score
    0                2.25           40.0   1.23
    1                2.25           50.0   0.73
    2                2.50           40.0   0.87
    3                2.50           50.0   0.21
    4                3.00           40.0  11.87
    5                3.00           50.0  11.87
    """
    from outage_kit import sweeps

    base = scenario_2010() if base is None else base
    if not isinstance(base, SupernodeParams):
        raise TypeError(f"base must be SupernodeParams, got {type(base).__name__}")
    grid = default_grid_2010() if grid is None else grid
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict of parameter -> values, got {grid!r}")
    known = {f.name for f in fields(SupernodeParams)}
    unknown = sorted(set(grid) - known)
    if unknown:
        raise ValueError(
            f"grid axes {unknown} are not SupernodeParams parameters; use some of {sorted(known)}"
        )
    tasks = sweeps.grid(**grid)
    fixed = {k: v for k, v in base.as_dict().items() if k not in grid}
    scores = sweeps.sweep(
        evaluate_2010,
        tasks,
        executor=executor,
        progress=progress,
        max_workers=max_workers,
        description="calibrate_2010",
        fixed=fixed,
    )
    best_row = int(np.argmin(scores["score"].to_numpy()))
    best = {name: _plain(scores.iloc[best_row][name]) for name in grid}
    params = base.with_(**best)
    run = run_supernodes(params)
    return Calibration2010(best, params, scores, measure_2010(run), run)


def _plain(value):
    """A NumPy scalar as the matching Python scalar (for a readable ``best`` dict)."""
    return value.item() if isinstance(value, np.generic) else value
