"""Time every widget panel's update inside a real Jupyter kernel: model recompute plus chart update.

Run: python bench/bench_panels.py [--repeats N]

For each panel class in ``outage_kit.widgets`` and the topic modules beside it
(``graph_widgets``, ``rollout_widgets``, ``storm_widgets``, ``replay_widgets``,
``mitigation_widgets``: every subclass of ``Panel``), the script builds the panel inside an
ipykernel, then moves each of its controls back and forth (a toggle: on and off) and times what
a student's move costs in the kernel: the control's observer runs the panel's pure state
function and pushes new params to the ``alt.JupyterChart`` (a comm message on the kernel's
iopub channel). It prints the median and 90th percentile per control. Target: under
100 ms each on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import sys

from jupyter_client.manager import start_new_kernel

KERNEL_CODE = r"""
import inspect, json, statistics, time
from outage_kit import charts, graph_widgets, mitigation_widgets, replay_widgets, rollout_widgets
from outage_kit import storm_widgets, widgets
charts.enable_offline()
results = []
panels = sorted(
    {
        cls
        for module in (
            widgets, graph_widgets, rollout_widgets, storm_widgets, replay_widgets,
            mitigation_widgets,
        )
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, widgets.Panel) and cls is not widgets.Panel
    },
    key=lambda cls: cls.__name__,
)
for cls in panels:
    panel = cls()
    for control in panel.controls:
        if isinstance(control.value, bool):
            values = [not control.value, control.value]
        elif hasattr(control, "options") and control.options:
            values = list(control._options_values)  # the values behind (label, value) options
        else:
            lo, hi = control.min, control.max
            values = [lo + (hi - lo) * k / 10 for k in range(11)]
            if isinstance(control.value, int):
                values = sorted({int(round(v)) for v in values})
        times_ms = []
        for _ in range(REPEATS):
            for value in values + values[::-1]:
                start = time.perf_counter()
                control.value = value
                times_ms.append(1000 * (time.perf_counter() - start))
        times_ms.sort()
        results.append({
            "panel": cls.__name__,
            "control": control.description.strip(),
            "moves": len(times_ms),
            "median_ms": statistics.median(times_ms),
            "p90_ms": times_ms[int(0.9 * (len(times_ms) - 1))],
        })
print("RESULTS" + json.dumps(results))
"""


def run(repeats: int) -> list[dict]:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        lines: list[str] = []

        def collect(message: dict) -> None:
            if message["msg_type"] == "stream":
                lines.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                lines.append("\n".join(message["content"]["traceback"]))

        code = KERNEL_CODE.replace("REPEATS", str(repeats))
        reply = client.execute_interactive(code, output_hook=collect, timeout=600)
        text = "".join(lines)
        if reply["content"]["status"] != "ok" or "RESULTS" not in text:
            raise RuntimeError(f"benchmark failed in the kernel:\n{text}")
        return json.loads(text.split("RESULTS", 1)[1])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="passes over each control")
    args = parser.parse_args(argv)
    results = run(args.repeats)
    print(f"{'panel':<20} {'control':<14} {'moves':>6} {'median ms':>10} {'p90 ms':>8}  target")
    worst = 0.0
    for row in results:
        worst = max(worst, row["p90_ms"])
        verdict = "ok" if row["median_ms"] < 100 else "SLOW"
        print(
            f"{row['panel']:<20} {row['control']:<14} {row['moves']:>6} "
            f"{row['median_ms']:>10.2f} {row['p90_ms']:>8.2f}  <100 ms {verdict}"
        )
    print(f"worst 90th percentile: {worst:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
