"""Response streaming through the gateway with the official Node.js runtime
interface client (aws-lambda-ric, awslambda.streamifyResponse): the function
is conformance/functions/node/stream.js. The same behaviours with the Flick
SDK are in test_http_adapter.py."""

import http.client
import time

import pytest

from conftest import FUNCTIONS, header_values, http_request


@pytest.fixture(scope="module")
def host(make_host, node_bin):
    spec = {"command": [node_bin, "node_modules/aws-lambda-ric/bin/index.mjs", "stream.handler"],
            "workdir": str(FUNCTIONS / "node"), "handler": "stream.handler", "memory_mb": 256, "timeout_s": 5,
            "http": {"routes": ["GET /node/{proxy+}"], "payload": "2.0"}}
    return make_host({"streamer": spec}, name="node-stream")


def test_prelude_gives_the_head_and_the_body_arrives_as_written(host):
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    try:
        began = time.monotonic()
        conn.request("GET", "/node/http")
        resp = conn.getresponse()
        assert resp.status == 201
        assert resp.getheader("content-type") == "text/plain"
        assert resp.getheader("x-from") == "node"
        assert resp.getheader("set-cookie") == "n=1"
        assert resp.readline() == b"first\n"
        first_at = time.monotonic() - began
        assert resp.read() == b"second\n"
        last_at = time.monotonic() - began
    finally:
        conn.close()
    assert last_at >= 1.4, last_at
    assert first_at < 1.0, f"the first line came after {first_at:.2f} s, with the last"


def test_a_stream_without_prelude_is_the_body(host):
    status, headers, body = http_request(host.port, "GET", "/node/raw")
    assert status == 200
    assert header_values(headers, "content-type") == ["text/plain"]
    assert body == b"raw-1\nraw-2\n"


def test_a_handler_that_throws_midway_cuts_the_response_off(host):
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    try:
        conn.request("GET", "/node/fail")
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
        assert cut.value.partial == b"partial\n"
    finally:
        conn.close()
