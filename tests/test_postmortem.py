"""Lesson 09: the 2015 postmortem, the 2010 record-vs-model charts, and the lesson's checks.

The postmortem's numbers are compared with the package's own (mitigations.score, the timeline,
metastability.sustaining_loop, the scorecard), never with copies of a run's output.
"""

from __future__ import annotations

import functools
import re

import pandas as pd
import pytest

from outage_kit import charts, data, incidents, mitigations, replay_charts, scenarios
from outage_kit import metastability as ms
from outage_kit import postmortem as pmod
from outage_kit import postmortem_exercises as pe
from outage_kit import supernode_charts as snc
from outage_kit import supernodes as sn
from outage_kit.scenarios import skype_2015
from outage_kit.storm import VersionMix

# ------------------------------------------------------------------ chart builders (cheap)


@functools.cache
def _tiny_calibration() -> sn.Calibration2010:
    grid = {
        "overload_threshold": [2.25, 2.5],
        "mega_start_h": [18.0, 19.0],
        "mega_capacity": [40.0, 50.0],
    }
    return sn.calibrate_2010(grid, executor="serial", progress=False)


@functools.cache
def _no_megas_run() -> pd.DataFrame:
    return sn.run_supernodes(_tiny_calibration().params.with_(mega_start_h=None))


BUILDERS = {
    "record_vs_model": lambda: snc.record_vs_model_chart(
        {"calibrated": _tiny_calibration().run, "no mega-supernodes": _no_megas_run()},
        _tiny_calibration().comparison,
    ),
    "record_vs_model_one_run": lambda: snc.record_vs_model_chart(
        _tiny_calibration().run, sn.targets_2010()
    ),
    "calibration": lambda: snc.calibration_chart(
        _tiny_calibration().scores, "overload_threshold", "mega_capacity"
    ),
}


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def replay():
    return skype_2015().run()


@pytest.fixture(scope="module")
def pm(replay):
    return pmod.skype_2015_postmortem(replay)


@pytest.fixture(scope="module")
def metrics(replay):
    return mitigations.score(replay)


