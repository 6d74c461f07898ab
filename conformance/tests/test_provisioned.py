"""Provisioned concurrency: sandboxes started at boot, initialised as provisioned-concurrency."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import RUNTIMES, all_runtime_functions, cmdline, descendants, need


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, prefix="prov", provisioned=2, max_concurrency=4)
    host = make_host(functions)
    # Record, before any invocation, which processes run each function.
    host.boot_pids = {}
    deadline = time.time() + 15
    while time.time() < deadline:
        procs = {name: function_pids(host, name) for name in functions}
        if all(len(p) >= 2 for p in procs.values()):
            break
        time.sleep(0.1)
    host.boot_pids = procs
    return host


def function_pids(host, name):
    command = host.functions[name]["command"]
    return {pid for pid in descendants(host.proc.pid) if cmdline(pid)[-len(command):] == command}


@pytest.mark.parametrize("rt", RUNTIMES)
def test_provisioned_sandboxes_exist_before_first_invoke(host, rt):
    name = need(host, f"prov-{rt}")
    assert len(host.boot_pids[name]) == 2, \
        f"expected 2 provisioned processes of {name} before any invoke, found {host.boot_pids[name]}"
    resp, result = host.invoke(name, {"action": "pid"}, LogType="Tail")
    assert "FunctionError" not in resp
    assert result["pid"] in host.boot_pids[name], "the first invoke started a new process instead of a provisioned one"
    assert result["init_type"] == "provisioned-concurrency"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_concurrent_calls_use_provisioned_sandboxes(host, rt):
    name = need(host, f"prov-{rt}")
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(host.invoke, name, {"action": "sleep", "ms": 700}) for _ in range(2)]
        pids = {f.result()[1]["pid"] for f in futures}
    assert pids == host.boot_pids[name], (pids, host.boot_pids[name])


def test_provisioned_env(host):
    _, env = host.invoke("prov-python", {"action": "env"})
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
