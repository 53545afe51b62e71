"""The service graph: its data, load propagation, overload with retries, isolation, analysis."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from outage_kit import data, policies, queueing, services

DATA = data.DATA_DIR
NODES = DATA / services.NODES_FILE
EDGES = DATA / services.EDGES_FILE


@pytest.fixture(scope="module")
def graph():
    return services.load_service_graph()


@pytest.fixture(scope="module")
def baseline(graph):
    return services.steady_state(graph)


# --------------------------------------------------------------------------- the data


def test_the_services_the_record_names_are_in_the_graph_with_their_ids(graph):
    named = {"sign_in", "presence", "instant_messaging", "contact_list", "skypeout"}
    named |= {"skype_for_business", "sfb_sign_in"}
    assert named <= set(graph.nodes)
    known = set(data.load_services_2015()["id"])
    for node, attrs in graph.nodes(data=True):
        if attrs["status"] == "verified":
            assert node in known, f"{node} is verified but not an id of services_2015.csv"


def test_every_row_says_why_its_numbers_are_what_they_are(graph):
    for node, attrs in graph.nodes(data=True):
        assert attrs["numbers_reason"], node
        if attrs["status"] == "assumed":
            assert attrs["reason"], node
        if attrs["status"] == "verified":
            assert attrs["source"].startswith("http"), node
    for u, v, attrs in graph.edges(data=True):
        assert attrs["numbers_reason"], (u, v)
        assert attrs["status"] in data.STATUSES
        if attrs["status"] == "assumed":
            assert attrs["reason"], (u, v)


def test_the_graph_has_no_cycles_and_two_stacks_that_share_nothing(graph):
    assert nx.is_directed_acyclic_graph(graph)
    parts = services.stack_components(graph)
    assert len(parts) == 2
    stacks = [{graph.nodes[n]["stack"] for n in part} for part in parts]
    assert stacks == [{"consumer"}, {"business"}]
    assert services.shared_services(graph, "consumer", "business") == set()


def test_the_one_verified_dependency_is_calls_on_presence(graph):
    verified = [(u, v) for u, v, a in graph.edges(data=True) if a["status"] == "verified"]
    assert verified == [("voice_video_calls", "presence")]
    assert graph.edges["voice_video_calls", "presence"]["dependency"] == "hard"


def test_baseline_is_healthy_at_the_utilisation_the_card_suggests(graph, baseline):
    # Workers were chosen as the fewest that keep utilisation <= 1/capacity_headroom.
    headroom = data.parameter("capacity_headroom")
    nodes = baseline.nodes
    assert baseline.converged
    assert set(nodes["health"]) == {"healthy"}
    assert (nodes["utilisation"] <= 1 / headroom + 1e-3).all()
    big_pools = nodes[nodes["workers"] >= 20]  # small pools need more slack (lesson 01)
    assert (big_pools["utilisation"] > 0.65).all()
    assert np.allclose(baseline.edges["attempts_per_call"], 1.0, atol=1e-3)
    assert np.allclose(nodes.loc[nodes["entry"], "user_success_share"], 1.0)


# --------------------------------------------------------------------------- load propagation


def _path_sum(graph, rates, target):
    total = rates.get(target, 0.0)
    for entry, rate in rates.items():
        if entry == target:
            continue
        for path in nx.all_simple_paths(graph, entry, target):
            total += rate * math.prod(
                graph.edges[u, v]["fanout"] for u, v in zip(path, path[1:], strict=False)
            )
    return total


def test_fanout_products_on_a_small_graph_by_hand():
    # a -2-> b -3-> d, a -1-> c -4-> d, b -0.5-> c: paths to d give 2*3 + 1*4 + 2*0.5*4 = 14
    g = services.build_service_graph(
        {"a": {"client_rate_per_s": 1.0}, "b": {}, "c": {}, "d": {}},
        [
            ("a", "b", {"fanout": 2}),
            ("a", "c"),
            ("b", "d", {"fanout": 3}),
            ("b", "c", {"fanout": 0.5}),
            ("c", "d", {"fanout": 4}),
        ],
    )
    load = services.propagate_load(g, {"a": 10.0})
    assert load == {"a": 10.0, "b": 20.0, "c": 20.0, "d": 140.0}


def test_what_one_signin_costs_by_hand(graph):
    cost = services.downstream_cost(graph, "sign_in")
    # accounts: via auth, via contacts, via presence -> contacts, via messaging -> presence
    # -> contacts: four paths of fan-out 1
    assert cost["user_directory"] == 4.0
    # notifications: presence (2 paths) x 20 + messaging x 2
    assert cost["notification_hub"] == 2 * 20 + 2
    assert cost["skype_for_business"] == 0.0


def test_load_is_the_sum_over_paths_of_fanout_products(graph):
    rates = services.baseline_client_rates(graph)
    load = services.propagate_load(graph, rates)
    for node in graph.nodes:
        assert load[node] == pytest.approx(_path_sum(graph, rates, node), rel=1e-12)


@st.composite
def random_dags(draw):
    n = draw(st.integers(2, 7))
    nodes = {
        f"s{i}": {"client_rate_per_s": draw(st.sampled_from([0.0, 1.0, 2.5]))} for i in range(n)
    }
    nodes["s0"]["client_rate_per_s"] = 1.0
    edges = []
    for j in range(1, n):
        callers = draw(st.lists(st.integers(0, j - 1), min_size=1, max_size=j, unique=True))
        for i in callers:
            edges.append((f"s{i}", f"s{j}", {"fanout": draw(st.sampled_from([0.5, 1, 2, 3]))}))
    return services.build_service_graph(nodes, edges)


@settings(max_examples=40, deadline=None)
@given(random_dags())
def test_load_conservation_inflow_times_fanout_is_outflow(g):
    rates = services.baseline_client_rates(g)
    load = services.propagate_load(g, rates)
    calls = services.edge_loads(g, load)
    for node in g.nodes:
        inflow = rates.get(node, 0.0) + sum(calls[(u, node)] for u, _ in g.in_edges(node))
        assert load[node] == pytest.approx(inflow)
        for _, callee, attrs in g.out_edges(node, data=True):
            assert calls[(node, callee)] == pytest.approx(load[node] * attrs["fanout"])
        assert load[node] == pytest.approx(_path_sum(g, rates, node))


def test_steady_state_conserves_attempts_at_every_node(graph):
    rates = services.baseline_client_rates(graph, 1.6, stacks=["consumer"])
    state = services.steady_state(graph, rates, removed=["presence"])
    nodes = state.nodes.set_index("id")
    edges = state.edges
    for node in graph.nodes:
        inflow = edges.loc[edges["callee"] == node, "attempts_per_s"].sum()
        if nodes.loc[node, "entry"]:
            inflow += rates[node] * nodes.loc[node, "client_attempts_per_request"]
        assert nodes.loc[node, "offered_per_s"] == pytest.approx(inflow, rel=1e-9)
    assert np.allclose(
        edges["calls_per_s"] * edges["attempts_per_call"], edges["attempts_per_s"], rtol=1e-12
    )


def test_without_failures_the_steady_state_carries_the_propagated_load(graph, baseline):
    load = services.propagate_load(graph, services.baseline_client_rates(graph))
    offered = baseline.nodes.set_index("id")["offered_per_s"]
    for node, value in load.items():
        assert offered[node] == pytest.approx(value, rel=1e-3)


# --------------------------------------------------------------------------- retries


def _chain(attempts, bottom_workers=1):
    return services.build_service_graph(
        {
            "a": {"client_rate_per_s": 1.0, "workers": 1000},
            "b": {"workers": 1000},
            "c": {"workers": 1000},
            "d": {"workers": bottom_workers},
        },
        [(u, v, {"max_attempts": attempts, "timeout_s": 0.5}) for u, v in ["ab", "bc", "cd"]],
    )


@pytest.mark.parametrize("attempts, expected", [(4, 64.0), (3, 27.0), (2, 8.0), (1, 1.0)])
def test_retries_multiply_across_layers_when_the_bottom_is_dead(attempts, expected):
    state = services.steady_state(
        _chain(attempts),
        {"a": 1.0},
        removed=["d"],
        client_policy=policies.NoRetry(),
        client_timeout_s=10.0,
    )
    assert state.node("d")["offered_per_s"] == pytest.approx(expected)
    assert state.node("a")["user_success_share"] == 0.0


def test_retries_multiply_across_layers_when_the_bottom_times_out():
    # d is far too small: every attempt to it times out, and every layer above retries.
    state = services.steady_state(
        _chain(4, bottom_workers=1),
        {"a": 5.0},
        client_policy=policies.NoRetry(),
        client_timeout_s=100.0,
    )
    assert state.node("d")["health"] == "overloaded"
    assert state.node("d")["offered_per_s"] == pytest.approx(64 * 5.0)
    assert state.edges["time_per_attempt_s"].iloc[-1] == pytest.approx(0.5)


def test_partial_failure_gives_the_geometric_number_of_attempts(graph):
    state = services.steady_state(graph, services.baseline_client_rates(graph, 1.35))
    edges = state.edges
    p = edges["failure_per_attempt"].to_numpy()
    m = np.array(
        [
            graph.edges[u, v]["max_attempts"]
            for u, v in zip(edges["caller"], edges["callee"], strict=True)
        ]
    )
    expected = np.array([sum(q**k for k in range(n)) for q, n in zip(p, m, strict=True)])
    assert np.allclose(edges["attempts_per_call"], expected, rtol=1e-9)
    assert np.allclose(edges["call_failure_share"], p**m)


def test_backoff_waiting_counts_in_the_callers_holding_time():
    g = services.build_service_graph(
        {"a": {"client_rate_per_s": 1.0, "workers": 50, "service_rate_per_s": 100.0}, "b": {}},
        [("a", "b", {"max_attempts": 3})],
    )
    immediate = services.steady_state(g, {"a": 1.0}, removed=["b"])
    waiting = services.steady_state(
        g,
        {"a": 1.0},
        removed=["b"],
        policies=policies.RetryPolicy(policies.FixedDelay(0.25), max_attempts=3),
    )
    extra = waiting.node("a")["holding_s"] - immediate.node("a")["holding_s"]
    assert extra == pytest.approx(2 * 0.25)  # two retries, each after 0.25 s, all failing


def test_a_failed_hard_call_ends_the_request(graph):
    # sign-in calls auth first; without auth it never reaches presence or the contact list.
    state = services.steady_state(graph, {"sign_in": 1.0}, removed=["auth"])
    nodes = state.nodes.set_index("id")
    assert nodes.loc["presence", "offered_per_s"] == 0.0
    assert nodes.loc["sign_in", "health"] == "failing"
    # the clients retry: 4 sign-in attempts, each trying auth 3 times
    assert nodes.loc["auth", "offered_per_s"] == pytest.approx(12.0)


def test_a_soft_dependency_degrades_without_failing(graph):
    state = services.steady_state(graph, removed=["client_config"])
    sign_in = state.node("sign_in")
    assert sign_in["health"] == "degraded"
    assert sign_in["user_success_share"] == pytest.approx(1.0)
    assert sign_in["degraded_share"] == pytest.approx(1.0)


def test_a_slow_presence_takes_signin_down(graph):
    healthy = services.steady_state(graph, workers_factor={"presence": 0.8})
    short = services.steady_state(graph, workers_factor={"presence": 0.6})
    assert healthy.node("sign_in")["health"] == "healthy"
    assert short.node("presence")["health"] == "overloaded"
    assert short.node("sign_in")["user_success_share"] < 0.01
    assert short.node("sign_in")["holding_s"] > 10 * healthy.node("sign_in")["holding_s"]


def test_retries_can_sustain_an_overload_that_a_healthy_start_avoids(graph):
    rates = services.baseline_client_rates(graph)
    storm = services.steady_state(graph, services.baseline_client_rates(graph, 2.0, ["consumer"]))
    after = services.steady_state(graph, rates, start=storm)
    assert after.converged
    assert after.node("sign_in")["health"] == "overloaded"  # metastable: stuck
    assert services.steady_state(graph, rates).node("sign_in")["health"] == "healthy"
    without_retries = services.steady_state(
        graph,
        rates,
        start=storm,
        policies=policies.NoRetry(),
        client_policy=policies.NoRetry(),
    )
    assert without_retries.node("sign_in")["health"] == "healthy"


# --------------------------------------------------------------------------- isolation


def test_skype_for_business_stays_healthy_whatever_happens_to_consumer_skype(graph, baseline):
    business = [n for n in graph.nodes if graph.nodes[n]["stack"] == "business"]
    columns = ["offered_per_s", "utilisation", "health", "mean_response_s"]
    calm = baseline.nodes.set_index("id").loc[business, columns]
    for conditions in (
        {"client_rates": services.baseline_client_rates(graph, 3.0, stacks=["consumer"])},
        {"removed": ["user_directory"]},
        {"workers_factor": {"presence": 0.3}},
    ):
        stormy = services.steady_state(graph, **conditions)
        assert (stormy.nodes["health"] == "overloaded").sum() >= 3
        assert stormy.nodes.set_index("id").loc[business, columns].equals(calm)


def test_a_shared_dependency_breaks_the_bulkhead(graph):
    shared = services.with_dependency(graph, "sfb_sign_in", "user_directory")
    assert services.shared_services(shared, "consumer", "business") == {"user_directory"}
    stormy = services.steady_state(
        shared, services.baseline_client_rates(shared, 2.0, stacks=["consumer"])
    )
    assert stormy.node("sfb_sign_in")["user_success_share"] < 0.5


# --------------------------------------------------------------------------- monotonicity


def test_more_capacity_never_makes_any_node_worse_at_fixed_load(graph):
    # With no retries and timeouts too long to fire, every call is made and the load is fixed;
    # more workers anywhere can only shorten waits, there and in every caller above.
    # (With failures, fewer failures upstream let more calls through to services further on.)
    patient = graph.copy()
    for edge in patient.edges:
        patient.edges[edge]["timeout_s"] = 1e6
    rates = services.baseline_client_rates(graph, 1.3, stacks=["consumer"])
    fixed = {"policies": policies.NoRetry(), "client_policy": policies.NoRetry()}
    before = services.steady_state(patient, rates, **fixed).nodes.set_index("id")
    for node in graph.nodes:
        after = services.steady_state(
            patient, rates, workers_factor={node: 1.5}, **fixed
        ).nodes.set_index("id")
        assert (after["utilisation"] <= before["utilisation"] + 1e-12).all(), node
        assert (after["mean_response_s"] <= before["mean_response_s"] + 1e-12).all(), node


@pytest.mark.parametrize("scale", [1.0, 1.35, 1.6])
def test_more_capacity_never_makes_that_node_worse_with_retries(graph, scale):
    rates = services.baseline_client_rates(graph, scale, stacks=["consumer"])
    before = services.steady_state(graph, rates).nodes.set_index("id")
    for node in graph.nodes:
        after = services.steady_state(graph, rates, workers_factor={node: 1.5}).node(node)
        assert after["utilisation"] <= before.loc[node, "utilisation"] + 1e-9, node
        assert after["failure_share"] <= before.loc[node, "failure_share"] + 1e-9, node


# --------------------------------------------------------------------------- analysis


def test_feature_impact_from_structure(graph):
    impact = services.feature_impact(graph).set_index("service")
    assert impact.loc["presence", "voice_video_calls"] == "down"
    assert impact.loc["presence", "instant_messaging"] == "degraded"
    assert impact.loc["user_directory", "skype_for_business"] == "ok"
    assert impact["features_down"].idxmax() == "user_directory"


def test_with_load_a_removal_takes_down_at_least_what_the_structure_says(graph):
    impact = services.feature_impact(graph).set_index("service")
    entries = [n for n in graph.nodes if graph.nodes[n]["entry"]]
    for service in graph.nodes:
        state = services.steady_state(graph, removed=[service]).nodes.set_index("id")
        for entry in entries:
            if impact.loc[service, entry] == "down":
                assert state.loc[entry, "user_success_share"] < 0.5, (service, entry)


def test_criticality_ranks_the_shared_account_store_first(graph):
    table = services.criticality(graph, services.baseline_client_rates(graph))
    assert table.iloc[0]["service"] == "user_directory"
    assert table.set_index("service").loc["presence", "load_betweenness"] > 0
    assert table["load_share"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- step


def test_stepping_with_constant_load_reaches_the_steady_state(graph, baseline):
    model = services.GraphModel(graph)
    rates = services.baseline_client_rates(graph)
    state = model.healthy_state(rates)
    for _ in range(400):  # 20 time constants of the slowest edge (the clients' 20 s)
        state = services.step(state, rates, dt_s=1.0)
    assert np.allclose(state.failure_per_attempt, baseline.failure_per_attempt, atol=1e-9)
    assert np.allclose(state.time_per_attempt_s, baseline.time_per_attempt_s, rtol=1e-6)


def test_a_step_relaxes_each_edge_with_its_timeout(graph):
    model = services.GraphModel(graph, removed=["auth"])
    rates = services.baseline_client_rates(graph)
    state = services.step(model.healthy_state(rates), rates, dt_s=1.0)
    edges = state.edges.set_index(["caller", "callee"])
    # sign-in -> auth: target 1 (refused), timeout 1 s: moves 1 - exp(-1) of the way
    assert edges.loc[("sign_in", "auth"), "failure_per_attempt"] == pytest.approx(1 - math.exp(-1))


# --------------------------------------------------------------------------- queueing pieces


@pytest.mark.parametrize(
    "lam, mu, c, tau",
    [(0.8, 1.0, 1, 2.0), (9.0, 1.0, 10, 0.3), (1.0, 1.0, 2, 1.5), (45.0, 2.0, 30, 5.0)],
)
def test_truncated_mean_response_is_the_integral_of_the_queueing_tail(lam, mu, c, tau):
    expected, _ = quad(lambda t: queueing.mmc_response_tail(t, lam, mu, c), 0.0, tau)
    prob_wait = queueing.erlang_c(c, lam / mu)
    got = float(services._truncated_mean_response(tau, lam, mu, c, prob_wait))
    assert got == pytest.approx(expected, rel=1e-9)
    far = float(services._truncated_mean_response(1e6, lam, mu, c, prob_wait))
    assert far == pytest.approx(queueing.mmc_metrics(lam, mu, c).mean_response_s, rel=1e-12)


def test_latency_comes_from_the_mmc_closed_form(graph, baseline):
    node = baseline.node("presence")
    metrics = queueing.mmc_metrics(node["offered_per_s"], 1 / node["holding_s"], node["workers"])
    assert node["mean_response_s"] == pytest.approx(metrics.mean_response_s, rel=1e-12)


def test_throttle_passes_on_only_what_an_overloaded_caller_completes():
    g = services.build_service_graph(
        {
            "a": {"client_rate_per_s": 1.0, "workers": 2, "service_rate_per_s": 1.0},
            "b": {"workers": 50},
        },
        [("a", "b")],
    )
    kwargs = {"client_policy": policies.NoRetry(), "client_timeout_s": 10.0}
    offered = services.steady_state(g, {"a": 10.0}, **kwargs)
    carried = services.steady_state(g, {"a": 10.0}, throttle=True, **kwargs)
    assert offered.node("b")["offered_per_s"] == pytest.approx(10.0)
    capacity = carried.node("a")["capacity_per_s"]
    assert carried.node("b")["offered_per_s"] == pytest.approx(capacity, rel=1e-6)
    assert carried.node("a")["served_per_s"] == pytest.approx(capacity)


def test_results_are_deterministic(graph):
    a = services.steady_state(graph, removed=["presence"])
    b = services.steady_state(graph, removed=["presence"])
    assert a.nodes.equals(b.nodes) and a.edges.equals(b.edges)


# --------------------------------------------------------------------------- bad input


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    nodes, edges = tmp_path / NODES.name, tmp_path / EDGES.name
    shutil.copy(NODES, nodes)
    shutil.copy(EDGES, edges)
    return nodes, edges


def _edit(path: Path, row_id: tuple[str, str] | str, field: str, value: str) -> int:
    """Set one cell; return its line number (header = 1)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    line = next(
        i
        for i, row in enumerate(rows[1:], start=2)
        if (row[0] if isinstance(row_id, str) else (row[0], row[1])) == row_id
    )
    rows[line - 1][header.index(field)] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return line


