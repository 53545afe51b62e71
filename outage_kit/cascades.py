"""Classic network cascades: the same idea as the service graph, on big random networks.

Two published results, each reproduced by the kit and checked in its tests:

**Motter–Lai overload cascades** (A. E. Motter and Y.-C. Lai, "Cascade-based attacks on
complex networks", *Phys. Rev. E* 66, 065102, 2002). Every node carries a load, the number of
shortest paths between other nodes that pass through it (its betweenness), and has capacity
``(1 + α)`` times its initial load. Remove one node: shortest paths re-route, some loads grow
past capacity, those nodes fail and are removed too, and so on until no load exceeds its
capacity. The damage is ``G = N'/N``, the largest connected component after the cascade over
the one before. Their result: in a heterogeneous (scale-free) network, removing the node of
highest load sets off a large cascade at small tolerance α, while removing a node at random
does almost nothing; a homogeneous network resists both. :func:`motter_lai_experiment`
reproduces it with seeded graphs.

**Buldyrev et al. interdependent networks** (S. V. Buldyrev, R. Parshani, G. Paul, H. E.
Stanley and S. Havlin, "Catastrophic cascade of failures in interdependent networks",
*Nature* 464, 1025, 2010). Two networks A and B, node ``i`` of A depends on node ``i`` of B and
the other way round. Remove a share ``1 - p`` of A's nodes: a node keeps working only while it
is in its own network's giant component *and* its partner works, which knocks out more nodes
on the other side, and so on. For two Erdős–Rényi networks of mean degree ``⟨k⟩`` the giant
mutually connected component (a share ``μ∞`` of the nodes) is ``μ∞ = p u²`` with
``u = 1 - exp(-⟨k⟩ p u²)``. It vanishes abruptly, with a jump, at ``p_c⟨k⟩ = 2.4554``, where
a single network only falls apart, continuously, at ``p⟨k⟩ = 1``. :func:`buldyrev_threshold`
solves the self-consistency equation for the threshold; :func:`buldyrev_simulation` checks it
on seeded networks of ten thousand nodes.

Both are the service graph's lesson at scale: load that moves when something fails, and
dependencies that make a failure on one side a failure on the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.sparse.csgraph import connected_components

__all__ = [
    "CascadeResult",
    "betweenness_load",
    "buldyrev_giant_fraction",
    "buldyrev_simulation",
    "buldyrev_theory",
    "buldyrev_threshold",
    "buldyrev_threshold_by_bisection",
    "erdos_renyi",
    "motter_lai_cascade",
    "motter_lai_experiment",
    "mutual_giant_component",
    "scale_free",
    "single_giant_fraction",
]

#: The published threshold of two coupled Erdős–Rényi networks, ``p_c⟨k⟩`` (Buldyrev et al.
#: 2010), to the four decimals given there.
BULDYREV_PC_MEAN_DEGREE = 2.4554


# --------------------------------------------------------------------------- graphs


def _adjacency(n: int, rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """Symmetric 0/1 CSR adjacency of an undirected simple graph from its edge list."""
    data = np.ones(2 * rows.size)
    matrix = sp.coo_matrix(
        (data, (np.concatenate([rows, cols]), np.concatenate([cols, rows]))), shape=(n, n)
    ).tocsr()
    matrix.data[:] = 1.0
    return matrix


def erdos_renyi(n: int, mean_degree: float, seed: int | np.random.Generator) -> sp.csr_matrix:
    """A seeded Erdős–Rényi random graph G(n, M) with ``M = round(n ⟨k⟩ / 2)`` edges.

    Parameters
    ----------
    n : int
        Number of nodes (>= 2).
    mean_degree : float
        Mean degree ``⟨k⟩`` (> 0, at most ``n - 1``).
    seed : int or numpy.random.Generator
        Randomness.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric 0/1 adjacency matrix, no self-loops or repeated edges.

    Examples
    --------
    >>> a = erdos_renyi(1000, 4.0, seed=1)
    >>> a.shape, a.nnz // 2, (a != a.T).nnz
    ((1000, 1000), 2000, 0)
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if not 0 < mean_degree <= n - 1:
        raise ValueError(f"mean_degree must be in (0, n - 1], got {mean_degree!r}")
    rng = np.random.default_rng(seed)
    m = int(round(n * mean_degree / 2))
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < m:  # draw pairs, drop loops and repeats, until there are enough
        i = rng.integers(0, n, size=2 * (m - chosen.size) + 16)
        j = rng.integers(0, n, size=i.size)
        keep = i != j
        key = np.minimum(i[keep], j[keep]) * n + np.maximum(i[keep], j[keep])
        _, first = np.unique(np.concatenate([chosen, key]), return_index=True)
        merged = np.concatenate([chosen, key])[np.sort(first)]  # keep the draw order
        chosen = merged[:m]
    return _adjacency(n, chosen // n, chosen % n)


def scale_free(n: int, edges_per_node: int, seed: int) -> sp.csr_matrix:
    """A seeded Barabási–Albert scale-free graph (degree exponent 3), as an adjacency matrix.

    Each new node attaches to ``edges_per_node`` existing nodes with probability proportional
    to their degree (:func:`networkx.barabasi_albert_graph`), so the mean degree is close to
    ``2 edges_per_node`` and a few hubs carry most of the shortest paths.

    Examples
    --------
    >>> a = scale_free(300, 2, seed=1)
    >>> a.shape, round(a.nnz / 300, 2)
    ((300, 300), 3.97)
    """
    import networkx as nx

    graph = nx.barabasi_albert_graph(int(n), int(edges_per_node), seed=int(seed))
    edges = np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
    return _adjacency(int(n), edges[:, 0], edges[:, 1])


def _giant(adjacency: sp.csr_matrix, alive: np.ndarray) -> np.ndarray:
    """Mask of the largest connected component among the ``alive`` nodes."""
    index = np.flatnonzero(alive)
    out = np.zeros(alive.size, dtype=bool)
    if index.size == 0:
        return out
    _, labels = connected_components(adjacency[index][:, index], directed=False)
    sizes = np.bincount(labels)
    out[index[labels == np.argmax(sizes)]] = True
    return out


# --------------------------------------------------------------------------- Motter–Lai


def betweenness_load(adjacency: sp.spmatrix) -> np.ndarray:
    """Betweenness of every node of an undirected, unweighted graph (Brandes, all sources at once).

    The number of shortest paths between pairs of other nodes that pass through a node, a path
    shared by ``k`` equally short routes counting ``1/k`` on each (each unordered pair once:
    :func:`networkx.betweenness_centrality` with ``normalized=False``). Brandes' algorithm
    (J. Brandes, "A faster algorithm for betweenness centrality", 2001) run for every source
    together as matrix products, which suits graphs of up to a few thousand nodes.

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric 0/1 adjacency matrix.

    Returns
    -------
    numpy.ndarray
        One load per node.

    Examples
    --------
    A path a - b - c: only b lies between two others.

    >>> betweenness_load(sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])))
    array([0., 1., 0.])
    """
    a = sp.csr_matrix(adjacency, dtype=float)
    n = a.shape[0]
    if n == 0:
        return np.zeros(0)
    sigma = np.eye(n)  # sigma[s, v]: shortest paths from s to v
    visited = np.eye(n, dtype=bool)
    frontier = np.eye(n)
    levels = [visited.copy()]
    while True:
        reached = (a @ frontier.T).T  # paths one step beyond the frontier
        reached[visited] = 0.0
        new = reached > 0
        if not new.any():
            break
        sigma[new] = reached[new]
        visited |= new
        levels.append(new)
        frontier = np.where(new, reached, 0.0)
    delta = np.zeros((n, n))
    safe_sigma = np.where(sigma > 0, sigma, 1.0)
    for depth in range(len(levels) - 1, 0, -1):
        coefficient = np.where(levels[depth], (1.0 + delta) / safe_sigma, 0.0)
        delta += np.where(levels[depth - 1], sigma * (a @ coefficient.T).T, 0.0)
    np.fill_diagonal(delta, 0.0)
    return delta.sum(axis=0) / 2.0


@dataclass(frozen=True)
class CascadeResult:
    """Outcome of one Motter–Lai cascade.

    Attributes
    ----------
    giant_fraction : float
        ``G = N'/N``: largest component after the cascade over the one before.
    failed : numpy.ndarray
        Mask of the nodes removed (the first one included).
    rounds : int
        Rounds of load redistribution until no load exceeded its capacity.
    """

    giant_fraction: float
    failed: np.ndarray
    rounds: int


def motter_lai_cascade(
    adjacency: sp.spmatrix,
    alpha: float,
    first: int | Sequence[int],
    initial_load: np.ndarray | None = None,
) -> CascadeResult:
    """Run a Motter–Lai overload cascade from the removal of ``first``.

    Capacity ``C_i = (1 + α) L_i(0)`` with ``L_i(0)`` the initial betweenness. Each round
    recomputes every load on the surviving graph and removes every node with ``L_i > C_i``,
    until none is left (Motter & Lai 2002).

    Parameters
    ----------
    adjacency : scipy.sparse matrix
        Symmetric 0/1 adjacency matrix.
    alpha : float
        Tolerance ``α >= 0``.
    first : int or sequence of int
        The node(s) removed to start the cascade.
    initial_load : numpy.ndarray, optional
        :func:`betweenness_load` of the intact graph, if already computed.

    Returns
    -------
    CascadeResult

    Examples
    --------
    A star of 5 leaves: removing the hub leaves single nodes, ``G = 1/6``.

    >>> star = sp.csr_matrix(np.array([[0, 1, 1, 1, 1, 1]] + [[1, 0, 0, 0, 0, 0]] * 5))
    >>> result = motter_lai_cascade(star, 0.5, 0)
    >>> round(result.giant_fraction, 4), int(result.failed.sum())
    (0.1667, 1)
    """
    alpha = float(alpha)
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    a = sp.csr_matrix(adjacency, dtype=float)
    n = a.shape[0]
    load0 = betweenness_load(a) if initial_load is None else np.asarray(initial_load, float)
    capacity = (1.0 + alpha) * load0
    before = int(_giant(a, np.ones(n, dtype=bool)).sum())
    alive = np.ones(n, dtype=bool)
    alive[np.atleast_1d(first)] = False
    rounds = 0
    while True:
        index = np.flatnonzero(alive)
        load = betweenness_load(a[index][:, index])
        over = load > capacity[index] * (1.0 + 1e-9) + 1e-9  # ignore rounding noise
        rounds += 1
        if not over.any():
            break
        alive[index[over]] = False
    after = int(_giant(a, alive).sum())
    return CascadeResult(after / before, ~alive, rounds)


def motter_lai_experiment(
    n: int = 300,
    mean_degree: int = 4,
    alphas: Iterable[float] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
    random_starts: int = 3,
    seed: int = 2002,
) -> pd.DataFrame:
    """Motter and Lai's comparison: ``G`` against α, by network and by which node is removed.

    A seeded scale-free network (Barabási–Albert) and a seeded homogeneous one (Erdős–Rényi)
    of the same size and mean degree; in each, the node of highest load is removed, and, as
    the control, ``random_starts`` nodes chosen at random (one at a time; ``G`` averaged).

    Returns
    -------
    pandas.DataFrame
        Columns ``network`` (``scale-free``, ``homogeneous``), ``removal`` (``highest load``,
        ``random``), ``alpha``, ``giant_fraction``.

    Examples
    --------
    >>> table = motter_lai_experiment(n=150, alphas=[0.1], random_starts=2)
    >>> sorted(set(table["removal"]))
    ['highest load', 'random']
    """
    rng = np.random.default_rng(seed)
    networks = {
        "scale-free": scale_free(n, mean_degree // 2, seed=int(rng.integers(2**31))),
        "homogeneous": erdos_renyi(n, mean_degree, seed=rng),
    }
    rows = []
    for name, adjacency in networks.items():
        giant = _giant(adjacency, np.ones(n, dtype=bool))
        keep = np.flatnonzero(giant)  # study the connected core, as the paper's G does
        a = adjacency[keep][:, keep]
        load0 = betweenness_load(a)
        top = int(np.argmax(load0))
        randoms = rng.choice(keep.size, size=random_starts, replace=False)
        for alpha in alphas:
            attack = motter_lai_cascade(a, alpha, top, load0).giant_fraction
            rows.append((name, "highest load", float(alpha), attack))
            control = [motter_lai_cascade(a, alpha, int(r), load0).giant_fraction for r in randoms]
            rows.append((name, "random", float(alpha), float(np.mean(control))))
    return pd.DataFrame(rows, columns=["network", "removal", "alpha", "giant_fraction"])


# --------------------------------------------------------------------------- Buldyrev et al.


def _largest_root(k_p: float, power: int) -> float:
    """Largest ``u`` in (0, 1] with ``u = 1 - exp(-K u^power)``, or 0 if there is none.

    ``g(u) = 1 - exp(-K u^power) - u`` is negative at ``u = 1``; a nonzero root exists where
    the maximum of ``g`` on (0, 1) is not negative. The maximum is found by bounded
    minimisation, the root by Brent's method between it and 1 (no slow iteration near the
    threshold, where the two sides touch).
    """
    from scipy.optimize import minimize_scalar

    def g(u: float) -> float:
        return -math.expm1(-k_p * u**power) - u

    best = minimize_scalar(
        lambda u: -g(u), bounds=(1e-12, 1.0), method="bounded", options={"xatol": 1e-12}
    )
    if -best.fun < 0:
        return 0.0
    if -best.fun == 0:
        return float(best.x)
    return brentq(g, float(best.x), 1.0, xtol=1e-15)


def single_giant_fraction(p, mean_degree: float):
    """Giant component of one Erdős–Rényi network after keeping a random share ``p`` of nodes.

    ``P∞ = p S`` with ``S = 1 - exp(-⟨k⟩ p S)``; it grows continuously from 0 at
    ``p⟨k⟩ = 1`` (Erdős–Rényi; the percolation threshold of a random graph).

    Examples
    --------
    >>> single_giant_fraction(0.2, 4.0)  # p<k> = 0.8 < 1: no giant component
    0.0
    >>> round(single_giant_fraction(1.0, 2.0), 4)
    0.7968
    """
    ps = np.atleast_1d(np.asarray(p, dtype=float))
    out = np.array([q * _largest_root(mean_degree * q, 1) if q > 0 else 0.0 for q in ps])
    out[out < 1e-9] = 0.0
    return float(out[0]) if np.ndim(p) == 0 else out


def buldyrev_giant_fraction(p, mean_degree: float):
    """Giant mutually connected component of two coupled Erdős–Rényi networks (Buldyrev 2010).

    ``μ∞ = p u²`` with ``u`` the largest root of ``u = 1 - exp(-⟨k⟩ p u²)`` (the paper's
    self-consistency equations for two networks of equal mean degree). Below the threshold
    the only root is 0.

    Parameters
    ----------
    p : float or array_like
        Share of network A's nodes kept.
    mean_degree : float
        ``⟨k⟩`` of both networks.

    Examples
    --------
    >>> buldyrev_giant_fraction(2.4 / 4, 4.0)  # just below p_c<k> = 2.4554
    0.0
    >>> round(buldyrev_giant_fraction(2.5 / 4, 4.0), 3)
    0.39
    """
    ps = np.atleast_1d(np.asarray(p, dtype=float))
    out = np.array([q * _largest_root(mean_degree * q, 2) ** 2 if q > 0 else 0.0 for q in ps])
    out[out < 1e-9] = 0.0
    return float(out[0]) if np.ndim(p) == 0 else out


def buldyrev_threshold() -> float:
    """``p_c⟨k⟩`` of two coupled Erdős–Rényi networks, from the self-consistency equation.

    The nonzero root ``u`` of ``u = 1 - exp(-K u²)`` first appears where the two sides touch:
    ``2 K u (1 - u) = 1`` as well. With ``f = 1 - u`` that gives ``f = exp((f - 1)/(2 f))``,
    solved here by Brent's method, and ``K = p_c⟨k⟩ = 1 / (2 f (1 - f))``.

    Examples
    --------
    >>> round(buldyrev_threshold(), 4)
    2.4554
    """
    f = brentq(lambda x: x - math.exp((x - 1.0) / (2.0 * x)), 0.05, 0.5, xtol=1e-15)
    return 1.0 / (2.0 * f * (1.0 - f))


def buldyrev_threshold_by_bisection(mean_degree: float = 4.0, tol: float = 1e-10) -> float:
    """``p_c⟨k⟩`` found a second way: bisect on whether :func:`buldyrev_giant_fraction` > 0.

    Examples
    --------
    >>> round(buldyrev_threshold_by_bisection(4.0), 4)
    2.4554
    """
    low, high = 1.0 / mean_degree, 1.0  # no giant at p<k> = 1, a giant at p = 1 for <k> > 2.46
    while high - low > tol:
        middle = (low + high) / 2
        if buldyrev_giant_fraction(middle, mean_degree) > 0:
            high = middle
        else:
            low = middle
    return high * mean_degree


def buldyrev_theory(
    mean_degree: float = 4.0, p_mean_degree: Iterable[float] | None = None
) -> pd.DataFrame:
    """The analytic curves of one network and of two coupled ones, with the jump drawn sharp.

    Parameters
    ----------
    mean_degree : float
        ``⟨k⟩`` of the networks.
    p_mean_degree : iterable of float, optional
        Where to evaluate ``p⟨k⟩`` (default 0.5 to 3.6 in steps of 0.02). The threshold
        ``p_c⟨k⟩`` is always added, with a point just below it, so that a line through the
        table jumps where the giant component appears.

    Returns
    -------
    pandas.DataFrame
        Columns ``p_mean_degree``, ``single_theory``, ``coupled_theory``.

    Examples
    --------
    >>> t = buldyrev_theory(4.0, [2.0, 3.0]).round(4)
    >>> t["p_mean_degree"].tolist()
    [2.0, 2.4554, 2.4554, 3.0]
    >>> t["coupled_theory"].tolist()
    [0.0, 0.0, 0.3141, 0.6374]
    """
    grid = np.arange(0.5, 3.6001, 0.02) if p_mean_degree is None else np.asarray(p_mean_degree)
    threshold = buldyrev_threshold()
    below = threshold * (1 - 1e-9)
    points = np.sort(
        np.concatenate([np.asarray(grid, dtype=float), [below, threshold * (1 + 1e-12)]])
    )
    p = points / mean_degree
    return pd.DataFrame(
        {
            "p_mean_degree": points,
            "single_theory": single_giant_fraction(p, mean_degree),
            "coupled_theory": buldyrev_giant_fraction(p, mean_degree),
        }
    )


def mutual_giant_component(
    adjacency_a: sp.spmatrix, adjacency_b: sp.spmatrix, kept: np.ndarray
) -> tuple[np.ndarray, int]:
    """The giant mutually connected component of two networks with one-to-one dependencies.

    Node ``i`` of A and node ``i`` of B depend on each other. Starting from the nodes
    ``kept`` in A, alternately keep A's giant component among working nodes, then B's among
    their partners, until nothing changes (Buldyrev et al. 2010).

    Returns
    -------
    mask : numpy.ndarray
        Nodes (pairs) in the mutually connected giant component.
    stages : int
        Alternations until it stopped changing.

    Examples
    --------
    Two paths 0-1-2 with different wiring: in B node 1 links nowhere, so only one pair is
    left in a component of its own.

    >>> a = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    >>> b = sp.csr_matrix(np.array([[0, 0, 1], [0, 0, 0], [1, 0, 0]]))
    >>> mask, stages = mutual_giant_component(a, b, np.ones(3, dtype=bool))
    >>> int(mask.sum())
    1
    """
    alive = np.asarray(kept, dtype=bool).copy()
    stages = 0
    while True:
        stages += 1
        in_a = _giant(sp.csr_matrix(adjacency_a), alive)
        in_b = _giant(sp.csr_matrix(adjacency_b), in_a)
        if np.array_equal(in_b, alive):
            return in_b, stages
        alive = in_b


def buldyrev_simulation(
    n: int = 10_000,
    mean_degree: float = 4.0,
    p_mean_degree: Iterable[float] = tuple(np.round(np.arange(0.6, 3.61, 0.1), 2)),
    seed: int = 1025,
) -> pd.DataFrame:
    """Seeded simulation of Buldyrev et al.: one network and two coupled, after random removal.

    Builds two independent Erdős–Rényi networks A and B (``n`` nodes, mean degree ``⟨k⟩``),
    draws one uniform number per node, and for each ``p`` keeps the nodes whose number is
    below ``p`` (so the kept sets are nested). Reports the giant component of A alone and the
    giant mutually connected component of A and B, as shares of ``n``, beside the analytic
    values.

    Returns
    -------
    pandas.DataFrame
        Columns ``p_mean_degree``, ``p``, ``single_simulated``, ``single_theory``,
        ``coupled_simulated``, ``coupled_theory``, ``stages`` (alternations of the coupled
        cascade).

    Examples
    --------
    >>> t = buldyrev_simulation(n=2000, p_mean_degree=[2.0, 3.0])
    >>> t["coupled_simulated"].round(2).tolist()
    [0.0, 0.6]
    """
    rng = np.random.default_rng(seed)
    a = erdos_renyi(n, mean_degree, rng)
    b = erdos_renyi(n, mean_degree, rng)
    draw = rng.random(n)
    rows = []
    for pk in p_mean_degree:
        p = float(pk) / mean_degree
        kept = draw < p
        single = _giant(a, kept).sum() / n
        mutual, stages = mutual_giant_component(a, b, kept)
        rows.append(
            {
                "p_mean_degree": float(pk),
                "p": p,
                "single_simulated": float(single),
                "single_theory": single_giant_fraction(p, mean_degree),
                "coupled_simulated": float(mutual.sum() / n),
                "coupled_theory": buldyrev_giant_fraction(p, mean_degree),
                "stages": stages,
            }
        )
    return pd.DataFrame(rows)
