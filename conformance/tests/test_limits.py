"""Limits a hostile client or function cannot get around: connections over
the cap are answered (503) rather than left hanging, slow or idle clients are
let go, the host is not stopped by a thousand idle sockets under a 1,024
open-file soft limit, a sandbox cannot flood its own Runtime API, and a
runtime that speaks broken HTTP ends its own invocation at once."""

import resource
import socket
import time

import pytest

from conftest import raw_function

TIMEOUT_S = 2


@pytest.fixture(scope="module")
def host(make_host):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4096:
        pytest.skip(f"the hard open-file limit ({hard}) is too low to show the soft one being raised")
    # The host starts under a soft limit of 1,024, which it must raise itself.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        h = make_host({"steady": raw_function(), "flooder": raw_function(timeout_s=5),
                       "broken": raw_function(timeout_s=20)},
                      server={"request_timeout_s": TIMEOUT_S})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    return h


def connect(host):
    return socket.create_connection(("127.0.0.1", host.port), timeout=10)


def test_1100_idle_connections_do_not_stop_other_functions(host):
    idle = [connect(host) for _ in range(1100)]
    try:
        t0 = time.monotonic()
        _, result = host.invoke("steady", {"action": "echo", "n": 1})
        assert result == {"action": "echo", "n": 1}
        assert time.monotonic() - t0 < 2, "a function still answers at once"
    finally:
        for s in idle:
            s.close()


@pytest.fixture(scope="module")
def capped(make_host):
    return make_host({"steady": raw_function()}, server={"max_connections": 50}, name="capped")


def test_connections_over_the_cap_are_answered_not_left_hanging(capped):
    held = [connect(capped) for _ in range(50)]
    try:
        extra = connect(capped)
        extra.settimeout(5)
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:100]
        assert b"x-amzn-errortype: ServiceException" in answer
        extra.close()
    finally:
        for s in held:
            s.close()
    _, result = capped.invoke("steady", {"action": "echo"})
    assert result == {"action": "echo"}


def test_slow_and_idle_clients_are_let_go(host):
    slow = connect(host)
    slow.sendall(b"POST /2015-03-31/functions/steady/invocations HTTP/1.1\r\nHost: x\r\n")
    idle = connect(host)
    time.sleep(TIMEOUT_S + 1.5)
    for s in (slow, idle):
        s.settimeout(2)
        assert read_to_end(s) is not None, "the connection should have been closed"
        s.close()


def read_to_end(s):
    """Whatever the socket sends until it is closed; None if it stays open."""
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except socket.timeout:
        return None
    return data


def test_a_body_that_stalls_is_let_go_as_malformed(host):
    s = connect(host)
    s.sendall(b"POST /2015-03-31/functions/steady/invocations HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 100\r\n\r\n{\"a\":")
    s.settimeout(TIMEOUT_S + 5)
    answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"InvalidRequestContentException" in answer


def test_a_sandbox_cannot_flood_its_runtime_api(host):
    resp, result = host.invoke("flooder", {"action": "flood", "n": 200})
    assert "FunctionError" not in resp, result
    assert result["open"] <= 32 and result["refused"] >= 168, result
    _, result = host.invoke("steady", {"action": "echo"})
    assert result == {"action": "echo"}


def test_a_runtime_speaking_broken_http_ends_its_own_invocation(host):
    t0 = time.monotonic()
    resp, result = host.invoke("broken", {"action": "malformed"})
    assert time.monotonic() - t0 < 5, "not held until the 20 s timeout"
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "Runtime.MalformedRequest", result
    _, result = host.invoke("broken", {"action": "echo"})
    assert result == {"action": "echo"}
