"""Tables of model output agree with the closed forms they tabulate."""

from __future__ import annotations

import numpy as np
import pytest

from outage_kit import queueing, tables


def test_mm1_curve_is_one_over_mu_minus_lambda():
    curves = tables.latency_curves(10.0, [1], points=30)
    lam = curves["arrival_rate_per_s"].to_numpy()
    expected_ms = 1000.0 / (10.0 - lam)
    np.testing.assert_allclose(curves["mean_response_ms"], expected_ms, rtol=1e-12)


def test_latency_curves_rise_with_load_and_fall_with_servers():
    curves = tables.latency_curves(10.0, [1, 2, 8], points=40)
    for _, curve in curves.groupby("servers"):
        assert np.all(np.diff(curve["mean_response_ms"]) > 0)
    at_same_rho = curves.pivot(index="utilisation", columns="servers", values="mean_response_ms")
    assert np.all(at_same_rho[1] >= at_same_rho[2])
    assert np.all(at_same_rho[2] >= at_same_rho[8])


def test_latency_curves_never_reach_saturation():
    curves = tables.latency_curves(10.0, [3], points=50)
    assert curves["utilisation"].max() < 1
    assert np.isfinite(curves["mean_response_ms"]).all()


def test_finite_queue_without_waiting_room_is_erlang_b():
    finite = tables.finite_queue_curves(10.0, 3, [0], max_utilisation=2.0, points=9)
    load = finite["arrival_rate_per_s"].to_numpy() / 10.0
    np.testing.assert_allclose(finite["prob_block"], queueing.erlang_b(3, load), rtol=1e-10)


def test_finite_queue_throughput_is_accepted_arrivals_and_at_most_capacity():
    finite = tables.finite_queue_curves(10.0, 4, [0, 10, 100], max_utilisation=2.0, points=41)
    accepted = finite["arrival_rate_per_s"] * (1 - finite["prob_block"])
    np.testing.assert_allclose(finite["throughput_per_s"], accepted, rtol=1e-10)
    assert (finite["throughput_per_s"] <= 40.0 + 1e-9).all()


def test_longer_queue_rejects_less():
    finite = tables.finite_queue_curves(10.0, 4, [0, 10, 100], points=41)
    block = finite.pivot(index="arrival_rate_per_s", columns="queue_capacity", values="prob_block")
    assert np.all(block[0] >= block[10] - 1e-12)
    assert np.all(block[10] >= block[100] - 1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"points": 1}, "points"), ({"closest_to_one": 1.5}, "closest_to_one")],
)
def test_utilisation_grid_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tables.utilisation_grid(**kwargs)


def test_finite_queue_rejects_non_positive_range():
    with pytest.raises(ValueError, match="max_utilisation"):
        tables.finite_queue_curves(10.0, 2, [0], max_utilisation=0.0)
