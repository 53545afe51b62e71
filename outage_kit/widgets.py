"""Interactive panels: ipywidgets controls driving offline ``alt.JupyterChart`` charts.

Each panel pairs a pure *state* function (numbers in, chart params and a readout
out; tests call it directly) with a thin class that owns the controls. A control
change calls :meth:`Panel.update`, which evaluates the state function and sets the
chart's Vega-Lite params: one small message to the browser, no chart rebuild.
"""

from __future__ import annotations

import html
from typing import Any

from outage_kit import charts, queueing, tables

#: Chart-param value for "no steady state": Vega-Lite params keep the type of their first value,
#: so a float sentinel stands in for None, and charts hide markers whose value is negative.
NO_STEADY_STATE = -1.0


def _fmt_ms(seconds: float) -> str:
    milliseconds = 1000.0 * seconds
    return f"{milliseconds:,.0f} ms" if milliseconds >= 10 else f"{milliseconds:.1f} ms"


def _readout(rows: list[tuple[str, str]], warning: str | None = None) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:1em'>{html.escape(key)}</td>"
        f"<td><b>{html.escape(value)}</b></td></tr>"
        for key, value in rows
    )
    note = (
        f"<p style='color:{charts.PALETTE[1]}'><b>{html.escape(warning)}</b></p>" if warning else ""
    )
    return f"<table>{cells}</table>{note}"


def latency_state(arrival_rate_per_s: float, servers: int, service_rate_per_s: float) -> dict:
    """Chart params and readout of the latency panel for one slider position.

    Parameters
    ----------
    arrival_rate_per_s : float
        Requests arriving per second.
    servers : int
        Number of servers c.
    service_rate_per_s : float
        Requests one server completes per second.

    Returns
    -------
    dict
        ``params`` (``servers``, ``arrival_rate``, ``response_ms``:
        :data:`NO_STEADY_STATE` when none exists), ``stable`` (bool) and
        ``readout`` (HTML).

    Examples
    --------
    >>> state = latency_state(5.0, 1, 10.0)
    >>> state["params"]
    {'servers': 1, 'arrival_rate': 5.0, 'response_ms': 200.0}
    >>> latency_state(12.0, 1, 10.0)["params"]["response_ms"]
    -1.0
    """
    utilisation = arrival_rate_per_s / (servers * service_rate_per_s)
    params = {"servers": int(servers), "arrival_rate": float(arrival_rate_per_s)}
    if utilisation >= 1:
        params["response_ms"] = NO_STEADY_STATE
        readout = _readout(
            [("utilisation", f"{utilisation:.0%}")],
            warning="Arrivals outpace the servers: the queue grows without bound and no "
            "steady state exists. Add servers or lower the arrival rate.",
        )
        return {"params": params, "stable": False, "readout": readout}
    metrics = queueing.mmc_metrics(arrival_rate_per_s, service_rate_per_s, servers)
    p99_wait_s = queueing.mmc_wait_quantile(0.99, arrival_rate_per_s, service_rate_per_s, servers)
    params["response_ms"] = round(1000.0 * float(metrics.mean_response_s), 3)
    readout = _readout(
        [
            ("utilisation", f"{utilisation:.1%}"),
            ("probability a request waits", f"{float(metrics.prob_wait):.1%}"),
            ("mean wait in queue", _fmt_ms(float(metrics.mean_wait_s))),
            ("99th percentile of the wait", _fmt_ms(float(p99_wait_s))),
            ("mean response (wait + service)", _fmt_ms(float(metrics.mean_response_s))),
            ("mean requests in the system", f"{float(metrics.mean_in_system):,.1f}"),
        ]
    )
    return {"params": params, "stable": True, "readout": readout}


class Panel:
    """Base class: a chart, its controls and a readout, laid out in one box.

    Subclasses set ``self.chart`` (a JupyterChart), ``self.controls`` (a list of
    ipywidgets) and implement :meth:`state`.
    """

    chart: Any
    controls: list[Any]

    def _build(self) -> None:
        import ipywidgets as w

        self.readout = w.HTML()
        for control in self.controls:
            control.observe(lambda _change: self.update(), names="value")
        self.view = w.VBox([w.HBox(self.controls), self.readout, self.chart])
        self.update()

    def state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self) -> dict:
        """Recompute the state for the current control values and push it to the chart."""
        state = self.state()
        with self.chart.hold_sync():
            for name, value in state["params"].items():
                setattr(self.chart.params, name, value)
        self.readout.value = state["readout"]
        return state

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"<{type(self).__name__}>"
        return bundle