def _append(path: Path, cells: dict[str, str]) -> int:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows.append([cells.get(name, "") for name in rows[0]])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return len(rows)


def _edge(caller, callee, **extra):
    cells = {
        "caller": caller,
        "callee": callee,
        "fanout": "1",
        "dependency": "hard",
        "timeout_s": "1",
        "max_attempts": "3",
        "status": "assumed",
        "reason": "test",
        "numbers_reason": "test",
    }
    cells.update(extra)
    return cells


def test_the_real_files_load(tmp_path):
    nodes, edges = _copy(tmp_path)
    assert services.load_service_graph(nodes, edges).number_of_nodes() == 17


def test_a_negative_fanout_names_the_edge_file_and_line(tmp_path):
    nodes, edges = _copy(tmp_path)
    line = _edit(edges, ("sign_in", "presence"), "fanout", "-1")
    with pytest.raises(data.DataError, match=r"sign_in -> presence: fanout") as err:
        services.load_service_graph(nodes, edges)
    assert (err.value.filename, err.value.line, err.value.field) == (EDGES.name, line, "fanout")


def test_a_negative_capacity_names_the_service(tmp_path):
    nodes, edges = _copy(tmp_path)
    line = _edit(nodes, "presence", "workers", "-5")
    with pytest.raises(data.DataError, match=r"service 'presence': workers") as err:
        services.load_service_graph(nodes, edges)
    assert (err.value.filename, err.value.line, err.value.field) == (NODES.name, line, "workers")
    _edit(nodes, "presence", "workers", "10")
    _edit(nodes, "presence", "service_rate_per_s", "0")
    with pytest.raises(data.DataError, match=r"service 'presence': service_rate_per_s"):
        services.load_service_graph(nodes, edges)


