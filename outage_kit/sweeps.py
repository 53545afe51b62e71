"""Parameter sweeps and Monte Carlo replications on any ``concurrent.futures`` executor.

A *sweep* calls one function on many parameter combinations (*tasks*), optionally several times
each (*replications*), and gathers the results into one :class:`pandas.DataFrame`, one row per
(task, replication), in task order::

    >>> from outage_kit.sweeps import example_task, grid, sweep
    >>> tasks = grid(p_fail=[0.2, 0.5], retries=[0, 2])
    >>> df = sweep(example_task, tasks, seed=1, executor="serial", progress=False)
    >>> df.round(3)
       p_fail  retries  failed  exact
    0     0.2        0   0.190  0.200
    1     0.2        2   0.010  0.008
    2     0.5        0   0.500  0.500
    3     0.5        2   0.112  0.125

How tasks and seeds work
------------------------
Task ``i`` (its position in the task list) and replication ``r`` get their own random generator,
``numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(i, r)))``, passed to the
function as ``rng=``. The generator is derived from the task's position and the sweep's ``seed``
only: never from the worker that runs it, the order in which tasks finish, or how tasks are
grouped into chunks. Generators spawned this way are statistically independent of each other.

Why results do not depend on the executor
-----------------------------------------
Every run's inputs (its parameters, ``fixed`` and its generator) are fixed before anything is
submitted, and results are put back in task order whatever order they complete in. So the same
sweep gives an identical DataFrame run serially, on a local process pool, on a thread pool or on a
Dask cluster of any size. (This holds as long as the function itself is deterministic given its
arguments: it must draw randomness from ``rng`` only.)

Executors
---------
``executor="processes"`` (the default) starts a process pool on this machine's cores for the
duration of the call. Its workers are started with the ``forkserver`` method where the platform has
it (Linux, macOS) and ``spawn`` elsewhere, never ``fork``: forking a parent that runs threads
(numba, BLAS, Jupyter) can deadlock. Workers therefore *import* the function: it must be defined at
module level in an importable module, not in a notebook cell. ``executor="serial"`` runs
everything in the calling process, which is the easiest to debug. Any
:class:`concurrent.futures.Executor` is accepted as-is and left running afterwards, for instance a
:class:`~concurrent.futures.ThreadPoolExecutor` (for functions that release the GIL, such as
numba kernels) or a Dask cluster.

Dask, for sweeps that outgrow one machine (``pip install 'outage_kit[distributed]'``)::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")   # or Client() for a local cluster
    df = sweep(fn, tasks, executor=client.get_executor())

The function and the ``outage_kit`` package must be importable on the Dask workers. Dask is
imported only by the caller, never by this module.

Runs are submitted in chunks of several runs per future, so that thousands of small runs do not
drown in scheduling overhead; ``chunk_size`` overrides the default.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as _wait_futures
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

__all__ = ["ProgressBar", "SweepError", "example_exact_value", "example_task", "grid", "sweep"]

#: Redraw the progress bar each time this fraction of the runs has completed.
_MILESTONES = 20
_BAR_WIDTH = 20


class SweepError(RuntimeError):
    """A task of a :func:`sweep` raised an exception.

    The message names the task's parameters, its replication and the original exception; the
    original exception is chained as ``__cause__``.
    """


def example_task(p_fail, retries, rng=None, requests=2_000):
    """Fraction of requests that fail on every attempt: a small Monte Carlo task for examples.

    Each of ``requests`` requests makes up to ``1 + retries`` attempts, each of which fails
    independently with probability ``p_fail``. The exact answer is ``p_fail ** (retries + 1)``.

    Parameters
    ----------
    p_fail : float
        Probability that one attempt fails, in [0, 1].
    retries : int
        Retries after the first attempt, >= 0.
    rng : numpy.random.Generator, optional
        Source of randomness. Without it only the exact value is returned.
    requests : int
        Simulated requests, >= 1.

    Returns
    -------
    dict
        ``{"failed": simulated fraction, "exact": exact fraction}`` (``"exact"`` only, without
        ``rng``).

    Examples
    --------
    >>> example_task(0.5, 1)
    {'exact': 0.25}
    >>> import numpy as np
    >>> out = example_task(0.5, 1, rng=np.random.default_rng(0))
    >>> abs(out["failed"] - out["exact"]) < 0.05
    True
    """
    if not 0.0 <= p_fail <= 1.0:
        raise ValueError(f"p_fail must be a probability in [0, 1], got {p_fail!r}")
    if retries < 0 or int(retries) != retries:
        raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
    exact = float(p_fail) ** (int(retries) + 1)
    if rng is None:
        return {"exact": exact}
    failed = rng.random((int(requests), int(retries) + 1)) < p_fail
    return {"failed": float(failed.all(axis=1).mean()), "exact": exact}


# ---------------------------------------------------------------------------------------------
# tasks


def grid(**axes: Iterable) -> list[dict]:
    """Every combination of the given axes, as a list of task dicts.

    The last axis varies fastest (like nested loops written in the same order).

    Parameters
    ----------
    **axes : iterable
        One keyword per parameter; each value lists the values it takes (a list, tuple, range,
        NumPy array, ...). A string is not accepted as an axis: wrap it in a list.

    Returns
    -------
    list of dict

    Raises
    ------
    ValueError
        If there are no axes, or an axis is empty, not iterable, a string or a mapping.

    Examples
    --------
    >>> grid(a=[1, 2], b=[10, 20])
    [{'a': 1, 'b': 10}, {'a': 1, 'b': 20}, {'a': 2, 'b': 10}, {'a': 2, 'b': 20}]
    >>> grid(policy=["none"], timeout_s=range(1, 3))
    [{'policy': 'none', 'timeout_s': 1}, {'policy': 'none', 'timeout_s': 2}]
    >>> grid(policy="none")
    Traceback (most recent call last):
    ...
    ValueError: grid axis 'policy' must be a list of values, got the string 'none'; \
