"""External and internal extensions and the Extensions API, as on Lambda:
every executable of a layer's extensions/ folder starts with the sandbox,
registers before the runtime starts, gets INVOKE and SHUTDOWN events; init
ends when the runtime and every extension have asked for an event, an
invocation's phase when all have asked again (its answer does not wait);
each failure of an extension fails the sandbox with Lambda's error type.

The extensions here are conformance/functions/extensions/probe_extension.py
under several names (its docstring lists the modes), with the Python of the
suite's virtualenv as interpreter, and an internal extension registered by
the raw runtime itself."""

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import FUNCTIONS, UUID, function_python, raw_function, shared_dir, traversable

PROBE = FUNCTIONS / "extensions" / "probe_extension.py"


def make_layer(root, name, extensions, executable=True, binary=None):
    """A layer folder whose extensions/ holds the probe under each name (or
    a copy of `binary`)."""
    folder = root / name / "extensions"
    folder.mkdir(parents=True)
    source = PROBE.read_text()
    for ext in extensions:
        path = folder / ext
        if binary:
            shutil.copy(binary, path)
        else:
            path.write_text(f"#!{function_python()}\n{source}")
        path.chmod(0o755 if executable else 0o644)
    traversable(folder)
    (root / name).chmod(0o755)
    return root / name


def record_file(folder, name):
    """An empty file every sandbox's user may append to."""
    path = folder / f"{name}.jsonl"
    path.touch()
    path.chmod(0o666)
    return path


def records(path, ext=None, what=None):
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = [json.loads(line) for line in lines if line.strip()]
    return [r for r in out if (ext is None or r["ext"] == ext) and (what is None or r["what"] == what)]


