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


# --- lesson 02 ---------------------------------------------------------------------------------


def test_retry_state_is_one_seeded_run_of_the_scenario():
    from outage_kit import retries

    state = widgets.retry_state("immediate retries", 0.3, 0.6, seed=2)
    s = retries.SpikeScenario()
    r = s.run(retries.retry_setups(s)["immediate retries"], seed=2)
    assert state["params"]["goodput"] == [round(v, 3) for v in r.timeseries.goodput_per_s]
    assert state["params"]["offered"] == [round(v, 3) for v in r.timeseries.offered_rate_per_s]
    assert state["stuck"] and "Stuck" in state["readout"]
    assert state["summary"] == r.summary


def test_retry_state_follows_load_and_timeout():
    light = widgets.retry_state("no retries", 0.5, 0.3)
    assert not light["stuck"]
    assert "30% of capacity" in light["readout"]
    assert max(light["params"]["arrivals"][:9]) < 45  # 30 requests/s before the spike


def test_retry_state_rejects_an_unknown_setup():
    with pytest.raises(ValueError, match="set-up"):
        widgets.retry_state("hope", 0.3, 0.6)


def test_retry_panel_controls_move_the_chart():
    panel = widgets.RetryPanel(setup="immediate retries")
    assert panel.chart.params.goodput[-1] == 0.0
    panel.setup.value = "drop late work"
    assert panel.chart.params.goodput[-1] > 40
    before = list(panel.chart.params.arrivals)
    panel.load.value = 0.3
    assert sum(panel.chart.params.arrivals) < sum(before)
    panel.timeout.value = 1.0
    assert "goodput after the spike" in panel.readout.value
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == "<RetryPanel>"
