"""Response streaming through the gateway with the official Node.js runtime
interface client (aws-lambda-ric, awslambda.streamifyResponse): the function
is conformance/functions/node/stream.js. The same behaviours with the Flick
SDK are in test_http_adapter.py."""

import pytest

from conftest import FUNCTIONS, assert_sent_as_written, cut_off_get, header_values, http_request, timed_lines_get


@pytest.fixture(scope="module")
def host(make_host, node_bin):
    spec = {"command": [node_bin, "node_modules/aws-lambda-ric/bin/index.mjs", "stream.handler"],
            "workdir": str(FUNCTIONS / "node"), "handler": "stream.handler", "memory_mb": 256, "timeout_s": 5,
            "http": {"routes": ["GET /node/{proxy+}"], "payload": "2.0"}}
    return make_host({"streamer": spec}, name="node-stream")


def test_prelude_gives_the_head_and_the_body_arrives_as_written(host):
    status, headers, lines = timed_lines_get(host.port, "/node/http")
    assert status == 201
    assert header_values(headers, "content-type") == ["text/plain"]
    assert header_values(headers, "x-from") == ["node"]
    assert header_values(headers, "set-cookie") == ["n=1"]
    assert_sent_as_written(lines, [b"first\n", b"second\n"])


def test_a_stream_without_prelude_is_the_body(host):
    status, headers, body = http_request(host.port, "GET", "/node/raw")
    assert status == 200
    assert header_values(headers, "content-type") == ["text/plain"]
    assert body == b"raw-1\nraw-2\n"


def test_a_handler_that_throws_midway_cuts_the_response_off(host):
    assert cut_off_get(host.port, "/node/fail") == (200, b"partial\n")
