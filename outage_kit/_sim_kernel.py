"""Inner loops of :mod:`outage_kit.simulation`, written once for two runtimes.

Each kernel is plain Python over indexable sequences. :func:`get_kernel` returns it either
compiled with numba (``@njit(cache=True)``, on numpy arrays, compiled lazily on first use) or
as is, to be called on Python lists (list indexing is far faster than numpy scalar indexing
in the interpreter). Results are identical either way; tests run both.

Nothing here is public. Codes shared with :mod:`outage_kit.simulation` are module constants.
"""

from __future__ import annotations

import heapq
import math
import os

# Backoff kinds (same codes as outage_kit.policies.KIND_*).
KIND_FIXED = 0
KIND_EXPONENTIAL = 1
KIND_FULL_JITTER = 2
KIND_EQUAL_JITTER = 3
KIND_DECORRELATED = 4

# Client-side outcome of an attempt.
CLIENT_UNUSED = 0  # slot never used (attempt not sent)
CLIENT_WAITING = 1  # sent, client still waiting
CLIENT_SUCCESS = 2  # response within the timeout
CLIENT_TIMEOUT = 3  # client gave up waiting (abandoned)
CLIENT_REJECTED = 4  # server rejected it at arrival

# Server-side fate of an attempt.
SERVER_UNUSED = 0
SERVER_QUEUED = 1
SERVER_IN_SERVICE = 2
SERVER_SERVED = 3
SERVER_DROPPED = 4  # client had timed out when a worker would have started it
SERVER_REJECTED = 5

# Outcome of a user request.
REQUEST_PENDING = 0
REQUEST_SUCCEEDED = 1
REQUEST_EXHAUSTED = 2  # failed: last allowed attempt failed
REQUEST_NO_BUDGET = 3  # failed: retry budget empty
REQUEST_SHORT_CIRCUITED = 4  # failed: circuit breaker open when an attempt was due

# Event types, in tie-break order for the same attempt at the same time.
EVENT_END = 0
EVENT_TIMEOUT = 1
EVENT_ARRIVAL = 2
N_EVENT_TYPES = 3

# Columns of the snapshot table written at each snapshot time.
SNAP_QUEUE = 0
SNAP_BUSY = 1
SNAP_WAITING = 2
SNAP_BACKING_OFF = 3
N_SNAP = 4

ENV_DISABLE_NUMBA = "OUTAGE_KIT_DISABLE_NUMBA"


def backoff_delay_s(kind, scale_s, base_s, cap_s, jitter, previous_s, u):
    """Delay before a retry: the rule of outage_kit.policies, one value at a time.

    ``scale_s`` is the policy's ``t_n`` for this retry number (precomputed by the caller).
    """
    if kind == KIND_FIXED:
        return scale_s
    if kind == KIND_EXPONENTIAL:
        return scale_s * (1.0 + jitter * (2.0 * u - 1.0))
    if kind == KIND_FULL_JITTER:
        return u * scale_s
    if kind == KIND_EQUAL_JITTER:
        half = scale_s / 2.0
        return half + u * half
    # KIND_DECORRELATED
    return min(cap_s, base_s + u * (3.0 * previous_s - base_s))


def fifo_start_times(arrival_s, service_s, workers, linear_scan, start_s):
    """Kiefer–Wolfowitz recursion for a FIFO G/G/c queue: fill ``start_s`` in place.

    ``free_at`` holds the time at which each of the ``workers`` becomes free; customer ``i``
    starts at ``max(arrival_i, earliest free time)`` and that worker is then free at
    ``start + service_i``. ``arrival_s`` must be sorted. The earliest worker is found by a
    linear scan (fastest compiled, for a few workers) or a heap (``linear_scan=False``).
    """
    free_at = [0.0] * workers
    for i in range(len(arrival_s)):
        arrival = arrival_s[i]
        if linear_scan:
            which = 0
            earliest = free_at[0]
            for w in range(1, workers):
                if free_at[w] < earliest:
                    earliest = free_at[w]
                    which = w
        else:
            earliest = free_at[0]
        start = arrival if arrival > earliest else earliest
        start_s[i] = start
        if linear_scan:
            free_at[which] = start + service_s[i]
        else:
            heapq.heapreplace(free_at, start + service_s[i])
    return 0