def test_a_fractional_worker_count_is_refused(tmp_path):
    nodes, edges = _copy(tmp_path)
    _edit(nodes, "auth", "workers", "2.5")
    with pytest.raises(data.DataError, match="whole number"):
        services.load_service_graph(nodes, edges)


def test_a_missing_node_is_named_with_a_suggestion(tmp_path):
    nodes, edges = _copy(tmp_path)
    line = _edit(edges, ("sign_in", "presence"), "callee", "presense")
    with pytest.raises(
        data.DataError, match=r"unknown service 'presense' \(did you mean 'presence'"
    ) as err:
        services.load_service_graph(nodes, edges)
    assert (err.value.line, err.value.field) == (line, "callee")


def test_a_cycle_is_named_with_its_path(tmp_path):
    nodes, edges = _copy(tmp_path)
    line = _append(edges, _edge("user_directory", "sign_in"))
    with pytest.raises(
        data.DataError, match=r"closes a cycle of calls \(sign_in -> .* -> sign_in\)"
    ) as err:
        services.load_service_graph(nodes, edges)
    assert (err.value.filename, err.value.line) == (EDGES.name, line)


def test_a_self_call_and_a_duplicate_edge_are_refused(tmp_path):
    nodes, edges = _copy(tmp_path)
    _append(edges, _edge("auth", "auth"))
    with pytest.raises(data.DataError, match="cannot call itself"):
        services.load_service_graph(nodes, edges)
    nodes, edges = _copy(tmp_path)
    _append(edges, _edge("sign_in", "auth"))
    with pytest.raises(data.DataError, match="appears twice"):
        services.load_service_graph(nodes, edges)