class LatencyPanel(Panel):
    """Sliders for arrival rate and servers over the M/M/c hockey stick (lesson 01).

    Examples
    --------
    >>> panel = LatencyPanel(servers=2, arrival_rate_per_s=15.0)
    >>> int(panel.chart.params.servers), panel.chart.params.response_ms
    (2, 228.571)
    >>> panel.servers.value = 1
    >>> panel.chart.params.response_ms
    -1.0
    """

    def __init__(
        self,
        service_rate_per_s: float = 10.0,
        max_servers: int = 16,
        servers: int = 1,
        arrival_rate_per_s: float = 5.0,
    ) -> None:
        import ipywidgets as w

        self.service_rate_per_s = float(service_rate_per_s)
        curves = tables.latency_curves(service_rate_per_s, range(1, max_servers + 1))
        first = latency_state(arrival_rate_per_s, servers, service_rate_per_s)["params"]
        self.chart = charts.interactive(
            charts.latency_chart(
                curves,
                service_rate_per_s=service_rate_per_s,
                servers=servers,
                arrival_rate_per_s=arrival_rate_per_s,
                mean_response_ms=first["response_ms"],
            )
        )
        self.arrival = w.FloatSlider(
            value=arrival_rate_per_s,
            min=0.0,
            max=max_servers * service_rate_per_s,
            step=0.5,
            description="arrivals /s",
            continuous_update=True,
        )
        self.servers = w.IntSlider(
            value=servers, min=1, max=max_servers, description="servers", continuous_update=True
        )
        self.controls = [self.arrival, self.servers]
        self._build()

    def state(self) -> dict:
        return latency_state(self.arrival.value, self.servers.value, self.service_rate_per_s)


def finite_queue_state(
    arrival_rate_per_s: float, queue_capacity: int, servers: int, service_rate_per_s: float
) -> dict:
    """Chart params and readout of the finite-queue panel for one slider position.

    Examples
    --------
    >>> state = finite_queue_state(20.0, 0, 1, 10.0)
    >>> state["params"]["prob_block"]
    0.666667
    """
    metrics = queueing.mmck_metrics(
        arrival_rate_per_s, service_rate_per_s, servers, servers + int(queue_capacity)
    )
    prob_block = float(metrics.prob_block)
    response_s = float(metrics.mean_response_s)
    params = {
        "queue_capacity": int(queue_capacity),
        "arrival_rate": float(arrival_rate_per_s),
        "prob_block": round(prob_block, 6),
        "response_ms": round(1000.0 * response_s, 3),
    }
    offered = arrival_rate_per_s / (servers * service_rate_per_s)
    readout = _readout(
        [
            ("offered load", f"{offered:.0%} of capacity"),
            ("requests rejected", f"{prob_block:.1%}"),
            ("requests served per second", f"{float(metrics.throughput_per_s):,.1f}"),
            ("mean response of accepted requests", _fmt_ms(response_s)),
            (
                "longest possible queue wait",
                _fmt_ms(queue_capacity / (servers * service_rate_per_s)),
            ),
        ]
    )
    return {"params": params, "stable": True, "readout": readout}


class FiniteQueuePanel(Panel):
    """Sliders for arrival rate and queue size over an M/M/c/K queue (lesson 01).

    Examples
    --------
    >>> panel = FiniteQueuePanel(servers=1, queue_capacity=0, arrival_rate_per_s=20.0)
    >>> panel.chart.params.prob_block
    0.666667
    >>> panel.queue.value = 10
    >>> panel.chart.params.prob_block < 0.6
    True
    """

    QUEUE_SIZES = (0, 1, 2, 5, 10, 20, 50, 100, 200)

    def __init__(
        self,
        service_rate_per_s: float = 10.0,
        servers: int = 4,
        queue_capacity: int = 10,
        arrival_rate_per_s: float = 44.0,
        max_utilisation: float = 2.0,
    ) -> None:
        import ipywidgets as w

        if queue_capacity not in self.QUEUE_SIZES:
            raise ValueError(
                f"queue_capacity must be one of {self.QUEUE_SIZES}, got {queue_capacity}"
            )
        self.service_rate_per_s = float(service_rate_per_s)
        self.servers_count = int(servers)
        finite = tables.finite_queue_curves(
            service_rate_per_s, servers, self.QUEUE_SIZES, max_utilisation=max_utilisation
        )
        first = finite_queue_state(arrival_rate_per_s, queue_capacity, servers, service_rate_per_s)
        self.chart = charts.interactive(
            charts.finite_queue_panel_chart(
                finite,
                queue_capacity=queue_capacity,
                arrival_rate_per_s=arrival_rate_per_s,
                prob_block=first["params"]["prob_block"],
                response_ms=first["params"]["response_ms"],
            )
        )
        self.arrival = w.FloatSlider(
            value=arrival_rate_per_s,
            min=0.0,
            max=max_utilisation * servers * service_rate_per_s,
            step=0.5,
            description="arrivals /s",
        )
        self.queue = w.SelectionSlider(
            options=list(self.QUEUE_SIZES), value=queue_capacity, description="queue places"
        )
        self.controls = [self.arrival, self.queue]
        self._build()

    def state(self) -> dict:
        return finite_queue_state(
            self.arrival.value, self.queue.value, self.servers_count, self.service_rate_per_s
        )


# --- lesson 02: timeouts and retries ----------------------------------------------------------

#: Keys of the retry panel's chart params, and the time series they carry.
RETRY_SERIES = {
    "arrivals": "arrival_rate_per_s",
    "offered": "offered_rate_per_s",
    "throughput": "throughput_per_s",
    "goodput": "goodput_per_s",
}