write policy=['none'] for a single value
    """
    if not axes:
        raise ValueError("grid needs at least one axis, e.g. grid(servers=[1, 2, 4])")
    values = {}
    for name, axis in axes.items():
        if isinstance(axis, (str, bytes)):
            raise ValueError(
                f"grid axis {name!r} must be a list of values, got the string {axis!r}; "
                f"write {name}=[{axis!r}] for a single value"
            )
        if isinstance(axis, Mapping):
            raise ValueError(
                f"grid axis {name!r} must be a list of values, got a {type(axis).__name__}; "
                f"pass list(...) of its keys or values explicitly"
            )
        try:
            items = list(axis)
        except TypeError:
            raise ValueError(
                f"grid axis {name!r} must be a list of values, got {axis!r} "
                f"({type(axis).__name__}, not iterable); write {name}=[{axis!r}] for a single value"
            ) from None
        if not items:
            raise ValueError(f"grid axis {name!r} is empty: give it at least one value")
        values[name] = items
    names = list(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]


def _as_task_list(tasks) -> list[dict]:
    """Normalise ``tasks`` (list of mappings, mapping of axes, or DataFrame) to a list of dicts."""
    if isinstance(tasks, Mapping):
        if not tasks:
            raise ValueError("tasks is empty: give at least one task")
        bad = [k for k in tasks if not isinstance(k, str)]
        if bad:
            raise TypeError(f"tasks axis names must be strings, got {bad[0]!r}")
        return grid(**tasks)
    if type(tasks).__module__.startswith("pandas") and type(tasks).__name__ == "DataFrame":
        if len(tasks) == 0 or len(tasks.columns) == 0:
            raise ValueError("tasks is an empty DataFrame: give at least one row and one column")
        if tasks.columns.duplicated().any():
            raise ValueError("tasks DataFrame has duplicate column names")
        out = tasks.to_dict("records")
    elif isinstance(tasks, (str, bytes)) or not isinstance(tasks, Iterable):
        raise TypeError(
            "tasks must be a list of dicts (e.g. from grid(...)), a dict of axes or a "
            f"pandas DataFrame, got {type(tasks).__name__}"
        )
    else:
        out = []
        for position, task in enumerate(tasks):
            if not isinstance(task, Mapping):
                raise TypeError(
                    f"tasks[{position}] must be a dict of parameters, got {type(task).__name__}"
                )
            out.append(dict(task))
        if not out:
            raise ValueError("tasks is empty: give at least one task")
    for position, task in enumerate(out):
        bad = [k for k in task if not isinstance(k, str)]
        if bad:
            raise TypeError(
                f"tasks[{position}] has a parameter name that is not a string: {bad[0]!r}"
            )
    return out


# ---------------------------------------------------------------------------------------------
# running


def _rng_for(seed: int, task_index: int, replication: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(task_index, replication)))


@dataclass
class _Failure:
    """A run that did not produce a usable result (built in the worker, returned to the parent)."""

    index: int  # position of the run in the flattened (task, replication) list
    kind: str  # "raised", "TypeError" or "ValueError" (the latter two: a bad return value)
    message: str
    exc_type: str = ""
    remote_traceback: str = ""
    exception: BaseException | None = None


def _normalise_result(result, reserved: frozenset) -> dict:
    if isinstance(result, Mapping):
        out = dict(result)
    elif result is None:
        raise TypeError("returned None (a missing return statement?); return a dict or a number")
    elif isinstance(result, (str, bytes, bool, int, float, complex, np.generic)):
        out = {"value": result}
    else:
        raise TypeError(
            f"returned a {type(result).__name__}; it must return a dict (its keys become "
            "columns) or a scalar such as a float (column 'value')"
        )
    clash = sorted(str(k) for k in out if k in reserved)
    if clash:
        raise ValueError(
            f"returned column(s) {clash} that clash with the sweep's own columns "
            f"{sorted(reserved)}; rename the result keys"
        )
    return out


def _run_chunk(fn, runs, fixed, seed, reserved):
    """Run a chunk of ``(run_index, task_index, replication, task)`` tuples; used by workers.

    Returns ``(results, failure)``: the result dicts of the runs that completed, in order, and
    the first failure (after which the chunk stops), or None.
    """
    results = []
    for run_index, task_index, replication, task in runs:
        kwargs = {**task, **fixed}
        if seed is not None:
            kwargs["rng"] = _rng_for(seed, task_index, replication)
        try:
            result = fn(**kwargs)
        except Exception as exc:
            exception = exc
            try:
                pickle.loads(pickle.dumps(exc))
            except Exception:
                exception = None  # cannot cross a process boundary; keep its text only
            failure = _Failure(
                index=run_index,
                kind="raised",
                message=str(exc),
                exc_type=type(exc).__qualname__,
                remote_traceback="".join(traceback.format_exception(exc)),
                exception=exception,
            )
            return results, failure
        try:
            results.append(_normalise_result(result, reserved))
        except (TypeError, ValueError) as exc:
            return results, _Failure(index=run_index, kind=type(exc).__name__, message=str(exc))
    return results, None


class _RemoteTraceback(Exception):
    """Carries the traceback text of an exception raised in another process."""

    def __str__(self):
        return self.args[0]


def _describe_run(runs, run_index, replications) -> str:
    _, task_index, replication, task = runs[run_index]
    params = ", ".join(f"{k}={v!r}" for k, v in task.items())
    where = f"task {task_index} ({params})"
    if replications > 1:
        where += f", replication {replication}"
    return where


def _fn_name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _raise_failure(fn, failure: _Failure, runs, replications):
    where = _describe_run(runs, failure.index, replications)
    if failure.kind == "TypeError":
        raise TypeError(f"sweep: {_fn_name(fn)} {failure.message} (at {where})")
    if failure.kind == "ValueError":
        raise ValueError(f"sweep: {_fn_name(fn)} {failure.message} (at {where})")
    message = f"{where} failed with {failure.exc_type}: {failure.message}"
    cause = failure.exception
    if cause is None:
        raise SweepError(message + "\n" + failure.remote_traceback)
    if cause.__traceback__ is None and failure.remote_traceback:
        # Unpickled from a worker: attach the worker's traceback, as ProcessPoolExecutor does.
        cause.__cause__ = _RemoteTraceback(f'\n"""\n{failure.remote_traceback}"""')
    raise SweepError(message) from cause


# ---------------------------------------------------------------------------------------------
# progress


class ProgressBar:
    """A deterministic text progress bar, redrawn in place at every 5 % of the runs.

    The text depends only on ``total``, ``description`` and how far the count has come: no
    timings or rates. A redraw happens each time the count reaches the next 5 % milestone (every
    milestone is drawn, even when one call to :meth:`advance` passes several), so the output is
    the same however the work is split or ordered. That keeps notebooks that show the bar
    comparable output-for-output.

    Parameters
    ----------
    total : int
        Number of units of work, >= 1.
    description : str
        Shown before the bar.
    stream : file-like or None
        Where to draw (``write`` and ``flush``); None draws nothing.
    unit : str
        Name of one unit of work (pluralised with an "s" when ``total`` > 1).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = ProgressBar(4, "demo", out)
    >>> bar.advance(1)
    >>> bar.advance(3)
    >>> bar.close()
    >>> print(out.getvalue().replace("\\r", "<CR>"))
    <CR>demo ▕                    ▏  0% (0/4 runs)<CR>demo ▕█████               ▏ 25% (1/4 runs)\
