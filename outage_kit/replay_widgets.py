"""The replay with a play button (lesson 06): an ipywidgets ``Play`` driving the replay's chart.

The replay chart's slider is a Vega-Lite param (:func:`replay_charts.replay_explorer_chart`), so
it works with no kernel, in slides and exported decks. Vega-Lite has no timer, so the play button
lives here: an ipywidgets ``Play`` linked in the browser to a time slider; each step sets the
chart's ``hour`` param from :func:`replay_state`, a pure function of the replay and the time.
"""

from __future__ import annotations

import math

import pandas as pd

from outage_kit import charts, replay_charts, scenarios
from outage_kit.widgets import Panel, _readout

#: Time step of the play button and slider, in hours.
STEP_H = 0.5


def replay_state(replay: scenarios.Replay, hour: float) -> dict:
    """Chart params and readout of the replay panel at ``hour`` (hours since 00:00 UTC).

    Returns
    -------
    dict
        ``params`` (``hour``), ``phase`` and ``readout`` (HTML: the clock, the phase, the
        clients online, the services down and the share of sign-ins that the sign-in service
        completes but that fail in the services behind it, at that moment).

    Examples
    --------
    >>> r = scenarios.skype_2015().run()
    >>> s = replay_state(r, 13.5)
    >>> s["params"], s["phase"]
    ({'hour': 13.5}, 'stuck')
    >>> "100%" in s["readout"], "100%" in replay_state(r, 23.0)["readout"]
    (True, False)
    >>> replay_state(r, 25.0)
    Traceback (most recent call last):
    ...
    ValueError: hour must lie in [0, 24), got 25.0
    """
    if isinstance(hour, bool) or not isinstance(hour, (int, float)) or math.isnan(hour):
        raise ValueError(f"hour must be a number, got {hour!r}")
    end_h = (float(replay.timeseries["time_s"].iloc[-1]) + replay.scenario.output_every_s) / 3600
    if not 0 <= hour < end_h:
        raise ValueError(f"hour must lie in [0, {end_h:g}), got {hour!r}")
    seconds = float(hour) * 3600.0
    ts = replay.timeseries
    i = int((ts["time_s"] <= seconds + 1e-9).to_numpy().nonzero()[0][-1])
    row = ts.iloc[i]
    when = replay.scenario.start_utc + pd.Timedelta(seconds=seconds)
    phase = str(row["phase"])
    down = [c for c in ts.columns if c.endswith("_health")]
    n_down = sum(str(row[c]) in ("overloaded", "failing", "removed") for c in down)
    share = row.get("downstream_failure_share")
    failing = "n/a" if share is None else f"{float(share):.0%}"
    readout = _readout(
        [
            ("time", when.strftime("%H:%M UTC")),
            ("phase", phase),
            ("clients online (model)", f"{float(row['connected_share']):.0%}"),
            ("services down (model)", f"{n_down} of {len(down)}" if down else "n/a"),
            ("sign-ins failing behind sign-in (model)", failing),
        ]
    )
    return {"params": {"hour": round(float(hour), 6)}, "phase": phase, "readout": readout}


class ReplayPanel(Panel):
    """A play button and a time slider over the replayed day (lesson 06).

    Examples
    --------
    >>> panel = ReplayPanel()
    >>> panel.time.value = 27  # half-hour steps: 13:30 UTC
    >>> panel.chart.params.hour
    13.5
    >>> "stuck" in panel.readout.value
    True
    """

    def __init__(self, replay: scenarios.Replay | None = None, hour: float = 8.0) -> None:
        import ipywidgets as w

        self.replay = scenarios.skype_2015().run() if replay is None else replay
        steps = int(round(24 / STEP_H)) - 1
        start = int(round(hour / STEP_H))
        self.chart = charts.interactive(
            replay_charts.replay_explorer_chart(self.replay, value=start * STEP_H)
        )
        self.play = w.Play(value=start, min=0, max=steps, step=1, interval=700, description="play")
        self.time = w.IntSlider(
            value=start,
            min=0,
            max=steps,
            description="half-hour",
            continuous_update=True,
        )
        w.jslink((self.play, "value"), (self.time, "value"))
        self.play.observe(lambda change: setattr(self.time, "value", change["new"]), "value")
        self.controls = [self.play, self.time]
        self._build()

    def state(self) -> dict:
        return replay_state(self.replay, self.time.value * STEP_H)
