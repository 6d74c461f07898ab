"""Function errors: handler errors, errors posted by a raw runtime, init errors."""

import uuid

import pytest

from conftest import RUNTIMES, all_runtime_functions, need, python_function, raw_function, read_state, shared_dir

# errorType each official runtime client reports for a plain error (see README).
PLAIN_ERROR_TYPE = {
    "python": "Exception",
    "node": "Error",
    "go": "errorString",
    "rust": "&alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>",
}


@pytest.fixture(scope="module")
def host(make_host, runtimes, tmp_path_factory):
    state = shared_dir(tmp_path_factory, "raw-state") / "init-error.state"
    functions = all_runtime_functions(runtimes)
    functions["raw"] = raw_function()
    functions["broken-python"] = python_function("broken_init.handler")
    functions["raw-init-error"] = raw_function("init_error", state_file=state)
    host = make_host(functions)
    host.init_error_state = state
    return host


@pytest.mark.parametrize("rt", RUNTIMES)
def test_handler_error(host, rt):
    name = need(host, f"echo-{rt}")
    _, before = host.invoke(name, {"action": "pid"})
    message = f"failure {uuid.uuid4()}"
    resp, result = host.invoke(name, {"action": "error", "message": message})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    assert resp["ExecutedVersion"] == "$LATEST"
    assert result["errorType"] == "CustomError", result
    assert result["errorMessage"] == message, result
    # A handled error does not cost the sandbox: the same process answers next.
    _, after = host.invoke(name, {"action": "pid"})
    assert after["pid"] == before["pid"]


@pytest.mark.parametrize("rt", RUNTIMES)
def test_plain_error_type(host, rt):
    name = need(host, f"echo-{rt}")
    resp, result = host.invoke(name, {"action": "error_plain", "message": "plain"})
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == PLAIN_ERROR_TYPE[rt], result
    assert result["errorMessage"] == "plain"


def test_raw_error_post(host):
    resp, result = host.invoke("raw", {"action": "error", "errorType": "Custom.RawError", "message": "raw says no"})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "Custom.RawError"
    assert result["errorMessage"] == "raw says no"
    _, state = host.invoke("raw", {"action": "state"})
    assert state["error_post"] == 202, state


def test_python_init_error(host):
    for _ in range(2):  # each invocation gets a fresh sandbox that fails again; host keeps serving
        resp, result = host.invoke("broken-python", {"action": "echo"})
        assert resp["StatusCode"] == 200
        assert resp.get("FunctionError") == "Unhandled"
        assert result["errorType"] == "RuntimeError", result
        assert "init failed on purpose" in result["errorMessage"], result
    resp, result = host.invoke("raw", {"action": "echo"})
    assert "FunctionError" not in resp


def test_raw_init_error(host):
    resp, result = host.invoke("raw-init-error", {"action": "echo"})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "Runtime.FlickRawInitError", result
    assert result["errorMessage"] == "raw runtime refused to start", result
    assert read_state(host.init_error_state).get("init_error") == "202", "POST /init/error must answer 202"
