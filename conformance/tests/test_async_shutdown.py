"""SIGTERM and queued events: a delivery that ends within the grace period is
done for good; one cut off by the end of the grace period stays in the queue
and is delivered again after the next start, as are events never started."""

import time

import pytest

from conftest import delivery_function, read_deliveries, shared_dir, wait_deliveries


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "deliveries") / "deliveries.jsonl"


@pytest.fixture(scope="module")
def host(make_host, deliveries):
    return make_host({"job": delivery_function(deliveries, max_concurrency=1, timeout_s=10)})


def count(deliveries, rid):
    return sum(d["rid"] == rid for d in read_deliveries(deliveries))


def accept(host, payload):
    status, headers, body = host.send_event("job", payload)
    assert status == 202, (status, body)
    return headers["x-amzn-requestid"]


def test_delivery_finished_within_grace_is_not_repeated(host, deliveries):
    rid = accept(host, {"action": "sleep", "ms": 500})
    wait_deliveries(deliveries, lambda ds: any(d["rid"] == rid for d in ds))
    host.stop()  # default grace: the delivery ends normally
    host.start()
    time.sleep(1.5)
    assert count(deliveries, rid) == 1


def test_delivery_cut_off_by_shutdown_and_queued_events_come_back(host, deliveries):
    host.stop()
    host.serve_args = ["--grace", "1"]
    host.start()
    cut = accept(host, {"action": "sleep", "ms": 4000})
    waiting = accept(host, {"action": "echo", "id": "behind"})  # max_concurrency 1: not started
    wait_deliveries(deliveries, lambda ds: any(d["rid"] == cut for d in ds))
    host.stop()
    assert count(deliveries, waiting) == 0
    host.serve_args = []
    host.start()
    found = wait_deliveries(deliveries, lambda ds: sum(d["rid"] == cut for d in ds) >= 2
                            and any(d["rid"] == waiting for d in ds), timeout=20)
    assert sum(d["rid"] == cut for d in found) == 2, "the cut-off delivery was not made again"
    assert sum(d["rid"] == waiting for d in found) == 1
