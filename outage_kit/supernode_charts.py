"""Charts and a table for lesson 09: the 2010 supernode model against the public record.

Same house style as :mod:`outage_kit.charts` (Okabe-Ito colours, rounded data, fewer than
5,000 rows per chart). The numbers come from :mod:`outage_kit.supernodes`:

* :func:`record_vs_model_chart`: users online over the two days, the model as a line and the
  record's readings as points with their ranges; with several runs (say the calibrated one and
  one without mega-supernodes) a Vega-Lite radio picks the one drawn in colour, so it works in
  RISE slides and exported decks with no kernel;
* :func:`calibration_chart`: the calibration's score over two of the grid's parameters (the
  lowest over the others), the best point marked;
* :func:`comparison_table`: target by target, the record, the model and whether it is within
  tolerance, formatted for display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from outage_kit.charts import HEALTH_COLOURS, PALETTE, rounded

__all__ = ["calibration_chart", "comparison_table", "record_vs_model_chart"]

#: Columns of a run that the record chart can compare with (counts and shares of users online).
_USER_MEASURES = ("users_online", "users_online_share")
#: Most rows kept per run on the record chart (the run is thinned evenly to at most this).
MAX_ROWS_PER_RUN = 500
#: Point colours on the record chart, by whether the model meets the reading.
MET_COLOURS = {
    "within tolerance": HEALTH_COLOURS["healthy"],
    "outside tolerance": HEALTH_COLOURS["overloaded"],
    "record": "#333333",
}


def _iso(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(t: pd.Timestamp) -> str:
    return f"{t.day} {t:%b %H:%M}"


def _window_text(start: pd.Timestamp, end: pd.Timestamp) -> str:
    if start == end:
        return _clock(start)
    if start.normalize() == end.normalize():
        return f"{_clock(start)}–{end:%H:%M}"
    return f"{_clock(start)} – {_clock(end)}"


def _runs(run) -> dict[str, pd.DataFrame]:
    if isinstance(run, pd.DataFrame):
        runs = {"model": run}
    elif isinstance(run, Mapping) and run:
        runs = dict(run)
    else:
        raise TypeError(
            "run must be a run_supernodes DataFrame or a non-empty mapping name -> run, "
            f"got {type(run).__name__}"
        )
    needed = {"time_utc", "users_online", "users_online_share", "mega_supernodes"}
    for name, frame in runs.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"run names must be non-empty strings, got {name!r}")
        if not isinstance(frame, pd.DataFrame) or not needed.issubset(frame.columns):
            raise ValueError(
                f"run {name!r} must be a frame from supernodes.run_supernodes (columns "
                f"{sorted(needed)})"
            )
    return runs


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    """Every k-th row and the last, at most :data:`MAX_ROWS_PER_RUN` rows in all."""
    n = len(frame)
    if n <= MAX_ROWS_PER_RUN:
        return frame
    k = math.ceil((n - 1) / (MAX_ROWS_PER_RUN - 1))
    return frame.iloc[np.unique(np.append(np.arange(0, n, k), n - 1))]


def _check_targets(targets: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(targets, pd.DataFrame):
        raise TypeError(
            "targets_or_comparison must be a DataFrame from supernodes.targets_2010 or "
            f"measure_2010, got {type(targets).__name__}"
        )
    needed = {"target", "description", "measure", "window_start_utc", "window_end_utc"}
    needed |= {"low", "high", "tolerance"}
    missing = sorted(needed - set(targets.columns))
    if missing:
        raise ValueError(
            f"targets_or_comparison lacks columns {missing}; pass supernodes.targets_2010() or "
            "a comparison from measure_2010 / calibrate_2010"
        )
    return targets


def _readings(targets: pd.DataFrame, expected: float, first, last) -> pd.DataFrame:
    """The record's readings of users online as points and ranges, in millions of users."""
    rows = []
    has_met = "met" in targets.columns
    for t in targets.itertuples(index=False):
        if t.measure not in _USER_MEASURES:
            continue
        start = max(t.window_start_utc, first)
        end = min(t.window_end_utc, last)
        if end < start:
            continue
        scale = 1.0 if t.measure == "users_online" else expected
        low, high = t.low * scale / 1e6, t.high * scale / 1e6
        middle = start + (end - start) / 2
        if t.measure == "users_online":
            said = f"{low:.3g}" + ("" if low == high else f"–{high:.3g}") + " M online"
        else:
            said = (
                f"{100 * t.low:.3g}"
                + ("" if t.low == t.high else f"–{100 * t.high:.3g}")
                + f" % of expected (× {expected / 1e6:.3g} M)"
            )
        rows.append(
            {
                "target": t.target,
                "description": t.description,
                "time": _iso(middle),
                "start": _iso(start),
                "end": _iso(end),
                "when": _window_text(start, end) + " UTC",
                "low": low,
                "high": high,
                "middle": (low + high) / 2,
                "record": said,
                "verdict": (
                    ("within tolerance" if bool(t.met) else "outside tolerance")
                    if has_met
                    else "record"
                ),
            }
        )
    return pd.DataFrame(rows)


