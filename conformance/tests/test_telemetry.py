"""The Telemetry API (2022-07-01) and the Logs API (2020-08-15), as on
Lambda: an extension subscribes during init with a destination at
sandbox.localdomain inside the sandbox; it then receives, batched, the
platform events (initStart ... report, with the figures of START/END/REPORT)
and the function's log lines, over HTTP or TCP. Receivers: the official Rust
crate lambda-extension's telemetry processor, and the Python probe extension
(conformance/functions/extensions/probe_extension.py)."""

import pytest

from conftest import REPORT_RE, shared_dir, traversable
from test_extensions import ext_function, make_layer, record_file, wait_records


@pytest.fixture(scope="module")
def setup(make_host, tmp_path_factory, rust_extension_bin):
    root = traversable(tmp_path_factory.mktemp("telemetry-layers"))
    files = shared_dir(tmp_path_factory, "telemetry-records")
    rec = {name: record_file(files, name) for name in ("rust", "http", "tcp", "logs")}
    functions = {
        "rust": ext_function(make_layer(root, "rust", ["otel"], binary=rust_extension_bin), rec["rust"],
                             {"EXT_TELEMETRY": "1"}),
        "http": ext_function(make_layer(root, "http", ["watcher"]), rec["http"],
                             {"EXT_MODE_WATCHER": "telemetry_http",
                              "EXT_TELEMETRY_TYPES": "platform,function,extension"}),
        "tcp": ext_function(make_layer(root, "tcp", ["tcpwatch"]), rec["tcp"],
                            {"EXT_MODE_TCPWATCH": "telemetry_tcp", "AWS_LAMBDA_LOG_FORMAT": "JSON"}),
        "logs": ext_function(make_layer(root, "logs", ["logwatch"]), rec["logs"],
                             {"EXT_MODE_LOGWATCH": "logs_api"}),
    }
    return make_host(functions), rec


def run_two(host, name, lines):
    """Two invocations that print `lines` after answering; their request ids."""
    ids = []
    for _ in range(2):
        resp, result = host.invoke(name, {"action": "late_log", "lines": lines})
        assert "FunctionError" not in resp, result
        request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        assert host.wait_log(name, rf"REPORT RequestId: {request_id}", timeout=5)
        ids.append(request_id)
    return ids


def received(path, until):
    found = wait_records(path, lambda r: until([x for x in r if x["what"] == "telemetry"]))
    return [x for x in found if x["what"] == "telemetry"]


def reports_in_log(host, name):
    return {m["id"]: m for m in REPORT_RE.finditer(host.log_text(name))}


def check_telemetry_stream(host, name, got, ids, line):
    kinds = [r["type"] for r in got]
    for kind in ("platform.initStart", "platform.initRuntimeDone", "platform.initReport",
                 "platform.telemetrySubscription"):
        assert kind in kinds, (kind, kinds)
    assert kinds.index("platform.initStart") < kinds.index("platform.initReport")
    start = next(r for r in got if r["type"] == "platform.initStart")["record"]
    assert start["initializationType"] == "on-demand" and start["phase"] == "init"
    log_reports = reports_in_log(host, name)
    for request_id in ids:
        mine = [r for r in got if isinstance(r["record"], dict) and r["record"].get("requestId") == request_id]
        assert [r["type"] for r in mine] == ["platform.start", "platform.runtimeDone", "platform.report"], mine
        report = mine[2]["record"]
        assert report["status"] == "success"
        in_log = log_reports[request_id]
        assert report["metrics"]["durationMs"] == float(in_log["duration"])
        assert report["metrics"]["billedDurationMs"] == int(in_log["billed"])
        assert report["metrics"]["maxMemoryUsedMB"] == int(in_log["used"])
        assert report["metrics"]["memorySizeMB"] == 128
        # The function's line lies between its start and its runtimeDone.
        at = got.index(mine[0]), got.index(mine[1])
        lines = [i for i, r in enumerate(got) if r["type"] == "function" and r["record"] == line]
        assert any(at[0] < i < at[1] for i in lines), (at, lines)
    assert all(r["time"].endswith("Z") and len(r["time"]) == 24 for r in got)


