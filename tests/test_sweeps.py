"""Parameter sweeps: task grids, seeding, executors (serial, processes, threads, Dask), progress."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from outage_kit import sweeps
from outage_kit.sweeps import ProgressBar, SweepError, example_task, grid, sweep

# example_task lives in outage_kit.sweeps so that worker processes (and Dask workers) can import
# it; functions defined in this file are only used with the serial executor or thread pools.
TASKS = grid(p_fail=[0.1, 0.3, 0.5], retries=[0, 1, 2])
QUIET = {"progress": False}


@pytest.fixture(scope="module")
def serial_frame():
    return sweep(example_task, TASKS, executor="serial", seed=11, replications=2, **QUIET)


# ---------------------------------------------------------------------------------------------
# grid


def test_grid_varies_the_last_axis_fastest():
    assert grid(a=[1, 2], b=[10, 20]) == [
        {"a": 1, "b": 10},
        {"a": 1, "b": 20},
        {"a": 2, "b": 10},
        {"a": 2, "b": 20},
    ]
    three = grid(x=range(2), y=("p", "q", "r"), z=np.array([0.5]))
    assert [(t["x"], t["y"]) for t in three] == [
        (0, "p"),
        (0, "q"),
        (0, "r"),
        (1, "p"),
        (1, "q"),
        (1, "r"),
    ]
    assert list(three[0]) == ["x", "y", "z"]


@pytest.mark.parametrize(
    ("axes", "match"),
    [
        ({"servers": []}, "axis 'servers' is empty"),
        ({"policy": "none"}, "axis 'policy' must be a list of values, got the string"),
        ({"ok": [1], "timeout_s": 5}, "axis 'timeout_s' .* not iterable"),
        ({"mix": {"a": 1}}, "axis 'mix' must be a list of values, got a dict"),
        ({}, "at least one axis"),
    ],
)
def test_grid_rejects_bad_axes_naming_them(axes, match):
    with pytest.raises(ValueError, match=match):
        grid(**axes)


# ---------------------------------------------------------------------------------------------
# the same frame on every executor


def test_processes_and_threads_give_the_serial_frame(serial_frame):
    assert serial_frame.shape == (18, 5)
    processes = sweep(example_task, TASKS, seed=11, replications=2, max_workers=2, **QUIET)
    with ThreadPoolExecutor(max_workers=3) as pool:
        threads = sweep(
            example_task, TASKS, executor=pool, seed=11, replications=2, chunk_size=1, **QUIET
        )
        # A user's executor is left running.
        assert pool.submit(abs, -3).result() == 3
    pd.testing.assert_frame_equal(processes, serial_frame)
    pd.testing.assert_frame_equal(threads, serial_frame)
    assert serial_frame.attrs["sweep"]["executor"] == "serial"
    assert processes.attrs["sweep"]["executor"] == "processes"
    assert threads.attrs["sweep"]["executor"] == "threads"


def _import_distributed():
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(
                "dask.distributed cannot be imported although CI is set: the `test` extra was "
                "not installed (pip install -e '.[test]' installs dask[distributed])"
            )
        pytest.skip("dask.distributed is not installed (pip install -e '.[distributed]')")
    return Client, LocalCluster


def test_a_local_dask_cluster_gives_the_serial_frame(serial_frame):
    Client, LocalCluster = _import_distributed()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        executor = client.get_executor()
        dask_frame = sweep(example_task, TASKS, executor=executor, seed=11, replications=2, **QUIET)
        # A failure on a Dask worker is reported like any other.
        with pytest.raises(SweepError, match=r"p_fail=2\.0, retries=1\) failed with ValueError"):
            sweep(example_task, {"p_fail": [0.5, 2.0], "retries": [1]}, executor=executor, **QUIET)
    pd.testing.assert_frame_equal(dask_frame, serial_frame)
    assert dask_frame.attrs["sweep"] == {
        "tasks": 9,
        "replications": 2,
        "executor": "dask",
        "seed": 11,
    }


def _sleep_inversely(index, n, finished):
    time.sleep(0.03 * (n - index))
    finished.append(index)
    return {"square": index * index}


def test_rows_stay_in_task_order_when_tasks_finish_out_of_order():
    finished = []
    n = 6
    with ThreadPoolExecutor(max_workers=n) as pool:
        df = sweep(
            _sleep_inversely,
            grid(index=range(n)),
            executor=pool,
            fixed={"n": n, "finished": finished},
            chunk_size=1,
            **QUIET,
        )
    assert finished == sorted(finished, reverse=True)  # the setup really finished out of order
    assert df["index"].tolist() == list(range(n))
    assert df["square"].tolist() == [i * i for i in range(n)]
    assert list(df.columns) == ["index", "square"]  # fixed arguments are not columns


def test_default_chunks_keep_the_number_of_futures_small():
    class CountingPool(ThreadPoolExecutor):
        submitted = 0

        def submit(self, *args, **kwargs):
            CountingPool.submitted += 1
            return super().submit(*args, **kwargs)

    with CountingPool(max_workers=2) as pool:
        df = sweep(example_exact, {"p_fail": np.linspace(0, 1, 1000)}, executor=pool, **QUIET)
    assert len(df) == 1000
    assert 8 <= CountingPool.submitted <= 40
    assert df["value"].iloc[-1] == 1.0


def example_exact(p_fail):
    return p_fail**2


# ---------------------------------------------------------------------------------------------
# seeds and replications


def test_replications_add_a_column_and_differ(serial_frame):
    assert list(serial_frame.columns) == ["p_fail", "retries", "replication", "failed", "exact"]
    assert serial_frame["replication"].tolist() == [0, 1] * 9
    assert serial_frame["p_fail"].tolist()[:4] == [0.1, 0.1, 0.1, 0.1]
    by_replication = serial_frame.pivot_table(
        index=["p_fail", "retries"], columns="replication", values="failed"
    )
    assert (by_replication[0] != by_replication[1]).sum() >= 8  # independent draws
    # Replication 0 of a replicated sweep is the same run as the single run of the task.
    single = sweep(example_task, TASKS, executor="serial", seed=11, **QUIET)
    assert "replication" not in single.columns
    np.testing.assert_array_equal(
        single["failed"], serial_frame.loc[serial_frame["replication"] == 0, "failed"]
    )


def _draw(x, rng):
    return {"draw": rng.random()}


def test_each_run_gets_the_documented_generator():
    df = sweep(_draw, grid(x=[5, 6, 7]), executor="serial", seed=42, replications=2, **QUIET)
    expected = [
        np.random.default_rng(np.random.SeedSequence(42, spawn_key=(i, r))).random()
        for i in range(3)
        for r in range(2)
    ]
    assert df["draw"].tolist() == expected


def test_same_seed_same_frame_other_seed_other_frame(serial_frame):
    again = sweep(example_task, TASKS, executor="serial", seed=11, replications=2, **QUIET)
    pd.testing.assert_frame_equal(again, serial_frame)
    other = sweep(example_task, TASKS, executor="serial", seed=12, replications=2, **QUIET)
    assert not other["failed"].equals(serial_frame["failed"])
    pd.testing.assert_frame_equal(other[["p_fail", "exact"]], serial_frame[["p_fail", "exact"]])


def _report_rng(x, **kwargs):
    rng = kwargs.get("rng")
    return {"got_rng": rng is not None, "is_generator": isinstance(rng, np.random.Generator)}


def test_without_a_seed_no_rng_is_passed():
    df = sweep(_report_rng, {"x": [1, 2]}, executor="serial", **QUIET)
    assert df["got_rng"].tolist() == [False, False]
    assert df.attrs["sweep"] == {"tasks": 2, "replications": 1, "executor": "serial", "seed": None}
    seeded = sweep(_report_rng, {"x": [1, 2]}, executor="serial", seed=0, **QUIET)
    assert seeded["is_generator"].tolist() == [True, True]


# ---------------------------------------------------------------------------------------------
# task formats and results


def _add(x, y, offset=0):
    return x + y + offset


def test_tasks_as_list_mapping_or_dataframe_give_the_same_frame():
    as_list = sweep(_add, grid(x=[1, 2], y=[10, 20]), executor="serial", **QUIET)
    as_axes = sweep(_add, {"x": [1, 2], "y": [10, 20]}, executor="serial", **QUIET)
    as_frame = sweep(
        _add, pd.DataFrame({"x": [1, 1, 2, 2], "y": [10, 20, 10, 20]}), executor="serial", **QUIET
    )
    assert as_list["value"].tolist() == [11, 21, 12, 22]
    pd.testing.assert_frame_equal(as_axes, as_list)
    pd.testing.assert_frame_equal(as_frame, as_list)
    with_fixed = sweep(
        _add, {"x": [1], "y": [2]}, executor="serial", fixed={"offset": 100}, **QUIET
    )
    assert with_fixed.to_dict("records") == [{"x": 1, "y": 2, "value": 103}]


# ---------------------------------------------------------------------------------------------
# errors


def test_a_failing_task_names_its_parameters_serially():
    with pytest.raises(SweepError) as info:
        sweep(example_task, {"p_fail": [0.5, 1.5], "retries": [0, 1]}, executor="serial", **QUIET)
    message = str(info.value)
    assert message.startswith("task 2 (p_fail=1.5, retries=0) failed with ValueError:")
    assert "p_fail must be a probability in [0, 1], got 1.5" in message
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, ValueError)


def test_a_failing_task_in_a_worker_process_keeps_its_traceback():
    with pytest.raises(SweepError, match=r"task 1 \(p_fail=-0\.5, retries=2\), replication 0"):
        sweep(
            example_task,
            [{"p_fail": 0.5, "retries": 2}, {"p_fail": -0.5, "retries": 2}],
            replications=2,
            seed=1,
            max_workers=2,
            **QUIET,
        )
    # The worker's traceback travels with the exception.
    try:
        sweep(example_task, [{"p_fail": 3.0, "retries": 0}], max_workers=1, **QUIET)
    except SweepError as error:
        cause = error.__cause__
        assert isinstance(cause, ValueError)
        assert "in example_task" in str(cause.__cause__)
    else:  # pragma: no cover
        pytest.fail("no SweepError")


def _fail_first(index, ran):
    ran.append(index)
    if index == 0:
        raise KeyError("boom")
    time.sleep(0.05)
    return index


def test_a_failure_cancels_the_outstanding_tasks():
    ran = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(SweepError, match=r"task 0 \(index=0\) failed with KeyError: 'boom'"):
            sweep(
                _fail_first,
                grid(index=range(20)),
                executor=pool,
                fixed={"ran": ran},
                chunk_size=1,
                **QUIET,
            )
    assert len(ran) < 5, ran


def _returns(kind, **_):
    return {"list": [1, 2], "none": None, "clash": {"kind": "x"}, "array": np.zeros(2)}[kind]


@pytest.mark.parametrize(
    ("kind", "error", "match"),
    [
        ("list", TypeError, r"_returns returned a list; it must return a dict .* \(at task 0"),
        ("none", TypeError, "returned None"),
        ("array", TypeError, "returned a ndarray"),
        ("clash", ValueError, r"returned column\(s\) \['kind'\] that clash"),
    ],
)
def test_bad_return_values_are_rejected(kind, error, match):
    with pytest.raises(error, match=match):
        sweep(_returns, {"kind": [kind]}, executor="serial", **QUIET)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"executor": "threads"}, TypeError, "executor must be .* got 'threads'"),
        ({"executor": 4}, TypeError, r"executor must be .* got 4 \(int\)"),
        ({"replications": 0}, ValueError, r"^replications must be a whole number >= 1, got 0$"),
        ({"replications": 1.5}, TypeError, "replications must be a whole number >= 1, got 1.5"),
        ({"seed": -1}, ValueError, "seed must be a non-negative whole number"),
        ({"seed": "7"}, TypeError, "seed must be a non-negative whole number"),
        ({"progress": "yes"}, ValueError, "progress must be 'auto', True or False"),
        ({"max_workers": 0}, ValueError, "max_workers must be a whole number >= 1 or None"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be a whole number >= 1 or None"),
        ({"fixed": {"x": 1}}, ValueError, r"parameter\(s\) \['x'\] are also given by fixed"),
        ({"fixed": [1]}, TypeError, "fixed must be a dict"),
        (
            {"executor": "processes", "fixed": {"offset": threading.Lock()}},
            TypeError,
            "fixed cannot",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    kwargs = {"executor": "serial", **QUIET, **kwargs}
    with pytest.raises(error, match=match):
        sweep(_add, {"x": [1], "y": [2]}, **kwargs)


def test_other_bad_calls():
    with pytest.raises(ValueError, match="max_workers applies to executor='processes' only"):
        with ThreadPoolExecutor(1) as pool:
            sweep(_add, {"x": [1], "y": [2]}, executor=pool, max_workers=2, **QUIET)
    with pytest.raises(TypeError, match="must be a function defined at module level"):
        sweep(lambda x: x, {"x": [1]}, **QUIET)  # cannot be pickled for worker processes
    with pytest.raises(ValueError, match="'rng'"):
        sweep(_draw, {"x": [1], "rng": [None]}, executor="serial", seed=1, **QUIET)
    with pytest.raises(ValueError, match="'replication'"):
        sweep(_add, {"x": [1], "replication": [2]}, executor="serial", replications=2, **QUIET)


@pytest.mark.parametrize("empty", [[], {}, pd.DataFrame(), pd.DataFrame({"x": []})])
def test_empty_tasks_are_rejected(empty):
    with pytest.raises(ValueError, match="empty"):
        sweep(_add, empty, executor="serial", **QUIET)


@pytest.mark.parametrize(("tasks", "match"), [("abc", "got str"), ([{"x": 1}, 5], r"tasks\[1\]")])
def test_malformed_tasks_are_rejected(tasks, match):
    with pytest.raises(TypeError, match=match):
        sweep(_add, tasks, executor="serial", **QUIET)


# ---------------------------------------------------------------------------------------------
# progress


def _line(description, filled, percent, count, total, unit="runs"):
    bar = "█" * filled + " " * (20 - filled)
    return f"\r{description} ▕{bar}▏{percent:>3}% ({count:>{len(str(total))}}/{total} {unit})"


def test_progress_bar_draws_every_five_percent_exactly_once():
    expected = "".join(_line("sweep", k, 5 * k, 2 * k, 40) for k in range(21)) + "\n"
    assert expected.startswith("\rsweep ▕                    ▏  0% ( 0/40 runs)\rsweep ▕█")
    assert expected.endswith("\rsweep ▕████████████████████▏100% (40/40 runs)\n")
    # However the work arrives (one at a time, in uneven chunks, all at once) the text is equal.
    for steps in ([1] * 40, [7, 7, 7, 7, 7, 5], [40], [0, 3, 37]):
        out = io.StringIO()
        bar = ProgressBar(40, "sweep", out)
        for step in steps:
            bar.advance(step)
        bar.close()
        bar.close()  # a second close adds nothing
        assert out.getvalue() == expected


def test_progress_bar_with_few_runs_and_early_stop():
    out = io.StringIO()
    bar = ProgressBar(3, "mc", out)
    bar.advance(1)
    bar.close()  # e.g. a task failed: the bar stays where it got to and the line is ended
    assert out.getvalue() == (
        "\rmc ▕                    ▏  0% (0/3 runs)\rmc ▕██████              ▏ 33% (1/3 runs)\n"
    )
    single = io.StringIO()
    bar = ProgressBar(1, "one", single)
    bar.advance(1)
    bar.close()
    assert single.getvalue().endswith("\rone ▕████████████████████▏100% (1/1 run)\n")
    quiet = ProgressBar(10, "none", None)  # no stream: draws nothing, fails on nothing
    quiet.advance(10)
    quiet.close()
    assert quiet.count == 10


def test_sweep_progress_goes_to_stderr_outside_a_kernel_and_auto_stays_quiet(capsys):
    sweep(_add, {"x": [1, 2, 3, 4], "y": [0]}, executor="serial", progress="auto")
    assert capsys.readouterr() == ("", "")  # captured streams are not terminals
    sweep(_add, {"x": [1, 2, 3, 4], "y": [0]}, executor="serial", progress=True, description="d")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\r") == 5
    assert captured.err.endswith("\rd ▕████████████████████▏100% (4/4 runs)\n")


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_auto_progress_draws_on_a_terminal_and_on_stdout_in_a_kernel(monkeypatch):
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    sweep(_add, {"x": [1, 2], "y": [0]}, executor="serial")
    assert tty.getvalue().endswith("100% (2/2 runs)\n")

    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    stdout, stderr = io.StringIO(), _TTY()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    sweep(_add, {"x": [1, 2], "y": [0]}, executor="serial")
    assert stdout.getvalue().endswith("100% (2/2 runs)\n")
    assert stderr.getvalue() == ""  # stderr would break nbval's comparison of notebooks
    assert sweeps._in_jupyter_kernel()


# ---------------------------------------------------------------------------------------------
# import cost


def test_importing_sweeps_imports_neither_dask_nor_pandas():
    code = (
        "import sys, outage_kit.sweeps; "
        "print(sorted(m for m in ('dask', 'distributed', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path):
    """Process workers import the main module; an unguarded script kills them. The error says
    what to change instead of only "BrokenProcessPool"."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from outage_kit.sweeps import example_task, sweep\n"
        "sweep(example_task, {'p_fail': [0.1, 0.2], 'retries': [0]}, progress=False)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    # The interpreter may add shutdown warnings after the traceback; find the error's line.
    lines = [x for x in done.stderr.splitlines() if x.startswith("outage_kit.sweeps.SweepError")]
    assert lines, done.stderr[-2000:]
    line = lines[-1]
    assert "BrokenProcessPool" in line
    assert 'if __name__ == "__main__":' in line
