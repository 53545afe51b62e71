"""Graph charts, the service-graph panel and the lesson 03 exercise checks."""

from __future__ import annotations

import pandas as pd
import pytest

from outage_kit import (
    cascades,
    charts,
    graph_charts,
    graph_exercises,
    graph_widgets,
    services,
)

GRAPH = services.load_service_graph()


def _frames():
    states = {
        pct: services.steady_state(GRAPH, workers_factor={"presence": pct / 100})
        for pct in (100, 80, 60)
    }
    nodes = pd.concat([s.nodes.assign(frame=float(f)) for f, s in states.items()])
    edges = pd.concat([s.edges.assign(frame=float(f)) for f, s in states.items()])
    captions = {float(f): f"presence at {f}%" for f in states}
    return nodes, edges, captions


def _builders():
    base = services.steady_state(GRAPH)
    storm = services.steady_state(
        GRAPH, services.baseline_client_rates(GRAPH, 2.0, stacks=["consumer"])
    )
    nodes, edges, captions = _frames()
    first = graph_widgets.service_graph_state(GRAPH)["params"]
    ml = cascades.motter_lai_experiment(n=80, alphas=(0.1, 0.5), random_starts=1)
    simulation = cascades.buldyrev_simulation(n=500, p_mean_degree=[2.0, 3.0])
    return {
        "structure": lambda: graph_charts.service_graph_chart(GRAPH, colour="status"),
        "health": lambda: graph_charts.service_graph_chart(GRAPH, storm.nodes, storm.edges),
        "utilisation": lambda: graph_charts.service_graph_chart(
            GRAPH, base.nodes, base.edges, colour="utilisation"
        ),
        "frames_slider": lambda: graph_charts.service_graph_frames_chart(
            GRAPH, nodes, edges, value=80.0, slider="presence (%) ", captions=captions
        ),
        "frames_param": lambda: graph_charts.service_graph_frames_chart(
            GRAPH, nodes, edges, param_name="time_index", colour="utilisation"
        ),
        "live": lambda: graph_charts.service_graph_live_chart(
            GRAPH, first["node_health"], first["node_utilisation"], first["edge_rate"]
        ),
        "downstream_cost": lambda: graph_charts.downstream_cost_chart(
            services.downstream_cost(GRAPH, "sign_in"), GRAPH, "sign_in"
        ),
        "feature_impact": lambda: graph_charts.feature_impact_chart(
            services.feature_impact(GRAPH), GRAPH
        ),
        "motter_lai": lambda: graph_charts.motter_lai_chart(ml),
        "buldyrev": lambda: graph_charts.buldyrev_chart(
            simulation, cascades.buldyrev_theory(4.0), cascades.buldyrev_threshold(), 4.0
        ),
    }


BUILDERS = _builders()


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


# --------------------------------------------------------------------------- charts
# The checks every chart builder gets (compiles with Vega-Lite 5, stable spec, house theme) run
# in tests/test_charts.py, which includes these builders.


def test_layout_is_fixed_and_comes_from_the_data():
    layout = graph_charts.graph_layout(GRAPH).set_index("id")
    assert layout.loc["sign_in", ["x", "y"]].tolist() == [
        GRAPH.nodes["sign_in"]["column"],
        GRAPH.nodes["sign_in"]["layer"],
    ]
    assert graph_charts.graph_layout(GRAPH).equals(graph_charts.graph_layout(GRAPH))
    # callers are drawn above the services they call
    for u, v in GRAPH.edges:
        assert layout.loc[u, "y"] < layout.loc[v, "y"], (u, v)


def test_layout_of_a_graph_built_in_code_follows_the_calls():
    g = services.build_service_graph(
        {"a": {"client_rate_per_s": 1.0}, "b": {}, "c": {}}, [("a", "b"), ("b", "c"), ("a", "c")]
    )
    assert graph_charts.graph_layout(g)["y"].tolist() == [0.0, 1.0, 2.0]


def test_edge_order_is_the_order_of_the_state_table():
    state = services.steady_state(GRAPH)
    assert list(zip(state.edges["caller"], state.edges["callee"], strict=True)) == (
        graph_charts.edge_order(GRAPH)
    )


def test_the_node_colours_follow_the_state_table():
    storm = services.steady_state(
        GRAPH, services.baseline_client_rates(GRAPH, 2.0, stacks=["consumer"])
    )
    spec = graph_charts.service_graph_chart(GRAPH, storm.nodes, storm.edges).to_dict()
    rows = [r for values in spec["datasets"].values() for r in values if "health" in r]
    health = {r["id"]: r["health"] for r in rows}
    assert health == dict(zip(storm.nodes["id"], storm.nodes["health"], strict=True))


def test_every_health_level_has_a_colour():
    assert set(graph_charts.GRAPH_HEALTH_COLOURS) == set(services.HEALTH_LEVELS)


