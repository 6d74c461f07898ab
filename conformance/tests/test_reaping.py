"""Idle sandboxes are stopped after idle_s; provisioned ones and busy ones are not."""

import time

import pytest

from conftest import RUNTIMES, all_runtime_functions, decode_tail, need, pid_alive, report_lines, wait_dead


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, prefix="idle", idle_s=1)
    functions["kept-python"] = runtimes.spec("python", idle_s=1, provisioned=1)
    functions["busy-python"] = runtimes.spec("python", idle_s=1, timeout_s=5)
    return make_host(functions)


def test_idle_sandboxes_are_reaped(host):
    names = [n for n in host.functions if n.startswith("idle-")]
    if len(names) < len(RUNTIMES):
        missing = {f"idle-{rt}" for rt in RUNTIMES} - set(names)
        for name in missing:
            need(host, name)  # fails/skips with the reason
    first = {name: host.invoke(name, {"action": "pid"})[1]["pid"] for name in names}
    time.sleep(2.2)
    alive = wait_dead(first.values(), timeout=3.0)
    assert not alive, f"idle sandboxes not reaped after idle_s=1: {alive}"
    for name in names:
        resp, result = host.invoke(name, {"action": "pid"}, LogType="Tail")
        assert result["pid"] != first[name]
        reports = report_lines(decode_tail(resp))
        assert reports and reports[-1].group("init") is not None, \
            f"{name}: the call after reaping is a cold start and must report Init Duration"


def test_provisioned_sandbox_is_not_reaped(host):
    _, result = host.invoke("kept-python", {"action": "pid"})
    time.sleep(3.0)
    assert pid_alive(result["pid"]), "a provisioned sandbox was reaped"
    assert host.invoke("kept-python", {"action": "pid"})[1]["pid"] == result["pid"]


def test_busy_sandbox_is_not_reaped(host):
    resp, result = host.invoke("busy-python", {"action": "sleep", "ms": 2500})
    assert "FunctionError" not in resp, result
    assert result["slept_ms"] == 2500


def test_reaping_kills_the_whole_sandbox(host):
    _, spawned = host.invoke("idle-python", {"action": "spawn"})
    time.sleep(2.2)
    assert not wait_dead([spawned["pid"], spawned["child_pid"]], 3.0), "the reaped sandbox or its child survived"
