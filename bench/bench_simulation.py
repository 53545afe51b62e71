"""Benchmark outage_kit.simulation against SimPy and Ciw on the same workloads.

Run from the repository root (SimPy and Ciw are benchmark-only dependencies)::

    .venv/bin/python bench/bench_simulation.py            # the full benchmark
    .venv/bin/python bench/bench_simulation.py --quick    # smaller sizes, a smoke run

Workload A, no retries: an M/M/10 queue at utilisation 0.95 (arrival rate 9.5/s, mean service
1 s), 1,000,000 requests, FIFO, waiting time of every request recorded.

Workload B, retries: M/M/10 at utilisation 0.5 (arrival rate 5/s, mean service 1 s), client
timeout 3 s, up to 4 attempts with capped exponential backoff with full jitter (base 0.1 s,
cap 5 s), zombie work (a timed-out attempt is still served), 200,000 requests. (At higher
load or shorter timeouts this model is metastable: a random burst tips it into a retry storm
that never recovers, which would make the per-request cost depend on when that happens.)

SimPy and Ciw are slow, so by default they run on fewer requests (stated in the output) and
the speed-ups are per request. Every engine draws its own samples inside the timed call. Times
are medians over repeats, after one untimed warm-up call of outage_kit (numba compiles or
loads its cache on first use). The targets of the kit's design are printed with each ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib.metadata import version

import numpy as np

from outage_kit import _sim_kernel, queueing
from outage_kit.policies import FullJitter, RetryPolicy
from outage_kit.simulation import simulate

# Workload A
A_RATE, A_WORKERS = 9.5, 10
# Workload B
B_RATE, B_WORKERS, B_TIMEOUT_S, B_ATTEMPTS = 5.0, 10, 3.0, 4
B_BACKOFF = FullJitter(base_s=0.1, cap_s=5.0)


def median_time(function, repeats: int):
    """(median seconds, last result) over ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --------------------------------------------------------------------------------------------
# Workload A: M/M/10 at 0.95, no retries
# --------------------------------------------------------------------------------------------


def ours_a(n: int, seed: int, use_numba: bool):
    result = simulate(
        arrivals=A_RATE,
        service=1.0,
        workers=A_WORKERS,
        horizon_s=n / A_RATE,
        seed=seed,
        use_numba=use_numba,
    )
    return result


def simpy_a(n: int, seed: int) -> np.ndarray:
    import simpy

    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / A_RATE, n).tolist()
    service = rng.exponential(1.0, n).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=A_WORKERS)
    waits = [0.0] * n

    def customer(i):
        arrived = env.now
        with server.request() as request:
            yield request
            waits[i] = env.now - arrived
            yield env.timeout(service[i])

    def source():
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    env.run()
    return np.array(waits)


def ciw_a(n: int, seed: int) -> np.ndarray:
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=A_RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[A_WORKERS],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(n, method="Finish")
    return np.array([record.waiting_time for record in sim.get_all_records()])


# --------------------------------------------------------------------------------------------
# Workload B: timeouts and retries with jittered backoff
# --------------------------------------------------------------------------------------------


def ours_b(n: int, seed: int, use_numba: bool):
    return simulate(
        arrivals=B_RATE,
        service=1.0,
        workers=B_WORKERS,
        horizon_s=n / B_RATE,
        timeout_s=B_TIMEOUT_S,
        retry=RetryPolicy(B_BACKOFF, max_attempts=B_ATTEMPTS),
        seed=seed,
        use_numba=use_numba,
    )


def simpy_b_model(gaps, service, uniforms):
    """SimPy model of workload B on given samples; returns (attempts, successes) per request."""
    import simpy

    n = len(gaps)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=B_WORKERS)
    attempts = np.zeros(n, dtype=np.int64)
    succeeded = np.zeros(n, dtype=bool)

    def serve(i, k, done):
        with server.request() as request:
            yield request
            yield env.timeout(service[i][k])
            if not done.triggered:
                done.succeed()

    def client(i):
        for k in range(B_ATTEMPTS):
            attempts[i] += 1
            done = env.event()
            env.process(serve(i, k, done))
            yield done | env.timeout(B_TIMEOUT_S)
            if done.triggered:
                succeeded[i] = True
                return
            if k + 1 == B_ATTEMPTS:
                return
            delay = float(B_BACKOFF.delay_from_uniform_s(uniforms[k][i], k + 1))
            yield env.timeout(delay)

    def source():
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(client(i))

    env.process(source())
    env.run()
    return attempts, succeeded


def b_samples(n: int, seed: int):
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / B_RATE, n)
    service = rng.exponential(1.0, (n, B_ATTEMPTS))
    return gaps, service


def simpy_b(n: int, seed: int):
    gaps, service = b_samples(n, seed)
    uniforms = np.random.default_rng(seed + 1).random((B_ATTEMPTS - 1, n))
    return simpy_b_model(gaps.tolist(), service.tolist(), uniforms.tolist())