def record_vs_model_chart(run, targets_or_comparison: pd.DataFrame, *, first: str | None = None):
    """Users online over the two days: the model as a line, the record's readings as points.

    Each reading of the record is a point at the middle of its time window and of its range,
    with a vertical bar over the range (low to high) and a horizontal one over the window (the
    record's clock time is approximate for most readings). Shares of expected users are turned
    into users by the run's expected number online. Dashed rules mark the start of the crashes
    and the arrival of the first mega-supernodes.

    Parameters
    ----------
    run : pandas.DataFrame or mapping of str to DataFrame
        A run of :func:`outage_kit.supernodes.run_supernodes`, or several by name (say
        ``{"calibrated": cal.run, "no mega-supernodes": run_supernodes(cal.params.with_(
        mega_start_h=None))}``): then radio buttons pick the run drawn in colour, the others
        in grey. Each run is thinned to at most :data:`MAX_ROWS_PER_RUN` rows.
    targets_or_comparison : pandas.DataFrame
        :func:`outage_kit.supernodes.targets_2010`, or a comparison (``measure_2010``,
        ``Calibration2010.comparison``): with its ``met`` column, points are coloured by
        whether the model is within tolerance.
    first : str, optional
        The run drawn in colour first (default: the first).

    Examples
    --------
    >>> from outage_kit import supernodes as sn
    >>> runs = {"card": sn.run_supernodes(sn.scenario_2010()),
    ...         "no megas": sn.run_supernodes(sn.scenario_2010().with_(mega_start_h=None))}
    >>> spec = record_vs_model_chart(runs, sn.targets_2010()).to_dict()
    >>> [(p["name"], p["bind"]["input"], p["value"]) for p in spec["params"]]
    [('run', 'radio', 'card')]
    """
    import altair as alt

    runs = _runs(run)
    names = list(runs)
    start_name = names[0] if first is None else first
    if start_name not in runs:
        raise ValueError(f"first must be one of {names}, got {first!r}")
    targets = _check_targets(targets_or_comparison)
    base = runs[names[0]]
    expected = float(base["users_online"].iloc[0] / base["users_online_share"].iloc[0])
    t_first = min(r["time_utc"].iloc[0] for r in runs.values())
    t_last = max(r["time_utc"].iloc[-1] for r in runs.values())

    parts = []
    for name, r in runs.items():
        thin = _thin(r)
        parts.append(
            pd.DataFrame(
                {
                    "run": name,
                    "time": thin["time_utc"].map(_iso).to_numpy(),
                    "online": thin["users_online"].to_numpy(dtype=float) / 1e6,
                    "share": thin["users_online_share"].to_numpy(dtype=float),
                }
            )
        )
    lines = rounded(pd.concat(parts, ignore_index=True), 4)
    points = rounded(_readings(targets, expected, t_first, t_last), 4)

    marks = [{"time": _iso(base["time_utc"].iloc[0]), "label": "crashes begin"}]
    for r in runs.values():
        megas = r.loc[r["mega_supernodes"] > 0, "time_utc"]
        if len(megas):
            marks.append({"time": _iso(megas.iloc[0]), "label": "first mega-supernodes"})
            break
    marks = pd.DataFrame(marks)

    x = alt.X(
        "time:T",
        title="time (UTC)",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%d %b %H:%M", labelAngle=0, tickCount=8),
    )
    y_max = max(float(lines["online"].max()), float(points["high"].max()) if len(points) else 0)
    y = alt.Y(
        "online:Q",
        title="users online (millions)",
        scale=alt.Scale(domain=[0, math.ceil(y_max * 1.08)]),
    )
    layers = []
    if len(names) > 1:
        pick = alt.param(
            name="run", value=start_name, bind=alt.binding_radio(options=names, name="model run ")
        )
        layers.append(
            alt.Chart(lines)
            .mark_line(color="#BBBBBB", strokeWidth=1.5)
            .encode(x=x, y=y, detail="run:N", tooltip=["run:N"])
        )
        chosen = alt.Chart(lines).transform_filter("datum.run == run")
    else:
        pick = None
        chosen = alt.Chart(lines)
    layers.append(
        chosen.mark_line(color=PALETTE[0], strokeWidth=2.5).encode(
            x=x,
            y=y,
            tooltip=[
                "run:N",
                alt.Tooltip("online:Q", title="online (M)", format=".2f"),
                alt.Tooltip("share:Q", title="share of expected", format=".0%"),
            ],
        )
    )
    rule = alt.Chart(marks).encode(x=alt.X("time:T", scale=alt.Scale(type="utc")))
    layers.append(rule.mark_rule(color="#333333", strokeDash=[6, 4]))
    layers.append(
        rule.mark_text(align="left", dx=4, dy=8, color="#333333", fontSize=12).encode(
            y=alt.value(0), text="label:N"
        )
    )
    if len(points):
        used = [v for v in MET_COLOURS if v in set(points["verdict"])]
        colour = alt.Color(
            "verdict:N",
            title="record's reading",
            scale=alt.Scale(domain=used, range=[MET_COLOURS[v] for v in used]),
            legend=alt.Legend(orient="bottom"),
        )
        tooltip = ["description:N", "when:N", "record:N", "verdict:N"]
        layers += [
            alt.Chart(points)
            .mark_rule(strokeWidth=2)
            .encode(
                x=alt.X("time:T", scale=alt.Scale(type="utc")), y="low:Q", y2="high:Q", color=colour
            ),
            alt.Chart(points)
            .mark_rule(strokeWidth=2)
            .encode(
                x=alt.X("start:T", scale=alt.Scale(type="utc")),
                x2="end:T",
                y="middle:Q",
                color=colour,
            ),
            alt.Chart(points)
            .mark_point(size=90, filled=True, shape="diamond")
            .encode(
                x=alt.X("time:T", scale=alt.Scale(type="utc")),
                y="middle:Q",
                color=colour,
                tooltip=tooltip,
            ),
        ]
    chart = alt.layer(*layers)
    if pick is not None:
        chart = chart.add_params(pick)
    subtitle = "Line: the model. Diamonds and bars: the record's readings with their ranges"
    if len(names) > 1:
        subtitle += "; pick a run below (grey: the others)"
    return chart.properties(
        width=560,
        height=280,
        title=alt.Title(
            "December 2010: users online, the model against the record", subtitle=subtitle
        ),
    )


