"""Step loop of :mod:`outage_kit.storm`, written once for two runtimes.

:func:`storm_loop` is plain Python over indexable sequences. :func:`get_kernel` returns it
either compiled with numba (``@njit(cache=True)``, on numpy arrays, compiled lazily on first
use) or as is, to be called on Python lists (list indexing is far faster than numpy scalar
indexing in the interpreter). Results are identical either way; tests run both.

Nothing here is public. The layout of the state and of the output table is documented in
:mod:`outage_kit.storm`; the event and column codes are module constants shared with it.
"""

from __future__ import annotations

import math

from outage_kit._sim_kernel import numba_available  # noqa: F401  (re-exported for storm)

# Event kinds (triggers and recovery actions), applied at the start of their step.
EV_KNOCK_OFF = 0  # a: share of connected clients knocked off (they reconnect at once)
EV_PARTITION_START = 1  # a: share of connected clients cut off
EV_PARTITION_END = 2  # every cut-off client reconnects at once
EV_CAPACITY = 3  # a: capacity factor (times the base capacity)
EV_SERVER = 4  # a: admission rate per s (-1 none), b: queue bound (-1 none), c: drop steps (0 none)
EV_RAMP = 5  # a, b: admission rate at start and end of the ramp, c: ramp length in steps
EV_FAIL = 6  # a: share of served sign-ins that fail after service (a downstream call failed)

# Columns of the output table (one row per output interval).
C_CONNECTED = 0
C_SIGNING_IN = 1
C_BACKING_OFF = 2
C_GAVE_UP = 3
C_PARTITIONED = 4
C_QUEUE = 5
C_ZOMBIE_QUEUE = 6
C_OFFERED = 7
C_ADMITTED = 8
C_REJECTED = 9
C_SERVED = 10
C_GOODPUT = 11
C_DROPPED = 12
C_TIMEOUTS = 13
C_OFFERED_WORK = 14
C_BUSY_WORK = 15
C_CAPACITY_WORK = 16
C_CONSERVATION_ERROR = 17
C_MIN_STATE = 18
C_NEW_SIGNINS = 19
C_RETRIES = 20
C_STEPS = 21
C_FAILED = 22
N_COLS = 23


def tri_cdf(z):
    """Integral of the hat kernel ``max(0, 1 - |x|)`` from -inf to ``z``."""
    if z <= -1.0:
        return 0.0
    if z <= 0.0:
        return 0.5 * (z + 1.0) * (z + 1.0)
    if z <= 1.0:
        return 1.0 - 0.5 * (1.0 - z) * (1.0 - z)
    return 1.0


MAX_DIRECT_CELLS = 8


def spread_table(lo, hi):
    """How one client retrying ``[lo, hi]`` steps after a step start is spread over steps.

    The release time is uniform on ``[lo, hi]`` (a point if ``hi - lo < 1e-9``), assigned to
    whole steps with the hat kernel (linear interpolation), which keeps the mass and the
    mean exactly. Steps fully inside the uniform (``box_lo`` to ``box_hi``, ``-1`` if none)
    each get ``1 / (hi - lo)``; the kernel writes them as a start and an end in a difference
    ring, so the cost does not grow with the width. The others are listed as (offset,
    weight) pairs. Returns ``(offsets, weights, box_lo, box_hi, box_rate)``.
    """
    offsets = []
    weights = []
    if hi - lo < 1e-9:
        f = math.floor(lo)
        frac = lo - f
        offsets.append(int(f))
        weights.append(1.0 - frac)
        if frac > 0.0:
            offsets.append(int(f) + 1)
            weights.append(frac)
        return offsets, weights, -1, -1, 0.0
    width = hi - lo
    i_first = int(math.floor(lo))
    i_last = int(math.ceil(hi))
    in_lo = int(math.ceil(lo)) + 1
    in_hi = int(math.floor(hi)) - 1
    if in_lo <= in_hi:
        cells = list(range(i_first, in_lo)) + list(range(in_hi + 1, i_last + 1))
        box = (in_lo, in_hi, 1.0 / width)
    else:
        cells = list(range(i_first, i_last + 1))
        box = (-1, -1, 0.0)
    for i in cells:
        w = (tri_cdf(hi - i) - tri_cdf(lo - i)) / width
        if w > 0.0:
            offsets.append(i)
            weights.append(w)
    return offsets, weights, box[0], box[1], box[2]