def retry_state(setup: str, timeout_s: float, utilisation: float, scenario=None, seed: int = 0):
    """Chart params and readout of the retry panel: one seeded run of the spike scenario.

    Parameters
    ----------
    setup : str
        A name of :func:`outage_kit.retries.retry_setups`.
    timeout_s : float
        Client timeout per attempt (must exceed the mean service time).
    utilisation : float
        Normal load as a share of capacity (the base arrival rate is this times capacity).
    scenario : outage_kit.retries.SpikeScenario, optional
        The rest of the set-up (default: the lesson's).
    seed : int
        Randomness of the run.

    Returns
    -------
    dict
        ``params`` (one list per key of :data:`RETRY_SERIES`, one value per time bin),
        ``stuck`` (bool: goodput had not come back at the end), ``summary`` (the run's
        :class:`~outage_kit.simulation.SimulationSummary`) and ``readout`` (HTML).

    Examples
    --------
    >>> state = retry_state("no retries", 0.3, 0.6)
    >>> state["stuck"], len(state["params"]["goodput"])
    (False, 60)
    >>> retry_state("immediate retries", 0.3, 0.6)["stuck"]
    True
    """
    from outage_kit import retries

    base = retries.SpikeScenario() if scenario is None else scenario
    s = base.replace(
        timeout_s=float(timeout_s), base_rate_per_s=round(utilisation * base.capacity_per_s, 9)
    )
    setups = retries.retry_setups(s)
    if setup not in setups:
        raise ValueError(f"unknown set-up {setup!r}; choose one of {list(setups)}")
    retry, _ = setups[setup]
    result = s.run(setups[setup], seed=seed)
    series = result.timeseries
    params = {key: [round(float(v), 3) for v in series[col]] for key, col in RETRY_SERIES.items()}
    stuck = retries.is_stuck(result)
    summary = result.summary
    late = series[series["time_s"] >= s.spike_end_s]
    sustains = retries.storm_sustains(s.utilisation, retry.max_attempts)
    rows = [
        ("normal load", f"{s.base_rate_per_s:,.0f} requests/s ({s.utilisation:.0%} of capacity)"),
        (
            "load in a storm (every attempt sent)",
            f"{retries.storm_offered_load(s.base_rate_per_s, retry.max_attempts):,.0f} attempts/s",
        ),
        ("requests answered in time", f"{summary.success_fraction:.1%}"),
        ("attempts per request", f"{summary.attempts_per_request:.2f}"),
        ("work wasted on clients that had gone", f"{summary.wasted_fraction:.1%}"),
        ("goodput after the spike", f"{late['goodput_per_s'].mean():,.1f} per second"),
    ]
    warning = None
    if stuck:
        warning = "Stuck: the spike is over, but goodput has not come back."
        if sustains:
            warning += " Every request now sends all its attempts, more than the capacity."
    return {
        "params": params,
        "stuck": stuck,
        "summary": summary,
        "readout": _readout(rows, warning),
    }


class RetryPanel(Panel):
    """Retry set-up, client timeout and normal load over a simulated spike (lesson 02).

    Every control change runs one seeded simulation (about 10 to 30 ms) and sends its time
    series to the chart as four array params.

    Examples
    --------
    >>> panel = RetryPanel(setup="immediate retries")
    >>> panel.chart.params.goodput[-1]
    0.0
    >>> panel.setup.value = "drop late work"
    >>> panel.chart.params.goodput[-1] > 40
    True
    """

    def __init__(
        self,
        setup: str = "immediate retries",
        timeout_s: float = 0.3,
        utilisation: float = 0.6,
        scenario=None,
        seed: int = 0,
    ) -> None:
        import ipywidgets as w

        from outage_kit import retries

        self.scenario = retries.SpikeScenario() if scenario is None else scenario
        self.seed = int(seed)
        first = retry_state(setup, timeout_s, utilisation, self.scenario, self.seed)
        s = self.scenario
        self.chart = charts.interactive(
            charts.retry_panel_chart(
                bin_s=s.bin_s,
                bins=len(first["params"]["goodput"]),
                series=first["params"],
                capacity_per_s=s.capacity_per_s,
                spike_start_s=s.spike_start_s,
                spike_end_s=s.spike_end_s,
            )
        )
        self.setup = w.Dropdown(
            options=list(retries.retry_setups(s)), value=setup, description="set-up"
        )
        self.timeout = w.FloatSlider(
            value=timeout_s,
            min=round(s.mean_service_s * 1.5, 9),
            max=round(s.mean_service_s * 10, 9),
            step=round(s.mean_service_s / 2, 9),
            description="timeout (s)",
            readout_format=".2f",
        )
        self.load = w.FloatSlider(
            value=utilisation, min=0.2, max=0.9, step=0.05, description="normal load"
        )
        self.controls = [self.setup, self.timeout, self.load]
        self._build()

    def state(self) -> dict:
        return retry_state(
            self.setup.value, self.timeout.value, self.load.value, self.scenario, self.seed
        )
