"""Synchronous invocation: payloads round-trip, name forms, context, DryRun."""

import base64
import json
import re
import time

import pytest

from conftest import RUNTIMES, UUID, all_runtime_functions, descendants, need, request_id_of


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes, env={"GREETING": "hi"})
    functions["dry-python"] = runtimes.spec("python")
    return make_host(functions)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_echo_roundtrip(host, rt):
    name = need(host, f"echo-{rt}")
    event = {"action": "echo", "nested": {"list": [1, 2.5, None, True], "text": "héllo ☃ \u2028"}, "n": -7}
    resp, result = host.invoke(name, event)
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert result == event


@pytest.mark.parametrize("rt", RUNTIMES)
@pytest.mark.parametrize("event", ["just a string", 42, [1, "two", {"three": 3}], None], ids=["str", "int", "list", "null"])
def test_scalar_payloads(host, rt, event):
    name = need(host, f"echo-{rt}")
    resp, result = host.invoke(name, event, raw=json.dumps(event).encode())
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:300]
    assert result == event


@pytest.mark.parametrize("rt", RUNTIMES)
def test_five_megabyte_payload(host, rt):
    name = need(host, f"echo-{rt}")
    event = {"action": "echo", "blob": "x" * (5 * 1024 * 1024)}
    resp, result = host.invoke(name, event)
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:300]
    assert result == event


def function_arn(host, name):
    arns = {f["FunctionName"]: f["FunctionArn"] for f in host.client.list_functions()["Functions"]}
    return arns[name]


def test_function_name_forms(host):
    arn = function_arn(host, "echo-python")
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:echo-python", arn), arn
    account = arn.split(":")[4]
    forms = [
        {"FunctionName": "echo-python"},
        {"FunctionName": arn},
        {"FunctionName": f"{account}:function:echo-python"},  # partial ARN
        {"FunctionName": "echo-python:$LATEST"},
        {"FunctionName": f"{arn}:$LATEST"},
        {"FunctionName": "echo-python", "Qualifier": "$LATEST"},
    ]
    for form in forms:
        resp = host.client.invoke(Payload=b'{"action":"echo","form":1}', **form)
        assert resp["StatusCode"] == 200, form
        assert resp["ExecutedVersion"] == "$LATEST", form
        assert json.loads(resp["Payload"].read()) == {"action": "echo", "form": 1}, form


def test_list_and_get_function(host):
    listed = host.client.list_functions()["Functions"]
    names = {f["FunctionName"] for f in listed}
    assert set(host.functions) <= names
    conf = host.client.get_function(FunctionName="echo-python")["Configuration"]
    assert conf["FunctionName"] == "echo-python"
    assert conf["MemorySize"] == 128
    assert conf["Timeout"] == 3
    assert conf["FunctionArn"] == function_arn(host, "echo-python")
    assert conf["Version"] == "$LATEST"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_context(host, rt):
    name = need(host, f"echo-{rt}")
    before = int(time.time() * 1000)
    resp, ctx = host.invoke(name, {"action": "context"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:500]
    assert re.fullmatch(UUID, ctx["request_id"]), ctx
    assert request_id_of(resp) == ctx["request_id"], "x-amzn-RequestId must be the invocation's request id"
    assert re.fullmatch(rf"arn:aws:lambda:us-east-1:\d{{12}}:function:{name}", ctx["invoked_function_arn"]), ctx
    # deadline = start + timeout_s (3 s); allow for scheduling and cold start
    assert before + 1500 <= ctx["deadline_ms"] <= before + 3000 + 1500, (before, ctx)
    assert 0 < ctx["remaining_ms"] <= 3000, ctx
    assert ctx["function_name"] == name
    assert ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == 128
    assert ctx["log_group_name"] == f"/aws/lambda/{name}"
    assert ctx["log_stream_name"], ctx
    assert ctx["client_context"] is None, ctx
    assert ctx["identity"] is None, ctx
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]", ctx["trace_id"] or ""), ctx


@pytest.mark.parametrize("rt", RUNTIMES)
def test_client_context(host, rt):
    name = need(host, f"echo-{rt}")
    client_context = {"client": {"installation_id": "inst-1", "app_title": "conformance", "app_version_name": "1",
                                 "app_version_code": "1", "app_package_name": "dev.flick"},
                      "custom": {"tenant": "acme"}, "env": {"platform": "linux"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    resp, ctx = host.invoke(name, {"action": "context"}, ClientContext=encoded)
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:500]
    assert ctx["client_context"] is not None, ctx
    assert ctx["client_context"]["custom"] == {"tenant": "acme"}, ctx


def test_request_ids_are_unique(host):
    ids = {host.invoke("echo-python", {"action": "context"})[1]["request_id"] for _ in range(5)}
    assert len(ids) == 5


def test_dry_run_does_not_invoke(host):
    before = set(descendants(host.proc.pid))
    resp = host.client.invoke(FunctionName="dry-python", InvocationType="DryRun", Payload=b'{"action":"pid"}')
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    time.sleep(0.3)
    started = set(descendants(host.proc.pid)) - before
    assert not started, f"DryRun started processes: {started}"
    assert not host.log_text("dry-python").count("START RequestId"), "DryRun ran the function"
