"""Timeouts: the sandbox is killed and the invoke answers Sandbox.Timedout."""

import re
import time

import pytest

from conftest import RUNTIMES, START_RE, UUID, all_runtime_functions, decode_tail, need, wait_dead


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    return make_host(all_runtime_functions(runtimes, prefix="slow", timeout_s=1))


@pytest.mark.parametrize("rt", RUNTIMES)
def test_timeout(host, rt):
    name = need(host, f"slow-{rt}")
    _, first = host.invoke(name, {"action": "pid"})
    t0 = time.time()
    resp, result = host.invoke(name, {"action": "sleep", "ms": 4000}, LogType="Tail")
    elapsed = time.time() - t0
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    assert 0.9 <= elapsed < 2.5, f"timeout answered after {elapsed:.2f}s for timeout_s=1"
    assert set(result) == {"errorType", "errorMessage"}, result
    assert result["errorType"] == "Sandbox.Timedout"
    m = re.fullmatch(rf"RequestId: ({UUID}) Error: Task timed out after 1\.00 seconds", result["errorMessage"])
    assert m, result["errorMessage"]
    tail = decode_tail(resp)
    start = START_RE.search(tail)
    assert start and start.group("id") == m.group(1), tail
    assert f"REPORT RequestId: {m.group(1)}" in tail, tail
    # the timed-out process is gone, the next call gets a fresh one
    assert not wait_dead([first["pid"]], 3.0), f"timed-out sandbox {first['pid']} still alive"
    resp, second = host.invoke(name, {"action": "pid"})
    assert "FunctionError" not in resp
    assert second["pid"] != first["pid"]


def test_just_under_timeout_succeeds(host):
    resp, result = host.invoke("slow-python", {"action": "sleep", "ms": 600})
    assert "FunctionError" not in resp, result
    assert result["slept_ms"] == 600


def test_timeout_kills_the_whole_sandbox(host):
    """Processes the function started die with the timed-out sandbox (process group)."""
    _, spawned = host.invoke("slow-python", {"action": "spawn"})
    resp, result = host.invoke("slow-python", {"action": "sleep", "ms": 4000})
    assert result["errorType"] == "Sandbox.Timedout"
    assert not wait_dead([spawned["pid"], spawned["child_pid"]], 3.0), "sandbox or its child survived the timeout"