<CR>demo ▕██████████          ▏ 50% (2/4 runs)<CR>demo ▕███████████████     ▏ 75% (3/4 runs)\
<CR>demo ▕████████████████████▏100% (4/4 runs)
    """

    def __init__(self, total: int, description: str, stream: IO[str] | None, unit: str = "run"):
        total = operator.index(total)
        if total < 1:
            raise ValueError(f"total must be >= 1, got {total}")
        self.total = total
        self.description = str(description)
        self.stream = stream
        self.unit = unit if total == 1 else unit + "s"
        self.count = 0
        # Counts at which to redraw: the smallest count reaching each 5 % milestone (deduplicated
        # when there are fewer than 20 runs).
        self._thresholds = sorted({-(-m * total // _MILESTONES) for m in range(1, _MILESTONES + 1)})
        self._next = 0  # index into _thresholds of the next count to draw
        self._closed = False
        self._draw(0)

    def _draw(self, count: int) -> None:
        if self.stream is None:
            return
        filled = count * _BAR_WIDTH // self.total
        percent = count * 100 // self.total
        width = len(str(self.total))
        bar = "█" * filled + " " * (_BAR_WIDTH - filled)
        self.stream.write(
            f"\r{self.description} ▕{bar}▏{percent:3d}% ({count:{width}d}/{self.total} {self.unit})"
        )
        self.stream.flush()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more completed units, drawing every milestone reached."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.count = min(self.total, self.count + n)
        while self._next < len(self._thresholds) and self._thresholds[self._next] <= self.count:
            self._draw(self._thresholds[self._next])
            self._next += 1

    def close(self) -> None:
        """End the bar's line (once). The bar is left where it got to if the work stopped early."""
        if self._closed:
            return
        self._closed = True
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def _in_jupyter_kernel() -> bool:
    ipython = sys.modules.get("IPython")  # never import IPython just to find out
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


