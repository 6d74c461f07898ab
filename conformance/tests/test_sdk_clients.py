"""Two more real AWS SDKs as clients of the host: the AWS SDK for JavaScript v3
(`@aws-sdk/client-lambda`) and the AWS SDK for Go v2
(`github.com/aws/aws-sdk-go-v2/service/lambda`).

Each SDK is driven through a small program in `conformance/clients/` that
makes one call per run, described by a JSON request on stdin, and prints the
SDK's parsed result or its error (class or code, message, request id, HTTP
status, Retry-After) as one JSON line. What is checked is what an SDK user
sees: typed errors with request ids, FunctionError and LogResult,
InvokeWithResponseStream's PayloadChunk / InvokeComplete events and when they
arrive, the control-plane reads, TenantId reaching the function.
"""

import base64
import json
import re
import threading
import time

import pytest

from conftest import UUID, SdkClient, python_function, raw_function

SDKS = ["js", "go"]
BIG = 7 * 1024 * 1024  # over the 6 MB synchronous limit
BIG_HINT = ("An unhandled EPIPE/ECONNRESET here means the host closed the connection while the client was "
            "still sending the 7 MB body, and Node's socket error killed the caller's process.")

# The function whose configuration the control-plane reads must report.
CONF = {
    "name": "echo-python",
    "memory_mb": 256,
    "timeout_s": 7,
    "handler": "app.handler",
    "env": {"GREETING": "hi", "FLICK_SDK_CLIENTS": "conformance"},
    "max_concurrency": 7,
    "async": {"max_retry_attempts": 1, "max_event_age_s": 600, "on_failure": "function:sink"},
}


# ---------------------------------------------------------------------------
# the client programs


def ok(res, what):
    """The result of a call that must succeed."""
    if "error" in res and "events" not in res:
        e = res["error"]
        pytest.fail(f"{what}: the SDK raised {e.get('name')} (code {e.get('code')}, HTTP {e.get('httpStatus')}): "
                    f"{e.get('message')!r}")
    return res


def failed(res, what):
    """The error of a call that must fail."""
    if "error" not in res:
        pytest.fail(f"{what}: expected the SDK to raise an error, it returned {json.dumps(res)[:600]}")
    return res["error"]


def error_name(e):
    """The error's code as the SDK reports it (JS: the error's name; Go: ErrorCode())."""
    return e.get("code") or e.get("name")


def assert_typed(e, code, status, what):
    assert error_name(e) == code, (
        f"{what}: expected {code} (HTTP {status}), the SDK raised {e.get('name')} / code {e.get('code')} "
        f"(HTTP {e.get('httpStatus')}): {e.get('message')!r}")
    assert e.get("httpStatus") == status, f"{what}: {code} came with HTTP {e.get('httpStatus')}, not {status}"
    assert e.get("requestId"), (
        f"{what}: {code} without a request id: the SDK reads it from x-amzn-RequestId, which every "
        f"Invoke API answer must carry, errors included ({e})")


@pytest.fixture(scope="module")
def host(make_host):
    spec = python_function(memory_mb=CONF["memory_mb"], timeout_s=CONF["timeout_s"], env=CONF["env"],
                           max_concurrency=CONF["max_concurrency"])
    spec["async"] = CONF["async"]
    return make_host({
        CONF["name"]: spec,
        "limited": python_function(max_concurrency=1, timeout_s=10),
        "raw": raw_function(timeout_s=10),
        "tenants": raw_function(timeout_s=10, tenancy="per_tenant"),
        "sink": raw_function(),
    })


@pytest.fixture(params=SDKS)
def sdk(request, host):
    cmd = request.getfixturevalue(f"{request.param}_client_cmd")
    return SdkClient(request.param, cmd, host.endpoint)


@pytest.fixture
def js(host, js_client_cmd):
    return SdkClient("js", js_client_cmd, host.endpoint)


