"""The Runtime API as a sandbox sees it, probed by raw_runtime.py (urllib only)."""

import base64
import json
import re
import time

import pytest

from conftest import UUID, raw_function, read_state, shared_dir


@pytest.fixture(scope="module")
def host(make_host, tmp_path_factory):
    state = shared_dir(tmp_path_factory, "raw-state") / "big.state"
    host = make_host({"raw": raw_function(timeout_s=3), "raw-big": raw_function(state_file=state)})
    host.big_state = state
    return host


def test_next_headers(host):
    before = int(time.time() * 1000)
    resp, result = host.invoke("raw", {"action": "headers"})
    assert "FunctionError" not in resp, result
    h = result["headers"]
    assert re.fullmatch(UUID, h["lambda-runtime-aws-request-id"]), h
    deadline = int(h["lambda-runtime-deadline-ms"])
    assert before + 2000 <= deadline <= before + 3000 + 1000, (before, deadline)
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:raw", h["lambda-runtime-invoked-function-arn"]), h
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]",
                        h["lambda-runtime-trace-id"]), h
    # awslambdaric's native client crashes on a /next answer without Content-Type
    assert h.get("content-type") == "application/json", h
    assert "lambda-runtime-client-context" not in h, h
    assert "lambda-runtime-cognito-identity" not in h, h


def test_client_context_header(host):
    client_context = {"custom": {"k": "v"}, "env": {"e": "1"}, "client": {"installation_id": "i"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    _, result = host.invoke("raw", {"action": "headers"}, ClientContext=encoded)
    assert json.loads(result["headers"]["lambda-runtime-client-context"]) == client_context


def test_response_for_unknown_request_id(host):
    _, result = host.invoke("raw", {"action": "bogus_id"})
    assert result["status"] == 400, result


def test_second_response_for_same_id(host):
    _, first = host.invoke("raw", {"action": "pid"})
    resp, result = host.invoke("raw", {"action": "double_response"})
    assert result == {"first": True}, "the first response is the one the caller gets"
    assert host.wait_log("raw", r"RAW_STATE double_second=\d+")
    _, state = host.invoke("raw", {"action": "state"})
    assert state["pid"] == first["pid"]
    assert state["double_first"] == 202, state
    assert state["double_second"] == 400, state


def test_response_over_6mb(host):
    resp, result = host.invoke("raw-big", {"action": "big_response"})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", resp["RawPayload"][:200]
    assert result["errorType"] == "Function.ResponseSizeTooLarge", result
    status = read_state(host.big_state).get("big_response")
    assert status == "413", f"POST of a 7 MB response must answer 413, the runtime got {status}"
    # the function keeps working
    resp, result = host.invoke("raw-big", {"action": "echo", "after": 1})
    assert result == {"action": "echo", "after": 1}


def test_raw_echo_bytes_untouched(host):
    body = b'{"action":"echo","spacing":  [1,  2],"u":"\\u00e9"}'
    resp = host.client.invoke(FunctionName="raw", Payload=body)
    assert resp["Payload"].read() == body, "the event must reach the runtime byte for byte, and the response back"


def test_non_json_response_passes_through(host):
    resp = host.client.invoke(FunctionName="raw", Payload=b'{"action":"text"}')
    assert "FunctionError" not in resp
    assert resp["Payload"].read() == "plain text, not JSON \u2603".encode()