def _progress_stream(progress):
    if progress is False:
        return None
    if _in_jupyter_kernel():
        return sys.stdout  # stderr output would differ from the committed notebooks under nbval
    if progress is True:
        return sys.stderr
    try:
        return sys.stderr if sys.stderr is not None and sys.stderr.isatty() else None
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return None


# ---------------------------------------------------------------------------------------------
# executors


def _start_method() -> str:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _executor_name(executor) -> str:
    if isinstance(executor, str):
        return executor
    if isinstance(executor, ThreadPoolExecutor):
        return "threads"
    if isinstance(executor, ProcessPoolExecutor):
        return "processes"
    if type(executor).__module__.split(".")[0] in ("distributed", "dask"):
        return "dask"
    return type(executor).__name__


def _executor_workers(executor) -> int:
    """Best guess of how many runs ``executor`` executes at once (for the default chunk size)."""
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return workers
    client = getattr(executor, "_client", None)  # dask.distributed.ClientExecutor
    if client is not None:
        try:
            threads = sum(client.nthreads().values())
            if threads > 0:
                return threads
        except Exception:
            pass
    return os.cpu_count() or 1


def _default_chunk_size(n_runs: int, workers: int) -> int:
    # About four chunks per worker balances uneven run times; at least twenty chunks keeps the
    # progress bar moving on small machines.
    return max(1, math.ceil(n_runs / max(4 * workers, _MILESTONES)))