def test_an_unreachable_service_and_a_client_rate_on_an_inner_service_are_refused(tmp_path):
    nodes, edges = _copy(tmp_path)
    _edit(edges, ("skypeout", "pstn_gateway"), "callee", "billing")  # duplicate first
    with pytest.raises(data.DataError):
        services.load_service_graph(nodes, edges)
    nodes, edges = _copy(tmp_path)
    with open(edges, encoding="utf-8") as handle:
        kept = [line for line in handle if not line.startswith("skypeout,pstn_gateway")]
    edges.write_text("".join(kept), encoding="utf-8")
    with pytest.raises(data.DataError, match="'pstn_gateway' is not an entry point and no service"):
        services.load_service_graph(nodes, edges)
    nodes, edges = _copy(tmp_path)
    _edit(nodes, "auth", "client_rate_per_s", "10")
    with pytest.raises(data.DataError, match="not an entry point"):
        services.load_service_graph(nodes, edges)


def test_bad_cells_use_the_shared_status_rules(tmp_path):
    nodes, edges = _copy(tmp_path)
    _edit(nodes, "auth", "reason", "")
    with pytest.raises(data.DataError, match="an assumed row needs a reason"):
        services.load_service_graph(nodes, edges)
    nodes, edges = _copy(tmp_path)
    _edit(edges, ("sign_in", "auth"), "dependency", "maybe")
    with pytest.raises(data.DataError, match="'maybe' is not allowed"):
        services.load_service_graph(nodes, edges)
    nodes, edges = _copy(tmp_path)
    _edit(edges, ("sign_in", "auth"), "numbers_reason", "")
    with pytest.raises(data.DataError, match="numbers_reason"):
        services.load_service_graph(nodes, edges)


def test_graphs_built_in_code_are_validated():
    with pytest.raises(ValueError, match="cycle"):
        services.build_service_graph({"a": {}, "b": {}}, [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match=r"edge a -> b: fanout must be a number > 0"):
        services.build_service_graph({"a": {}, "b": {}}, [("a", "b", {"fanout": -2})])
    with pytest.raises(ValueError, match="'c', which is not a node"):
        services.build_service_graph({"a": {}}, [("a", "c")])
    with pytest.raises(ValueError, match="service 'a': workers"):
        services.build_service_graph({"a": {"workers": 0}}, [])


def test_model_inputs_are_checked(graph):
    with pytest.raises(ValueError, match="did you mean 'presence'"):
        services.steady_state(graph, removed=["presense"])
    with pytest.raises(ValueError, match="not an entry point"):
        services.steady_state(graph, {"auth": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        services.steady_state(graph, {"sign_in": -1.0})
    with pytest.raises(ValueError, match="dt_s"):
        services.step(services.GraphModel(graph).healthy_state({}), {}, 0.0)
    with pytest.raises(ValueError, match="workers_factor"):
        services.GraphModel(graph, workers_factor={"auth": 0})
