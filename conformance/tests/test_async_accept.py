"""InvocationType=Event: 202 once the event is durable, then one delivery with
the same request id; Lambda's limits (1 MB → 413, a full queue → 429)."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import delivery_function, read_deliveries, shared_dir, wait_deliveries


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "deliveries") / "deliveries.jsonl"


@pytest.fixture(scope="module")
def host(make_host, deliveries):
    return make_host({
        "worker": delivery_function(deliveries),
        "tight": delivery_function(deliveries, {"max_queued": 2}, max_concurrency=1, timeout_s=5),
        "serial": delivery_function(deliveries, max_concurrency=1),
    })


def of(deliveries, fn=None, rid=None):
    return [d for d in read_deliveries(deliveries) if (fn is None or d["fn"] == fn) and (rid is None or d["rid"] == rid)]


def test_event_is_accepted_with_202_and_delivered_once(host, deliveries):
    status, headers, body = host.send_event("worker", {"action": "echo", "id": "first"})
    assert status == 202, (status, body)
    assert body == b""
    rid = headers.get("x-amzn-requestid")
    assert rid, headers
    found = wait_deliveries(deliveries, lambda ds: any(d["rid"] == rid for d in ds))
    mine = [d for d in found if d["rid"] == rid]
    assert len(mine) == 1, mine
    assert mine[0]["event"] == {"action": "echo", "id": "first"}
    time.sleep(0.5)
    assert len(of(deliveries, rid=rid)) == 1, "a successful event is delivered once"


def test_boto3_event_invoke(host, deliveries):
    resp = host.client.invoke(FunctionName="worker", InvocationType="Event",
                              Payload=json.dumps({"action": "echo", "id": "boto"}).encode())
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    rid = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    found = wait_deliveries(deliveries, lambda ds: any(d["rid"] == rid for d in ds))
    assert [d["event"]["id"] for d in found if d["rid"] == rid] == ["boto"]


def test_payload_over_1mb_is_413(host):
    big = json.dumps({"x": "a" * (1024 * 1024)}).encode()
    status, headers, body = host.send_event("worker", raw=big)
    assert status == 413, (status, body[:200])
    # The type and words the service sends, not botocore's modelled RequestTooLargeException.
    assert headers["x-amzn-errortype"].split(":")[0] == "RequestEntityTooLargeException"
    assert json.loads(body)["Message"] == \
        f"{len(big)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="worker", InvocationType="Event", Payload=big)
    assert err.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    # just under the limit is accepted
    ok = json.dumps({"action": "echo", "x": "a" * (1024 * 1024 - 100)}).encode()
    assert len(ok) <= 1024 * 1024
    status, _, body = host.send_event("worker", raw=ok)
    assert status == 202, body


def test_bad_input_is_refused_before_queueing(host):
    status, headers, _ = host.send_event("nobody", {"action": "echo"})
    assert status == 404 and headers["x-amzn-errortype"].startswith("ResourceNotFoundException")
    status, headers, _ = host.send_event("worker", raw=b"not json")
    assert status == 400 and headers["x-amzn-errortype"].startswith("InvalidRequestContentException")


def test_full_queue_is_429(host, deliveries):
    slow = {"action": "sleep", "ms": 1500}
    accepted = [host.send_event("tight", slow) for _ in range(2)]
    assert [a[0] for a in accepted] == [202, 202], accepted
    status, headers, body = host.send_event("tight", slow)
    assert status == 429, (status, body)
    assert headers["x-amzn-errortype"].split(":")[0] == "TooManyRequestsException"
    assert "retry-after" in headers
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="tight", InvocationType="Event", Payload=json.dumps(slow).encode())
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    # once the queue drains, events are accepted again
    rids = {a[1]["x-amzn-requestid"] for a in accepted}
    wait_deliveries(deliveries, lambda ds: rids <= {d["rid"] for d in ds}, timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline:
        status, _, _ = host.send_event("tight", {"action": "echo"})
        if status == 202:
            break
        time.sleep(0.2)
    assert status == 202


def test_concurrent_deliveries_respect_max_concurrency(host, deliveries):
    """`serial` has max_concurrency 1: its events run one after another."""
    rids = []
    for i in range(2):
        status, headers, _ = host.send_event("serial", {"action": "sleep", "ms": 300, "id": f"seq{i}"})
        assert status == 202
        rids.append(headers["x-amzn-requestid"])
    found = wait_deliveries(deliveries, lambda ds: set(rids) <= {d["rid"] for d in ds}, timeout=10)
    times = sorted(d["t"] for d in found if d["rid"] in rids)
    assert len(times) == 2
    assert times[1] - times[0] >= 0.25, f"second delivery started {times[1] - times[0]:.3f}s after the first"
