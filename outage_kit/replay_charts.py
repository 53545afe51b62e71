"""Charts and tables for lesson 06 (the cascade, step by step): the 2015 replay in time.

The replay is :meth:`outage_kit.scenarios.Scenario.run`. This module turns it into

* frame tables for :func:`outage_kit.graph_charts.service_graph_frames_chart` (one frame per
  30 minutes by default: 48 frames, well under 5,000 rows per chart);
* :func:`replay_day_chart`: the population over the day (connected share, sign-in load over
  capacity) with the phases shaded and the chosen moment marked by a Vega-Lite param;
* :func:`replay_explorer_chart`: both stacked, driven by one param bound to a browser slider
  (no kernel needed: it works in RISE and in the exported deck). Vega-Lite has no timer, so
  the play button lives in :mod:`outage_kit.replay_widgets` (it needs a kernel);
* :func:`verdicts_table` and :func:`variants_table`: onset, restoration and duration of the
  replay, of the public record and of one-change variants of the scenario.

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, rounded data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from outage_kit import data, scenarios, services, storm
from outage_kit.charts import PALETTE, rounded
from outage_kit.graph_charts import service_graph_frames_chart
from outage_kit.policies import NoRetry

__all__ = [
    "PHASE_CAPTIONS",
    "PHASE_COLOURS",
    "VARIANTS",
    "phase_spans",
    "record_verdicts",
    "replay_day_chart",
    "replay_explorer_chart",
    "replay_frames",
    "replay_graph_chart",
    "variant_scenario",
    "variants_table",
    "verdicts_table",
]

#: One line per phase of :data:`outage_kit.scenarios.PHASES`: what the replay shows then.
PHASE_CAPTIONS = {
    "normal": "normal: everyone signed in, every service healthy",
    "push": "push: the configuration change knocks clients off (assumed 08:20)",
    "disconnection": "disconnection: clients are off, nothing is overloaded yet",
    "storm": "storm: sign-in overloaded, but still reconnecting clients",
    "cascade": "cascade: sign-in overloaded, and the services behind it too",
    "stuck": "stuck: sign-in busy with expired attempts, almost no one gets back",
    "rebalancing": "rebalancing: sign-ins admitted at half capacity (assumed 23:10)",
    "restoration": "restoration: clients back, no consumer service overloaded",
}

#: Background colour of each phase on the day chart.
PHASE_COLOURS = {
    "normal": "#ffffff",
    "push": "#333333",
    "disconnection": "#f0e442",
    "storm": "#e69f00",
    "cascade": "#d55e00",
    "stuck": "#cc79a7",
    "rebalancing": "#56b4e9",
    "restoration": "#009e73",
}

_DAY = pd.Timestamp("2015-09-21", tz="UTC")
_HOUR_TITLE = "hour of 21 September 2015 (UTC)"


def _hours(times: pd.Series) -> np.ndarray:
    return ((times - _DAY).dt.total_seconds() / 3600.0).to_numpy()


# --------------------------------------------------------------------------- frames


def replay_frames(
    replay: scenarios.Replay, every_s: float = 1800.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Graph frames of the replay, one per ``every_s``, keyed by the hour of the day.

    Nodes take their health and utilisation from the replay; edges (attempts per second)
    come from the service graph evaluated at the same client load as the replay did.

    Returns
    -------
    nodes, edges : pandas.DataFrame
        ``frame`` (hour), ``id``, ``health``, ``utilisation``, ``offered_per_s``; and
        ``frame``, ``caller``, ``callee``, ``attempts_per_s``.

    Examples
    --------
    >>> nodes, edges = replay_frames(scenarios.skype_2015().run())
    >>> len(nodes), float(nodes["frame"].max())
    (816, 23.5)
    """
    scenario = replay.scenario
    every = float(every_s)
    if not math.isfinite(every) or every <= 0 or every % scenario.output_every_s:
        raise ValueError(
            f"every_s must be a multiple of the replay's {scenario.output_every_s:g} s, "
            f"got {every_s!r}"
        )
    graph = scenario.graph
    ts = replay.timeseries
    rows = ts[np.isclose(ts["time_s"] % every, 0.0)]
    model = services.GraphModel(
        graph, client_policy=NoRetry(), client_timeout_s=scenario.params.timeout_s
    )
    base = services.baseline_client_rates(graph)
    ours = [n for n in base if graph.nodes[n].get("stack") == scenario.stack]
    nodes, edges = [], []
    for _, row in rows.iterrows():
        hour = round(float(row["time_s"]) / 3600.0, 6)
        rates = dict(base)
        for n in ours:
            scale = (
                row["signin_rate_ratio"] if n == scenario.signin_service else row["connected_share"]
            )
            rates[n] = base[n] * round(float(scale), 2)
        state = model.steady_state(rates)
        table = state.nodes[["id", "offered_per_s"]].copy()
        table["health"] = [row[f"{n}_health"] for n in table["id"]]
        table["utilisation"] = [float(row[f"{n}_utilisation"]) for n in table["id"]]
        nodes.append(table.assign(frame=hour))
        edges.append(state.edges[["caller", "callee", "attempts_per_s"]].assign(frame=hour))
    return pd.concat(nodes, ignore_index=True), pd.concat(edges, ignore_index=True)