def calibration_chart(scores: pd.DataFrame, x: str, y: str):
    """The calibration's score over two of its grid's parameters, the best point marked.

    Each cell is the lowest score over the other parameters of the grid at that (x, y): how
    close to the record the model can get with those two values. Lower is closer; the colour
    scale is symmetric-log, as scores range from well under 1 to tens.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``Calibration2010.scores``: one row per grid point, its parameters and ``score``.
    x, y : str
        Two different parameter columns of ``scores``.

    Examples
    --------
    >>> s = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0], "b": [5.0, 6.0, 5.0, 6.0],
    ...                   "score": [3.0, 0.5, 2.0, 9.0]})
    >>> spec = calibration_chart(s, "a", "b").to_dict()
    >>> spec["layer"][0]["mark"]["type"], spec["layer"][-1]["mark"]["type"]
    ('rect', 'point')
    >>> calibration_chart(s, "a", "a")
    Traceback (most recent call last):
    ...
    ValueError: x and y must be two different parameters, got 'a' twice
    """
    import altair as alt

    if not isinstance(scores, pd.DataFrame) or "score" not in scores.columns:
        raise ValueError(
            "scores must be a DataFrame with a 'score' column (Calibration2010.scores)"
        )
    if x == y:
        raise ValueError(f"x and y must be two different parameters, got {x!r} twice")
    params = [c for c in scores.columns if c != "score" and not c.startswith(("error_", "model_"))]
    for name in (x, y):
        if name not in params:
            raise ValueError(f"{name!r} is not a parameter of the grid; choose from {params}")
    if len(scores) == 0:
        raise ValueError("scores is empty")
    cells = scores.groupby([x, y], as_index=False)["score"].min()
    if len(cells) > 2500:
        raise ValueError(f"{len(cells)} cells is too many to draw; use coarser axes")
    best = scores.iloc[int(np.argmin(scores["score"].to_numpy()))]
    others = [p for p in params if p not in (x, y)]
    data = rounded(cells, 6)
    best_row = rounded(
        pd.DataFrame({x: [best[x]], y: [best[y]], "score": [best["score"]], "label": ["best"]}), 6
    )
    lo, hi = float(data["score"].min()), float(data["score"].max())
    middle = math.expm1((math.log1p(lo) + math.log1p(hi)) / 2)
    x_enc = alt.X(f"{x}:O", title=x.replace("_", " "), axis=alt.Axis(labelAngle=0))
    y_enc = alt.Y(f"{y}:O", title=y.replace("_", " "), sort="descending")
    heat = (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=x_enc,
            y=y_enc,
            color=alt.Color(
                "score:Q",
                title=["fit score", "(lower: closer", "to the record)"],
                scale=alt.Scale(type="symlog", scheme="blues", reverse=True),
            ),
            tooltip=[f"{x}:O", f"{y}:O", alt.Tooltip("score:Q", format=".3f")],
        )
    )
    labels = (
        alt.Chart(data)
        .mark_text(fontSize=11)
        .encode(
            x=x_enc,
            y=y_enc,
            text=alt.Text("score:Q", format=".2f"),
            color=alt.condition(
                f"datum.score < {middle:.6g}", alt.value("white"), alt.value("#333333")
            ),
        )
    )
    star = (
        alt.Chart(best_row)
        .mark_point(shape="diamond", size=520, filled=False, strokeWidth=3, color=PALETTE[1])
        .encode(x=x_enc, y=y_enc, tooltip=["label:N", alt.Tooltip("score:Q", format=".3f")])
    )
    over = f" (lowest over {', '.join(o.replace('_', ' ') for o in others)})" if others else ""
    return alt.layer(heat, labels, star).properties(
        width=alt.Step(48),
        height=alt.Step(36),
        title=alt.Title(
            "Calibration: how close the model gets to the record",
            subtitle=[
                f"Score of each grid point{over}; 0 is a perfect fit, 1 within tolerance on "
                "average",
                f"Diamond: the best point, score {float(best['score']):.2f}",
            ],
        ),
    )


