"""Concurrency: one invocation per sandbox, more sandboxes under load, warm reuse."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import RUNTIMES, all_runtime_functions, need, raw_function


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, max_concurrency=5)
    functions["multi"] = raw_function(per_sandbox_concurrency=2, max_concurrency=4)
    return make_host(functions)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_warm_reuse(host, rt):
    name = need(host, f"echo-{rt}")
    pids = {host.invoke(name, {"action": "pid"})[1]["pid"] for _ in range(4)}
    assert len(pids) == 1, f"sequential calls must reuse the warm sandbox: {pids}"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_scale_out(host, rt):
    name = need(host, f"echo-{rt}")
    host.invoke(name, {"action": "pid"})  # one warm sandbox already
    t0 = time.time()
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(host.invoke, name, {"action": "sleep", "ms": 1000}) for _ in range(3)]
        results = [f.result() for f in futures]
    elapsed = time.time() - t0
    for resp, result in results:
        assert "FunctionError" not in resp, result
    pids = {result["pid"] for _, result in results}
    assert len(pids) == 3, f"3 concurrent invocations must run in 3 sandboxes, got pids {pids}"
    assert elapsed < 2.5, f"3 concurrent 1 s invocations took {elapsed:.2f}s: not parallel"
    # afterwards they are all warm: sequential calls land in one of them
    for _ in range(3):
        assert host.invoke(name, {"action": "pid"})[1]["pid"] in pids


def test_per_sandbox_concurrency(host):
    """per_sandbox_concurrency=2 → AWS_LAMBDA_MAX_CONCURRENCY=2: one process polls /next
    twice in parallel and gets two invocations at once."""
    _, env_pid = host.invoke("multi", {"action": "pid"})
    t0 = time.time()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(host.invoke, "multi", {"action": "sleep", "ms": 1000}) for _ in range(2)]
        results = [f.result()[1] for f in futures]
    elapsed = time.time() - t0
    assert {r["pid"] for r in results} == {env_pid["pid"]}, results
    assert elapsed < 1.8, f"2 invocations in one sandbox took {elapsed:.2f}s: not concurrent"