def frame_captions(replay: scenarios.Replay, frames: pd.DataFrame) -> dict[float, str]:
    """One caption per frame hour: the clock time and the phase's line of :data:`PHASE_CAPTIONS`.

    Examples
    --------
    >>> r = scenarios.skype_2015().run()
    >>> frame_captions(r, pd.DataFrame({"frame": [10.0]}))[10.0]
    '10:00 UTC · cascade: sign-in overloaded, and the services behind it too'
    """
    out = {}
    for hour in sorted(set(frames["frame"].astype(float))):
        when = _DAY + pd.Timedelta(hours=hour)
        phase = replay.phase_at(when)
        out[hour] = f"{when:%H:%M} UTC · {PHASE_CAPTIONS[phase]}"
    return out


def phase_spans(replay: scenarios.Replay) -> pd.DataFrame:
    """Consecutive rows of one phase as spans: ``phase``, ``start_h``, ``end_h``, ``caption``.

    Examples
    --------
    >>> phase_spans(scenarios.skype_2015().run())["phase"].tolist()
    ['normal', 'push', 'cascade', 'stuck', 'rebalancing', 'restoration']
    """
    ts = replay.timeseries
    step_h = replay.scenario.output_every_s / 3600.0
    hours = np.round(ts["time_s"].to_numpy() / 3600.0, 6)
    phase = ts["phase"].to_numpy()
    rows = []
    start = 0
    for i in range(1, len(ts) + 1):
        if i == len(ts) or phase[i] != phase[start]:
            rows.append(
                {
                    "phase": str(phase[start]),
                    "start_h": float(hours[start]),
                    "end_h": round(float(hours[i - 1]) + step_h, 6),
                    "caption": PHASE_CAPTIONS[str(phase[start])],
                }
            )
            start = i
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- charts


def replay_graph_chart(
    replay: scenarios.Replay,
    *,
    every_s: float = 1800.0,
    param_name: str = "hour",
    value: float = 10.0,
    slider: str | None = "hour of the day (UTC)",
) -> Any:
    """The service graph coloured by health at the chosen hour, a caption per phase.

    Examples
    --------
    >>> spec = replay_graph_chart(scenarios.skype_2015().run()).to_dict()
    >>> spec["params"][0]["name"], spec["params"][0]["bind"]["step"]
    ('hour', 0.5)
    """
    nodes, edges = replay_frames(replay, every_s)
    return service_graph_frames_chart(
        replay.scenario.graph,
        nodes,
        edges,
        param_name=param_name,
        value=value,
        slider=slider,
        captions=frame_captions(replay, nodes),
        title="The service graph during the replay",
        subtitle="Health of each service at the hour on the slider (model, assumed inputs)",
    )