def test_the_rust_crates_telemetry_processor_gets_platform_events_and_logs(setup):
    host, rec = setup
    ids = run_two(host, "rust", ["hello from the function"])
    got = received(rec["rust"], lambda t: sum(r["type"] == "platform.report" for r in t) >= 2)
    check_telemetry_stream(host, "rust", got, ids, "hello from the function")
    ext = [r["record"] for r in got if r["type"] == "platform.extension"]
    assert {"name": "otel", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]} in ext


def test_an_http_subscriber_gets_the_same_and_another_host_is_refused(setup):
    host, rec = setup
    ids = run_two(host, "http", ["over http"])
    got = received(rec["http"], lambda t: sum(r["type"] == "platform.report" for r in t) >= 2)
    check_telemetry_stream(host, "http", got, ids, "over http")
    refused = wait_records(rec["http"], lambda r: True)
    elsewhere = next(r for r in refused if r["what"] == "subscribe_elsewhere")
    assert elsewhere["status"] == 400
    assert elsewhere["body"]["errorType"] == "ValidationError"
    assert "sandbox.localdomain" in elsewhere["body"]["errorMessage"]
    ok = next(r for r in refused if r["what"] == "subscribe")
    assert (ok["status"], ok["body"]) == (200, "OK")
    # The extension's own output is its stream, not the function's.
    assert any(r["type"] == "extension" and r["record"] == "watcher is up" for r in got), got
    assert not any(r["type"] == "function" and "is up" in str(r["record"]) for r in got)


def test_a_tcp_subscriber_gets_json_log_lines_as_objects(setup):
    host, rec = setup
    line = '{"level":"INFO","message":"structured"}'
    ids = run_two(host, "tcp", [line])
    got = received(rec["tcp"], lambda t: sum(r["type"] == "platform.report" for r in t) >= 2)
    objects = [r["record"] for r in got if r["type"] == "function" and isinstance(r["record"], dict)]
    assert {"level": "INFO", "message": "structured"} in objects
    starts = [r["record"]["requestId"] for r in got if r["type"] == "platform.start"]
    assert starts == ids


def test_the_logs_api_sends_its_own_record_shapes(setup):
    host, rec = setup
    ids = run_two(host, "logs", ["through the logs api"])
    got = received(rec["logs"], lambda t: sum(r["type"] == "platform.report" for r in t) >= 2)
    kinds = [r["type"] for r in got]
    assert "platform.logsSubscription" in kinds
    assert "platform.initStart" not in kinds, "not a Logs API record"
    for request_id in ids:
        mine = [r["type"] for r in got if isinstance(r["record"], dict) and r["record"].get("requestId") == request_id]
        assert mine == ["platform.start", "platform.runtimeDone", "platform.end", "platform.report"], mine
    assert any(r["type"] == "function" and r["record"] == "through the logs api" for r in got)


def test_what_is_buffered_is_sent_before_shutdown(host_factory, tmp_path_factory, rust_extension_bin):
    """The crate buffers for a second; a host stopped at once still delivers
    the last invocation's records before the extension's SHUTDOWN."""
    root = traversable(tmp_path_factory.mktemp("telemetry-flush"))
    records_at = record_file(shared_dir(tmp_path_factory, "telemetry-flush-records"), "r")
    host = host_factory({"rust": ext_function(make_layer(root, "rust", ["otel"], binary=rust_extension_bin),
                                              records_at, {"EXT_TELEMETRY": "1"})}, name="telemetry-flush")
    resp, _ = host.invoke("rust", {"action": "late_log", "lines": ["last words"]})
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert host.wait_log("rust", rf"REPORT RequestId: {request_id}", timeout=5)
    host.stop()
    found = wait_records(records_at, lambda r: any(x["what"] == "exiting" for x in r), timeout=2)
    whats = [(r["what"], r.get("type")) for r in found]
    assert ("telemetry", "platform.report") in whats, whats
    assert whats.index(("telemetry", "platform.report")) < whats.index(("exiting", None))
    assert any(r.get("record") == "last words" for r in found)