def test_a_state_table_missing_a_service_is_refused():
    state = services.steady_state(GRAPH)
    with pytest.raises(ValueError, match="no row for"):
        graph_charts.service_graph_chart(GRAPH, state.nodes.iloc[1:])


def test_frames_chart_binds_a_browser_slider_or_exposes_a_param():
    slider = BUILDERS["frames_slider"]().to_dict()
    [param] = slider["params"]
    assert param["bind"]["input"] == "range"
    assert (param["bind"]["min"], param["bind"]["max"], param["bind"]["step"]) == (
        60.0,
        100.0,
        20.0,
    )
    assert param["value"] == 80.0
    [plain] = BUILDERS["frames_param"]().to_dict()["params"]
    assert plain["name"] == "time_index" and "bind" not in plain


def test_frames_stay_under_altairs_row_limit():
    nodes, edges, _ = _frames()
    many = 60  # a minute of one-second frames, or 60 load levels
    assert len(GRAPH) * many < 5000 and GRAPH.number_of_edges() * many < 5000
    assert len(nodes) == 3 * len(GRAPH)


def test_the_graph_svg_has_readable_labels():
    svg = charts.chart_svg(BUILDERS["structure"]().to_dict())
    assert "sign-in" in svg and "Skype for Business" in svg
    assert 'font-size="14px"' in svg


# --------------------------------------------------------------------------- panel


def test_panel_state_matches_the_model():
    state = graph_widgets.service_graph_state(GRAPH, 1.0, "presence")
    model = services.steady_state(GRAPH, removed=["presence"])
    assert state["params"]["node_health"] == list(model.nodes["health"])
    assert state["params"]["edge_rate"] == [round(r, 2) for r in model.edges["attempts_per_s"]]
    assert len(state["params"]["node_utilisation"]) == len(GRAPH)
    assert "Presence" not in state["readout"] and "presence" in state["readout"]


def test_panel_state_shows_the_bulkhead():
    state = graph_widgets.service_graph_state(GRAPH, 2.0, "")
    assert not state["stable"]
    health = dict(zip(GRAPH.nodes, state["params"]["node_health"], strict=True))
    assert health["sign_in"] == "overloaded"
    assert health["skype_for_business"] == "healthy"
    assert "Skype for Business: requests that succeed</td><td><b>100%" in state["readout"]


def test_panel_controls_move_the_chart():
    panel = graph_widgets.ServiceGraphPanel(GRAPH)
    assert set(panel.chart.params.node_health) == {"healthy"}
    panel.load.value = 2.0
    assert "overloaded" in panel.chart.params.node_health
    panel.load.value = 1.0
    panel.removed.value = "auth"
    index = list(GRAPH.nodes).index("auth")
    assert panel.chart.params.node_health[index] == "removed"
    assert "sign-in: requests that succeed" in panel.readout.value


def test_panel_has_a_stable_text_fallback():
    bundle = graph_widgets.ServiceGraphPanel(GRAPH)._repr_mimebundle_()
    assert bundle["text/plain"] == "<ServiceGraphPanel>"


# --------------------------------------------------------------------------- exercises


def test_exercise_answers_computed_with_the_package_are_correct():
    cost = services.downstream_cost(GRAPH, "sign_in")["user_directory"]
    assert graph_exercises.signin_account_calls(cost).correct
    dead = services.steady_state(GRAPH, {"sign_in": 1.0}, removed=["user_directory"])
    assert graph_exercises.attempts_at_dead_service(
        dead.node("user_directory")["offered_per_s"]
    ).correct
    assert graph_exercises.most_critical_service("user_directory").correct


@pytest.mark.parametrize(
    "check, answer, hint",
    [
        (graph_exercises.signin_account_calls, 1, "not the only one"),
        (graph_exercises.signin_account_calls, 3, "some of the paths"),
        (graph_exercises.attempts_at_dead_service, 9, "clients retry"),
        (graph_exercises.attempts_at_dead_service, 10, "multiply"),
        (graph_exercises.most_critical_service, "presence", "takes down 3 features"),
        (graph_exercises.most_critical_service, "presense", "did you mean 'presence'"),
    ],
)
def test_wrong_answers_get_a_hint_and_not_the_answer(check, answer, hint):
    verdict = check(answer)
    assert verdict.correct is False
    assert hint.lower() in verdict.message.lower()
    assert "36" not in verdict.message and "user_directory" not in verdict.message


@pytest.mark.parametrize(
    "check",
    [
        graph_exercises.signin_account_calls,
        graph_exercises.attempts_at_dead_service,
        graph_exercises.most_critical_service,
    ],
)
def test_no_answer_yet_and_wrong_types(check):
    assert check(None).correct is None
    assert check(["a list"]).correct is False
