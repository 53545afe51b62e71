"""A widget panel for lesson 04: push share, wave plan and detection delay over one rollout.

Same pattern as :mod:`outage_kit.widgets`: a pure state function, :func:`rollout_state`,
computes the chart params and the readout (tests call it directly), and :class:`RolloutPanel`
owns the controls and sets two params of an offline ``alt.JupyterChart``
(:func:`outage_kit.rollout_charts.rollout_panel_chart`) on every change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from outage_kit import charts, rollout, rollout_charts
from outage_kit.widgets import Panel, _readout

#: The panel's time axis: two hours in one-minute steps (four waves 30 minutes apart fit).
PANEL_STEP_MIN = 1.0
PANEL_HORIZON_MIN = 120.0


def _fmt_clients(count: float) -> str:
    return f"{count / 1e6:,.2f} million" if count >= 1e6 else f"{count:,.0f}"


def rollout_state(
    push_share: float = 1.0,
    plan: str = "1 %, 10 %, 50 %, 100 %",
    detection_delay_min: float = rollout.DETECTION_DELAY_S / 60.0,
    *,
    versions: Any = None,
    concurrent_users: float | None = None,
    horizon_min: float = PANEL_HORIZON_MIN,
    step_min: float = PANEL_STEP_MIN,
) -> dict[str, Any]:
    """Chart params and readout of the rollout panel for one setting of its controls.

    Parameters
    ----------
    push_share : float
        Share of clients the push is meant to reach in the end (the plan's waves above it are
        dropped; see :func:`outage_kit.rollout.plan_waves`).
    plan : str
        A name of :data:`outage_kit.rollout.WAVE_PLANS`.
    detection_delay_min : float
        Minutes from a wave's start until its health check has a verdict (assumed).
    versions, concurrent_users
        As for :func:`outage_kit.rollout.staged_rollout` (defaults: the 2015 assumptions).
    horizon_min, step_min : float
        The time grid of the chart.

    Returns
    -------
    dict
        ``params`` (``disconnected``: millions per time step; ``halt_min``: minutes, or -1.0
        when the rollout did not halt), ``result`` (the
        :class:`~outage_kit.rollout.RolloutResult`) and ``readout`` (HTML).

    Examples
    --------
    >>> state = rollout_state(1.0, "all at once")
    >>> state["params"]["disconnected"][-1], state["params"]["halt_min"]
    (16.0, 10.0)
    >>> rollout_state(1.0, "1 %, 10 %, 50 %, 100 %")["params"]["disconnected"][-1]
    0.16
    """
    if plan not in rollout.WAVE_PLANS:
        raise ValueError(f"unknown plan {plan!r}; choose one of {list(rollout.WAVE_PLANS)}")
    if not (isinstance(detection_delay_min, (int, float)) and detection_delay_min >= 0):
        raise ValueError(
            f"detection_delay_min must be a number of minutes >= 0, got {detection_delay_min!r}"
        )
    waves = rollout.plan_waves(rollout.WAVE_PLANS[plan], push_share)
    result = rollout.staged_rollout(
        versions,
        waves,
        concurrent_users=concurrent_users,
        detection_delay_s=60.0 * float(detection_delay_min),
    )
    times_s = 60.0 * np.arange(0.0, horizon_min + step_min / 2, step_min)
    disconnected = result.disconnected_at(times_s)
    params = {
        "disconnected": [round(float(v) / 1e6, 6) for v in disconnected],
        "halt_min": -1.0 if result.halted_at_s is None else round(result.halted_at_s / 60.0, 6),
    }
    pushed = int((result.waves["pushed_share"] > 0).sum())
    rows = [
        ("waves planned", ", ".join(f"{w:.0%}" for w in waves)),
        ("waves that went out", f"{pushed} of {len(waves)}"),
        ("clients reached", _fmt_clients(result.total_reached)),
        ("clients disconnected", _fmt_clients(result.total_disconnected)),
    ]
    if result.halted:
        rows.append(
            (
                "health check",
                f"halted the rollout at minute {result.halted_at_s / 60.0:g} (wave "
                f"{result.halted_by_wave} lost {result.incompatible_share:.0%} of its clients)",
            )
        )
    warning = None
    if result.halted and pushed == len(waves):
        warning = "The check came too late: every wave had gone out before it halted anything."
    return {"params": params, "result": result, "readout": _readout(rows, warning)}


class RolloutPanel(Panel):
    """Push share, wave plan and detection delay over one rollout of the bad push (lesson 04).

    Examples
    --------
    >>> panel = RolloutPanel()
    >>> panel.chart.params.disconnected[-1]
    0.16
    >>> panel.plan.value = "all at once"
    >>> panel.chart.params.disconnected[-1]
    16.0
    >>> panel.share.value = 0.5
    >>> panel.chart.params.disconnected[-1]
    8.0
    """

    def __init__(
        self,
        push_share: float = 1.0,
        plan: str = "1 %, 10 %, 50 %, 100 %",
        detection_delay_min: float = rollout.DETECTION_DELAY_S / 60.0,
        *,
        versions: Any = None,
        concurrent_users: float | None = None,
    ) -> None:
        import ipywidgets as w

        self.versions = rollout.load_client_versions_2015() if versions is None else versions
        self.concurrent_users = concurrent_users
        first = rollout_state(
            push_share,
            plan,
            detection_delay_min,
            versions=self.versions,
            concurrent_users=concurrent_users,
        )["params"]
        self.chart = charts.interactive(
            rollout_charts.rollout_panel_chart(
                step_min=PANEL_STEP_MIN,
                points=len(first["disconnected"]),
                disconnected=first["disconnected"],
            )
        )
        self.share = w.FloatSlider(
            value=push_share,
            min=0.01,
            max=1.0,
            step=0.01,
            description="push share",
            readout_format=".0%",
        )
        self.plan = w.Dropdown(options=list(rollout.WAVE_PLANS), value=plan, description="waves")
        self.delay = w.FloatSlider(
            value=detection_delay_min,
            min=0.0,
            max=60.0,
            step=5.0,
            description="check (min)",
        )
        self.controls = [self.share, self.plan, self.delay]
        self._build()

    def state(self) -> dict:
        return rollout_state(
            self.share.value,
            self.plan.value,
            self.delay.value,
            versions=self.versions,
            concurrent_users=self.concurrent_users,
        )