def _table_rows(markdown: str) -> list[list[str]]:
    """Body rows of the Markdown tables in ``markdown``, as lists of cells."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


# ------------------------------------------------------------------ the postmortem


def test_every_section_is_present_non_empty_and_in_order(pm):
    sections = pm.sections()
    assert list(sections) == list(pmod.SECTIONS.values())
    assert all(body.strip() for body in sections.values())
    md = pm.to_markdown()
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings == list(pmod.SECTIONS.values())
    assert md.startswith(f"# {pm.title}\n")
    for heading, body in sections.items():
        assert f"## {heading}\n\n{body.strip()}" in md


def test_a_section_cannot_be_empty():
    bodies = ["text"] * len(pmod.SECTIONS)
    bodies[4] = "  "
    with pytest.raises(ValueError, match="amplification"):
        pmod.Postmortem("T", *bodies)


def test_model_impact_figures_are_the_scores_figures(pm, metrics):
    f = pm.figures
    assert f["model_outage_min"] == metrics["outage_min"]
    assert f["model_user_min_lost"] == metrics["user_min_lost"]
    assert f["model_peak_load_ratio"] == metrics["peak_load_ratio"]
    assert f["model_wasted_share"] == pytest.approx(
        metrics["zombie_signins"] / metrics["served_signins"], rel=1e-12
    )
    assert f["model_services_overloaded"] == metrics["n_services_overloaded"]
    impact = pm.impact
    assert f"{metrics['outage_min']:,.0f} min" in impact
    assert f"{pmod._big(metrics['user_min_lost'])} user-minutes" in impact
    assert f"{pmod._big(metrics['user_min_lost'] / 60)} user-hours" in impact
    assert pmod._ratio(metrics["peak_load_ratio"]) in impact
    assert pmod._share(f["model_wasted_share"]) in impact


def test_record_duration_is_the_timelines(pm):
    timeline = data.load_timeline_2015().set_index("id")
    onset = timeline.loc["downdetector_onset", "time_utc"]
    restored = timeline.loc["full_restoration", "time_utc"]
    hours = (restored - onset).total_seconds() / 3600
    assert pm.figures["record_duration_h"] == hours == replay_charts.record_verdicts()["duration_h"]
    assert pm.figures["record_onset_utc"] == onset
    row = next(r for r in _table_rows(pm.impact) if r[0] == "duration")
    assert row[1].startswith(f"{hours:.1f} h ({onset:%H:%M} UTC to {restored:%H:%M} UTC")
    assert row[2].startswith("record")


def test_services_affected_are_the_records(pm):
    services = data.load_services_2015()
    rows = {r[0]: r for r in _table_rows(pm.impact)}
    for row in services.itertuples():
        cell = rows["services affected" if row.affected != "no" else "not affected"][1]
        assert row.name in cell
    assert "Skype for Business" not in rows["services affected"][1]


def test_every_model_figure_is_labelled_assumed_and_every_record_figure_record(pm):
    for cells in _table_rows(pm.impact)[1:]:
        basis = cells[-1]
        assert basis.startswith("record") or basis == pmod.MODEL_LABEL, cells
    model_rows = [r for r in _table_rows(pm.impact) if r[-1] == pmod.MODEL_LABEL]
    assert len(model_rows) >= 4 and "assumed" in pmod.MODEL_LABEL
    # Every paragraph about the model says its inputs are assumed.
    for heading, body in pm.sections().items():
        for paragraph in body.split("\n\n"):
            if paragraph.startswith("**Model"):
                assert paragraph.startswith("**Model (assumed inputs).**"), heading
    # The scenario's assumed inputs are tagged where the text states them, as the card has them.
    push = data.parameter("config_push_utc")
    rebalancing = data.parameter("rebalancing_utc")
    share = data.parameter("rebalancing_admission_share")
    assert f"{push:%H:%M} UTC (assumed)" in pm.trigger
    assert f"{100 * data.parameter('affected_client_share'):.0f} % (assumed)" in pm.trigger
    users = data.parameter("concurrent_users_at_onset") / 1e6
    assert f"{users:.0f} million clients online (assumed)" in pm.trigger
    assert "(assumed)" in pm.amplification
    assert f"{data.parameter('client_timeout_s'):.0f} s (assumed)" in pm.why_it_lasted
    assert f"{rebalancing:%H:%M} UTC (assumed)" in pm.recovery
    assert f"sign-ins admitted at {share:g} × sign-in capacity" in pm.recovery
    # Nothing assumed is presented as the record's: the record's paragraphs hold no model time.
    for body in (pm.trigger, pm.recovery, pm.amplification):
        record_part = body.split("\n\n")[0]
        assert record_part.startswith("**Record.**")
        assert f"{push:%H:%M}" not in record_part and f"{rebalancing:%H:%M}" not in record_part


def test_every_assumed_input_of_the_replay_is_listed_as_not_known(pm, replay):
    assumed = [k for k, v in replay.scenario.parameters.items() if v == "assumed"]
    assert len(assumed) >= 8
    for name in assumed:
        assert f"`{name}`" in pm.not_known
    verified = [k for k, v in replay.scenario.parameters.items() if v == "verified"]
    for name in verified:
        assert f"`{name}`" not in pm.not_known
    for phrase in ("client versions failed", "How clients reconnected", "changed afterwards"):
        assert phrase in pm.not_known


def test_markdown_is_deterministic_with_and_without_a_given_replay(pm):
    again = pmod.skype_2015_postmortem()  # its own replay, run with the shared graph cache
    assert again.to_markdown() == pm.to_markdown()
    assert again == pm
    md = pm.to_markdown()
    assert not re.search(r"0x[0-9a-f]{6,}", md)
    assert pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d") not in md
    assert pm._repr_markdown_() == md
    assert "0x" not in repr(pm)


def test_each_action_items_saving_is_baseline_minus_defended(pm, replay):
    table = pm.action_table
    assert list(table["action"]) == list(pmod.DEFAULT_ACTIONS)
    base = pm.figures["model_outage_min"]
    assert pm.figures["baseline_outage_min"] == base
    for row in table.itertuples(index=False):
        assert row.saved_min == base - row.outage_min
        defences = list(pmod.DEFAULT_ACTIONS[row.action])
        assert row.cost_engineer_weeks == mitigations.cost(defences)
        assert row.owner == ""
    # One row against the package directly: the admission cap, scored on its own.
    by_defence = table.set_index("defences")
    share = data.parameter("rebalancing_admission_share")
    cap = mitigations.AdmissionControl(rate_share=share)
    defended = mitigations.apply_all(replay.scenario, [cap])
    assert (
        by_defence.loc[cap.label, "outage_min"]
        == mitigations.score(defended, metrics=["outage_min"])["outage_min"]
    )
    assert by_defence.loc[cap.label, "saved_min"] > 0
    # Dropping expired work takes the wasted work off, and saves nothing in the two-way model.
    assert by_defence.loc["drop expired work", "saved_min"] == 0
    # The table shows the same numbers, and an empty owner cell for the class.
    shown = {r[0]: r for r in _table_rows(pm.action_items)[1:]}
    for row in table.itertuples(index=False):
        cells = shown[row.action]
        assert cells[3] == f"{row.saved_min:,.0f} min"
        assert cells[5] == f"{row.cost_engineer_weeks:g}"
        assert cells[6] == ""


def test_the_admission_item_caps_at_the_cards_share_below_the_sign_in_paths_limit(pm, replay):
    [row] = [
        ds for action, ds in pmod.DEFAULT_ACTIONS.items() if action.startswith("Cap the sign-ins")
    ]
    [cap] = row
    assert isinstance(cap, mitigations.AdmissionControl)
    assert cap.rate_share == data.parameter("rebalancing_admission_share")
    params = replay.scenario.params
    normal = params.population * params.churn_per_s
    cap_ratio = cap.rate_share * params.signin_capacity_per_s / normal
    assert cap_ratio < scenarios.sign_in_path_limit(replay.scenario)
    # Half of capacity, the old item, is above what the path carries.
    half = 0.5 * params.signin_capacity_per_s / normal
    assert half > scenarios.sign_in_path_limit(replay.scenario)


def test_action_items_door_and_path_columns_are_the_packages(pm, replay):
    table = pm.action_table
    rows = {name: list(ds) for name, ds in pmod.DEFAULT_ACTIONS.items()}
    door = mitigations.door_and_path(rows, base=replay.scenario).set_index("name")
    for row in table.itertuples(index=False):
        assert row.peak_served_ratio == door.loc[row.action, "peak_served_ratio"]
        assert row.path_limit_ratio == door.loc[row.action, "path_limit_ratio"]
        assert row.failing_min == door.loc[row.action, "failing_min"]
        line = next(b for b in pm.action_items.splitlines() if b.startswith(f"- {row.defences}:"))
        assert f"{pmod._sig(row.peak_served_ratio)} × the normal sign-in rate" in line
        assert ("sign-ins failed behind the door" in line) == (row.failing_min > 0)
    by_defence = table.set_index("defences")
    # The rows that save nothing let the door serve more than the path carries; the cap does not.
    for label in ("drop expired work", "client backoff 1-120 s x1.6 jitter 0.2"):
        assert by_defence.loc[label, "saved_min"] == 0
        door, path = by_defence.loc[label, ["peak_served_ratio", "path_limit_ratio"]]
        assert door > path
        assert by_defence.loc[label, "failing_min"] > 0
    cap = f"admission control at {data.parameter('rebalancing_admission_share'):g} x capacity"
    assert by_defence.loc[cap, "peak_served_ratio"] <= by_defence.loc[cap, "path_limit_ratio"]
    assert by_defence.loc[cap, "failing_min"] == 0
    assert "Every row that saves no minutes also lets the door serve more" in pm.action_items


def test_summary_names_exactly_the_items_that_keep_the_outage_under_an_hour(pm):
    short = pm.action_table[pm.action_table["outage_min"] < 60]
    assert len(short) >= 1
    assert f"{len(short)} would have kept the outage under an hour" in pm.summary
    assert "; ".join(short["defences"]) in pm.summary
    for label in pm.action_table.loc[pm.action_table["outage_min"] >= 60, "defences"]:
        assert label not in pm.summary


def test_recovery_compares_the_rebalancing_cap_with_the_sign_in_paths_limit(pm, replay):
    f = pm.figures
    scenario = replay.scenario
    params = scenario.params
    rate = scenario.actions[0].policy.admission.rate_per_s
    assert f["rebalancing_cap_ratio"] == pytest.approx(
        rate / (params.population * params.churn_per_s), rel=1e-12
    )
    assert f["rebalancing_cap_ratio"] == pytest.approx(
        data.parameter("rebalancing_admission_share")
        * params.signin_capacity_per_s
        / (params.population * params.churn_per_s)
    )
    at = replay.timeseries.set_index("time_s").loc[scenario.actions[0].time_s]
    assert f["rebalancing_path_limit_ratio"] == scenarios.sign_in_path_limit(
        scenario, connected_share=float(at["connected_share"])
    )
    assert f["rebalancing_cap_ratio"] < f["rebalancing_path_limit_ratio"]
    # From the stated time on, no sign-in fails behind the sign-in service; just before, some do.
    clear = f["rebalancing_no_failures_from_utc"]
    ts = replay.timeseries
    assert (ts.loc[ts["time_utc"] >= clear, "downstream_failure_share"] == 0).all()
    assert ts.loc[ts["time_utc"] < clear, "downstream_failure_share"].iloc[-1] > 0
    assert f"from {clear:%H:%M} UTC on no sign-in it completes fails there" in pm.recovery
    assert f"{pmod._sig(f['rebalancing_cap_ratio'])} × the normal sign-in rate, within" in (
        pm.recovery
    )
    assert "within what the services behind sign-in carry" in pm.went_well
    minutes = (
        replay.restoration_utc()
        - (scenario.start_utc + pd.Timedelta(seconds=scenario.actions[0].time_s))
    ).total_seconds() / 60
    assert f"restored {minutes:.0f} min after it began" in pm.went_well


def test_why_it_lasted_says_the_sign_ins_served_fail_behind_the_door(pm, replay):
    f = pm.figures
    row = replay.timeseries.set_index("time_utc").loc[f["loop_at_utc"]]
    assert f["loop_served_ratio"] == row["signin_rate_ratio"]
    assert f["loop_downstream_failure_share"] == row["downstream_failure_share"] > 0
    assert f["loop_path_limit_ratio"] == scenarios.sign_in_path_limit(
        replay.scenario, connected_share=float(row["connected_share"])
    )
    assert f["loop_served_ratio"] > f["loop_path_limit_ratio"]
    assert f"more than the {pmod._sig(f['loop_path_limit_ratio'])} ×" in pm.why_it_lasted
    graph = replay.scenario.graph
    hard = [
        graph.nodes[v]["label"]
        for _, v, a in graph.out_edges(replay.scenario.signin_service, data=True)
        if a["dependency"] == "hard"
    ]
    assert len(hard) >= 2
    assert f"({', '.join(hard[:-1])} and {hard[-1]})" in pm.why_it_lasted
    # Over the day: the busiest sign-in rate served after the push, and the minutes failing.
    ts = replay.timeseries
    assert f["model_peak_served_ratio"] == ts["signin_rate_ratio"].max()
    failing = (ts["downstream_failure_share"] > 0).sum() * replay.scenario.output_every_s / 60
    assert f["model_failing_min"] == failing > 0
    assert pmod._minutes(failing) in pm.went_badly


def test_the_reading_note_says_the_model_is_coupled_both_ways(pm):
    md = pm.to_markdown()
    note = md.split("## Summary")[0]
    assert "both ways" in note and "try again" in note
    assert "record" in note and pmod.MODEL_LABEL in note


def test_backoff_lowers_the_peak_but_saves_nothing_and_the_text_says_why(pm):
    row = pm.action_table.set_index("defences").loc["client backoff 1-120 s x1.6 jitter 0.2"]
    assert row["saved_min"] == 0
    assert row["peak_load_ratio"] < pm.figures["model_peak_load_ratio"] / 10
    assert "has not broken the loop in the model" in pm.action_items


def test_action_items_take_a_list_of_defences_and_reject_anything_else(replay):
    one = pmod.skype_2015_postmortem(replay, defences=[mitigations.DropExpired()])
    assert one.action_table["action"].tolist() == ["drop expired work"]
    with pytest.raises(TypeError, match="defences must be"):
        pmod.skype_2015_postmortem(replay, defences="drop expired")
    with pytest.raises(TypeError, match="Defence objects"):
        pmod.skype_2015_postmortem(replay, defences=[42])


def test_timeline_holds_every_record_row_and_the_models_events_in_time_order(pm, replay):
    table = pm.timeline_table
    record = table[table["kind"] == "record"]
    assert len(record) == len(data.load_timeline_2015())
    assert table["time_utc"].is_monotonic_increasing
    model = table[table["kind"] == "model"]

    def events_at(t):
        return model.loc[model["time_utc"] == t, "what"].tolist()

    start = replay.scenario.start_utc
    push = start + pd.Timedelta(seconds=replay.scenario.params.triggers[0].time_s)
    rebalancing = start + pd.Timedelta(seconds=replay.scenario.actions[0].time_s)
    stuck = replay.timeseries.loc[replay.timeseries["phase"] == "stuck", "time_utc"].iloc[0]
    assert events_at(push)[0].startswith("Configuration push")
    assert any(w.startswith("Onset") for w in events_at(replay.onset_utc()))
    assert [w[:5] for w in events_at(stuck)] == ["Stuck"]
    [rebalance] = events_at(rebalancing)
    assert rebalance.startswith("Rebalancing") and "assumed" in rebalance
    assert events_at(replay.restoration_utc())[0].startswith("Restoration")
    # Record rows keep their sources; model rows sit in their own column.
    timeline = data.load_timeline_2015()
    for row in timeline.itertuples():
        assert row.source.split(" ; ")[0] in pm.timeline
    for cells in _table_rows(pm.timeline)[1:]:
        assert bool(cells[1]) != bool(cells[2]), cells
        if cells[2]:
            assert cells[3].startswith("replay of")


def test_why_it_lasted_reads_the_sustaining_loop_of_the_replay(pm, replay):
    f = pm.figures
    at_s = replay.scenario.seconds(f["loop_at_utc"])
    loop = ms.sustaining_loop(replay.storm, at_s)
    assert f["loop_queue_wait_s"] == loop["queue_wait_s"]
    assert f["loop_wasted_share"] == loop["wasted_share"]
    assert replay.phase_at(f["loop_at_utc"]) == "stuck"
    assert loop["queue_wait_s"] > loop["timeout_s"]
    assert f"{loop['queue_wait_s']:.0f} s" in pm.why_it_lasted
    assert f"{loop['timeout_s']:.0f} s" in pm.why_it_lasted
    assert f["model_stuck_without_action"] is True
    assert "still stuck at the end of the day" in pm.why_it_lasted
    # The run with no action is the two-way replay too: never restored.
    bare = replay.scenario.with_(actions=()).run(graph_cache=mitigations.graph_cache())
    assert bare.restoration_utc() is None


def test_the_wording_is_blameless(pm):
    # Prose only: source addresses (some headline "blames") and the format's name aside.
    text = re.sub(r"\(https?://[^)]*\)", "", pm.to_markdown()).lower().replace("blameless", "")
    for word in ("blame", "human error", "mistake", "careless", "negligen", "should have"):
        assert word not in text


def test_a_replay_without_a_storm_still_gives_a_whole_postmortem():
    s = skype_2015()
    calm = s.with_(params=s.params.with_(version_mix=VersionMix.two_groups(0.005)))
    replay = calm.run(graph_cache=mitigations._GRAPH_CACHE)
    assert replay.onset_utc() is None
    pm = pmod.skype_2015_postmortem(replay, defences=[mitigations.DropExpired()])
    assert all(body.strip() for body in pm.sections().values())
    assert "never overloads" in pm.why_it_lasted and "never overloads" in pm.summary
    assert pm.figures["model_outage_min"] == 0
    assert "loop_at_utc" not in pm.figures


def test_a_non_replay_is_refused():
    with pytest.raises(TypeError, match="replay must be a Replay"):
        pmod.skype_2015_postmortem(skype_2015())


# ------------------------------------------------------------------ 2010 charts and table


def _dataset_with(spec: dict, column: str) -> list[dict]:
    found = [d for d in spec["datasets"].values() if d and column in d[0]]
    assert len(found) == 1, column
    return found[0]


def test_record_chart_radio_switches_runs_and_the_readings_are_the_records():
    spec = BUILDERS["record_vs_model"]().to_dict()
    params = spec["params"]
    assert [(p["name"], p["bind"]["input"]) for p in params] == [("run", "radio")]
    assert params[0]["bind"]["options"] == ["calibrated", "no mega-supernodes"]
    lines = _dataset_with(spec, "online")
    assert {row["run"] for row in lines} == {"calibrated", "no mega-supernodes"}
    assert len(lines) <= 2 * snc.MAX_ROWS_PER_RUN
    cal = _tiny_calibration()
    assert lines[-1]["online"] == pytest.approx(
        _no_megas_run()["users_online"].iloc[-1] / 1e6, 1e-3
    )
    points = {p["target"]: p for p in _dataset_with(spec, "verdict")}
    users = cal.comparison[cal.comparison["measure"].isin(["users_online", "users_online_share"])]
    assert set(points) == set(users["target"])
    assert points["online_at_1840"]["low"] == pytest.approx(5.14)
    expected = cal.params.expected_online_users / 1e6
    low_1200 = cal.comparison.set_index("target").loc["recovery_at_1200", "low"]
    assert points["recovery_at_1200"]["low"] == pytest.approx(low_1200 * expected, 1e-3)
    met = cal.comparison.set_index("target")["met"]
    for name, p in points.items():
        assert p["verdict"] == ("within tolerance" if met[name] else "outside tolerance")
    marks = {m["label"]: m["time"] for m in _dataset_with(spec, "label")}
    start = cal.params.start_utc
    megas = start + pd.Timedelta(hours=cal.params.mega_start_h)
    assert marks == {
        "crashes begin": f"{start:%Y-%m-%dT%H:%M:%S}Z",
        "first mega-supernodes": f"{megas:%Y-%m-%dT%H:%M:%S}Z",
    }


def test_record_chart_with_one_run_and_plain_targets_has_no_radio():
    spec = BUILDERS["record_vs_model_one_run"]().to_dict()
    assert "params" not in spec
    assert {p["verdict"] for p in _dataset_with(spec, "verdict")} == {"record"}


def test_record_chart_rejects_bad_input():
    run = _tiny_calibration().run
    with pytest.raises(ValueError, match="first must be one of"):
        snc.record_vs_model_chart({"a": run}, sn.targets_2010(), first="b")
    with pytest.raises(ValueError, match="lacks columns"):
        snc.record_vs_model_chart(run, pd.DataFrame({"target": ["x"]}))
    with pytest.raises(TypeError, match="run must be"):
        snc.record_vs_model_chart([run], sn.targets_2010())


def test_calibration_chart_shows_the_minimum_over_the_other_axes_and_marks_the_best():
    cal = _tiny_calibration()
    spec = BUILDERS["calibration"]().to_dict()
    [cells] = [d for d in spec["datasets"].values() if "score" in d[0] and "label" not in d[0]]
    expected = cal.scores.groupby(["overload_threshold", "mega_capacity"])["score"].min()
    assert len(cells) == len(expected) == 4
    for c in cells:
        assert c["score"] == pytest.approx(
            expected[(c["overload_threshold"], c["mega_capacity"])], abs=1e-6
        )
    best = [d for d in spec["datasets"].values() if d and d[0].get("label") == "best"]
    assert len(best) == 1
    assert best[0][0]["overload_threshold"] == cal.best["overload_threshold"]
    assert best[0][0]["mega_capacity"] == cal.best["mega_capacity"]
    assert best[0][0]["score"] == pytest.approx(cal.score, abs=1e-6)
    with pytest.raises(ValueError, match="not a parameter"):
        snc.calibration_chart(cal.scores, "overload_threshold", "score_of_nothing")


def test_comparison_table_is_one_row_per_target_with_the_verdicts():
    cal = _tiny_calibration()
    table = snc.comparison_table(cal)
    assert list(table.columns) == [
        "target",
        "when (UTC)",
        "record",
        "model",
        "tolerance",
        "within tolerance",
    ]
    assert len(table) == len(cal.comparison)
    assert (table["within tolerance"] == "yes").sum() == int(cal.comparison["met"].sum())
    assert table["target"].tolist() == cal.comparison["description"].tolist()
    row = table.set_index("target").loc["users online at 18:40 UTC on 22 Dec (public counter)"]
    assert row["record"] == "5.14 M" and row["when (UTC)"] == "22 Dec 18:40"
    with pytest.raises(TypeError):
        snc.comparison_table(sn.targets_2010())


# ------------------------------------------------------------------ exercises


def test_user_hours_lost_accepts_the_packages_figure_and_explains_unit_slips():
    minutes = mitigations.score(skype_2015(), metrics=["user_min_lost"])["user_min_lost"]
    answer = minutes / 60 / 1e6
    assert pe.user_hours_lost(answer).correct is True
    assert pe.user_hours_lost(round(answer)).correct is True
    assert pe.user_hours_lost(None).correct is None
    assert "user-minutes" in pe.user_hours_lost(minutes / 1e6).message
    assert "millions" in pe.user_hours_lost(minutes / 60).message
    assert "billions" in pe.user_hours_lost(answer / 1000).message
    unserved = mitigations.score(skype_2015(), metrics=["user_min_unserved"])["user_min_unserved"]
    assert "user_min_unserved" in pe.user_hours_lost(unserved / 60 / 1e6).message
    params = skype_2015().params
    naive = params.population * params.version_mix.affected_share() * 15.5 / 1e6
    verdict = pe.user_hours_lost(naive)
    assert verdict.correct is False and "counts only the clients the push" in verdict.message
    assert pe.user_hours_lost("many").correct is False
    for wrong in (naive, minutes / 60, answer * 0.9):
        assert f"{answer:.0f}" not in pe.user_hours_lost(wrong).message


def test_without_megas_accepts_the_calibrated_models_end_share():
    cal = _tiny_calibration()
    no = sn.run_supernodes(cal.params.with_(mega_start_h=None))
    share = float(no["users_online_share"].iloc[-1])
    assert share < 0.5  # the point of the exercise: without them it stays down
    same = sn.run_supernodes(cal.params.with_(mega_batches=0))["users_online_share"].iloc[-1]
    assert same == pytest.approx(share, abs=1e-9)  # any way of removing them gives it
    assert pe.without_megas(share, calibration=cal).correct is True
    assert pe.without_megas(None, calibration=cal).correct is None
    assert "percentage" in pe.without_megas(100 * share, calibration=cal).message
    with_megas = float(cal.run["users_online_share"].iloc[-1])
    assert with_megas > 0.95
    assert "with the mega-supernodes" in pe.without_megas(with_megas, calibration=cal).message
    users = share * cal.params.expected_online_users
    assert "number of users" in pe.without_megas(users, calibration=cal).message
    assert "offline" in pe.without_megas(1 - share, calibration=cal).message
    with pytest.raises(TypeError, match="Calibration2010"):
        pe.without_megas(0.3, calibration="cal")


def test_without_megas_default_calibration_leaves_the_network_on_its_plateau():
    share = pe.share_online_without_megas()
    assert 0.1 < share < 0.4
    assert pe.without_megas(share).correct is True


def test_recovered_by_cutting_load_is_the_cut_load_rows():
    table = incidents.load_incidents()
    ids = set(table.loc[table["recovery_kind"] == "cut_load", "id"])
    assert len(ids) >= 2
    assert pe.recovered_by_cutting_load(ids).correct is True
    assert pe.recovered_by_cutting_load([i.upper() for i in ids]).correct is True
    assert pe.recovered_by_cutting_load(None).correct is None
    one = sorted(ids)[0]
    missing = pe.recovered_by_cutting_load(ids - {one})
    assert missing.correct is False and "missing" in missing.message
    assert one not in missing.message  # the hint does not name what is missing
    staged = set(table.loc[table["recovery_kind"] == "staged_readmission", "id"])
    extra = sorted(staged)[0]
    verdict = pe.recovered_by_cutting_load(ids | {extra})
    assert verdict.correct is False
    assert extra in verdict.message and "staged_readmission" in verdict.message
    assert "not incident ids" in pe.recovered_by_cutting_load({"skype_1999"}).message
    assert "set of incident ids" in pe.recovered_by_cutting_load(one).message
    names = set(table.loc[table["id"].isin(ids), "name"])
    assert "id column" in pe.recovered_by_cutting_load(names).message
