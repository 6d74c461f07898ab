"""The Lambda API's surface as the service draws it: every path under a
Lambda API version is the API's (typed errors, never the HTTP gateway's
404), every answer carries x-amzn-RequestId, and bad input gets the
service's validation errors and types."""

import base64
import json
import socket

import pytest

from conftest import http_request, python_function, raw_function


@pytest.fixture(scope="module")
def host(make_host):
    catch_all = python_function("gateway_app.handler")
    catch_all["http"] = {"routes": ["$default"], "payload": "2.0"}
    return make_host({"echo": raw_function(), "web": catch_all})


def call(host, method, path, body=b"", headers=()):
    status, header_list, raw = http_request(host.port, method, path, list(headers), body)
    headers = {k.lower(): v for k, v in header_list}
    doc = json.loads(raw) if raw.startswith(b"{") else raw
    return status, headers, doc


def assert_typed(status, headers, doc, want_status, want_type):
    assert status == want_status, (status, headers, doc)
    assert headers.get("x-amzn-errortype") == want_type, (headers, doc)
    assert headers.get("x-amzn-requestid"), "every answer carries a request id"
    assert isinstance(doc, dict), doc


@pytest.mark.parametrize("method,path,operation", [
    ("GET", "/2015-03-31/functions/echo/policy", "GetPolicy"),
    ("DELETE", "/2015-03-31/functions/echo", "DeleteFunction"),
    ("PUT", "/2017-10-31/functions/echo/concurrency", "PutFunctionConcurrency"),
    ("GET", "/2018-10-31/layers", "ListLayers"),
    ("POST", "/2014-11-13/functions/echo/invoke-async", "InvokeAsync"),
])
def test_unserved_operations_are_named_even_behind_a_catch_all_route(host, method, path, operation):
    status, headers, doc = call(host, method, path)
    assert_typed(status, headers, doc, 400, "UnsupportedOperationException")
    assert doc["message"].startswith(f"{operation} is not supported by this host"), doc


def test_a_lambda_path_that_is_no_operation(host):
    status, headers, doc = call(host, "GET", "/2015-03-31/functions/echo/invocations")
    assert_typed(status, headers, doc, 404, "UnknownOperationException")
    # The gateway still has every other path.
    status, headers, _ = call(host, "GET", "/anything/else")
    assert status == 200 and "apigw-requestid" in headers


@pytest.mark.parametrize("path,member", [
    ("/2015-03-31/functions/" + "a" * 10_000 + "/invocations", "functionName"),
    ("/2015-03-31/functions/my-function!/invocations", "functionName"),
    ("/2015-03-31/functions/%FF%FE/invocations", "functionName"),
    ("/2015-03-31/functions/echo/invocations?Qualifier=", "qualifier"),
    ("/2015-03-31/functions/echo/invocations?Qualifier=%00", "qualifier"),
    ("/2015-03-31/functions/echo/invocations?Qualifier=" + "q" * 5000, "qualifier"),
])
def test_names_and_qualifiers_are_validated(host, path, member):
    status, headers, doc = call(host, "POST", path, b"{}")
    assert_typed(status, headers, doc, 400, "ValidationException")
    assert doc["message"].startswith("1 validation error detected: Value '"), doc
    assert f"at '{member}' failed to satisfy constraint" in doc["message"], doc


def test_client_context_over_3583_bytes(host):
    context = base64.b64encode(json.dumps({"x": "a" * 2680}, separators=(",", ":")).encode()).decode()
    assert len(context) == 3584
    status, headers, doc = call(host, "POST", "/2015-03-31/functions/echo/invocations", b"{}",
                                [("X-Amz-Client-Context", context)])
    assert_typed(status, headers, doc, 400, "InvalidRequestContentException")
    shorter = base64.b64encode(json.dumps({"x": "a" * 2677}, separators=(",", ":")).encode()).decode()
    assert len(shorter) <= 3583
    status, _, _ = call(host, "POST", "/2015-03-31/functions/echo/invocations", b"{}",
                        [("X-Amz-Client-Context", shorter)])
    assert status == 200


@pytest.mark.parametrize("headers", [
    [("X-Amz-Invocation-Type", "Event"), ("X-Amz-Invocation-Type", "RequestResponse")],
    [("X-Amz-Log-Type", "Tail"), ("X-Amz-Log-Type", "None")],
])
def test_control_headers_given_twice_are_refused(host, headers):
    status, headers, doc = call(host, "POST", "/2015-03-31/functions/echo/invocations", b"{}", headers)
    assert_typed(status, headers, doc, 400, "InvalidParameterValueException")


def test_a_duplicate_qualifier_is_refused(host):
    path = "/2015-03-31/functions/echo/invocations?Qualifier=%24LATEST&Qualifier=%24LATEST"
    status, headers, doc = call(host, "POST", path, b"{}")
    assert_typed(status, headers, doc, 400, "InvalidParameterValueException")


def raw_exchange(host, request, shutdown=False):
    """Sends bytes as they are; returns the status line and headers of the answer."""
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as s:
        s.sendall(request)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    pairs = (line.split(": ", 1) for line in head[1:] if ": " in line)
    headers = {k.lower(): v for k, v in pairs}
    return head[0], headers


def test_an_unsupported_transfer_coding_is_refused(host):
    status, headers = raw_exchange(host, (
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
    assert " 400 " in status, status
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_a_broken_chunked_body_is_malformed_not_too_large(host):
    status, headers = raw_exchange(host, (
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"))
    assert " 400 " in status, status
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_a_10_gb_body_is_refused_before_it_is_sent(host):
    status, headers = raw_exchange(host, (
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 10000000000\r\n\r\n{"))
    assert " 413 " in status, status
    assert headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert headers.get("connection") == "close"
    assert headers.get("x-amzn-requestid")


def test_a_7_mb_body_is_read_before_the_413(host):
    """The whole body is read before the answer, so a client still writing
    does not hit a closed socket; the connection then serves the next call."""
    big = b'{"x":"' + b"a" * (7 * 1024 * 1024) + b'"}'
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as s:
        s.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(big) + big)
        s.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        data = b""
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"{}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
    assert b"HTTP/1.1 200 " in data, data[-300:]
