"""Reserved concurrency: beyond max_concurrency in flight → 429 TooManyRequestsException."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import python_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({
        "limited": python_function(max_concurrency=2, timeout_s=5),
        "other": python_function(max_concurrency=1),
    })


def wait_in_flight(host, name, count, timeout=5.0):
    """Waits until `count` invocations of `name` have STARTed (per its log file)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if host.log_text(name).count("START RequestId") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} invocations of {name} did not start:\n{host.log_text(name)}")


def test_throttle_beyond_max_concurrency(host):
    with ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(host.invoke, "limited", {"action": "sleep", "ms": 2000}) for _ in range(2)]
        wait_in_flight(host, "limited", 2)

        # raw HTTP: status, error header, body, Retry-After
        status, headers, body = host.http("POST", "/2015-03-31/functions/limited/invocations", b'{"action":"echo"}')
        assert status == 429, (status, body)
        assert headers.get("x-amzn-errortype", "").split(":")[0] == "TooManyRequestsException", headers
        assert "retry-after" in headers, headers
        doc = json.loads(body)
        assert doc.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", doc
        assert (doc.get("message") or doc.get("Message")) == "Rate Exceeded.", doc

        # boto3 maps it to the modelled exception
        with pytest.raises(ClientError) as err:
            host.client.invoke(FunctionName="limited", Payload=b'{"action":"echo"}')
        assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert isinstance(err.value, host.client.exceptions.TooManyRequestsException)

        # another function is not limited by this one
        resp, result = host.invoke("other", {"action": "echo", "x": 1})
        assert result == {"action": "echo", "x": 1}

        results = [f.result() for f in busy]
    for resp, result in results:
        assert "FunctionError" not in resp and result["slept_ms"] == 2000, result
    # once they are done, the function takes calls again
    resp, result = host.invoke("limited", {"action": "echo", "after": True})
    assert result == {"action": "echo", "after": True}


def test_throttle_is_immediate(host):
    """A throttled call is refused at once, not queued until a slot frees."""
    before = host.log_text("other").count("START RequestId")
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(host.invoke, "other", {"action": "sleep", "ms": 1500})
        wait_in_flight(host, "other", before + 1)
        t0 = time.time()
        status, _, _ = host.http("POST", "/2015-03-31/functions/other/invocations", b"{}")
        elapsed = time.time() - t0
        busy.result()
    assert status == 429
    assert elapsed < 0.5, f"throttled call took {elapsed:.2f}s"
