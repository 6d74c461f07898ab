"""The environment a sandbox process gets: the documented variables, the
function's own, and nothing else from the host."""

import os
import re

import pytest

from conftest import FUNCTIONS, RUNTIMES, all_runtime_functions, need

DOCUMENTED = {
    "AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "PATH",
}
# Set by the runtime clients themselves inside the process, or optional Lambda variables.
TOLERATED = {"_X_AMZN_TRACE_ID", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
             "AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS",
             "_AWS_XRAY_DAEMON_PORT", "LC_CTYPE",
             # The telemetry log descriptor: the Python and Node clients take it out of
             # their environment, the Go and Rust ones leave it there.
             "_LAMBDA_TELEMETRY_LOG_FD"}
FUNCTION_ENV = {"GREETING": "hi", "FLICK_TEST_EMPTY": "", "FLICK_TEST_SPACES": "a b  c=d"}
WORKDIR = {"python": "python", "node": "node", "go": "go", "rust": "rust-official"}


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    return make_host(all_runtime_functions(runtimes, env=dict(FUNCTION_ENV), memory_mb=192))


@pytest.mark.parametrize("rt", RUNTIMES)
def test_sandbox_environment(host, rt):
    name = need(host, f"echo-{rt}")
    resp, env = host.invoke(name, {"action": "env"})
    assert "FunctionError" not in resp, resp["RawPayload"][:500]
    missing = DOCUMENTED - set(env)
    assert not missing, f"missing variables: {sorted(missing)}"
    workdir = str(FUNCTIONS / WORKDIR[rt])
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "192"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == host.functions[name]["handler"]
    assert os.path.realpath(env["LAMBDA_TASK_ROOT"]) == os.path.realpath(workdir)
    assert env["TZ"] == ":UTC"
    assert env["LANG"] and env["PATH"]
    assert re.fullmatch(r"(127\.0\.0\.1|localhost|\[::1\]):\d+", env["AWS_LAMBDA_RUNTIME_API"]), \
        "AWS_LAMBDA_RUNTIME_API is host:port, no scheme: " + env["AWS_LAMBDA_RUNTIME_API"]
    for key, value in FUNCTION_ENV.items():
        assert env.get(key) == value, key
    assert "FLICK_CONFORMANCE_HOST_ONLY" not in env, "the host's environment leaked into the sandbox"
    assert "HOME" not in env
    extra = set(env) - DOCUMENTED - TOLERATED - set(FUNCTION_ENV)
    assert not extra, f"variables a sandbox must not get: { {k: env[k] for k in sorted(extra)} }"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_cwd_is_workdir(host, rt):
    name = need(host, f"echo-{rt}")
    _, result = host.invoke(name, {"action": "pid"})
    assert os.path.realpath(result["cwd"]) == os.path.realpath(FUNCTIONS / WORKDIR[rt])
    assert result["init_type"] == "on-demand"


def test_distinct_sandboxes_get_distinct_runtime_apis(host):
    """Each sandbox has its own Runtime API endpoint (DESIGN.md), so that a process
    can only ever receive its own events."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(host.invoke, "echo-python", {"action": "sleep", "ms": 800}) for _ in range(2)]
        results = [f.result()[1] for f in futures]
    assert len({r["pid"] for r in results}) == 2, results
    assert len({r["runtime_api"] for r in results}) == 2, results
