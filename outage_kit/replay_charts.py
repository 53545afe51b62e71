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
  replay, of the public record and of one-change variants of the scenario;
* the way back from the graph to the population model (the two-way coupling of
  :mod:`outage_kit.scenarios`): :func:`feedback_day_chart` (sign-ins served against the
  sign-in path's limit, the share of them failing behind the sign-in service, clients
  online), :func:`door_and_path_table` (the sign-in service's capacity beside the path's
  limit), :func:`rebalancing_share_scenario` and :func:`rebalancing_table` (the card's
  rebalancing at another admission share, one-way and two-way).

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, rounded data).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from outage_kit import data, scenarios, services, storm
from outage_kit.charts import PALETTE, rounded
from outage_kit.graph_charts import service_graph_frames_chart
from outage_kit.policies import AdmissionControl, NoRetry, ServerPolicy

__all__ = [
    "PHASE_CAPTIONS",
    "PHASE_COLOURS",
    "VARIANTS",
    "door_and_path_table",
    "feedback_day_chart",
    "normal_signin_rate_per_s",
    "phase_captions",
    "phase_spans",
    "rebalancing_share_scenario",
    "rebalancing_table",
    "record_verdicts",
    "replay_day_chart",
    "replay_explorer_chart",
    "replay_frames",
    "replay_graph_chart",
    "variant_scenario",
    "variants_table",
    "verdicts_table",
]


def _admission_share(scenario: scenarios.Scenario) -> tuple[float, float] | None:
    """Time (s) and admitted share of capacity of the scenario's first admission action."""
    for action in scenario.actions:
        admission = getattr(getattr(action, "policy", None), "admission", None)
        if admission is not None and admission.rate_per_s is not None:
            return action.time_s, admission.rate_per_s / scenario.params.signin_capacity_per_s
    return None


def phase_captions(replay: scenarios.Replay | None = None) -> dict[str, str]:
    """One line per phase of :data:`outage_kit.scenarios.PHASES`: what the replay shows then.

    The push and the rebalancing lines give their time and the share of the sign-in capacity
    admitted: the replay's own (its scenario's push and first admission action) or, with no
    replay, the card's (``config_push_utc``, ``rebalancing_utc``,
    ``rebalancing_admission_share``; all assumed).

    Examples
    --------
    >>> phase_captions()["rebalancing"]
    'rebalancing: sign-ins admitted at 0.3 of capacity from 22:25 (assumed)'
    >>> r = scenarios.skype_2015(rebalancing_utc="2015-09-21T12:00Z").run()
    >>> phase_captions(r)["rebalancing"]
    'rebalancing: sign-ins admitted at 0.3 of capacity from 12:00 (assumed)'
    """
    push = pd.Timestamp(data.parameter("config_push_utc"))
    when = pd.Timestamp(data.parameter("rebalancing_utc"))
    share = float(data.parameter("rebalancing_admission_share"))
    if replay is not None:
        scenario = replay.scenario
        triggers = [t.time_s for t in scenario.params.triggers]
        if triggers:
            push = scenario.start_utc + pd.Timedelta(seconds=min(triggers))
        found = _admission_share(scenario)
        if found is not None:
            when = scenario.start_utc + pd.Timedelta(seconds=found[0])
            share = found[1]
    return {
        "normal": "normal: everyone signed in, every service healthy",
        "push": f"push: the configuration change knocks clients off (assumed {push:%H:%M})",
        "disconnection": "disconnection: clients are off, nothing is overloaded yet",
        "storm": "storm: sign-in overloaded, but still reconnecting clients",
        "cascade": "cascade: sign-in overloaded, and the services behind it too",
        "stuck": "stuck: sign-in busy with expired attempts, almost no one gets back",
        "rebalancing": (
            f"rebalancing: sign-ins admitted at {share:.3g} of capacity from {when:%H:%M} (assumed)"
        ),
        "restoration": "restoration: clients back, no consumer service overloaded",
    }


#: :func:`phase_captions` of the card's scenario.
PHASE_CAPTIONS = phase_captions()

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


def _hour_axis(alt):
    """The x encoding of the day charts: hours 0 to 24, a tick every 3 hours."""
    return alt.X(
        "hour:Q",
        title=_HOUR_TITLE,
        scale=alt.Scale(domain=[0, 24]),
        axis=alt.Axis(values=list(range(0, 25, 3))),
    )


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
    """One caption per frame hour: the clock time and the phase's line of :func:`phase_captions`.

    Examples
    --------
    >>> r = scenarios.skype_2015().run()
    >>> frame_captions(r, pd.DataFrame({"frame": [10.0]}))[10.0]
    '10:00 UTC · cascade: sign-in overloaded, and the services behind it too'
    """
    captions = phase_captions(replay)
    out = {}
    for hour in sorted(set(frames["frame"].astype(float))):
        when = _DAY + pd.Timedelta(hours=hour)
        phase = replay.phase_at(when)
        out[hour] = f"{when:%H:%M} UTC · {captions[phase]}"
    return out


