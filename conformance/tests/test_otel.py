"""`flick::otel` (feature `opentelemetry`): a Rust function's `tracing` spans
exported over OTLP/HTTP, under the invocation's X-Ray trace, to a local OTLP
receiver built from the OpenTelemetry Collector's Go packages
(conformance/tools/otlp-receiver; the Collector's released binary cannot be
fetched here). The function is examples/otel-traces.

Checked: the invocation span takes the caller's X-Ray trace id and parent
segment, with the FaaS attributes and the function's resource; the handler's
spans are its children and its events theirs; `Sampled=0` exports nothing;
`tracing = "Active"` samples the traces the host starts; a failed invocation
is an ERROR span; spans are out before the next event; a collector that is
down costs a warning, never the invocation."""

import json
import secrets
import socket
import subprocess
import threading
import time

import pytest

from conftest import REPO, cargo_bin, go_build, shared_dir

RECEIVER = REPO / "conformance" / "tools" / "otlp-receiver"


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    folder = tmp_path_factory.mktemp("otlp")
    binary = go_build(RECEIVER, shared_dir(tmp_path_factory, "otlp") / "otlp-receiver", "the OTLP receiver")
    spans = folder / "spans.jsonl"
    proc = subprocess.Popen([binary, "-listen", "127.0.0.1:0", "-out", str(spans)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail(f"the OTLP receiver did not start: {line!r}")
    yield {"endpoint": "http://" + line.removeprefix("listening on "), "spans": spans}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def hung_collector():
    """A collector that takes connections and requests and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)  # read by nobody, answered never

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture(scope="module")
def host(make_host, collector, hung_collector):
    binary = cargo_bin("example-otel-traces")
    # The receiver is on the host's loopback: the functions share its network.
    common = {"command": [binary], "network": "host", "timeout_s": 10, "max_concurrency": 1,
              "env": {"OTEL_EXPORTER_OTLP_ENDPOINT": collector["endpoint"], "AWS_REGION": "eu-west-1"}}
    return make_host({
        "checkout": common,
        "checkout-active": dict(common, tracing="Active"),
        "checkout-dark": dict(common, max_concurrency=2, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                                           "OTEL_EXPORTER_OTLP_TIMEOUT": "2000"}),
        "checkout-hung": dict(common, env={"OTEL_EXPORTER_OTLP_ENDPOINT": hung_collector}),
    }, name="otel")


def xray_trace():
    """A trace header as an X-Ray-instrumented caller sends it: the root and
    its OTLP form (the same 128 bits without the version and dashes)."""
    epoch, rest = f"{int(time.time()):08x}", secrets.token_hex(12)
    return f"1-{epoch}-{rest}", epoch + rest


def invoke_traced(host, name, order, header):
    status, headers, body = host.http("POST", f"/2015-03-31/functions/{name}/invocations",
                                      json.dumps(order).encode(), {"X-Amzn-Trace-Id": header})
    assert status == 200, body
    return headers, json.loads(body)


def spans_of(collector, trace_id, count, timeout=10.0):
    """The spans of `trace_id` the receiver has, once it has `count` of them."""
    deadline = time.time() + timeout
    while True:
        text = collector["spans"].read_text() if collector["spans"].exists() else ""
        found = [s for s in map(json.loads, text.splitlines()) if s["trace_id"] == trace_id]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_the_invocation_is_a_server_span_under_the_callers_xray_trace(host, collector):
    root, trace_id = xray_trace()
    parent = secrets.token_hex(8)
    header = f"Root={root};Parent={parent};Sampled=1"
    headers, result = invoke_traced(host, "checkout", {"id": "o-1", "items": 3}, header)
    assert result == {"charge": "ch-o-1", "trace": header}, "the function saw the caller's header"

    spans = by_name(spans_of(collector, trace_id, 3))
    assert set(spans) == {"checkout", "reserve", "charge"}, spans
    invocation = spans["checkout"]
    assert invocation["parent_span_id"] == parent, "the caller's segment is the parent"
    assert invocation["kind"] == "Server" and invocation["status_code"] == "Unset"
    assert invocation["attributes"]["faas.invocation_id"] == headers["x-amzn-requestid"]
    assert invocation["attributes"]["cloud.resource_id"].endswith(":function:checkout")
    assert isinstance(invocation["attributes"]["faas.coldstart"], bool)
    assert invocation["scope"] == "flick"
    resource = invocation["resource"]
    assert resource["service.name"] == "checkout" and resource["faas.name"] == "checkout"
    assert resource["cloud.provider"] == "aws" and resource["cloud.platform"] == "aws_lambda"
    assert resource["cloud.region"] == "eu-west-1" and resource["faas.max_memory"] == 128 * 1024 * 1024

    for child in ("reserve", "charge"):
        assert spans[child]["parent_span_id"] == invocation["span_id"], child
        assert invocation["start_unix_nano"] <= spans[child]["start_unix_nano"]
        assert spans[child]["end_unix_nano"] <= invocation["end_unix_nano"]
    assert spans["reserve"]["attributes"]["order.items"] == 3
    assert [e["name"] for e in spans["reserve"]["events"]] == ["stock reserved"]
    assert spans["reserve"]["events"][0]["attributes"]["order.id"] == "o-1"


def test_an_event_invocation_continues_the_callers_trace(host, collector):
    # On Lambda an asynchronous invocation stays in its caller's trace (only
    # the deprecated InvokeAsync does not propagate it, as its API page says).
    root, trace_id = xray_trace()
    parent = secrets.token_hex(8)
    status, _, body = host.http("POST", "/2015-03-31/functions/checkout/invocations",
                                json.dumps({"id": "o-async", "items": 1}).encode(),
                                {"X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1",
                                 "X-Amz-Invocation-Type": "Event"})
    assert status == 202, body
    spans = by_name(spans_of(collector, trace_id, 3))
    assert set(spans) == {"checkout", "reserve", "charge"}, spans
    assert spans["checkout"]["parent_span_id"] == parent


def test_an_unsampled_trace_exports_nothing(host, collector):
    root, unsampled = xray_trace()
    invoke_traced(host, "checkout", {"id": "o-2", "items": 1}, f"Root={root};Parent={secrets.token_hex(8)};Sampled=0")
    # The next invocation's spans leave before the one after: once they are
    # in, the unsampled invocation has had its flush too.
    root, sampled = xray_trace()
    invoke_traced(host, "checkout", {"id": "o-3", "items": 1}, f"Root={root};Sampled=1")
    assert len(spans_of(collector, sampled, 3)) == 3
    assert spans_of(collector, unsampled, 1, timeout=0.5) == []


def test_active_tracing_samples_the_traces_the_host_starts(host, collector):
    resp, result = host.invoke("checkout-active", {"id": "o-4", "items": 2})
    assert resp.get("FunctionError") is None, result
    header = result["trace"]
    assert header.endswith(";Sampled=1"), header
    trace_id = header.split(";")[0].removeprefix("Root=1-").replace("-", "")
    spans = by_name(spans_of(collector, trace_id, 3))
    assert spans["checkout-active"]["parent_span_id"] == header.split("Parent=")[1].split(";")[0]

    # Without `tracing = "Active"`, the host's own traces are not sampled.
    resp, result = host.invoke("checkout", {"id": "o-5", "items": 2})
    assert result["trace"].endswith(";Sampled=0"), result


def test_a_failed_invocation_is_an_error_span(host, collector):
    root, trace_id = xray_trace()
    status, _, body = host.http("POST", "/2015-03-31/functions/checkout/invocations",
                                json.dumps({"id": "o-6", "items": 1, "decline": True}).encode(),
                                {"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert status == 200 and json.loads(body)["errorType"] == "PaymentDeclined"
    spans = by_name(spans_of(collector, trace_id, 3))
    invocation = spans["checkout"]
    assert invocation["status_code"] == "Error", invocation
    assert invocation["status_message"] == "the card was declined"
    assert invocation["attributes"]["error.type"] == "PaymentDeclined"
    assert "charge" in spans and "reserve" in spans


def test_a_malformed_caller_header_is_replaced_by_a_trace_of_the_hosts(host):
    _, result = invoke_traced(host, "checkout", {"id": "o-7", "items": 1}, "Root=not-a-trace;Sampled=1")
    assert result["trace"].startswith("Root=1-") and "not-a-trace" not in result["trace"], result


def test_a_collector_that_is_down_costs_a_warning_not_the_invocation(host):
    root, _ = xray_trace()
    for n in range(2):
        _, result = invoke_traced(host, "checkout-dark", {"id": f"o-d{n}", "items": 1}, f"Root={root};Sampled=1")
        assert result["charge"] == f"ch-o-d{n}"
    assert host.wait_log("checkout-dark", r"cannot export spans"), host.log_text("checkout-dark")


def test_a_collector_that_hangs_does_not_hold_the_answer(host):
    """The export runs after the answer is sent, each socket call is limited
    (2 s by default) and the flush gives up: the caller has its answer at
    once, and the export's failure is a warning in the function's log."""
    root, _ = xray_trace()
    started = time.monotonic()
    _, result = invoke_traced(host, "checkout-hung", {"id": "o-h", "items": 1}, f"Root={root};Sampled=1")
    answered = time.monotonic() - started
    assert result["charge"] == "ch-o-h"
    assert answered < 2.0, f"the answer waited {answered:.1f}s for the collector"
    assert host.wait_log("checkout-hung", r"cannot export spans", timeout=15), host.log_text("checkout-hung")