def replay_day_chart(
    replay: scenarios.Replay,
    *,
    param_name: str | None = "hour",
    value: float = 10.0,
    width: int = 860,
) -> Any:
    """The population over the day: connected share and sign-in load over capacity.

    The phases shade the background; with ``param_name`` a rule marks the hour held by that
    param (the chart then declares the param, unbound, unless it is used inside
    :func:`replay_explorer_chart`, which shares the graph's).

    Examples
    --------
    >>> spec = replay_day_chart(scenarios.skype_2015().run()).to_dict()
    >>> len(spec["vconcat"]), spec["params"][0]["name"]
    (2, 'hour')
    """
    import altair as alt

    chart = _day_panels(replay, param_name=param_name, width=width)
    if param_name is not None:
        chart = chart.add_params(alt.param(name=param_name, value=float(value)))
    return chart


def _day_panels(replay: scenarios.Replay, *, param_name: str | None, width: int) -> Any:
    import altair as alt

    ts = replay.timeseries
    frame = rounded(
        pd.DataFrame(
            {
                "hour": _hours(ts["time_utc"]),
                "connected_share": ts["connected_share"].to_numpy(float),
                "signin_load_ratio": np.maximum(ts["signin_load_ratio"].to_numpy(float), 0.01),
                "phase": ts["phase"].astype(str).to_numpy(),
            }
        )
    )
    spans = phase_spans(replay)
    x = alt.X(
        "hour:Q",
        title=_HOUR_TITLE,
        scale=alt.Scale(domain=[0, 24]),
        axis=alt.Axis(values=list(range(0, 25, 3))),
    )
    present = list(dict.fromkeys(spans["phase"]))
    band = (
        alt.Chart(spans)
        .mark_rect(opacity=0.25)
        .encode(
            x=alt.X("start_h:Q", scale=alt.Scale(domain=[0, 24]), title=_HOUR_TITLE),
            x2="end_h:Q",
            color=alt.Color(
                "phase:N",
                scale=alt.Scale(domain=present, range=[PHASE_COLOURS[p] for p in present]),
                sort=present,
                title="phase (replay)",
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("caption:N")],
        )
    )
    marker = []
    if param_name is not None:
        marker = [
            alt.Chart(pd.DataFrame({"dummy": [0]}))
            .transform_calculate(hour=param_name)
            .mark_rule(color="#222222", strokeWidth=2)
            .encode(x="hour:Q")
        ]
    base = alt.Chart(frame)
    online = base.mark_line(color=PALETTE[0], strokeWidth=2).encode(
        x=x,
        y=alt.Y(
            "connected_share:Q",
            title="clients online",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("hour:Q", format=".2f"),
            alt.Tooltip("connected_share:Q", format=".1%", title="online"),
            alt.Tooltip("phase:N"),
        ],
    )
    load = base.mark_line(color=PALETTE[0], strokeWidth=2).encode(
        x=x,
        y=alt.Y(
            "signin_load_ratio:Q",
            title=["sign-in load", "over capacity (log)"],
            scale=alt.Scale(type="log"),
        ),
        tooltip=[
            alt.Tooltip("hour:Q", format=".2f"),
            alt.Tooltip("signin_load_ratio:Q", format=",.3~g", title="load / capacity"),
            alt.Tooltip("phase:N"),
        ],
    )
    one = (
        alt.Chart(pd.DataFrame({"y": [1.0]}))
        .mark_rule(color="#555555", strokeDash=[4, 4])
        .encode(y="y:Q")
    )
    top = alt.layer(band, online, *marker).properties(
        width=width, height=150, title="Clients online (model)"
    )
    bottom = alt.layer(band, load, one, *marker).properties(
        width=width, height=150, title="Sign-in load over capacity (model; dashed: capacity)"
    )
    return alt.vconcat(top, bottom).resolve_scale(color="shared")


def replay_explorer_chart(
    replay: scenarios.Replay,
    *,
    every_s: float = 1800.0,
    value: float = 10.0,
    slider: str = "hour of the day (UTC)",
) -> Any:
    """The graph at the chosen hour above the day's population; one slider drives both.

    The slider is a Vega-Lite param bound to a range input: it runs in the browser, also in
    slides and exported decks. Vega-Lite has no timer: the play button is
    :class:`outage_kit.replay_widgets.ReplayPanel`, which needs a kernel.

    Examples
    --------
    >>> spec = replay_explorer_chart(scenarios.skype_2015().run()).to_dict()
    >>> [(p["name"], p["bind"]["input"]) for p in spec["params"]]
    [('hour', 'range')]
    """
    import altair as alt

    graph = replay_graph_chart(
        replay, every_s=every_s, param_name="hour", value=value, slider=slider
    )
    day = _day_panels(replay, param_name="hour", width=860)
    return alt.vconcat(graph, day).resolve_scale(color="independent")


