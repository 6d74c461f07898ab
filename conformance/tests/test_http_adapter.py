"""flick::http end to end: the axum example (examples/http-axum), built with the
SDK's `http` feature, behind `flick serve`'s gateway, called with a real HTTP
client, in both payload versions: routing, path and query, repeated headers,
binary bodies and cookies both ways, the request context, and an event that
is not HTTP refused with what arrived."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, assert_sent_as_written, cut_off_get, header_values, http_request, timed_lines_get

PAYLOADS = ["2.0", "1.0"]


@pytest.fixture(scope="session")
def http_axum_bin():
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", "example-http-axum"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p example-http-axum failed:\n{proc.stderr}")
    return str(target / "release" / "example-http-axum")


@pytest.fixture(scope="module", params=PAYLOADS)
def host(request, make_host, http_axum_bin):
    spec = {"command": [http_axum_bin], "memory_mb": 128, "timeout_s": 3,
            "http": {"routes": ["$default"], "payload": request.param}}
    h = make_host({"api": spec}, name=f"http{request.param}")
    h.payload = request.param
    return h


def call(host, method, path, headers=(), body=None):
    return http_request(host.port, method, path, headers, body)


values = header_values


def test_routes_path_and_query(host):
    status, hdrs, body = call(host, "GET", "/items/42?a=1&b=x%20y")
    assert status == 200, body
    assert values(hdrs, "content-type") == ["application/json"]
    assert json.loads(body) == {"id": "42", "query": {"a": "1", "b": "x y"}}
    status, _, body = call(host, "GET", "/hello")
    assert (status, body) == (200, b"hello")


def test_unknown_route_is_the_routers_404(host):
    status, _, _ = call(host, "GET", "/no/such/route")
    assert status == 404


def test_binary_body_round_trips(host):
    payload = bytes(range(256)) + b"\x00\xff\x89PNG"
    status, hdrs, body = call(host, "POST", "/echo", [("Content-Type", "application/octet-stream")], payload)
    assert status == 200
    assert body == payload
    assert values(hdrs, "content-type") == ["application/octet-stream"]


def test_text_body_round_trips(host):
    text = "héllo wörld ✓".encode()
    status, _, body = call(host, "POST", "/echo", [("Content-Type", "text/plain; charset=utf-8")], text)
    assert (status, body) == (200, text)


def test_cookies_round_trip(host):
    status, hdrs, body = call(host, "GET", "/cookies", [("Cookie", "a=1; b=2")])
    assert status == 200
    assert json.loads(body)["received"] == ["a=1", "b=2"]
    assert values(hdrs, "set-cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark"]


def test_repeated_headers_round_trip(host):
    status, hdrs, body = call(host, "GET", "/headers", [("X-Multi", "a"), ("X-Multi", "b")])
    assert status == 200
    received = json.loads(body)["x-multi"]
    # 1.0 keeps each value; 2.0 joins them with "," (as API Gateway does) into one header.
    assert received == (["a", "b"] if host.payload == "1.0" else ["a,b"])
    assert ",".join(values(hdrs, "x-reply")).replace(", ", ",") == "one,two"


def test_request_context_in_extensions(host):
    status, _, body = call(host, "GET", "/context")
    assert status == 200
    context = json.loads(body)
    assert context["source"] == ("RestApi" if host.payload == "1.0" else "HttpApi")
    assert context["sourceIp"] == "127.0.0.1"
    assert context["function"] == "api"
    assert len(context["lambdaRequestId"]) == 36
    if host.payload == "2.0":
        assert context["routeKey"] == "$default"
        assert context["stage"] == "$default"


def test_an_event_that_is_not_http_is_refused_with_what_arrived(host):
    resp, result = host.invoke("api", {"Records": [{"eventSource": "aws:sqs"}]})
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "UnrecognizedEvent"
    assert "received an object with keys [Records]" in result["errorMessage"]


# ---------------------------------------------------------------------------
# response streaming (examples/http-streaming) through the host's Runtime API,
# read back with the Invoke API (collected) and through the gateway (passed on
# chunk by chunk as the function writes it).


@pytest.fixture(scope="module")
def stream_host(make_host):
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", "example-http-streaming"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p example-http-streaming failed:\n{proc.stderr}")
    spec = {"command": [str(target / "release" / "example-http-streaming")], "memory_mb": 128, "timeout_s": 3,
            "http": {"routes": ["GET /stream", "GET /fail", "GET /slow"], "payload": "2.0"}}
    return make_host({"stream": spec}, name="stream")


def url_event(path):
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": {},
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
                               "domainName": "x.lambda-url.us-east-1.on.aws", "stage": "$default"}}


def test_streamed_response_reaches_the_host(stream_host):
    resp, _ = stream_host.invoke("stream", url_event("/stream"))
    assert "FunctionError" not in resp
    raw = resp["RawPayload"]
    prelude, _, body = raw.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 200, "headers": {"content-type": "text/plain"},
                                   "cookies": ["seen=1"]}
    assert body == b"one\ntwo\nthree\n"


def test_stream_failing_midway_is_a_function_error(stream_host):
    resp, result = stream_host.invoke("stream", url_event("/fail"))
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "StreamError"
    assert "the source went away" in result["errorMessage"]
    # and the sandbox serves on
    resp, _ = stream_host.invoke("stream", url_event("/stream"))
    assert "FunctionError" not in resp


def test_streamed_response_through_the_gateway(stream_host):
    status, headers, body = http_request(stream_host.port, "GET", "/stream")
    assert status == 200
    assert header_values(headers, "content-type") == ["text/plain"]
    assert header_values(headers, "set-cookie") == ["seen=1"]
    assert body == b"one\ntwo\nthree\n"


def test_gateway_passes_a_stream_on_as_it_is_written(stream_host):
    # /slow writes "first", waits 1.5 s, then writes "last": a gateway that
    # collected the stream would deliver both lines together after the pause.
    status, headers, lines = timed_lines_get(stream_host.port, "/slow")
    assert status == 200
    assert header_values(headers, "transfer-encoding") == ["chunked"]
    assert_sent_as_written(lines, [b"first\n", b"last\n"])


def test_stream_failing_midway_is_cut_off_through_the_gateway(stream_host):
    # The head went out before the failure, so no 502 can follow it: the
    # chunked body ends without its last chunk, and the client sees a
    # truncated response rather than a complete one.
    assert cut_off_get(stream_host.port, "/fail") == (200, b"one\n")
    # and the sandbox serves on
    status, _, body = http_request(stream_host.port, "GET", "/stream")
    assert (status, body) == (200, b"one\ntwo\nthree\n")
