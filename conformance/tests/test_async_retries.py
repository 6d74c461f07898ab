"""Retries of Event invocations with Lambda's rules, destinations and their
invocation records, the dead-letter table, `flick queue` and re-drive."""

import json
import time

import pytest

from conftest import delivery_function, read_deliveries, shared_dir, wait_deliveries


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "deliveries") / "deliveries.jsonl"


@pytest.fixture(scope="module")
def host(make_host, deliveries):
    fast = {"retry_delays_s": [1, 1]}
    return make_host({
        "flaky": delivery_function(deliveries, dict(fast, on_success="function:audit")),
        "doomed": delivery_function(deliveries, dict(fast, max_retry_attempts=1, on_failure="function:dlq")),
        "once": delivery_function(deliveries, {"max_retry_attempts": 0, "on_failure": "function:dlq"}),
        "aged": delivery_function(deliveries, {"max_event_age_s": 60, "retry_delays_s": [120],
                                               "on_failure": "function:dlq"}),
        "slowpoke": delivery_function(deliveries, {"max_retry_attempts": 1, "retry_delays_s": [0],
                                                   "on_failure": "function:dlq"}, timeout_s=1),
        "audit": delivery_function(deliveries),
        "dlq": delivery_function(deliveries),
    })


def accept(host, name, payload):
    status, headers, body = host.send_event(name, payload)
    assert status == 202, (status, body)
    return headers["x-amzn-requestid"]


def records_for(deliveries, fn, rid, timeout=15.0):
    """Waits for the destination `fn` to receive the record of request `rid`."""
    def mine(ds):
        return [d["event"] for d in ds if d["fn"] == fn and isinstance(d["event"], dict)
                and d["event"].get("requestContext", {}).get("requestId") == rid]
    found = wait_deliveries(deliveries, lambda ds: mine(ds), timeout=timeout)
    return mine(found)


def test_failing_twice_then_succeeding_is_delivered_three_times(host, deliveries):
    payload = {"action": "fail_first", "n": 2, "id": "flaky-1"}
    rid = accept(host, "flaky", payload)
    found = wait_deliveries(deliveries, lambda ds: sum(d["rid"] == rid for d in ds) >= 3, timeout=15)
    tries = sorted(d["t"] for d in found if d["rid"] == rid)
    assert len(tries) == 3, tries
    # retry_delays_s = [1, 1]
    assert tries[1] - tries[0] >= 0.9 and tries[2] - tries[1] >= 0.9, tries

    [record] = records_for(deliveries, "audit", rid)
    assert record["version"] == "1.0"
    ctx = record["requestContext"]
    assert ctx["condition"] == "Success"
    assert ctx["approximateInvokeCount"] == 3
    assert ctx["functionArn"].endswith(":function:flaky:$LATEST"), ctx
    assert record["requestPayload"] == payload
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"delivered": True, "id": "flaky-1"}
    assert record["timestamp"].endswith("Z")
    time.sleep(0.5)
    assert sum(d["rid"] == rid for d in read_deliveries(deliveries)) == 3


def test_exhausted_retries_reach_on_failure_and_the_dead_letter_table(host, deliveries):
    payload = {"action": "error", "errorType": "Custom.Doomed", "message": "always", "id": "doomed-1"}
    rid = accept(host, "doomed", payload)
    [record] = records_for(deliveries, "dlq", rid)
    assert sum(d["rid"] == rid for d in read_deliveries(deliveries)) == 2  # max_retry_attempts = 1
    ctx = record["requestContext"]
    assert ctx["condition"] == "RetriesExhausted"
    assert ctx["approximateInvokeCount"] == 2
    assert record["requestPayload"] == payload
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "Custom.Doomed"

    listing = host.flick("queue", "--config", str(host.manifest), "list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line.split()[1:] for line in listing.stdout.splitlines()[1:]}
    assert rows["doomed"][2] == "1", listing.stdout  # DEAD_LETTERS
    shown = host.flick("queue", "--config", str(host.manifest), "show-dlq", "doomed")
    assert shown.returncode == 0, shown.stderr
    [line] = shown.stdout.splitlines()
    assert line.startswith(rid) and "RetriesExhausted" in line
    assert json.loads(line.split("\t", 4)[4])["requestContext"]["requestId"] == rid


def test_redrive_delivers_a_dead_letter_again(host, deliveries):
    # fails on deliveries 1 and 2 (both of its tries), succeeds on the third
    payload = {"action": "fail_first", "n": 2, "id": "redriven"}
    rid = accept(host, "doomed", payload)
    records_for(deliveries, "dlq", rid)
    redrive = host.flick("queue", "--config", str(host.manifest), "redrive", "doomed", rid)
    assert redrive.returncode == 0, redrive.stderr
    assert "re-driven: 1" in redrive.stdout
    found = wait_deliveries(deliveries, lambda ds: sum(d["rid"] == rid for d in ds) >= 3, timeout=10)
    assert sum(d["rid"] == rid for d in found) == 3
    shown = host.flick("queue", "--config", str(host.manifest), "show-dlq", "doomed")
    assert rid not in shown.stdout
    missing = host.flick("queue", "--config", str(host.manifest), "redrive", "doomed", "no-such-id")
    assert "re-driven: 0" in missing.stdout


def test_no_retries(host, deliveries):
    rid = accept(host, "once", {"action": "error", "id": "once"})
    [record] = records_for(deliveries, "dlq", rid)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert sum(d["rid"] == rid for d in read_deliveries(deliveries)) == 1


def test_maximum_age(host, deliveries):
    """max_event_age_s = 60 with a 120 s retry delay: the retry would come too
    late, so the event is given up after its first try."""
    rid = accept(host, "aged", {"action": "error", "id": "aged"})
    [record] = records_for(deliveries, "dlq", rid)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert sum(d["rid"] == rid for d in read_deliveries(deliveries)) == 1


def test_timeouts_are_retried_as_function_errors(host, deliveries):
    rid = accept(host, "slowpoke", {"action": "sleep", "ms": 3000, "id": "slow"})
    [record] = records_for(deliveries, "dlq", rid, timeout=20)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"
    assert sum(d["rid"] == rid for d in read_deliveries(deliveries)) == 2