def check_b_equivalence(n: int, seed: int, use_numba: bool) -> str:
    """Same samples and uniforms in both models: identical attempts and successes?"""
    gaps, service = b_samples(n, seed)
    # With explicit samples, simulate's first draws are the backoff uniforms.
    uniforms = np.random.default_rng(seed + 1).random((B_ATTEMPTS - 1, n))
    ours = simulate(
        interarrival_s=gaps,
        service_s=service,
        workers=B_WORKERS,
        timeout_s=B_TIMEOUT_S,
        retry=RetryPolicy(B_BACKOFF, max_attempts=B_ATTEMPTS),
        seed=seed + 1,
        record_requests=True,
        use_numba=use_numba,
    ).requests
    attempts, succeeded = simpy_b_model(gaps.tolist(), service.tolist(), uniforms.tolist())
    same = np.array_equal(ours["attempts"].to_numpy(), attempts) and np.array_equal(
        (ours["outcome"] == "succeeded").to_numpy(), succeeded
    )
    return (
        f"{'identical' if same else 'DIFFERENT'} on {n:,} requests with the same samples "
        f"({int(attempts.sum() - n):,} retries, {int(succeeded.sum()):,} successes)"
    )


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def row(name, n, seconds, extra=""):
    per_request_us = 1e6 * seconds / n
    print(f"  {name:<28} {n:>10,} {seconds:>10.4f} {per_request_us:>12.4f}  {extra}")
    return per_request_us


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=7, help="repeats of outage_kit runs")
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    n_a, n_a_simpy, n_a_ciw = int(1_000_000 * scale), int(100_000 * scale), int(20_000 * scale)
    n_b, n_b_simpy = int(200_000 * scale), int(200_000 * scale)
    other_repeats = 1 if args.quick else 3
    have_numba = _sim_kernel.numba_available()
    modes = [True, False] if have_numba else [False]

    print("outage_kit.simulation benchmark")
    print(
        f"  numpy {version('numpy')}, simpy {version('simpy')}, ciw {version('ciw')}, "
        f"numba {version('numba') if have_numba else 'absent'}"
    )
    print("  times: medians; us/request = microseconds per request (speed-ups are per request)")

    # ---- Workload A
    theory = queueing.mmc_metrics(A_RATE, 1.0, A_WORKERS).mean_wait_s
    print(
        f"\nWorkload A: M/M/{A_WORKERS}, utilisation {A_RATE / A_WORKERS:.2f}, no retries "
        f"(Erlang C mean wait {theory:.3f} s)"
    )
    print(f"  {'engine':<28} {'requests':>10} {'median s':>10} {'us/request':>12}  mean wait s")
    per_request = {}
    for use_numba in modes:
        ours_a(1_000, 0, use_numba)  # warm-up: compile or load the numba cache
        label = "outage_kit (numba)" if use_numba else "outage_kit (plain Python)"
        repeats = args.repeats if use_numba else max(3, args.repeats // 2)
        seconds, result = median_time(lambda u=use_numba: ours_a(n_a, 1, u), repeats)
        per_request[label] = row(label, n_a, seconds, f"{result.summary.mean_wait_s:.3f}")
        if use_numba or not have_numba:
            a_seconds = seconds
        if use_numba:
            views, _ = median_time(lambda r=result: (r.binned(r.bin_s), r.counts, r.summary), 1)
            label = "  then its views (lazy)"
            print(f"  {label:<28} {n_a:>10,} {views:>10.4f}  timeseries, counts, summary")
    seconds, waits = median_time(lambda: simpy_a(n_a_simpy, 2), other_repeats)
    per_request["simpy"] = row(
        f"SimPy {version('simpy')}", n_a_simpy, seconds, f"{waits.mean():.3f}"
    )
    seconds, waits = median_time(lambda: ciw_a(n_a_ciw, 3), other_repeats)
    per_request["ciw"] = row(f"Ciw {version('ciw')}", n_a_ciw, seconds, f"{waits.mean():.3f}")
    print("  (mean waits differ by sampling noise; SimPy and Ciw see fewer requests)")
    best = "outage_kit (numba)" if have_numba else "outage_kit (plain Python)"
    limit = 0.1 if have_numba else 1.0
    print(f"  {best}: {a_seconds:.4f} s for {n_a:,} requests: target < {limit} s, ", end="")
    print(verdict(a_seconds < limit) if n_a == 1_000_000 else "not checked (--quick)")
    for other, target in (("simpy", 200), ("ciw", 500)):
        for label in per_request:
            if label.startswith("outage_kit"):
                ratio = per_request[other] / per_request[label]
                note = f"target >= {target}x: {verdict(ratio >= target)}" if label == best else ""
                print(f"  {label} vs {other}: {ratio:,.0f}x faster per request  {note}")

    # ---- Workload B
    print(
        f"\nWorkload B: M/M/{B_WORKERS}, utilisation {B_RATE / B_WORKERS:.2f}, timeout "
        f"{B_TIMEOUT_S:g} s, {B_ATTEMPTS} attempts, {B_BACKOFF!r}, zombie work"
    )
    print(
        f"  {'engine':<28} {'requests':>10} {'median s':>10} {'us/request':>12}  attempts/request"
    )
    per_request_b = {}
    for use_numba in modes:
        ours_b(1_000, 0, use_numba)
        label = "outage_kit (numba)" if use_numba else "outage_kit (plain Python)"
        repeats = args.repeats if use_numba else 3
        seconds, result = median_time(lambda u=use_numba: ours_b(n_b, 4, u), repeats)
        amplification = f"{result.summary.attempts_per_request:.3f}"
        per_request_b[label] = row(label, n_b, seconds, amplification)
    seconds, (attempts, _) = median_time(lambda: simpy_b(n_b_simpy, 5), other_repeats)
    per_request_b["simpy"] = row(
        f"SimPy {version('simpy')}", n_b_simpy, seconds, f"{attempts.mean():.3f}"
    )
    print(f"  model check vs SimPy: {check_b_equivalence(20_000, 6, have_numba)}")
    for label in per_request_b:
        if label.startswith("outage_kit"):
            ratio = per_request_b["simpy"] / per_request_b[label]
            note = f"target >= 20x: {verdict(ratio >= 20)}" if label == best else ""
            print(f"  {label} vs simpy: {ratio:,.0f}x faster per request  {note}")


if __name__ == "__main__":
    main()