def phase_spans(replay: scenarios.Replay) -> pd.DataFrame:
    """Consecutive rows of one phase as spans: ``phase``, ``start_h``, ``end_h``, ``caption``.

    The captions are :func:`phase_captions` of the replay.

    Examples
    --------
    >>> phase_spans(scenarios.skype_2015().run())["phase"].tolist()
    ['normal', 'push', 'cascade', 'stuck', 'rebalancing', 'restoration']
    """
    ts = replay.timeseries
    captions = phase_captions(replay)
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
                    "caption": captions[str(phase[start])],
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
    x = _hour_axis(alt)
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


# --------------------------------------------------------------------------- the way back


#: Sign-ins per second on a normal day (:func:`outage_kit.scenarios.normal_signin_rate_per_s`).
normal_signin_rate_per_s = scenarios.normal_signin_rate_per_s


def rebalancing_share_scenario(share: float, *, feedback: bool = True) -> scenarios.Scenario:
    """The card's scenario with its rebalancing admitting ``share`` of the sign-in capacity.

    Same time as the card's (``rebalancing_utc``, assumed); from then on the sign-in service
    admits ``share × signin_capacity_per_s`` sign-ins per second and rejects the rest at once
    (:class:`~outage_kit.storm.ServerPolicyAt` with
    :class:`~outage_kit.policies.AdmissionControl`). ``feedback=False`` gives the one-way
    replay.

    Parameters
    ----------
    share : float
        Share of the sign-in service's capacity admitted, in (0, 1].
    feedback : bool
        Two-way coupling (True, the default) or one-way (False).

    Examples
    --------
    >>> s = rebalancing_share_scenario(0.5, feedback=False)
    >>> s.actions[0].policy.admission.rate_per_s, s.feedback
    (25000.0, False)
    >>> card = scenarios.skype_2015()
    >>> rebalancing_share_scenario(0.3).actions == card.actions
    True
    >>> rebalancing_share_scenario(1.5)
    Traceback (most recent call last):
    ...
    ValueError: share must lie in (0, 1] (a share of the sign-in capacity), got 1.5
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(
            f"share must lie in (0, 1] (a share of the sign-in capacity), got {share!r}"
        )
    base = scenarios.skype_2015(feedback=feedback)
    when_s = base.seconds(data.parameter("rebalancing_utc"))
    rate = float(share) * base.params.signin_capacity_per_s
    action = storm.ServerPolicyAt(when_s, ServerPolicy(AdmissionControl(rate_per_s=rate)))
    return base.with_(actions=(action,))


def door_and_path_table(scenario: scenarios.Scenario, shares: Iterable[float] = ()) -> pd.DataFrame:
    """The sign-in service's capacity (the door) beside the sign-in path's limit.

    Rows: the normal sign-in rate; the sign-in service's capacity in the population model;
    the largest rate the sign-in path carries without failures
    (:func:`outage_kit.scenarios.sign_in_path_limit`, with no client signed in, as after a
    stuck day); then a rebalancing admitting each of ``shares`` of the capacity. Columns: the
    rate per second and the rate over the normal one.

    Examples
    --------
    >>> t = door_and_path_table(scenarios.skype_2015(), shares=[0.3])
    >>> t["× normal sign-in rate"].round(2).tolist()
    [1.0, 4.5, 1.52, 1.35]
    """
    normal = normal_signin_rate_per_s(scenario)
    capacity = scenario.params.signin_capacity_per_s
    limit = scenarios.sign_in_path_limit(scenario)
    rows = [
        ("normal sign-in rate (sessions ending and signing in again)", normal),
        ("sign-in service's capacity (the door)", capacity),
        ("sign-in path's limit (what authentication and the rest carry)", limit * normal),
    ]
    for share in shares:
        rows.append((f"rebalancing: {share:g} of the door's capacity", float(share) * capacity))
    return pd.DataFrame(
        {
            "": [name for name, _ in rows],
            "sign-ins per second": [round(rate) for _, rate in rows],
            "× normal sign-in rate": [rate / normal for _, rate in rows],
        }
    )


def rebalancing_table(replays: Iterable[scenarios.Replay]) -> pd.DataFrame:
    """Per replay: the rebalancing's admitted share and rate, the coupling, the outcome.

    Examples
    --------
    >>> t = rebalancing_table([scenarios.skype_2015().run()])
    >>> [str(v) for v in t.iloc[0]]
    ['0.3', '1.35', 'two-way', '23:50 UTC', '15.5 h']
    """
    rows = []
    for r in replays:
        found = _admission_share(r.scenario)
        share = math.nan if found is None else found[1]
        normal = normal_signin_rate_per_s(r.scenario)
        rows.append(
            {
                "admitted (share of capacity)": round(share, 3),
                "sign-ins admitted (× normal)": round(
                    share * r.scenario.params.signin_capacity_per_s / normal, 2
                ),
                "coupling": "two-way" if r.scenario.feedback else "one-way",
                "restoration": _clock(r.restoration_utc()),
                "duration": _hours_text(r.outage_duration_h()),
            }
        )
    return pd.DataFrame(rows)


def feedback_day_chart(
    replays: Mapping[str, scenarios.Replay],
    *,
    path_limit: float | None = None,
    width: int = 860,
) -> Any:
    """The way back from the graph, over the day: three panels, one line per replay.

    Top: sign-ins the sign-in service serves, over the normal sign-in rate, with the sign-in
    path's limit dashed (:func:`outage_kit.scenarios.sign_in_path_limit` of the first
    replay's scenario unless ``path_limit`` is given). Middle: the share of those sign-ins
    that fail behind the sign-in service (``downstream_failure_share``, what the graph feeds
    back; zero all day in a one-way replay, which feeds nothing back). Bottom: clients
    online.

    Examples
    --------
    >>> spec = feedback_day_chart({"card": scenarios.skype_2015().run()}).to_dict()
    >>> len(spec["vconcat"]), len(spec["datasets"][spec["vconcat"][0]["layer"][0]["data"]["name"]])
    (3, 288)
    """
    import altair as alt

    if not replays:
        raise ValueError("replays must name at least one replay")
    first = next(iter(replays.values()))
    limit = scenarios.sign_in_path_limit(first.scenario) if path_limit is None else path_limit
    parts = []
    for label, r in replays.items():
        ts = r.timeseries
        parts.append(
            pd.DataFrame(
                {
                    "replay": label,
                    "hour": _hours(ts["time_utc"]),
                    "served_ratio": ts["signin_rate_ratio"].to_numpy(float),
                    "failing": ts["downstream_failure_share"].to_numpy(float),
                    "online": ts["connected_share"].to_numpy(float),
                    "phase": ts["phase"].astype(str).to_numpy(),
                }
            )
        )
    frame = rounded(pd.concat(parts, ignore_index=True), 4)
    labels = list(replays)
    x = _hour_axis(alt)
    colour = alt.Color(
        "replay:N",
        sort=labels,
        scale=alt.Scale(domain=labels, range=list(PALETTE[: len(labels)])),
        title="replay",
        legend=alt.Legend(orient="right", labelLimit=320),
    )
    # Replays share most of the day: dashes keep the later ones from hiding the first.
    dashes = alt.StrokeDash(
        "replay:N",
        sort=labels,
        scale=alt.Scale(domain=labels, range=[[1, 0], [7, 4], [2, 3], [9, 3, 2, 3]]),
        title="replay",
        legend=alt.Legend(orient="right", labelLimit=320),
    )
    tips = [alt.Tooltip("replay:N"), alt.Tooltip("hour:Q", format=".2f"), alt.Tooltip("phase:N")]
    base = alt.Chart(frame)
    served = base.mark_line(strokeWidth=2, interpolate="step-after").encode(
        x=x,
        y=alt.Y("served_ratio:Q", title=["sign-ins served", "(× normal rate)"]),
        color=colour,
        strokeDash=dashes,
        tooltip=[*tips, alt.Tooltip("served_ratio:Q", format=".2f", title="× normal")],
    )
    rule = (
        alt.Chart(pd.DataFrame({"y": [float(limit)], "text": [f"path's limit {limit:g}×"]}))
        .mark_rule(color="#555555", strokeDash=[4, 4])
        .encode(y="y:Q")
    )
    rule_text = rule.mark_text(align="left", dx=4, dy=-7, color="#555555").encode(
        x=alt.value(0), text="text:N"
    )
    failing = base.mark_line(strokeWidth=2, interpolate="step-after").encode(
        x=x,
        y=alt.Y(
            "failing:Q",
            title=["failing behind", "the sign-in service"],
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        color=colour,
        strokeDash=dashes,
        tooltip=[*tips, alt.Tooltip("failing:Q", format=".0%", title="failing behind")],
    )
    online = base.mark_line(strokeWidth=2).encode(
        x=x,
        y=alt.Y(
            "online:Q",
            title="clients online",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        color=colour,
        strokeDash=dashes,
        tooltip=[*tips, alt.Tooltip("online:Q", format=".1%", title="online")],
    )
    return alt.vconcat(
        alt.layer(served, rule, rule_text).properties(
            width=width,
            height=130,
            title="Sign-ins the sign-in service serves (model; grey: the most the path carries)",
        ),
        failing.properties(
            width=width,
            height=110,
            title="Share of them that fail behind it: what the graph feeds back (model)",
        ),
        online.properties(width=width, height=110, title="Clients online (model)"),
    ).resolve_scale(color="shared")
