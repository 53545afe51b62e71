"""Widget panels: the pure state functions, and that moving a control moves the chart."""

from __future__ import annotations

import pytest

from outage_kit import queueing, widgets


def test_latency_state_matches_the_closed_form():
    state = widgets.latency_state(35.0, 4, 10.0)
    expected_ms = 1000.0 * float(queueing.mmc_metrics(35.0, 10.0, 4).mean_response_s)
    assert state["stable"]
    assert state["params"] == {
        "servers": 4,
        "arrival_rate": 35.0,
        "response_ms": pytest.approx(expected_ms, abs=1e-3),
    }
    assert "87.5%" in state["readout"]


def test_latency_state_past_capacity_says_there_is_no_steady_state():
    state = widgets.latency_state(40.0, 4, 10.0)
    assert not state["stable"]
    assert state["params"]["response_ms"] == widgets.NO_STEADY_STATE
    assert "no steady state" in state["readout"]


def test_latency_panel_slider_moves_the_chart():
    panel = widgets.LatencyPanel(
        service_rate_per_s=10.0, max_servers=8, servers=2, arrival_rate_per_s=10.0
    )
    before = panel.chart.params.response_ms
    panel.arrival.value = 18.0
    after = panel.chart.params.response_ms
    assert after > before
    assert panel.chart.params.arrival_rate == 18.0
    expected_ms = 1000.0 * float(queueing.mmc_metrics(18.0, 10.0, 2).mean_response_s)
    assert after == pytest.approx(expected_ms, abs=1e-3)
    panel.servers.value = 3
    assert panel.chart.params.servers == 3
    assert panel.chart.params.response_ms < after
    assert "utilisation" in panel.readout.value


def test_finite_queue_state_matches_the_closed_form():
    state = widgets.finite_queue_state(50.0, 10, 4, 10.0)
    metrics = queueing.mmck_metrics(50.0, 10.0, 4, 14)
    assert state["params"]["prob_block"] == pytest.approx(float(metrics.prob_block), abs=1e-6)
    assert state["params"]["response_ms"] == pytest.approx(
        1000 * float(metrics.mean_response_s), abs=1e-3
    )


def test_finite_queue_panel_controls_move_the_chart():
    panel = widgets.FiniteQueuePanel(servers=4, queue_capacity=10, arrival_rate_per_s=44.0)
    block_10 = panel.chart.params.prob_block
    response_10 = panel.chart.params.response_ms
    panel.queue.value = 100
    assert panel.chart.params.queue_capacity == 100
    assert panel.chart.params.prob_block < block_10
    assert panel.chart.params.response_ms > response_10
    panel.arrival.value = 20.0
    assert panel.chart.params.prob_block < 1e-6


def test_finite_queue_panel_rejects_a_queue_size_it_has_no_curve_for():
    with pytest.raises(ValueError, match="queue_capacity"):
        widgets.FiniteQueuePanel(queue_capacity=7)


def test_panels_display_a_stable_text_fallback():
    bundle = widgets.LatencyPanel(max_servers=4)._repr_mimebundle_()
    assert bundle["text/plain"] == "<LatencyPanel>"
    assert "application/vnd.jupyter.widget-view+json" in bundle