def _check_picklable_for_processes(fn, fixed, interactive_check: bool) -> None:
    name = _fn_name(fn)
    hint = "use executor='serial', or a concurrent.futures.ThreadPoolExecutor()"
    if interactive_check and getattr(fn, "__module__", None) == "__main__":
        main = sys.modules.get("__main__")
        if main is None or not hasattr(main, "__file__") or _in_jupyter_kernel():
            raise TypeError(
                f"fn {name} is defined in an interactive session (a notebook or the REPL), so "
                "worker processes cannot import it; put it in a .py module and import it from "
                f"there, or {hint}"
            )
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"fn {name} cannot be sent to worker processes ({type(exc).__name__}: {exc}); it "
            "must be a function defined at module level (not a lambda or nested function), "
            f"or {hint}"
        ) from exc
    try:
        pickle.dumps(fixed)
    except Exception as exc:
        raise TypeError(
            f"fixed cannot be sent to worker processes ({type(exc).__name__}: {exc}); {hint}"
        ) from exc


# ---------------------------------------------------------------------------------------------
# sweep


def _check_whole(name: str, value, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        try:
            whole = operator.index(value)
        except TypeError:
            whole = None
        if whole is not None and whole >= minimum:
            return whole
    raise (ValueError if isinstance(value, (int, np.integer)) else TypeError)(
        f"{name} must be a whole number >= {minimum}"
        + (" or None" if allow_none else "")
        + f", got {value!r}"
    )


def sweep(
    fn: Callable[..., Any],
    tasks,
    *,
    executor: str | Executor = "processes",
    seed: int | None = None,
    replications: int = 1,
    progress: bool | str = "auto",
    max_workers: int | None = None,
    description: str = "sweep",
    fixed: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
):
    """Run ``fn`` on every task (and replication) and collect the results in a DataFrame.

    Parameters
    ----------
    fn : callable
        Called as ``fn(**task, **fixed)``, plus ``rng=`` a :class:`numpy.random.Generator` when
        ``seed`` is given. It returns a mapping (its keys become columns) or a scalar (column
        ``value``). For process pools and clusters it must be picklable: a function defined at
        module level in an importable module.
    tasks : list of dict, dict of axes, or pandas.DataFrame
        The parameter combinations, one task per dict (e.g. from :func:`grid`) or per row of a
        DataFrame; a dict of axes is expanded with ``grid(**tasks)``.
    executor : {"processes", "serial"} or concurrent.futures.Executor
        ``"processes"`` (default): a process pool of ``max_workers`` workers (default: the number
        of CPUs), started for this call and shut down after it. ``"serial"``: run in this
        process, one run after another. An ``Executor`` instance (a thread pool, a process pool,
        ``dask.distributed.Client(...).get_executor()``) is used as-is and not shut down.
    seed : int, optional
        Non-negative seed. Task ``i``, replication ``r`` gets
        ``numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(i, r)))``. With
        None, ``fn`` gets no ``rng``.
    replications : int
        Runs per task, >= 1. With more than one, a ``replication`` column (0, 1, ...) is added.
    progress : {"auto", True, False}
        Draw a text progress bar: in a Jupyter kernel on stdout; elsewhere on stderr. ``"auto"``
        draws only in a kernel or when stderr is a terminal.
    max_workers : int, optional
        Processes for ``executor="processes"``; ignored by ``"serial"``. An executor instance
        brings its own workers, so giving both is an error.
    description : str
        Label of the progress bar.
    fixed : dict, optional
        Keyword arguments passed to every call and not recorded as columns (e.g. a scenario).
    chunk_size : int, optional
        Runs per submitted future. Default: enough for about four chunks per worker and at least
        twenty chunks in all (one run per chunk for ``"serial"``).

    Returns
    -------
    pandas.DataFrame
        One row per (task, replication), in task order: the task's parameters, then
        ``replication`` (if ``replications`` > 1), then the result columns.
        ``df.attrs["sweep"]`` records ``tasks``, ``replications``, ``executor`` and ``seed``.

    Raises
    ------
    SweepError
        If ``fn`` raises: names the task's parameters and the exception, which is chained.
    TypeError, ValueError
        For invalid arguments, or if ``fn`` returns something other than a mapping or a scalar,
        or result keys that clash with the parameter names.

    Examples
    --------
    >>> from outage_kit.sweeps import example_task, sweep
    >>> df = sweep(example_task, {"p_fail": [0.2, 0.4], "retries": [1]}, executor="serial",
    ...            seed=7, replications=2, progress=False)
    >>> df.round(4)
       p_fail  retries  replication  failed  exact
    0     0.2        1            0  0.0345   0.04
    1     0.2        1            1  0.0415   0.04
    2     0.4        1            0  0.1465   0.16
    3     0.4        1            1  0.1565   0.16
    >>> df.attrs["sweep"]
    {'tasks': 2, 'replications': 2, 'executor': 'serial', 'seed': 7}

    Without a seed, ``fn`` gets no ``rng``; a scalar result becomes the ``value`` column:

    >>> sweep(example_exact_value, {"p_fail": [0.5], "retries": [0, 1, 2]},
    ...       executor="serial", progress=False)
       p_fail  retries  value
    0     0.5        0  0.500
    1     0.5        1  0.250
    2     0.5        2  0.125
    """
    # -- validate everything before starting any worker
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    task_list = _as_task_list(tasks)
    replications = _check_whole("replications", replications, 1)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be a non-negative whole number or None, got {seed!r}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative whole number or None, got {seed!r}")
        seed = int(seed)
    if not (
        progress is True or progress is False or (isinstance(progress, str) and progress == "auto")
    ):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}")
    max_workers = _check_whole("max_workers", max_workers, 1, allow_none=True)
    chunk_size = _check_whole("chunk_size", chunk_size, 1, allow_none=True)
    if fixed is None:
        fixed = {}
    elif not isinstance(fixed, Mapping):
        raise TypeError(f"fixed must be a dict of keyword arguments, got {type(fixed).__name__}")
    else:
        fixed = dict(fixed)
        bad = [k for k in fixed if not isinstance(k, str)]
        if bad:
            raise TypeError(f"fixed has a key that is not a string: {bad[0]!r}")
    if isinstance(executor, str):
        if executor not in ("processes", "serial"):
            raise TypeError(
                f"executor must be 'processes', 'serial' or a concurrent.futures.Executor, "
                f"got {executor!r}"
            )
    elif not isinstance(executor, Executor):
        raise TypeError(
            "executor must be 'processes', 'serial' or a concurrent.futures.Executor "
            f"(e.g. dask.distributed.Client(...).get_executor()), got {executor!r} "
            f"({type(executor).__name__})"
        )
    elif max_workers is not None:
        raise ValueError(
            "max_workers applies to executor='processes' only; the given executor brings its "
            "own workers"
        )

    param_names = list(dict.fromkeys(k for task in task_list for k in task))
    reserved_inputs = {"rng"} if seed is not None else set()
    for position, task in enumerate(task_list):
        clash = sorted((set(task) & set(fixed)) | (set(task) & reserved_inputs))
        if clash:
            raise ValueError(
                f"tasks[{position}] parameter(s) {clash} are also given by "
                + ("fixed" if set(clash) & set(fixed) else "sweep (rng is derived from seed)")
            )
    if "rng" in fixed and seed is not None:
        raise ValueError("fixed must not contain 'rng' when seed is given: sweep derives it")
    if replications > 1 and "replication" in param_names:
        raise ValueError(
            "a task parameter is named 'replication', which clashes with the replication column"
        )
    reserved = frozenset(param_names) | ({"replication"} if replications > 1 else frozenset())

    runs = [
        (run_index, task_index, replication, task)
        for run_index, (task_index, replication, task) in enumerate(
            (i, r, task) for i, task in enumerate(task_list) for r in range(replications)
        )
    ]
    n_runs = len(runs)
    name = _executor_name(executor)

    # -- choose workers and chunks
    own_pool = None
    if executor == "serial":
        workers = 1
        size = chunk_size or 1
    elif executor == "processes":
        _check_picklable_for_processes(fn, fixed, interactive_check=True)
        workers = min(max_workers or os.cpu_count() or 1, n_runs)
        size = chunk_size or _default_chunk_size(n_runs, workers)
        workers = min(workers, math.ceil(n_runs / size))
    else:
        if isinstance(executor, ProcessPoolExecutor):
            _check_picklable_for_processes(fn, fixed, interactive_check=False)
        workers = _executor_workers(executor)
        size = chunk_size or _default_chunk_size(n_runs, workers)
    chunks = [runs[start : start + size] for start in range(0, n_runs, size)]

    results: list[dict | None] = [None] * n_runs
    bar = ProgressBar(n_runs, description, _progress_stream(progress))
    try:
        if executor == "serial":
            for chunk in chunks:
                chunk_results, failure = _run_chunk(fn, chunk, fixed, seed, reserved)
                if failure is not None:
                    _raise_failure(fn, failure, runs, replications)
                for (run_index, *_), result in zip(chunk, chunk_results, strict=True):
                    results[run_index] = result
                bar.advance(len(chunk))
        else:
            if executor == "processes":
                import multiprocessing

                context = multiprocessing.get_context(_start_method())
                own_pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
                pool = own_pool
            else:
                pool = executor
            _run_on_executor(
                pool, fn, chunks, fixed, seed, reserved, runs, replications, results, bar
            )
    except BaseException:
        if own_pool is not None:
            own_pool.shutdown(wait=False, cancel_futures=True)
            own_pool = None
        raise
    finally:
        bar.close()
        if own_pool is not None:
            own_pool.shutdown(wait=True)

    return _build_frame(task_list, runs, results, param_names, replications, name, seed)


