"""Classic cascades, each checked against its published result.

Motter & Lai, Phys. Rev. E 66, 065102 (2002): removing the node of highest load from a
heterogeneous (scale-free) network sets off a large overload cascade at small tolerance α;
removing a random node does not.

Buldyrev et al., Nature 464, 1025 (2010): two interdependent Erdős–Rényi networks of mean
degree ⟨k⟩ lose their giant mutually connected component abruptly at p_c⟨k⟩ = 2.4554, against
p⟨k⟩ = 1 (and continuously) for a single network.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from outage_kit import cascades

# --------------------------------------------------------------------------- betweenness


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_betweenness_matches_networkx(seed):
    graph = nx.gnm_random_graph(60, 110, seed=seed)  # may be disconnected: paths only within
    adjacency = nx.to_scipy_sparse_array(graph, format="csr", dtype=float)
    expected = nx.betweenness_centrality(graph, normalized=False)
    got = cascades.betweenness_load(adjacency)
    assert np.allclose(got, [expected[i] for i in range(60)], rtol=1e-12, atol=1e-9)


def test_betweenness_known_answers():
    # a path of 5 nodes: the middle lies on 2 x 2 = 4 pairs' paths, its neighbours on 3
    path = nx.to_scipy_sparse_array(nx.path_graph(5), format="csr", dtype=float)
    assert cascades.betweenness_load(path).tolist() == [0.0, 3.0, 4.0, 3.0, 0.0]
    # a 4-cycle: each pair of opposite nodes has two shortest paths, half through each node
    cycle = nx.to_scipy_sparse_array(nx.cycle_graph(4), format="csr", dtype=float)
    assert cascades.betweenness_load(cycle).tolist() == [0.5, 0.5, 0.5, 0.5]


def test_random_graphs_are_seeded_and_simple():
    a = cascades.erdos_renyi(500, 4.0, seed=7)
    b = cascades.erdos_renyi(500, 4.0, seed=7)
    assert (a != b).nnz == 0
    assert a.diagonal().sum() == 0 and a.max() == 1.0
    assert a.nnz == 2 * 1000
    assert (cascades.scale_free(200, 2, seed=3) != cascades.scale_free(200, 2, seed=3)).nnz == 0


# --------------------------------------------------------------------------- Motter–Lai


def test_no_tolerance_needed_where_loads_cannot_grow():
    # A star: removing a leaf changes no load through the hub enough... it lowers it.
    star = nx.to_scipy_sparse_array(nx.star_graph(6), format="csr", dtype=float)
    result = cascades.motter_lai_cascade(star, 0.0, 3)
    assert result.giant_fraction == pytest.approx(6 / 7)
    assert int(result.failed.sum()) == 1


def test_a_cascade_on_a_small_graph_by_hand():
    # Two triangles joined through a bridge path 2 - 6 - 3, plus a bypass 2 - 7 - 8 - 3.
    # Removing 6 sends all cross traffic over 7 and 8, far past their capacity at α = 0.1.
    graph = nx.Graph(
        [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 6), (6, 3), (2, 7), (7, 8), (8, 3)]
    )
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(9), format="csr", dtype=float)
    result = cascades.motter_lai_cascade(adjacency, 0.1, 6)
    assert result.failed[[6, 7, 8]].all()
    assert result.giant_fraction == pytest.approx(3 / 9)
    relaxed = cascades.motter_lai_cascade(adjacency, 10.0, 6)
    assert relaxed.giant_fraction == pytest.approx(8 / 9)


@pytest.fixture(scope="module")
def motter_lai():
    return (
        cascades.motter_lai_experiment(
            n=200, alphas=(0.05, 0.1, 0.2, 0.5, 1.0), random_starts=3, seed=2002
        )
        .set_index(["network", "removal", "alpha"])["giant_fraction"]
        .sort_index()
    )


def test_motter_lai_attack_on_the_highest_load_collapses_a_scale_free_network(motter_lai):
    attack = motter_lai.loc[("scale-free", "highest load")]
    random = motter_lai.loc[("scale-free", "random")]
    assert attack.loc[0.1] < 0.2  # a large cascade at small tolerance
    assert random.loc[0.1] > 0.8  # random removal: little damage at the same tolerance
    assert (random.loc[[0.2, 0.5, 1.0]] > 0.95).all()
    assert (attack < random).all()
    assert attack.loc[1.0] > attack.loc[0.1]  # more tolerance, less damage


def test_motter_lai_homogeneous_network_recovers_at_smaller_tolerance(motter_lai):
    scale_free = motter_lai.loc[("scale-free", "highest load")]
    homogeneous = motter_lai.loc[("homogeneous", "highest load")]
    assert homogeneous.loc[0.5] > 0.9 > scale_free.loc[0.5]
    assert (homogeneous.loc[[0.2, 0.5, 1.0]] >= scale_free.loc[[0.2, 0.5, 1.0]]).all()


def test_motter_lai_is_deterministic():
    a = cascades.motter_lai_experiment(n=120, alphas=(0.2,), random_starts=2, seed=5)
    b = cascades.motter_lai_experiment(n=120, alphas=(0.2,), random_starts=2, seed=5)
    assert a.equals(b)


def test_motter_lai_rejects_a_negative_tolerance():
    with pytest.raises(ValueError, match="alpha"):
        cascades.motter_lai_cascade(sp.csr_matrix((3, 3)), -0.1, 0)


# --------------------------------------------------------------------------- Buldyrev et al.


def test_buldyrev_threshold_is_the_published_2_4554():
    assert round(cascades.buldyrev_threshold(), 4) == cascades.BULDYREV_PC_MEAN_DEGREE == 2.4554
    for k in (2.5, 4.0, 10.0):
        assert cascades.buldyrev_threshold_by_bisection(k) == pytest.approx(
            cascades.buldyrev_threshold(), abs=1e-8
        )


def test_the_threshold_solves_the_tangency_conditions():
    big_k = cascades.buldyrev_threshold()
    f = (1 - math.sqrt(1 - 2 / big_k)) / 2  # from 2 K f (1 - f) = 1, the root f < 1/2
    u = 1 - f
    assert u == pytest.approx(-math.expm1(-big_k * u**2), abs=1e-12)  # on the curve
    assert 2 * big_k * u * math.exp(-big_k * u**2) == pytest.approx(1.0, abs=1e-12)  # tangent


def test_the_jump_at_the_threshold_and_the_single_network_threshold():
    k = 4.0
    p_c = cascades.buldyrev_threshold() / k
    assert cascades.buldyrev_giant_fraction(p_c * (1 - 1e-6), k) == 0.0
    jump = cascades.buldyrev_giant_fraction(p_c * (1 + 1e-9), k)
    assert jump * k == pytest.approx(1.2564, abs=1e-3)  # finite at the threshold: abrupt
    assert cascades.single_giant_fraction(1 / k, k) == 0.0
    # one network: the giant component grows from nothing (S ~ 2 x 0.02 just above p<k> = 1)
    assert cascades.single_giant_fraction(1.02 / k, k) / (1.02 / k) < 0.05


def test_simulation_at_ten_thousand_nodes_drops_abruptly_near_the_threshold():
    pk = [1.5, 2.0, 2.3, 2.4, 2.5, 2.6, 3.0]
    table = cascades.buldyrev_simulation(n=10_000, mean_degree=4.0, p_mean_degree=pk, seed=1025)
    table = table.set_index("p_mean_degree")
    coupled = table["coupled_simulated"]
    assert (coupled.loc[[1.5, 2.0, 2.3]] < 0.01).all()  # below p_c: nothing left
    assert coupled.loc[2.5] > 0.3  # just above: a third of the nodes at once
    assert coupled.loc[2.6] - coupled.loc[2.3] > 0.4
    for pk_value in (2.6, 3.0):
        assert coupled.loc[pk_value] == pytest.approx(
            table.loc[pk_value, "coupled_theory"], abs=0.03
        )
    single = table["single_simulated"]
    assert single.loc[1.5] > 0.15  # one network keeps a giant component well below 2.4554
    assert np.allclose(single, table["single_theory"], atol=0.02)
    assert table.loc[2.4, "stages"] > table.loc[3.0, "stages"]  # slowing down near p_c


def test_mutual_component_needs_both_sides():
    a = nx.to_scipy_sparse_array(nx.path_graph(4), format="csr", dtype=float)
    b = nx.to_scipy_sparse_array(nx.empty_graph(4), format="csr", dtype=float)
    mask, _ = cascades.mutual_giant_component(a, b, np.ones(4, dtype=bool))
    assert mask.sum() == 1  # B has no edges: only single nodes survive as "components"
    mask, stages = cascades.mutual_giant_component(a, a, np.ones(4, dtype=bool))
    assert mask.all() and stages == 1
