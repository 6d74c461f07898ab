"""InvokeWithResponseStream with boto3's own event-stream decoder: chunks
arrive as the function writes them, a buffered function's response comes as
one chunk, and InvokeComplete carries the error and the log tail."""

import base64
import json
import time

import pytest

from conftest import raw_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({"raw": raw_function(timeout_s=10)})


def stream(host, payload, **kwargs):
    """Returns [(seconds since the call, event)] as boto3 decodes them."""
    began = time.monotonic()
    resp = host.client.invoke_with_response_stream(FunctionName="raw", Payload=json.dumps(payload).encode(),
                                                   **kwargs)
    assert resp["StatusCode"] == 200 and resp["ExecutedVersion"] == "$LATEST"
    return [(time.monotonic() - began, event) for event in resp["EventStream"]]


def test_chunks_arrive_as_they_are_written(host):
    events = stream(host, {"action": "stream", "chunks": ["one ", "two ", "three"], "pause_ms": 800})
    chunks = [(t, e["PayloadChunk"]["Payload"]) for t, e in events if "PayloadChunk" in e]
    assert b"".join(c for _, c in chunks) == b"one two three"
    assert chunks[-1][0] - chunks[0][0] >= 1.2, f"chunks were held back and sent together: {chunks}"
    assert "InvokeComplete" in events[-1][1] and not events[-1][1]["InvokeComplete"].get("ErrorCode")


def test_a_buffered_response_is_one_chunk(host):
    events = [e for _, e in stream(host, {"action": "echo", "n": 1})]
    assert events[0]["PayloadChunk"]["Payload"] == b'{"action": "echo", "n": 1}'
    assert list(events[1]) == ["InvokeComplete"] and len(events) == 2


def test_an_error_midway_ends_the_stream_with_it(host):
    error = {"errorType": "Custom.Midway", "errorMessage": "broke after the first chunk"}
    events = [e for _, e in stream(host, {"action": "stream", "chunks": ["partial"], "error": error})]
    assert events[0]["PayloadChunk"]["Payload"] == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Custom.Midway" and complete["ErrorDetails"] == "broke after the first chunk"


def test_the_log_tail_comes_with_the_end(host):
    events = [e for _, e in stream(host, {"action": "echo"}, LogType="Tail")]
    log = base64.b64decode(events[-1]["InvokeComplete"]["LogResult"]).decode()
    assert log.rstrip("\n").splitlines()[-1].startswith("REPORT RequestId: ")
