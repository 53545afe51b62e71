"""Scenarios and a widget panel for lesson 05: the reconnection storm over a whole day.

The scenario helpers build :class:`~outage_kit.storm.StormParams` from the 2015 parameter card
with the four things the lesson varies: the trigger's size, the sign-in capacity, the client
timeout and the reconnect policy. Same widget pattern as :mod:`outage_kit.widgets`: a pure
state function, :func:`storm_state`, runs the whole day and returns the chart params and the
readout (tests call it directly); :class:`StormPanel` owns the controls and sets the params of
an offline ``alt.JupyterChart`` (:func:`outage_kit.storm_charts.storm_panel_chart`).
"""

from __future__ import annotations

import math
from typing import Any

from outage_kit import charts, storm, storm_charts
from outage_kit.policies import (
    AdmissionControl,
    ExponentialBackoff,
    FixedDelay,
    ServerPolicy,
)
from outage_kit.widgets import Panel, _readout

#: Trigger sizes (share of the clients online knocked off) precomputed for the slides.
TRIGGER_SHARES = (0.005, 0.01, 0.015, 0.02, 0.05, 0.1, 0.2, 0.4)
#: Assumed for the lesson: the operators act two hours after the push (10:23 UTC).
LEVER_DELAY_S = 2 * 3600.0
#: The levers of the lesson, in the order the lesson shows them.
LEVERS = (
    "no action",
    "gRPC backoff (from the start)",
    "capacity × 2",
    "capacity × 5",
    "drop expired work",
    "short queue (10 s)",
    "admission control (30 %)",
)
#: Output resolution of the whole-day runs: one row a minute (1,440 rows).
DAY_OUTPUT_EVERY_S = 60.0


def _grpc() -> ExponentialBackoff:
    return storm.scenario_from_card("grpc").backoff


def retry_choices() -> dict[str, Any]:
    """The reconnect policies the lesson compares, by name (the gRPC values from the card).

    Examples
    --------
    >>> list(retry_choices())
    ['immediate (card)', 'exponential, no jitter', 'gRPC backoff (card)']
    """
    grpc = _grpc()
    return {
        "immediate (card)": FixedDelay(0.0),
        "exponential, no jitter": ExponentialBackoff(
            base_s=grpc.base_s, cap_s=grpc.cap_s, multiplier=grpc.multiplier, jitter=0.0
        ),
        "gRPC backoff (card)": grpc,
    }


def storm_scenario(
    trigger_share: float | None = None,
    *,
    capacity_factor: float = 1.0,
    timeout_s: float | None = None,
    retry: str = "immediate (card)",
    actions: tuple = (),
    output_every_s: float = DAY_OUTPUT_EVERY_S,
) -> storm.StormParams:
    """The card's day (midnight to midnight UTC, push at 08:23) with the lesson's four knobs.

    Parameters
    ----------
    trigger_share : float, optional
        Share of the clients online that the push knocks off (default: the card's assumed 0.4).
    capacity_factor : float
        Sign-in capacity over the card's (whose headroom over normal load is an assumed 1.5);
        the queue bound scales with it (it holds an assumed 120 s of capacity).
    timeout_s : float, optional
        Client timeout (default: the card's assumed 20 s).
    retry : str
        A name of :func:`retry_choices`.
    actions : tuple
        Recovery actions, as for :class:`~outage_kit.storm.StormParams`.
    output_every_s : float
        Output resolution.

    Examples
    --------
    >>> p = storm_scenario(0.01, capacity_factor=2.0)
    >>> p.version_mix.affected_share(), round(p.normal_utilisation, 3)
    (0.01, 0.333)
    """
    choices = retry_choices()
    if retry not in choices:
        raise ValueError(f"unknown retry {retry!r}; choose one of {list(choices)}")
    factor = float(capacity_factor)
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"capacity_factor must be a number > 0, got {capacity_factor!r}")
    card = storm.scenario_from_card(
        affected_share=trigger_share, output_every_s=output_every_s, actions=tuple(actions)
    )
    changes: dict[str, Any] = {
        "retry": choices[retry],
        "signin_capacity_per_s": card.signin_capacity_per_s * factor,
        "max_queue_length": card.max_queue_length * factor,
    }
    if timeout_s is not None:
        changes["timeout_s"] = float(timeout_s)
    return card.with_(**changes)


def push_time_s() -> float:
    """Seconds from midnight UTC to the push (08:23 UTC on the card).

    Examples
    --------
    >>> push_time_s()
    30180.0
    """
    return storm.scenario_from_card().triggers[0].time_s


def lever_scenario(name: str) -> storm.StormParams:
    """The card's day with one lever of :data:`LEVERS` (actions at the push + 2 h, assumed).

    Examples
    --------
    >>> lever_scenario("capacity × 2").actions
    (AddCapacity(time_s=37380.0, factor=2.0),)
    """
    if name not in LEVERS:
        raise ValueError(f"unknown lever {name!r}; choose one of {list(LEVERS)}")
    at = push_time_s() + LEVER_DELAY_S
    base = storm_scenario()
    cap = base.signin_capacity_per_s
    if name == "gRPC backoff (from the start)":
        return storm_scenario(retry="gRPC backoff (card)")
    actions = {
        "no action": (),
        "capacity × 2": (storm.AddCapacity(at, 2.0),),
        "capacity × 5": (storm.AddCapacity(at, 5.0),),
        "drop expired work": (storm.ServerPolicyAt(at, ServerPolicy(drop_expired=True)),),
        "short queue (10 s)": (
            storm.ServerPolicyAt(at, ServerPolicy(AdmissionControl(max_queue_length=10 * cap))),
        ),
        "admission control (30 %)": (
            storm.ServerPolicyAt(at, ServerPolicy(AdmissionControl(rate_per_s=0.3 * cap))),
        ),
    }[name]
    return base.with_(actions=actions)