def wait_started(host, name, count, timeout=10.0):
    """Waits until the function's log shows `count` STARTs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if host.log_text(name).count("START RequestId") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} invocations of {name} did not start:\n{host.log_text(name)[-2000:]}")


# ---------------------------------------------------------------------------
# Invoke


def test_echo_round_trip(host, sdk):
    event = {"action": "echo", "nested": {"list": [1, 2.5, None, True], "text": "héllo ☃"}, "sdk": sdk.sdk}
    res = ok(sdk("invoke", FunctionName="echo-python", Payload=json.dumps(event)), "invoke echo")
    assert res["StatusCode"] == 200, res
    assert not res.get("FunctionError"), res
    assert res["ExecutedVersion"] == "$LATEST", res
    assert json.loads(res["Payload"]) == event, res["Payload"][:500]
    assert re.fullmatch(UUID, res.get("requestId") or ""), f"no request id on a successful invoke: {res}"


def test_qualifier_and_client_context(host, sdk):
    client_context = {"custom": {"tenant": "acme", "sdk": sdk.sdk}, "env": {"platform": "linux"}}
    res = ok(sdk("invoke", FunctionName="echo-python", Qualifier="$LATEST", Payload='{"action":"context"}',
                 ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode()),
             "invoke with Qualifier and ClientContext")
    assert res["StatusCode"] == 200 and not res.get("FunctionError"), res
    ctx = json.loads(res["Payload"])
    assert ctx["client_context"]["custom"] == client_context["custom"], ctx
    assert ctx["request_id"] == res["requestId"], "the SDK's request id must be the invocation's"


def test_function_error(host, sdk):
    message = f"failure from {sdk.sdk}"
    res = ok(sdk("invoke", FunctionName="echo-python", Payload=json.dumps({"action": "error", "message": message})),
             "invoke of a failing handler")
    assert res["StatusCode"] == 200, res
    assert res.get("FunctionError") == "Unhandled", res
    body = json.loads(res["Payload"])
    assert body["errorType"] == "CustomError", body
    assert body["errorMessage"] == message, body


def test_log_tail(host, sdk):
    marker = f"SDK-{sdk.sdk.upper()}-TAIL"
    res = ok(sdk("invoke", FunctionName="echo-python", LogType="Tail",
                 Payload=json.dumps({"action": "log", "n": 2, "marker": marker})), "invoke with LogType Tail")
    assert res.get("LogResult"), f"LogType Tail asked but the SDK saw no LogResult: {res}"
    log = base64.b64decode(res["LogResult"]).decode(errors="replace")
    rid = res["requestId"]
    assert f"START RequestId: {rid}" in log, log
    assert f"END RequestId: {rid}" in log, log
    assert f"REPORT RequestId: {rid}" in log, log
    assert f"{marker} stdout 1" in log, log


def test_tenant_id_reaches_the_function(host, sdk):
    tenant = f"tenant-{sdk.sdk}-1"
    res = ok(sdk("invoke", FunctionName="tenants", TenantId=tenant, Payload='{"action":"headers"}'),
             "invoke with TenantId")
    assert res["StatusCode"] == 200 and not res.get("FunctionError"), res
    headers = json.loads(res["Payload"])["headers"]
    assert headers.get("lambda-runtime-aws-tenant-id") == tenant, (
        f"X-Amz-Tenant-Id {tenant!r} must reach the runtime as Lambda-Runtime-Aws-Tenant-Id; /next had {headers}")


# ---------------------------------------------------------------------------
# typed errors with request ids


def test_unknown_function(host, sdk):
    e = failed(sdk("invoke", FunctionName="no-such-function", Payload="{}"), "invoke of an unknown function")
    assert_typed(e, "ResourceNotFoundException", 404, "unknown function")
    assert e["modeled"], f"ResourceNotFoundException is in the SDK's model, it should be its own class: {e}"


def test_throttled(host, sdk):
    before = host.log_text("limited").count("START RequestId")
    holder = {}
    sleeper = threading.Thread(
        target=lambda: holder.update(result=host.invoke("limited", {"action": "sleep", "ms": 3000})))
    sleeper.start()
    try:
        wait_started(host, "limited", before + 1)
        e = failed(sdk("invoke", FunctionName="limited", Payload='{"action":"echo"}'),
                   "invoke beyond max_concurrency = 1")
    finally:
        sleeper.join(30)
    assert_typed(e, "TooManyRequestsException", 429, "throttled invoke")
    assert e["modeled"], f"TooManyRequestsException is in the SDK's model: {e}"
    assert e.get("reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", e
    # Both SDKs expose the Retry-After header as the modelled retryAfterSeconds.
    assert re.fullmatch(r"\d+", str(e.get("retryAfterSeconds") or "")), (
        f"Retry-After should reach the SDK as retryAfterSeconds: {e}")
    assert "result" in holder, "the sleeping invocation that held the only slot did not finish"
    resp, result = holder["result"]
    assert not resp.get("FunctionError") and result["slept_ms"] == 3000, result


def test_payload_too_large(host, sdk):
    e = failed(sdk("invoke", FunctionName="echo-python", PayloadSize=BIG, hint=BIG_HINT), "invoke with a 7 MB payload")
    assert_typed(e, "RequestEntityTooLargeException", 413, "7 MB synchronous payload")
    assert not e.get("sdkLevel"), f"the SDK saw a transport error, not the host's 413: {e}"
    # and the host keeps serving
    res = ok(sdk("invoke", FunctionName="echo-python", Payload='{"action":"echo","after":"big"}'), "invoke after 413")
    assert json.loads(res["Payload"]) == {"action": "echo", "after": "big"}


def test_invalid_json_payload(host, sdk):
    e = failed(sdk("invoke", FunctionName="echo-python", Payload="{not json"), "invoke with a non-JSON payload")
    assert_typed(e, "InvalidRequestContentException", 400, "non-JSON payload")
    assert e["modeled"], e
    assert "Could not parse request body into json" in (e.get("message") or ""), e


@pytest.mark.parametrize("run", range(1, 6))
def test_js_survives_413_then_invokes(host, js, run):
    """One Node process: a 7 MB invoke gets a typed 413 (not a socket error that
    kills the process), then a small invoke on the same client works."""
    res = js("big_invoke", FunctionName="echo-python", PayloadSize=BIG, hint=BIG_HINT,
             Payload=json.dumps({"action": "echo", "run": run}))
    problems = []
    first = failed(res["first"], f"run {run}: the 7 MB invoke")
    if first.get("sdkLevel"):
        problems.append(f"the 7 MB invoke failed in the transport, not with the host's 413 (did the host close the "
                        f"connection before reading the body?): {first}")
    else:
        try:
            assert_typed(first, "RequestEntityTooLargeException", 413, "the 7 MB invoke")
        except AssertionError as e:
            problems.append(str(e))
    second = res["second"]
    if "error" in second:
        problems.append(f"the small invoke after the 413 failed: {second['error']}")
    elif second.get("StatusCode") != 200 or json.loads(second["Payload"]) != {"action": "echo", "run": run}:
        problems.append(f"the small invoke after the 413 answered {second}")
    assert not problems, f"run {run}:\n- " + "\n- ".join(problems)


# ---------------------------------------------------------------------------
# InvokeWithResponseStream


def chunks_of(res):
    return [e for e in res.get("events", []) if "PayloadChunk" in e]


def complete_of(res, what):
    events = res.get("events", [])
    assert events and "InvokeComplete" in events[-1], (
        f"{what}: the event stream must end with InvokeComplete; got {json.dumps(events)[:800]} "
        f"(stream error: {res.get('error')})")
    assert not any("InvokeComplete" in e for e in events[:-1]), events
    return events[-1]["InvokeComplete"]


def stream_ok(res, what):
    ok(res, what)
    if res.get("error"):
        pytest.fail(f"{what}: the event stream broke: {res['error']}; events so far: {json.dumps(res.get('events'))[:800]}")
    assert res.get("StatusCode") == 200, f"{what}: {res}"
    return res


def test_stream_chunks_as_written(host, sdk):
    chunks = ["first\n", "second\n", "third\n"]
    res = stream_ok(sdk("invoke_stream", FunctionName="raw",
                        Payload=json.dumps({"action": "stream", "chunks": chunks, "pause_ms": 1000})),
                    "InvokeWithResponseStream of a streaming function")
    got = chunks_of(res)
    assert "".join(c["PayloadChunk"] for c in got) == "".join(chunks), got
    assert got[0]["PayloadChunk"].startswith("first") and "third" not in got[0]["PayloadChunk"], (
        f"the first PayloadChunk held the whole stream: {got}")
    first_ms, last_ms = got[0]["ms"], got[-1]["ms"]
    assert last_ms - first_ms >= 1500, (
        f"the first chunk came at {first_ms} ms and the last at {last_ms} ms; the function wrote them "
        "2 s apart: the stream was collected, not passed on as written")
    done = complete_of(res, "streamed response")
    assert not done.get("ErrorCode"), done
    assert res.get("ExecutedVersion") == "$LATEST", res


def test_stream_buffered_function(host, sdk):
    event = {"action": "echo", "buffered": sdk.sdk}
    res = stream_ok(sdk("invoke_stream", FunctionName="raw", Payload=json.dumps(event)),
                    "InvokeWithResponseStream of a buffered function")
    got = chunks_of(res)
    assert got, f"a buffered response must arrive as PayloadChunk events: {res}"
    assert json.loads("".join(c["PayloadChunk"] for c in got)) == event
    done = complete_of(res, "buffered response")
    assert not done.get("ErrorCode"), done
    assert re.fullmatch(UUID, res.get("requestId") or ""), res


def test_stream_log_tail(host, sdk):
    res = stream_ok(sdk("invoke_stream", FunctionName="raw", LogType="Tail",
                        Payload=json.dumps({"action": "stream", "chunks": ["a", "b"]})),
                    "InvokeWithResponseStream with LogType Tail")
    done = complete_of(res, "streamed response with LogType Tail")
    assert done.get("LogResult"), f"LogType Tail asked, InvokeComplete has no LogResult: {done}"
    log = base64.b64decode(done["LogResult"]).decode(errors="replace")
    assert "START RequestId:" in log and "REPORT RequestId:" in log, log


def test_stream_mid_stream_error(host, sdk):
    error = {"errorType": "Custom.StreamError", "errorMessage": "the source went away"}
    res = stream_ok(sdk("invoke_stream", FunctionName="raw",
                        Payload=json.dumps({"action": "stream", "chunks": ["partial\n"], "error": error})),
                    "InvokeWithResponseStream of a function that fails mid-stream")
    assert "".join(c["PayloadChunk"] for c in chunks_of(res)) == "partial\n", res
    done = complete_of(res, "stream that failed midway")
    assert done.get("ErrorCode"), f"a mid-stream error must give InvokeComplete an ErrorCode: {done}"
    assert error["errorType"] in (done.get("ErrorCode") or "") + (done.get("ErrorDetails") or ""), (
        f"InvokeComplete should name the runtime's error type {error['errorType']}: {done}")


def test_stream_unknown_function(host, sdk):
    e = failed(sdk("invoke_stream", FunctionName="no-such-function", Payload="{}"),
               "InvokeWithResponseStream of an unknown function")
    assert_typed(e, "ResourceNotFoundException", 404, "stream of an unknown function")


# ---------------------------------------------------------------------------
# control-plane reads: the manifest's values


def check_configuration(conf, what):
    assert conf.get("FunctionName") == CONF["name"], f"{what}: {conf}"
    assert re.fullmatch(rf"arn:aws:lambda:us-east-1:\d{{12}}:function:{CONF['name']}", conf.get("FunctionArn") or ""), \
        f"{what}: {conf.get('FunctionArn')}"
    assert conf.get("MemorySize") == CONF["memory_mb"], f"{what}: MemorySize {conf.get('MemorySize')}"
    assert conf.get("Timeout") == CONF["timeout_s"], f"{what}: Timeout {conf.get('Timeout')}"
    assert conf.get("Handler") == CONF["handler"], f"{what}: Handler {conf.get('Handler')}"
    assert (conf.get("Environment") or {}).get("Variables") == CONF["env"], f"{what}: Environment {conf.get('Environment')}"
    assert conf.get("State") == "Active", f"{what}: State {conf.get('State')}"
    assert conf.get("Version") == "$LATEST", f"{what}: Version {conf.get('Version')}"


def test_get_function_configuration(host, sdk):
    res = ok(sdk("get_function_configuration", FunctionName=CONF["name"]), "GetFunctionConfiguration")
    check_configuration(res, "GetFunctionConfiguration")
    assert res.get("requestId"), res


def test_get_function(host, sdk):
    res = ok(sdk("get_function", FunctionName=CONF["name"]), "GetFunction")
    check_configuration(res["Configuration"], "GetFunction")
    assert (res.get("Concurrency") or {}).get("ReservedConcurrentExecutions") == CONF["max_concurrency"], res


def test_list_functions(host, sdk):
    res = ok(sdk("list_functions"), "ListFunctions")
    by_name = {f["FunctionName"]: f for f in res["Functions"]}
    assert set(host.functions) <= set(by_name), sorted(by_name)
    check_configuration(by_name[CONF["name"]], "ListFunctions")


def test_list_versions_by_function(host, sdk):
    res = ok(sdk("list_versions_by_function", FunctionName=CONF["name"]), "ListVersionsByFunction")
    versions = {v.get("Version"): v for v in res.get("Versions") or []}
    assert "$LATEST" in versions, f"ListVersionsByFunction must list $LATEST: {res}"
    check_configuration(versions["$LATEST"], "ListVersionsByFunction")


def test_list_aliases(host, sdk):
    res = ok(sdk("list_aliases", FunctionName=CONF["name"]), "ListAliases")
    assert not res.get("Aliases"), f"the manifest defines no alias: {res}"
    assert res.get("requestId"), res


def test_get_function_concurrency(host, sdk):
    res = ok(sdk("get_function_concurrency", FunctionName=CONF["name"]), "GetFunctionConcurrency")
    assert res.get("ReservedConcurrentExecutions") == CONF["max_concurrency"], res


def test_get_function_event_invoke_config(host, sdk):
    res = ok(sdk("get_function_event_invoke_config", FunctionName=CONF["name"]), "GetFunctionEventInvokeConfig")
    assert res.get("MaximumRetryAttempts") == CONF["async"]["max_retry_attempts"], res
    assert res.get("MaximumEventAgeInSeconds") == CONF["async"]["max_event_age_s"], res
    assert re.search(rf":function:{CONF['name']}(:\$LATEST)?$", res.get("FunctionArn") or ""), res
    on_failure = ((res.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination") or ""
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:sink", on_failure), (
        f"on_failure = \"function:sink\" should be the sink's ARN: {res.get('DestinationConfig')}")


def test_get_account_settings(host, sdk):
    res = ok(sdk("get_account_settings"), "GetAccountSettings")
    assert (res.get("AccountUsage") or {}).get("FunctionCount") == len(host.functions), res
    assert res.get("AccountLimit"), res


def test_get_function_url_config_without_url(host, sdk):
    e = failed(sdk("get_function_url_config", FunctionName="raw"), "GetFunctionUrlConfig of a function without URL")
    assert_typed(e, "ResourceNotFoundException", 404, "GetFunctionUrlConfig")
    assert e.get("message") != "Not Found", f"the HTTP gateway answered, not the API: {e}"


@pytest.mark.parametrize("op", ["get_policy", "put_function_concurrency"])
def test_unsupported_operation(host, sdk, op):
    e = failed(sdk(op, FunctionName=CONF["name"], ReservedConcurrentExecutions=3), f"{op} (not served)")
    assert e.get("message") != "Not Found", (
        f"{op}: a plain 404 Not Found from the HTTP gateway, not a typed Lambda API error: {e}")
    code = error_name(e) or ""
    assert re.search(r"(?i)unsupported|unknownoperation|notimplemented|notsupported", code), (
        f"{op}: the error code should name the operation as unsupported, got {code!r} "
        f"(HTTP {e.get('httpStatus')}): {e.get('message')!r}")
    assert e.get("requestId"), f"{op}: no request id on the error: {e}"