# --------------------------------------------------------------------------- verdicts


def record_verdicts() -> dict[str, Any]:
    """Onset, restoration and duration on the public record (``data/timeline_2015.csv``).

    Examples
    --------
    >>> record_verdicts()["duration_h"]
    15.5
    """
    timeline = data.load_timeline_2015().set_index("id")
    onset = timeline.loc["downdetector_onset", "time_utc"]
    restored = timeline.loc["full_restoration", "time_utc"]
    return {
        "onset_utc": onset,
        "restoration_utc": restored,
        "duration_h": (restored - onset).total_seconds() / 3600.0,
    }


def _clock(t: Any) -> str:
    return "never (still down at midnight)" if t is None else f"{t:%H:%M} UTC"


def _hours_text(h: float) -> str:
    return "—" if math.isinf(h) else f"{h:.1f} h"


def verdicts_table(replay: scenarios.Replay) -> pd.DataFrame:
    """The replay's onset, restoration and duration beside the record's.

    Examples
    --------
    >>> verdicts_table(scenarios.skype_2015().run())["replay (model)"].tolist()
    ['08:20 UTC', '23:50 UTC', '15.5 h']
    """
    rec = record_verdicts()
    return pd.DataFrame(
        {
            "": ["onset", "full restoration", "duration"],
            "replay (model)": [
                _clock(replay.onset_utc()),
                _clock(replay.restoration_utc()),
                _hours_text(replay.outage_duration_h()),
            ],
            "public record": [
                f"{rec['onset_utc']:%H:%M} UTC (Downdetector, approximate)",
                f"{rec['restoration_utc']:%H:%M} UTC (Heartbeat update)",
                _hours_text(rec["duration_h"]),
            ],
        }
    )


#: One-change variants of the card's scenario, by name (every value assumed).
VARIANTS = (
    "card (40 % affected, immediate retries)",
    "1 % of clients affected",
    "sign-in capacity × 10",
    "gRPC backoff",
    "no rebalancing",
    "rebalancing at 12:00 UTC",
)


def variant_scenario(name: str) -> scenarios.Scenario:
    """The card's 2015 scenario with one assumption changed (see :data:`VARIANTS`).

    Examples
    --------
    >>> variant_scenario("sign-in capacity × 10").params.signin_capacity_per_s
    500000.0
    """
    base = scenarios.skype_2015()
    p = base.params
    if name == VARIANTS[0]:
        return base
    if name == VARIANTS[1]:
        return base.with_(params=p.with_(version_mix=storm.VersionMix.two_groups(0.01)))
    if name == VARIANTS[2]:
        return base.with_(params=p.with_(signin_capacity_per_s=10 * p.signin_capacity_per_s))
    if name == VARIANTS[3]:
        return scenarios.skype_2015(backoff="grpc")
    if name == VARIANTS[4]:
        return scenarios.skype_2015(recovery=False)
    if name == VARIANTS[5]:
        return scenarios.skype_2015(rebalancing_utc="2015-09-21T12:00Z")
    raise ValueError(f"name must be one of {list(VARIANTS)}, got {name!r}")


def variants_table(replays: Mapping[str, scenarios.Replay]) -> pd.DataFrame:
    """Onset, restoration, duration and "ever stuck" per variant's replay.

    Examples
    --------
    >>> r = scenarios.skype_2015().run()
    >>> [str(v) for v in variants_table({"card": r}).iloc[0]]
    ['card', '08:20 UTC', '23:50 UTC', '15.5 h', 'True']
    """
    rows = []
    for name, r in replays.items():
        rows.append(
            {
                "variant (one change)": name,
                "onset": "none" if r.onset_utc() is None else _clock(r.onset_utc()),
                "restoration": _clock(r.restoration_utc()),
                "duration": _hours_text(r.outage_duration_h()),
                "stuck at some time": bool((r.timeseries["phase"] == "stuck").any()),
            }
        )
    return pd.DataFrame(rows)