def event_loop(
    first_arrival_s,
    service_s,
    backoff_u,
    backoff_scale_s,
    max_attempts,
    workers,
    queue_capacity,
    timeout_s,
    backoff_kind,
    backoff_base_s,
    backoff_cap_s,
    backoff_jitter,
    budget_enabled,
    budget_deposit,
    budget_cost,
    budget_max,
    budget_start,
    breaker_threshold,
    breaker_open_s,
    admit_rate_per_s,
    admit_burst,
    admit_max_queue,
    drop_wait_s,
    slowdown_per_request,
    slowdown_onset,
    snapshot_s,
    queue_buffer,
    previous_delay_s,
    att_arrival_s,
    att_dequeue_s,
    att_end_s,
    att_client,
    att_server,
    request_outcome,
    request_end_s,
    snapshots,
):
    """Event-driven simulation of c workers, a FIFO queue, client timeouts and retries.

    Attempt ``k`` (0-based) of request ``r`` lives in slot ``r * max_attempts + k`` of every
    ``att_*`` array, of ``service_s`` and of ``backoff_u`` (the uniform for the delay after it
    fails). Integer parameters use -1 for "no limit"; ``timeout_s`` may be ``inf``, and so may
    ``drop_wait_s`` (a worker discards a queued attempt that has waited that long). Outputs are
    written in place; ``snapshots`` gets ``N_SNAP`` values per snapshot time (row-major),
    taken after all events at times <= that time. Returns the number of events processed.
    """
    n_requests = len(first_arrival_s)
    n_snap = len(snapshot_s)
    infinite_timeout = math.isinf(timeout_s)
    heap = [(0.0, 0)]
    heap.pop()
    busy = 0
    q_head = 0
    q_tail = 0
    waiting = 0  # attempts whose client is waiting for the response
    backing_off = 0  # requests waiting to send their next attempt
    admit_tokens = admit_burst
    admit_last_s = 0.0
    budget_tokens = budget_start
    breaker_failures = 0
    breaker_open_until_s = -math.inf
    next_request = 0
    snap = 0
    n_events = 0
    inf = math.inf
    while True:
        # Next event: the heap (ends, timeouts, retries) wins ties against new requests.
        heap_time = heap[0][0] if len(heap) > 0 else inf
        if next_request < n_requests and first_arrival_s[next_request] < heap_time:
            now = first_arrival_s[next_request]
            slot = next_request * max_attempts
            event = EVENT_ARRIVAL
            next_request += 1
        elif len(heap) > 0:
            now, key = heapq.heappop(heap)
            slot = key // N_EVENT_TYPES
            event = key - slot * N_EVENT_TYPES
        else:
            break
        n_events += 1
        while snap < n_snap and snapshot_s[snap] < now:
            snapshots[snap * N_SNAP + SNAP_QUEUE] = q_tail - q_head
            snapshots[snap * N_SNAP + SNAP_BUSY] = busy
            snapshots[snap * N_SNAP + SNAP_WAITING] = waiting
            snapshots[snap * N_SNAP + SNAP_BACKING_OFF] = backing_off
            snap += 1

        request = slot // max_attempts
        attempt = slot - request * max_attempts
        failed = False
        to_start = -1
        if event == EVENT_ARRIVAL:
            if attempt > 0:
                backing_off -= 1
            if breaker_threshold > 0 and now < breaker_open_until_s:
                request_outcome[request] = REQUEST_SHORT_CIRCUITED
                request_end_s[request] = now
                continue
            att_arrival_s[slot] = now
            queued = q_tail - q_head
            rejected = False
            if admit_rate_per_s > 0.0:
                admit_tokens = min(
                    admit_burst, admit_tokens + (now - admit_last_s) * admit_rate_per_s
                )
                admit_last_s = now
                if admit_tokens < 1.0:
                    rejected = True
            if busy >= workers:
                if queue_capacity >= 0 and queued >= queue_capacity:
                    rejected = True
                if admit_max_queue >= 0 and queued >= admit_max_queue:
                    rejected = True
            if rejected:
                att_client[slot] = CLIENT_REJECTED
                att_server[slot] = SERVER_REJECTED
                failed = True
            else:
                if admit_rate_per_s > 0.0:
                    admit_tokens -= 1.0
                att_client[slot] = CLIENT_WAITING
                waiting += 1
                if not infinite_timeout:
                    heapq.heappush(heap, (now + timeout_s, slot * N_EVENT_TYPES + EVENT_TIMEOUT))
                if busy < workers:
                    to_start = slot
                else:
                    att_server[slot] = SERVER_QUEUED
                    queue_buffer[q_tail] = slot
                    q_tail += 1
        elif event == EVENT_END:
            busy -= 1
            att_server[slot] = SERVER_SERVED
            if att_client[slot] == CLIENT_WAITING:
                att_client[slot] = CLIENT_SUCCESS
                waiting -= 1
                request_outcome[request] = REQUEST_SUCCEEDED
                request_end_s[request] = now
                breaker_failures = 0
                if budget_enabled:
                    budget_tokens = min(budget_max, budget_tokens + budget_deposit)
            while q_head < q_tail:
                candidate = queue_buffer[q_head]
                q_head += 1
                if att_arrival_s[candidate] + drop_wait_s <= now:
                    att_server[candidate] = SERVER_DROPPED
                    att_dequeue_s[candidate] = now
                    continue
                to_start = candidate
                break
        else:  # EVENT_TIMEOUT
            if att_client[slot] == CLIENT_WAITING:
                att_client[slot] = CLIENT_TIMEOUT
                waiting -= 1
                failed = True

        if to_start >= 0:
            busy += 1
            att_server[to_start] = SERVER_IN_SERVICE
            att_dequeue_s[to_start] = now
            duration = service_s[to_start]
            if slowdown_per_request > 0.0:
                excess = busy + (q_tail - q_head) - slowdown_onset
                if excess > 0:
                    duration = duration * (1.0 + slowdown_per_request * excess)
            end = now + duration
            att_end_s[to_start] = end
            heapq.heappush(heap, (end, to_start * N_EVENT_TYPES + EVENT_END))

        if failed:
            if breaker_threshold > 0:
                breaker_failures += 1
                if breaker_failures >= breaker_threshold:
                    breaker_open_until_s = now + breaker_open_s
                    breaker_failures = breaker_threshold - 1
            if attempt + 1 >= max_attempts:
                request_outcome[request] = REQUEST_EXHAUSTED
                request_end_s[request] = now
            elif budget_enabled and budget_tokens < budget_cost:
                request_outcome[request] = REQUEST_NO_BUDGET
                request_end_s[request] = now
            else:
                if budget_enabled:
                    budget_tokens -= budget_cost
                delay = backoff_delay_s(
                    backoff_kind,
                    backoff_scale_s[attempt + 1],
                    backoff_base_s,
                    backoff_cap_s,
                    backoff_jitter,
                    previous_delay_s[request],
                    backoff_u[slot],
                )
                previous_delay_s[request] = delay
                backing_off += 1
                heapq.heappush(heap, (now + delay, (slot + 1) * N_EVENT_TYPES + EVENT_ARRIVAL))

    while snap < n_snap:
        snapshots[snap * N_SNAP + SNAP_QUEUE] = q_tail - q_head
        snapshots[snap * N_SNAP + SNAP_BUSY] = busy
        snapshots[snap * N_SNAP + SNAP_WAITING] = waiting
        snapshots[snap * N_SNAP + SNAP_BACKING_OFF] = backing_off
        snap += 1
    return n_events


_KERNELS = {"fifo_start_times": fifo_start_times, "event_loop": event_loop}
_COMPILED: dict[str, object] = {}
_HELPERS_REGISTERED = []


def numba_available() -> bool:
    """True if numba can be imported and ``OUTAGE_KIT_DISABLE_NUMBA`` is not set."""
    if os.environ.get(ENV_DISABLE_NUMBA, "").strip() not in ("", "0"):
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def get_kernel(name: str, use_numba: bool):
    """The kernel ``name``, compiled with numba (lazily, cached on disk) or plain Python."""
    if not use_numba:
        return _KERNELS[name]
    if name not in _COMPILED:
        from numba import njit
        from numba.extending import register_jitable

        if not _HELPERS_REGISTERED:
            register_jitable(backoff_delay_s)
            _HELPERS_REGISTERED.append(True)
        _COMPILED[name] = njit(cache=True)(_KERNELS[name])
    return _COMPILED[name]