def storm_loop(
    n_steps,
    dt,
    every,
    population,
    timeout_steps,
    n_stage,
    n_cal,
    gives_up,
    next_cal,
    release_stage,
    sp_n,
    sp_off,
    sp_w,
    box_lo,
    box_hi,
    box_rate,
    sp_last,
    ring_len,
    capacity,
    steady_per_client,
    churn_per_s,
    restart_per_s,
    queue_bound0,
    admit_rate0,
    drop_steps0,
    ev_step,
    ev_kind,
    ev_a,
    ev_b,
    ev_c,
    check,
    queue_mass,
    cohort_left,
    cohort_comp,
    cal_direct,
    cal_diff,
    cal_ends,
    cal_rate,
    cal_active,
    cal_last,
    arrivals,
    failing,
    out,
):
    """Advance the population model ``n_steps`` steps of ``dt`` seconds; fill ``out``.

    State: ``connected``; sign-in cohorts by arrival step (``cohort_left``, a ring of
    ``timeout_steps`` slots, with the composition by failed-attempt stage in
    ``cohort_comp``); retry calendars per retry number (``cal_*`` rings of ``ring_len``
    steps); ``gave_up``; ``partitioned``; the sign-in queue's work by arrival step
    (``queue_mass``, FIFO from ``head``). Work is counted in sign-ins; ``capacity`` is
    sign-ins per second with no other traffic, of which connected clients use
    ``steady_per_client`` each (served first). A share ``fail_share`` of the sign-ins served
    in time fails after service (a call the sign-in makes failed): those clients are told at
    once and retry like a timed-out attempt. Returns the number of steps run.
    """
    L = timeout_steps
    S = n_stage
    connected = population
    signing = 0.0
    backing = 0.0
    gave_up = 0.0
    partitioned = 0.0
    queue_total = 0.0
    fresh_total = 0.0
    head = 0
    cap_factor = 1.0
    fail_share = 0.0
    queue_bound = queue_bound0
    admit_rate = admit_rate0
    drop_steps = drop_steps0
    ramp_on = False
    ramp_start = 0
    ramp_r0 = 0.0
    ramp_r1 = 0.0
    ramp_len = 1.0
    churn_p = -math.expm1(-churn_per_s * dt)
    restart_p = -math.expm1(-restart_per_s * dt)
    n_events = len(ev_step)
    ev = 0
    base = -N_COLS
    for k in range(n_steps):
        if k % every == 0:
            base += N_COLS
            out[base + C_CONNECTED] = connected
            out[base + C_SIGNING_IN] = signing
            out[base + C_BACKING_OFF] = backing
            out[base + C_GAVE_UP] = gave_up
            out[base + C_PARTITIONED] = partitioned
            out[base + C_QUEUE] = queue_total if queue_total > 0.0 else 0.0
            zombie = queue_total - fresh_total
            out[base + C_ZOMBIE_QUEUE] = zombie if zombie > 0.0 else 0.0
            if check:
                # Recount every state from the rings, independently of the running totals.
                lowest = min(connected, gave_up, partitioned)
                exact = connected + gave_up + partitioned
                for slot in range(L):
                    exact += cohort_left[slot]
                    lowest = min(lowest, cohort_left[slot])
                for cal in range(1, n_cal + 1):
                    r = cal_rate[cal]
                    a = cal_active[cal]
                    for c in range(ring_len):
                        slot = cal * ring_len + (k + c) % ring_len
                        a -= cal_ends[slot]
                        r += cal_diff[slot]
                        if a == 0:
                            r = 0.0
                        cell = cal_direct[slot] + r
                        exact += cell
                        lowest = min(lowest, cell)
                running = connected + signing + backing + gave_up + partitioned
                err = max(abs(exact - population), abs(running - population)) / population
                out[base + C_CONSERVATION_ERROR] = err
                out[base + C_MIN_STATE] = lowest / population
        # Triggers and recovery actions at this step.
        fresh_new = 0.0
        while ev < n_events and ev_step[ev] <= k:
            kind = ev_kind[ev]
            if kind == EV_KNOCK_OFF:
                m = ev_a[ev] * connected
                connected -= m
                fresh_new += m
            elif kind == EV_PARTITION_START:
                m = ev_a[ev] * connected
                connected -= m
                partitioned += m
            elif kind == EV_PARTITION_END:
                fresh_new += partitioned
                partitioned = 0.0
            elif kind == EV_CAPACITY:
                cap_factor = ev_a[ev]
            elif kind == EV_SERVER:
                admit_rate = ev_a[ev]
                queue_bound = ev_b[ev]
                drop_steps = int(ev_c[ev])
                ramp_on = False
            elif kind == EV_FAIL:
                fail_share = ev_a[ev]
            else:  # EV_RAMP
                ramp_on = True
                ramp_start = k
                ramp_r0 = ev_a[ev]
                ramp_r1 = ev_b[ev]
                ramp_len = ev_c[ev]
            ev += 1
        # Sessions end and start again (churn); users who gave up come back.
        m = connected * churn_p
        connected -= m
        fresh_new += m
        m = gave_up * restart_p
        gave_up -= m
        fresh_new += m
        for s in range(S):
            arrivals[s] = 0.0
        arrivals[0] = fresh_new
        total = fresh_new
        retries_in = 0.0
        # Retries due now.
        kd = k % ring_len
        for cal in range(1, n_cal + 1):
            if k > cal_last[cal]:
                continue
            slot = cal * ring_len + kd
            e = cal_ends[slot]
            if e != 0:
                cal_active[cal] -= e
                cal_ends[slot] = 0
            cal_rate[cal] += cal_diff[slot]
            cal_diff[slot] = 0.0
            if cal_active[cal] == 0:
                cal_rate[cal] = 0.0
            rel = cal_direct[slot] + cal_rate[cal]
            cal_direct[slot] = 0.0
            if rel > 0.0:
                arrivals[release_stage[cal]] += rel
                backing -= rel
                total += rel
                retries_in += rel
        # The server discards queued work that has waited drop_steps (client gone or too late).
        dropped = 0.0
        if drop_steps > 0:
            while head < k and k - head >= drop_steps:
                x = queue_mass[head]
                if x > 0.0:
                    dropped += x
                    queue_total -= x
                    if k - head < L:
                        fresh_total -= x
                    queue_mass[head] = 0.0
                head += 1
        # Serve the queue, oldest first; steady-state traffic of connected clients goes first.
        cap = capacity * cap_factor
        steady = steady_per_client * connected
        room = (cap - steady) * dt
        if room < 0.0:
            room = 0.0
        served = 0.0
        good = 0.0
        live = 0.0
        failed = 0.0
        for s in range(S):
            failing[s] = 0.0
        while room > 0.0 and head < k:
            x = queue_mass[head]
            if x <= 0.0:
                head += 1
                continue
            take = x if x <= room else room
            queue_mass[head] = x - take
            room -= take
            served += take
            queue_total -= take
            if k - head < L:
                fresh_total -= take
                live += take
                hs = head % L
                left = cohort_left[hs] - take
                cohort_left[hs] = left if left > 0.0 else 0.0
                if fail_share > 0.0:
                    bad = take * fail_share
                    failed += bad
                    for s in range(S):
                        failing[s] += cohort_comp[hs * S + s] * bad
            if take < x:
                break
            head += 1
        good = live - failed
        signing -= live
        connected += good
        # Admission: rate limit (or staged ramp), queue bound.
        limit = total
        if ramp_on:
            progress = (k - ramp_start) / ramp_len
            if progress >= 1.0:
                ramp_on = False
                admit_rate = -1.0
            else:
                rate = ramp_r0 + (ramp_r1 - ramp_r0) * progress
                if rate * dt < limit:
                    limit = rate * dt
        if not ramp_on and admit_rate >= 0.0 and admit_rate * dt < limit:
            limit = admit_rate * dt
        if queue_bound >= 0.0:
            space = queue_bound - queue_total
            if space < 0.0:
                space = 0.0
            space += room
            if space < limit:
                limit = space
        admitted = total if total <= limit else limit
        rejected = total - admitted
        direct = admitted if admitted <= room else room
        room -= direct
        served += direct
        direct_bad = direct * fail_share
        failed += direct_bad
        good += direct - direct_bad
        connected += direct - direct_bad
        queued = admitted - direct
        # The new cohort: attempts admitted this step and not yet served.
        slot = k % L
        cohort_left[slot] = queued
        signing += queued
        queue_mass[k] = queued
        queue_total += queued
        fresh_total += queued
        inv = 1.0 / total if total > 0.0 else 0.0
        for s in range(S):
            share = arrivals[s] * inv
            cohort_comp[slot * S + s] = share
            failing[s] += share * (rejected + direct_bad)
        # Attempts that reach the timeout at the end of this step fail.
        j = k - L + 1
        timeouts = 0.0
        if j >= 0:
            js = j % L
            left = cohort_left[js]
            if left > 0.0:
                for s in range(S):
                    failing[s] += cohort_comp[js * S + s] * left
                timeouts = left
                signing -= left
            cohort_left[js] = 0.0
            if j >= head:
                fresh_total -= queue_mass[j]
        # Failed attempts: give up, or wait for the next retry.
        k1 = k + 1
        for s in range(S):
            m = failing[s]
            if m <= 0.0:
                continue
            if gives_up[s]:
                gave_up += m
            else:
                cal = next_cal[s]
                row = cal * ring_len
                first = cal * MAX_DIRECT_CELLS
                for idx in range(first, first + sp_n[cal]):
                    cal_direct[row + (k1 + sp_off[idx]) % ring_len] += m * sp_w[idx]
                if box_lo[cal] >= 0:
                    rate = m * box_rate[cal]
                    cal_diff[row + (k1 + box_lo[cal]) % ring_len] += rate
                    end_cell = row + (k1 + box_hi[cal] + 1) % ring_len
                    cal_diff[end_cell] -= rate
                    cal_ends[end_cell] += 1
                    cal_active[cal] += 1
                last = k1 + sp_last[cal]
                if last > cal_last[cal]:
                    cal_last[cal] = last
                backing += m
        busy = steady if steady < cap else cap
        out[base + C_OFFERED] += total
        out[base + C_ADMITTED] += admitted
        out[base + C_REJECTED] += rejected
        out[base + C_SERVED] += served
        out[base + C_GOODPUT] += good
        out[base + C_DROPPED] += dropped
        out[base + C_TIMEOUTS] += timeouts
        out[base + C_FAILED] += failed
        out[base + C_OFFERED_WORK] += total + steady * dt
        out[base + C_BUSY_WORK] += served + busy * dt
        out[base + C_CAPACITY_WORK] += cap * dt
        out[base + C_NEW_SIGNINS] += fresh_new
        out[base + C_RETRIES] += retries_in
        out[base + C_STEPS] += 1.0
    return n_steps


_KERNELS = {"storm_loop": storm_loop}
_COMPILED: dict[str, object] = {}


def get_kernel(name: str, use_numba: bool):
    """The kernel ``name``, compiled with numba (lazily, cached on disk) or plain Python."""
    if not use_numba:
        return _KERNELS[name]
    if name not in _COMPILED:
        from numba import njit

        _COMPILED[name] = njit(cache=True)(_KERNELS[name])
    return _COMPILED[name]