def recovers(result: storm.StormResult) -> bool:
    """The lesson's verdict on a day: not stuck over the last 8 hours (from 16:00 UTC).

    Examples
    --------
    >>> recovers(storm.run_storm(storm_scenario(0.01)))
    True
    """
    return not storm.is_stuck(result, after_s=16 * 3600.0)


def _hours(seconds: float) -> str:
    if math.isinf(seconds):
        return "not by midnight"
    minutes = seconds / 60.0
    return f"{minutes:,.0f} min" if minutes < 120 else f"{minutes / 60:,.1f} h"


def storm_state(
    trigger_share: float = 0.4,
    capacity_factor: float = 1.0,
    timeout_s: float = 20.0,
    retry: str = "immediate (card)",
) -> dict[str, Any]:
    """Chart params and readout of the storm panel: the whole day, run at once.

    Returns
    -------
    dict
        ``params`` (``connected``: share of clients online, ``goodput`` and ``served``:
        sign-ins per second over capacity, ``offered``: offered load over capacity, one value
        per minute of the day), ``result`` (the
        :class:`~outage_kit.storm.StormResult`) and ``readout`` (HTML).

    Examples
    --------
    >>> state = storm_state(0.01)
    >>> len(state["params"]["connected"]), state["params"]["connected"][-1]
    (1440, 1.0)
    >>> storm_state(0.4)["params"]["connected"][-1]
    0.0
    """
    params = storm_scenario(
        trigger_share, capacity_factor=capacity_factor, timeout_s=timeout_s, retry=retry
    )
    result = storm.run_storm(params)
    ts = result.timeseries
    cap = ts["capacity_per_s"]
    chart_params = {
        "connected": [round(float(v), 6) for v in ts["connected_share"]],
        "goodput": [round(float(v), 6) for v in ts["goodput_per_s"] / cap],
        "served": [round(float(v), 6) for v in ts["served_signins_per_s"] / cap],
        "offered": [round(float(v), 6) for v in ts["load_ratio"]],
    }
    knocked = params.population * params.version_mix.affected_share()
    late = ts[ts.time_s >= 16 * 3600.0]
    rows = [
        ("clients knocked off", f"{knocked / 1e6:,.2f} million"),
        ("sign-in capacity", f"{params.signin_capacity_per_s:,.0f} per second"),
        (
            "herd ÷ spare capacity",
            f"{knocked / (params.signin_capacity_per_s * (1 - params.normal_utilisation)):,.0f} s",
        ),
        (
            "offered load at noon",
            f"{float(ts.load_ratio[ts.time_s == 12 * 3600.0].iloc[0]):,.1f} × capacity",
        ),
        ("online at midnight", f"{ts.connected_share.iloc[-1]:.0%}"),
        ("back online after", _hours(storm.time_to_recover_s(result))),
        (
            "useful share of sign-in work after 16:00",
            f"{late.goodput_per_s.sum() / max(late.served_signins_per_s.sum(), 1e-12):.0%}",
        ),
    ]
    warning = (
        None
        if recovers(result)
        else "Stuck: the service is busy, and almost none of its work reconnects anyone."
    )
    return {"params": chart_params, "result": result, "readout": _readout(rows, warning)}


class StormPanel(Panel):
    """Trigger size, capacity, timeout and reconnect policy over the whole day (lesson 05).

    Examples
    --------
    >>> panel = StormPanel()
    >>> panel.chart.params.connected[-1]
    0.0
    >>> panel.share.value = 0.01
    >>> panel.chart.params.connected[-1]
    1.0
    """

    def __init__(
        self,
        trigger_share: float = 0.4,
        capacity_factor: float = 1.0,
        timeout_s: float = 20.0,
        retry: str = "immediate (card)",
    ) -> None:
        import ipywidgets as w

        first = storm_state(trigger_share, capacity_factor, timeout_s, retry)["params"]
        self.chart = charts.interactive(
            storm_charts.storm_panel_chart(
                step_h=DAY_OUTPUT_EVERY_S / 3600.0,
                connected=first["connected"],
                goodput=first["goodput"],
                served=first["served"],
                offered=first["offered"],
            )
        )
        self.share = w.FloatSlider(
            value=trigger_share,
            min=0.005,
            max=0.6,
            step=0.005,
            description="knocked off",
            readout_format=".1%",
        )
        self.capacity = w.FloatSlider(
            value=capacity_factor, min=0.5, max=10.0, step=0.5, description="capacity ×"
        )
        self.timeout = w.FloatSlider(
            value=timeout_s, min=5.0, max=120.0, step=5.0, description="timeout (s)"
        )
        self.retry = w.Dropdown(options=list(retry_choices()), value=retry, description="retry")
        self.controls = [self.share, self.capacity, self.timeout, self.retry]
        self._build()

    def state(self) -> dict:
        return storm_state(
            self.share.value, self.capacity.value, self.timeout.value, self.retry.value
        )
