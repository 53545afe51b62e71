"""Charts: valid for the Vega-Lite 5 that JupyterLab ships, offline bundles, stable specs."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

# Topic chart builders are defined beside their own tests (tests/ is on sys.path).
from test_graph_ui import BUILDERS as GRAPH_BUILDERS
from test_metastability import BUILDERS as METASTABILITY_BUILDERS
from test_mitigation_ui import BUILDERS as MITIGATION_BUILDERS
from test_postmortem import BUILDERS as POSTMORTEM_BUILDERS
from test_replay_ui import BUILDERS as REPLAY_BUILDERS
from test_rollout import BUILDERS as ROLLOUT_BUILDERS
from test_storm_ui import BUILDERS as STORM_BUILDERS

from outage_kit import charts, data, tables


def _builders():
    curves = tables.latency_curves(10.0, [1, 2, 4], points=20)
    finite = tables.finite_queue_curves(10.0, 2, [0, 5, 50], points=21)
    uniform = tables.latency_curves(10.0, [1, 2], utilisations=np.arange(0, 0.995, 0.01))
    timeline = data.load_timeline_2015()
    return {
        "timeline": lambda: charts.timeline_chart(
            timeline, data.parameter("outage_start_utc"), data.parameter("restoration_utc")
        ),
        "hockey_stick": lambda: charts.hockey_stick_chart(curves),
        "latency_panel": lambda: charts.latency_chart(
            curves,
            service_rate_per_s=10.0,
            servers=2,
            arrival_rate_per_s=12.0,
            mean_response_ms=130.0,
        ),
        "finite_queue": lambda: charts.finite_queue_chart(finite),
        "latency_explorer": lambda: charts.latency_explorer_chart(uniform),
        "finite_queue_panel": lambda: charts.finite_queue_panel_chart(
            finite, queue_capacity=5, arrival_rate_per_s=25.0, prob_block=0.2, response_ms=300.0
        ),
    }


BUILDERS = _builders()


def _lesson02_builders():
    from outage_kit import retries

    scenario = retries.SpikeScenario(horizon_s=60.0)
    setups = retries.retry_setups(scenario)
    runs = {name: scenario.run(setups[name]) for name in ["no retries", "immediate retries"]}
    traces = tables.storm_traces(runs)
    window = dict(capacity_per_s=100.0, spike_start_s=20.0, spike_end_s=30.0)
    tipping = pd.DataFrame(
        {
            "setup": ["immediate retries"] * 2 + ["backoff with jitter"] * 2,
            "spike_duration_s": [1.0, 2.0] * 2,
            "runs": [20] * 4,
            "stuck": [16, 19, 4, 17],
            "stuck_share": [0.8, 0.95, 0.2, 0.85],
        }
    )
    amplification = tables.amplification_table(np.linspace(0, 1, 11), 4, [1, 2, 3])
    jitter = tables.jitter_experiment([5, 10], runs=5)
    series = {k: [1.0, 2.0, 3.0] for k in ("arrivals", "offered", "throughput", "goodput")}
    return {
        "goodput": lambda: charts.goodput_chart(traces, **window),
        "retry_storm_explorer": lambda: charts.retry_storm_explorer_chart(traces, **window),
        "tipping": lambda: charts.tipping_chart(tipping),
        "amplification": lambda: charts.amplification_chart(amplification, attempts_per_layer=4),
        "jitter": lambda: charts.jitter_chart(jitter),
        "retry_panel": lambda: charts.retry_panel_chart(bin_s=1.0, bins=3, series=series, **window),
    }


BUILDERS.update(_lesson02_builders())
for _prefix, _builders_of_topic in [
    ("graph", GRAPH_BUILDERS),
    ("rollout", ROLLOUT_BUILDERS),
    ("storm", STORM_BUILDERS),
    ("replay", REPLAY_BUILDERS),
    ("metastability", METASTABILITY_BUILDERS),
    ("supernodes", POSTMORTEM_BUILDERS),
    ("mitigation", MITIGATION_BUILDERS),
]:
    BUILDERS.update({f"{_prefix}_{name}": build for name, build in _builders_of_topic.items()})


@pytest.fixture(autouse=True)
def _house_style():
    charts.enable_offline()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_chart_compiles_with_the_vegalite_5_that_jupyterlab_ships(name):
    spec = charts.to_vegalite_v5(BUILDERS[name]().to_dict())
    vega = vlc.vegalite_to_vega(spec, vl_version=charts.VEGALITE_V5_CHECK_VERSION)
    assert vega["marks"], f"{name}: Vega-Lite 5 compiled it to a spec with no marks"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_chart_spec_is_identical_when_built_twice(name):
    assert BUILDERS[name]().to_dict() == BUILDERS[name]().to_dict()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_chart_datasets_stay_under_altairs_row_limit(name):
    for dataset in BUILDERS[name]().to_dict().get("datasets", {}).values():
        assert len(dataset) < 5000, name


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_chart_uses_the_house_theme(name):
    spec = BUILDERS[name]().to_dict()
    assert spec["config"]["range"]["category"] == list(charts.PALETTE)


def test_bundle_has_v5_json_svg_and_a_text_fallback():
    bundle = charts.render_bundle(BUILDERS["hockey_stick"]().to_dict())
    assert bundle[charts.VEGALITE_V5_MIME]["$schema"] == charts.VEGALITE_V5_SCHEMA
    assert bundle["image/svg+xml"].startswith("<svg")
    assert "hockey stick" in bundle["image/svg+xml"]
    assert bundle["text/plain"] == "<Chart: The hockey stick: response time against utilisation>"


def test_no_mimetype_that_nbformat_rejects():
    bundle = charts.render_bundle(BUILDERS["timeline"]().to_dict())
    for key in bundle:
        if key.startswith("application/vnd.vegalite"):
            assert key.endswith("+json")


def test_enable_offline_switches_renderer_and_theme():
    alt.renderers.enable("default")
    charts.enable_offline()
    assert alt.renderers.active == charts.RENDERER_NAME
    assert alt.theme.active == charts.THEME_NAME


def test_svg_is_deterministic():
    spec = BUILDERS["finite_queue"]().to_dict()
    assert charts.chart_svg(spec) == charts.chart_svg(spec)


def test_rounded_drops_infinities_and_rounds():
    frame = pd.DataFrame({"x": [np.pi, np.inf, -np.inf], "label": ["a", "b", "c"]})
    out = charts.rounded(frame, 2)
    assert out["x"].iloc[0] == 3.14
    assert out["x"].iloc[1:].isna().all()
    assert list(out["label"]) == ["a", "b", "c"]
    assert frame["x"].iloc[1] == np.inf, "the input must not be modified"


def test_panel_data_stays_under_altairs_row_limit():
    curves = tables.latency_curves(10.0, range(1, 17))
    finite = tables.finite_queue_curves(10.0, 4, (0, 1, 2, 5, 10, 20, 50, 100, 200))
    assert len(curves) < 5000
    assert len(finite) < 5000


def test_explorer_marker_finds_exactly_one_point_per_slider_position():
    uniform = tables.latency_curves(10.0, [3], utilisations=np.arange(0, 0.995, 0.01))
    rho = charts.rounded(uniform)["utilisation"].to_numpy()
    for slider in np.round(np.arange(0, 0.99 + 1e-9, 0.01), 2):
        assert np.sum(np.abs(rho - slider) < 0.005) == 1, slider