def _run_on_executor(pool, fn, chunks, fixed, seed, reserved, runs, replications, results, bar):
    futures: dict[Future, list] = {}
    try:
        for chunk in chunks:
            futures[pool.submit(_run_chunk, fn, chunk, fixed, seed, reserved)] = chunk
        pending = set(futures)
        while pending:
            done, pending = _wait_futures(pending, return_when="FIRST_COMPLETED")
            # Handle finished chunks in submission order, so that when several chunks fail at
            # once the first task's failure is the one reported.
            for future in sorted(done, key=lambda f: futures[f][0][0]):
                chunk = futures[future]
                try:
                    chunk_results, failure = future.result()
                except Exception as exc:  # the chunk never ran: pickling, a dead worker, ...
                    first = _describe_run(runs, chunk[0][0], replications)
                    last = _describe_run(runs, chunk[-1][0], replications)
                    span = first if len(chunk) == 1 else f"{first} to {last}"
                    hint = ""
                    if type(exc).__name__ == "BrokenProcessPool":
                        hint = (
                            " (a worker process died. Workers import the main module: in a "
                            'script, call the sweep under `if __name__ == "__main__":`; or '
                            'use executor="serial")'
                        )
                    raise SweepError(
                        f"could not run {span}: {type(exc).__qualname__}: {exc}{hint}"
                    ) from exc
                if failure is not None:
                    _raise_failure(fn, failure, runs, replications)
                for (run_index, *_), result in zip(chunk, chunk_results, strict=True):
                    results[run_index] = result
                bar.advance(len(chunk))
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _build_frame(task_list, runs, results, param_names, replications, name, seed):
    import pandas as pd

    result_names = list(dict.fromkeys(k for result in results for k in result))
    rows = []
    for (_, _, replication, task), result in zip(runs, results, strict=True):
        row = {k: task.get(k, np.nan) for k in param_names}
        if replications > 1:
            row["replication"] = replication
        row.update(result)
        rows.append(row)
    columns = param_names + (["replication"] if replications > 1 else []) + result_names
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame.attrs["sweep"] = {
        "tasks": len(task_list),
        "replications": replications,
        "executor": name,
        "seed": seed,
    }
    return frame


def example_exact_value(p_fail, retries):
    """Exact fraction of requests failing every attempt, ``p_fail ** (retries + 1)``.

    A scalar-returning companion of :func:`example_task`, for examples.

    Examples
    --------
    >>> example_exact_value(0.1, 1)
    0.010000000000000002
    """
    return example_task(p_fail, retries)["exact"]