def _value(measure: str, v: float) -> str:
    if measure == "users_online":
        return f"{v / 1e6:.3g} M"
    if measure == "load_per_supernode":
        return f"{v:.3g} ×"
    return f"{100 * v:.3g} %"


def _range(measure: str, low: float, high: float) -> str:
    if low == high:
        return _value(measure, low)
    a, b = _value(measure, low), _value(measure, high)
    unit = a.split(" ")[-1]
    return f"{a.rsplit(' ', 1)[0]}–{b.rsplit(' ', 1)[0]} {unit}"


def _tolerance(measure: str, tol: float) -> str:
    if measure == "users_online":
        return f"± {tol / 1e6:.3g} M"
    if measure == "load_per_supernode":
        return f"± {tol:.3g} ×"
    return f"± {100 * tol:.3g} points"


def comparison_table(calibration) -> pd.DataFrame:
    """Target by target: what the record says, what the model gives, within tolerance or not.

    Parameters
    ----------
    calibration : Calibration2010 or pandas.DataFrame
        A calibration (its ``comparison`` is used) or a frame from
        :func:`outage_kit.supernodes.measure_2010`.

    Returns
    -------
    pandas.DataFrame
        ``target`` (what the record says, in words), ``when (UTC)``, ``record`` (value or range
        with its unit), ``model``, ``tolerance`` and ``within tolerance`` (``"yes"`` / ``"no"``),
        all text, one row per target in the record's order.

    Examples
    --------
    >>> from outage_kit import supernodes as sn
    >>> table = comparison_table(sn.measure_2010(sn.run_supernodes(sn.scenario_2010())))
    >>> table.loc[1, ["record", "model", "within tolerance"]].tolist()
    ['5.14 M', '5.24 M', 'yes']
    >>> table.loc[7, ["record", "tolerance"]].tolist()
    ['25–30 %', '± 2.5 points']
    """
    frame = getattr(calibration, "comparison", calibration)
    if not isinstance(frame, pd.DataFrame) or not {"model", "met"}.issubset(frame.columns):
        raise TypeError(
            "calibration must be a Calibration2010 or a frame from supernodes.measure_2010, "
            f"got {type(calibration).__name__}"
        )
    rows = []
    for t in frame.itertuples(index=False):
        rows.append(
            {
                "target": t.description,
                "when (UTC)": _window_text(t.window_start_utc, t.window_end_utc),
                "record": _range(t.measure, t.low, t.high),
                "model": _value(t.measure, t.model),
                "tolerance": _tolerance(t.measure, t.tolerance),
                "within tolerance": "yes" if bool(t.met) else "no",
            }
        )
    return pd.DataFrame(rows)
