"""Nothing accepted is lost: a host killed with SIGKILL while events pour in,
or while one is being delivered, delivers every event it answered 202 for
after it is started again."""

import http.client
import json
import random
import threading
import time

import pytest

from conftest import delivery_function, shared_dir, wait_deliveries

EVENTS = 5000
CLIENTS = 8


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "deliveries") / "deliveries.jsonl"


@pytest.fixture(scope="module")
def host(make_host, deliveries):
    return make_host({
        "sink": delivery_function(deliveries, max_concurrency=4),
        "slow": delivery_function(deliveries, {"retry_delays_s": [1]}, timeout_s=10),
    })


def flood(port, acked, stop_at, killed):
    """CLIENTS threads send events with ids 0..EVENTS-1 on keep-alive
    connections; `acked` gets each id answered 202. Calls killed() once
    stop_at ids are acknowledged."""
    next_id = iter(range(EVENTS))
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                i = next(next_id, None)
            if i is None:
                return
            body = json.dumps({"action": "echo", "id": i}).encode()
            try:
                conn.request("POST", "/2015-03-31/functions/sink/invocations", body,
                             {"X-Amz-Invocation-Type": "Event"})
                resp = conn.getresponse()
                resp.read()
            except OSError:
                return  # the host is gone: this id was never acknowledged
            if resp.status == 202:
                with lock:
                    acked.add(i)
                    if len(acked) == stop_at:
                        killed()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def delivered_ids(found, fn):
    return {d["event"]["id"] for d in found if d["fn"] == fn and isinstance(d["event"], dict)}


def test_sigkill_under_load_loses_no_acknowledged_event(host, deliveries):
    acked = set()
    stop_at = random.randint(EVENTS // 10, EVENTS * 9 // 10)
    t0 = time.time()
    flood(host.port, acked, stop_at, host.kill_hard)
    sent_for = time.time() - t0
    assert host.proc.poll() is not None, "the host was not killed"
    assert len(acked) >= stop_at, (len(acked), stop_at)

    host.start()
    found = wait_deliveries(deliveries, lambda ds: acked <= delivered_ids(ds, "sink"), timeout=45)
    lost = acked - delivered_ids(found, "sink")
    assert not lost, (f"{len(lost)} of {len(acked)} acknowledged events never delivered "
                      f"(killed after {sent_for:.1f}s), e.g. {sorted(lost)[:10]}")


def test_event_in_flight_when_the_host_dies_is_delivered_again(host, deliveries):
    status, headers, _ = host.send_event("slow", {"action": "sleep", "ms": 2000, "id": "in-flight"})
    assert status == 202
    rid = headers["x-amzn-requestid"]
    wait_deliveries(deliveries, lambda ds: any(d["rid"] == rid for d in ds), timeout=10)
    host.kill_hard()  # mid-delivery: the function is sleeping
    host.start()
    found = wait_deliveries(deliveries, lambda ds: sum(d["rid"] == rid for d in ds) >= 2, timeout=15)
    assert sum(d["rid"] == rid for d in found) >= 2, "the event in flight was not delivered again"
