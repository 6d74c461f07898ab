"""Crashes: a runtime that exits, one that cannot start, one that dies at init."""

import re
import stat

import pytest

from conftest import FUNCTIONS, RUNTIMES, UUID, all_runtime_functions, need, wait_dead


@pytest.fixture(scope="module")
def host(make_host, runtimes, tmp_path_factory):
    functions = all_runtime_functions(runtimes)
    workdir = str(FUNCTIONS / "python")
    assert not (FUNCTIONS / "python" / "app.py").stat().st_mode & stat.S_IXUSR
    functions["missing-command"] = {"command": ["/nonexistent/flick/bootstrap"], "workdir": workdir,
                                    "timeout_s": 3, "memory_mb": 128}
    functions["not-executable"] = {"command": [str(FUNCTIONS / "python" / "app.py")], "workdir": workdir,
                                   "timeout_s": 3, "memory_mb": 128}
    functions["exits-at-init"] = {"command": ["/bin/sh", "-c", "echo leaving; exit 3"], "workdir": workdir,
                                  "timeout_s": 3, "memory_mb": 128}
    functions["killed-at-init"] = {"command": ["/bin/sh", "-c", "kill -9 $$"], "workdir": workdir,
                                   "timeout_s": 3, "memory_mb": 128}
    return make_host(functions)


def exit_error(result, status):
    assert result["errorType"] == "Runtime.ExitError", result
    m = re.fullmatch(rf"RequestId: ({UUID}) Error: Runtime exited with error: {re.escape(status)}",
                     result["errorMessage"])
    assert m, result["errorMessage"]


@pytest.mark.parametrize("rt", RUNTIMES)
def test_crash(host, rt):
    name = need(host, f"echo-{rt}")
    _, first = host.invoke(name, {"action": "pid"})
    resp, result = host.invoke(name, {"action": "crash"})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    exit_error(result, "exit status 1")
    assert not wait_dead([first["pid"]], 3.0)
    resp, second = host.invoke(name, {"action": "pid"})
    assert "FunctionError" not in resp
    assert second["pid"] != first["pid"]


@pytest.mark.parametrize("name", ["missing-command", "not-executable"])
def test_invalid_entrypoint(host, name):
    for _ in range(2):
        resp, result = host.invoke(name, {"action": "echo"})
        assert resp["StatusCode"] == 200
        assert resp.get("FunctionError") == "Unhandled"
        assert result["errorType"] == "Runtime.InvalidEntrypoint", result
        assert result.get("errorMessage"), result
    # the host keeps serving
    resp, result = host.invoke("echo-python", {"action": "echo", "still": "alive"})
    assert result == {"action": "echo", "still": "alive"}
    assert host.client.list_functions()["Functions"]


def test_exit_during_init(host):
    resp, result = host.invoke("exits-at-init", {})
    assert resp.get("FunctionError") == "Unhandled"
    exit_error(result, "exit status 3")


def test_killed_during_init(host):
    resp, result = host.invoke("killed-at-init", {})
    assert resp.get("FunctionError") == "Unhandled"
    exit_error(result, "signal: killed")


def test_crash_kills_the_whole_sandbox(host):
    """A child the runtime started does not outlive a crashed runtime."""
    _, spawned = host.invoke("echo-python", {"action": "spawn"})
    resp, result = host.invoke("echo-python", {"action": "crash"})
    exit_error(result, "exit status 1")
    assert not wait_dead([spawned["pid"], spawned["child_pid"]], 3.0), "the crashed sandbox's child survived"