def wait_records(path, test, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = records(path)
        if test(found):
            return found
        time.sleep(0.05)
    return records(path)


def invoke_ok(host, name, times):
    """Invokes `name` `times` times, each must succeed; their request ids."""
    ids = []
    for _ in range(times):
        resp, result = host.invoke(name, {"action": "echo"})
        assert "FunctionError" not in resp, result
        ids.append(resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
    return ids


def ext_function(layers, records_to, modes=None, **extra):
    layers = layers if isinstance(layers, list) else [layers]
    spec = raw_function(layers=[str(layer) for layer in layers], **extra)
    spec["env"] = dict(spec["env"], EXT_RECORD_FILE=str(records_to), **(modes or {}))
    return spec


@pytest.fixture(scope="module")
def setup(make_host, tmp_path_factory, rust_extension_bin):
    root = traversable(tmp_path_factory.mktemp("ext-layers"))
    files = shared_dir(tmp_path_factory, "ext-records")
    rec = {name: record_file(files, name) for name in
           ("observed", "rust", "slow", "exit-error", "internal", "crash-init", "crash-invoke", "init-error", "noexec", "twice",
            "silent")}
    functions = {
        "observed": ext_function(make_layer(root, "observed", ["probe", "quiet"]), rec["observed"],
                                 {"EXT_MODE_QUIET": "shutdown_only"}, handler="app.handler"),
        "rust": ext_function(make_layer(root, "rust", ["rusty"], binary=rust_extension_bin), rec["rust"]),
        "slow": ext_function(make_layer(root, "slow", ["laggard"]), rec["slow"],
                             {"EXT_MODE_LAGGARD": "slow_invoke", "EXT_SLOW_MS": "1500"}, timeout_s=10,
                             max_concurrency=1),
        "crash-init": ext_function(make_layer(root, "crash-init", ["crasher"]), rec["crash-init"],
                                   {"EXT_MODE_CRASHER": "crash_at_init"}),
        "exit-error": ext_function(make_layer(root, "exit-error", ["quitter"]), rec["exit-error"],
                                   {"EXT_MODE_QUITTER": "exit_error"}),
        "crash-invoke": ext_function(make_layer(root, "crash-invoke", ["breaker"]), rec["crash-invoke"],
                                     {"EXT_MODE_BREAKER": "crash_on_invoke"}),
        "init-error": ext_function(make_layer(root, "init-error", ["refuser"]), rec["init-error"],
                                   {"EXT_MODE_REFUSER": "init_error"}),
        "noexec": ext_function(make_layer(root, "noexec", ["inert"], executable=False), rec["noexec"]),
        "silent": ext_function(make_layer(root, "silent", ["mute"]), rec["silent"], {"EXT_MODE_MUTE": "never_register"}),
        "twice": ext_function(make_layer(root, "twice", ["repeat"]), rec["twice"], {"EXT_MODE_REPEAT": "twice"}),
    }
    internal = raw_function()
    internal["env"] = dict(internal["env"], RAW_INTERNAL_EXTENSION="inside", EXT_RECORD_FILE=str(rec["internal"]))
    functions["internal"] = internal
    return make_host(functions), rec


def test_an_external_extension_registers_and_sees_each_invocation(setup):
    host, rec = setup
    ids = invoke_ok(host, "observed", 2)
    found = wait_records(rec["observed"], lambda r: len([x for x in r if x["what"] == "event"]) >= 2)
    register = records(rec["observed"], "probe", "register")[0]
    assert register["status"] == 200
    assert re.fullmatch(UUID, register["identifier"]), register
    assert register["body"] == {"functionName": "observed", "functionVersion": "$LATEST",
                                "handler": "app.handler", "accountId": "000000000000"}
    events = [r["event"] for r in found if r["ext"] == "probe" and r["what"] == "event"]
    assert [e["requestId"] for e in events] == ids
    for e in events:
        assert e["eventType"] == "INVOKE"
        assert e["invokedFunctionArn"].endswith(":function:observed")
        assert abs(e["deadlineMs"] / 1000 - time.time() - 3) < 3, e
        assert e["tracing"]["type"] == "X-Amzn-Trace-Id" and e["tracing"]["value"].startswith("Root=")
    assert not records(rec["observed"], "quiet", "event"), "quiet subscribed to SHUTDOWN only"


def test_an_extension_built_with_the_official_rust_crate_sees_each_invocation(setup):
    host, rec = setup
    ids = invoke_ok(host, "rust", 3)
    found = wait_records(rec["rust"], lambda r: len(r) >= 3)
    events = [r["event"] for r in found if r["ext"] == "rusty" and r["what"] == "event"]
    assert [e["requestId"] for e in events] == ids
    assert all(e["invokedFunctionArn"].endswith(":function:rust") for e in events)


def test_extensions_start_before_the_runtime_without_its_private_variables(setup):
    host, rec = setup
    host.invoke("observed", {"action": "echo"})
    started = records(rec["observed"], "probe", "started")[0]
    for kept in ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "EXT_RECORD_FILE"):
        assert kept in started["env"], kept
    for gone in ("_HANDLER", "_LAMBDA_TELEMETRY_LOG_FD", "AWS_LAMBDA_LOG_STREAM_NAME", "LAMBDA_TASK_ROOT"):
        assert gone not in started["env"], gone
    assert started["uid"] != 0, "an extension runs as the sandbox's user"


def test_the_answer_does_not_wait_for_extensions_but_the_phase_does(setup):
    host, rec = setup
    resp, _ = host.invoke("slow", {"action": "echo"})  # cold start out of the way
    first = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert host.wait_log("slow", rf"REPORT RequestId: {first}", timeout=5)
    begun = time.time()
    # Without LogType=Tail: a tail holds the REPORT, which waits for the phase.
    resp, result = host.invoke("slow", {"action": "echo"})
    answered = time.time() - begun
    assert "FunctionError" not in resp, result
    assert answered < 1.2, f"the answer waited {answered:.2f}s for the extension's 1.5s"
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    m = host.wait_log("slow", rf"REPORT RequestId: {request_id}\tDuration: (\d+\.\d+) ms", timeout=5)
    assert m and float(m.group(1)) >= 1500, "the invoke phase lasts until the extension asks again"
    # The sandbox (the only one: max_concurrency 1) takes no event before
    # the phase is over: the next invocation starts after the extension is done.
    resp, _ = host.invoke("slow", {"action": "echo"})
    done = next(r for r in records(rec["slow"], "laggard", "slow_done") if r["requestId"] == request_id)
    following = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    found = wait_records(rec["slow"], lambda rs: any(r["what"] == "event" and r["event"].get("requestId") == following
                                                     for r in rs))
    invoke = next(r for r in found if r["what"] == "event" and r["event"].get("requestId") == following)
    assert invoke["t"] >= done["t"], "the next INVOKE came before the extension finished the last"
    log = host.log_text("slow")
    assert log.index(f"REPORT RequestId: {request_id}") < log.index(f"START RequestId: {following}")


def test_an_internal_extension_gets_invoke_but_may_not_have_shutdown(setup):
    host, rec = setup
    resp, _ = host.invoke("internal", {"action": "echo"})
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    found = wait_records(rec["internal"], lambda r: any(x["what"] == "event" for x in r))
    refused, accepted = [r for r in found if r["what"] == "register"][:2]
    assert refused["status"] == 403
    assert refused["body"]["errorType"] == "Extension.InvalidEventType"
    assert accepted["status"] == 200
    events = [r["event"] for r in found if r["what"] == "event"]
    assert events[0]["requestId"] == request_id


def test_registering_twice_is_refused(setup):
    host, rec = setup
    resp, _ = host.invoke("twice", {"action": "echo"})
    assert "FunctionError" not in resp
    second = records(rec["twice"], "repeat", "register")[1]
    assert second["status"] == 403
    assert second["body"]["errorType"] == "Extension.InvalidExtensionState"


@pytest.mark.parametrize("function,error_type,message", [
    ("crash-init", "Extension.Crash", "exit code 3"),
    ("init-error", "Extension.InitError", "Extension.ProbeFailed"),
    ("noexec", "Extension.LaunchError", "fork/exec /opt/extensions/inert: permission denied"),
])
def test_an_extension_that_fails_at_init_fails_the_invocation(setup, function, error_type, message):
    host, _ = setup
    resp, result = host.invoke(function, {"action": "echo"})
    assert resp.get("FunctionError") == "Unhandled", result
    assert result["errorType"] == error_type, result
    assert result["errorMessage"].startswith("RequestId: ") and message in result["errorMessage"], result
    resp, result = host.invoke("observed", {"action": "echo"})
    assert "FunctionError" not in resp, "other functions are unaffected"


def test_an_exit_error_during_an_invocation_ends_the_sandbox(setup):
    host, rec = setup
    resp, result = host.invoke("exit-error", {"action": "echo"})
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    # The extension gives up as the runtime answers: whichever came first,
    # the invocation ends with the extension's error.
    if "FunctionError" in resp:
        assert result["errorType"] == "Extension.ExitError", result
    assert host.wait_log("exit-error", r"Extension\.ExitError", timeout=5), host.log_text("exit-error")
    found = wait_records(rec["exit-error"], lambda rs: any(r["what"] == "exit_error" for r in rs))
    reported = next(r for r in found if r["what"] == "exit_error")
    assert (reported["status"], reported["body"]) == (202, {"status": "OK"})
    text = host.log_text("exit-error")
    assert f"RequestId: {request_id} Error: extension quitter reported an exit error: Extension.ProbeQuit" in text


def test_an_extension_that_never_registers_times_init_out_naming_it(setup):
    host, _ = setup
    begun = time.time()
    resp, result = host.invoke("silent", {"action": "echo"})
    assert resp.get("FunctionError") == "Unhandled", result
    assert result["errorType"] == "Sandbox.Timedout", result
    assert 9.5 < time.time() - begun < 20
    assert "Extension(s) mute did not register within 10 s" in host.log_text("silent")


def test_an_extension_crash_during_an_invocation_ends_the_sandbox(setup):
    host, rec = setup
    resp, result = host.invoke("crash-invoke", {"action": "echo"})
    # The extension dies as the runtime answers: whichever came first, the
    # invocation ends with the crash.
    if "FunctionError" in resp:
        assert result["errorType"] == "Extension.Crash", result
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert host.wait_log("crash-invoke", r"Extension\.Crash", timeout=5), host.log_text("crash-invoke")
    assert host.wait_log("crash-invoke", rf"REPORT RequestId: {request_id}", timeout=5)
    starts = len(records(rec["crash-invoke"], "breaker", "started"))
    host.invoke("crash-invoke", {"action": "echo"})
    assert len(records(rec["crash-invoke"], "breaker", "started")) == starts + 1, "a new sandbox, a new extension"


def test_shutdown_goes_to_subscribers_with_a_deadline(host_factory, tmp_path_factory, rust_extension_bin):
    root = traversable(tmp_path_factory.mktemp("ext-shutdown"))
    records_at = record_file(shared_dir(tmp_path_factory, "ext-shutdown-records"), "r")
    layers = [make_layer(root, "l", ["probe", "quiet"]), make_layer(root, "r", ["rusty"], binary=rust_extension_bin)]
    host = host_factory({"observed": ext_function(layers, records_at,
                                                  {"EXT_MODE_QUIET": "shutdown_only"})}, name="ext-shutdown")
    host.invoke("observed", {"action": "echo"})
    begun = time.time()
    host.stop()
    for ext in ("probe", "quiet", "rusty"):
        shutdown = [r for r in records(records_at, ext, "event") if r["event"]["eventType"] == "SHUTDOWN"]
        assert len(shutdown) == 1, records(records_at, ext)
        event = shutdown[0]["event"]
        assert event["shutdownReason"] == "spindown"
        assert 0 < event["deadlineMs"] / 1000 - shutdown[0]["t"] <= 2.0, event
        assert shutdown[0]["t"] >= begun
        assert records(records_at, ext, "exiting"), f"{ext} had time to finish"
