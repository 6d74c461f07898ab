"""Memory: memory_mb is enforced (cgroup) and reported."""

import re

import pytest

from conftest import RUNTIMES, UUID, all_runtime_functions, decode_tail, need, report_lines, wait_dead


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, memory_mb=128, timeout_s=10)
    functions.update(all_runtime_functions(runtimes, prefix="big", only=["python"], memory_mb=256))
    return make_host(functions)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_out_of_memory(host, rt):
    name = need(host, f"echo-{rt}")
    _, first = host.invoke(name, {"action": "pid"})
    resp, result = host.invoke(name, {"action": "oom"})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", f"no memory limit enforced: {result}"
    assert result["errorType"] == "Runtime.OutOfMemory", result
    assert re.match(rf"RequestId: {UUID} Error: ", result["errorMessage"]), result
    assert not wait_dead([first["pid"]], 3.0)
    resp, second = host.invoke(name, {"action": "pid"})
    assert "FunctionError" not in resp
    assert second["pid"] != first["pid"]


def test_memory_size_is_reported(host):
    resp, env = host.invoke("big-python", {"action": "env"}, LogType="Tail")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    _, ctx = host.invoke("big-python", {"action": "context"}, LogType="Tail")
    assert ctx["memory_limit_in_mb"] == 256
    reports = report_lines(decode_tail(resp))
    assert reports and reports[0].group("memory") == "256", decode_tail(resp)
    assert 1 <= int(reports[0].group("used")) <= 256
