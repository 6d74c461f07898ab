"""The Java function (conformance/functions/java), run by the official Java runtime
interface client: payloads, errors and context, then what that client does
differently from the others: it unpacks its native library to a fixed path in
/tmp at start, prints a handler error's stack trace only after it has posted
the error, and its logger writes a message without adding a newline."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import UUID, decode_tail, invocation_lines, java_function, request_id_of

CUSTOM_ERROR = "dev.flick.conformance.CustomError"


@pytest.fixture(scope="module")
def host(make_host, java_jar):
    return make_host({
        "java": java_function(),
        "java-tmp": java_function(max_concurrency=2, timeout_s=10),
    }, name="java")


def wait_end(host, name, request_id):
    assert host.wait_log(name, rf"^END RequestId: {request_id}$"), \
        f"no END for {request_id} in {host.log_path(name)}:\n{host.log_text(name)[-3000:]}"


# ---------------------------------------------------------------------------
# payloads, errors, context


def test_echo(host):
    # The client's JSON mapper drops map entries whose value is null: the event has none.
    event = {"action": "echo", "text": "héllo ✓", "empty": "", "n": 42, "big": 12345678901234, "x": 1.5, "ok": True,
             "list": [1, "two", {"three": 3}], "nested": {"a": {"b": ["c"]}}}
    resp, result = host.invoke("java", event)
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:500]
    assert result == event
    for scalar in ("a string", 7, [1, 2]):
        assert host.invoke("java", scalar)[1] == scalar


def test_handler_error(host):
    _, before = host.invoke("java", {"action": "pid"})
    message = f"failure {uuid.uuid4()}"
    resp, result = host.invoke("java", {"action": "error", "message": message})
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == CUSTOM_ERROR, result
    assert result["errorMessage"] == message, result
    assert any("dev.flick.conformance.Handler.handleRequest" in f for f in result["stackTrace"]), result
    _, after = host.invoke("java", {"action": "pid"})
    assert after["pid"] == before["pid"], "a handler error must not cost the sandbox"


def test_plain_error(host):
    resp, result = host.invoke("java", {"action": "error_plain", "message": "plain"})
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "java.lang.RuntimeException", result
    assert result["errorMessage"] == "plain"


def test_context(host):
    before = int(time.time() * 1000)
    resp, ctx = host.invoke("java", {"action": "context"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, resp["RawPayload"][:500]
    assert re.fullmatch(UUID, ctx["request_id"]), ctx
    assert request_id_of(resp) == ctx["request_id"]
    assert re.fullmatch(r"arn:aws:lambda:us-east-1:\d{12}:function:java", ctx["invoked_function_arn"]), ctx
    assert before + 1500 <= ctx["deadline_ms"] <= before + 3000 + 1500, (before, ctx)
    assert 0 < ctx["remaining_ms"] <= 3000, ctx
    assert ctx["function_name"] == "java"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == 128
    assert ctx["log_group_name"] == "/aws/lambda/java"
    assert ctx["log_stream_name"], ctx
    assert ctx.get("client_context") is None and ctx.get("identity") is None, ctx
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]", ctx["trace_id"]), ctx


# ---------------------------------------------------------------------------
# what the Java client does differently


def test_concurrent_cold_starts(make_host, java_jar):
    """Six first invocations at once on a fresh host: six JVMs unpack the client's
    native library to the same /tmp path at the same moment, which only works when
    each sandbox has a /tmp of its own."""
    host = make_host({"java-burst": java_function(max_concurrency=6)}, name="java-burst")
    go = threading.Barrier(6)

    def first_call(_):
        go.wait()
        return host.invoke("java-burst", {"action": "sleep", "ms": 500})

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(first_call, range(6)))
    for resp, result in results:
        assert resp["StatusCode"] == 200, resp
        assert "FunctionError" not in resp, f"{result}\nhost log:\n{host.log_text('java-burst')[-3000:]}"
    pids = {result["pid"] for _, result in results}
    assert len(pids) == 6, f"six concurrent first invocations must run in six sandboxes: {pids}"


def test_unhandled_stack_trace_inside_invocation(host):
    """The client posts the error first and prints the stack trace after: the trace
    still belongs to that invocation, in the log file and in the Tail."""
    marker = f"UNHANDLED{uuid.uuid4().hex[:12]}"
    resp, result = host.invoke("java", {"action": "unhandled", "message": marker}, LogType="Tail")
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "java.lang.IllegalStateException" and result["errorMessage"] == marker, result
    request_id = request_id_of(resp)
    trace = [
        f"{marker}: java.lang.IllegalStateException",
        f"java.lang.IllegalStateException: {marker}",
        "\tat dev.flick.conformance.Handler.unhandled(",
        "Caused by: java.lang.NumberFormatException: ",
    ]

    wait_end(host, "java", request_id)
    host.wait_log("java", r"^Caused by: java\.lang\.NumberFormatException", timeout=2)
    for where, text in (("log file", host.log_text("java")), ("Tail", decode_tail(resp))):
        inside = invocation_lines(text, request_id)
        for expected in trace:
            assert any(line.startswith(expected) for line in inside), \
                f"{expected!r} not between START and END of {request_id} in the {where}:\n{text[-3000:]}"


def test_log_without_newline_is_its_own_line(host):
    """context.getLogger().log(M) writes M without a newline; M must still end up
    as a line of its own invocation, not glued to what comes next."""
    markers = [f"NONEWLINE{i}{uuid.uuid4().hex[:10]}" for i in range(2)]
    calls = []
    for marker in markers:
        resp, result = host.invoke("java", {"action": "log_no_newline", "marker": marker}, LogType="Tail")
        assert "FunctionError" not in resp, result
        calls.append((marker, request_id_of(resp), decode_tail(resp)))
    wait_end(host, "java", calls[-1][1])
    text = host.log_text("java")
    for marker, request_id, tail in calls:
        for where, source in (("log file", text), ("Tail", tail)):
            inside = invocation_lines(source, request_id)
            assert marker in inside, \
                f"{marker!r} is not a line of its own in START..END of {request_id} ({where}):\n{source[-3000:]}"
    glued = [line for line in text.splitlines() if any(m in line for m in markers) and line not in markers]
    assert not glued, f"a marker glued to other output: {glued}"


def test_tmp_is_private_to_a_sandbox(host):
    """Two sandboxes of one function at once (one held busy by a sleep): a file
    one writes to /tmp is there for itself, not for the other."""
    files = []  # (pid of the sandbox that wrote it, name, content)

    def write_in_idle_sandbox(role):
        _, me = host.invoke("java-tmp", {"action": "pid"})
        name, content = f"flick-conformance-{role}-{uuid.uuid4().hex[:12]}", f"written by {role}"
        _, wrote = host.invoke("java-tmp", {"action": "tmp_write", "name": name, "content": content})
        assert wrote is True, wrote
        files.append((me["pid"], name, content))
        return me["pid"]

    def read_all_in(reader):
        for pid, name, content in files:
            _, seen = host.invoke("java-tmp", {"action": "tmp_read", "name": name})
            if pid == reader:
                assert seen == content, f"sandbox {pid} cannot read back its own /tmp/{name}"
            else:
                assert seen is None, f"/tmp/{name} written in sandbox {pid} is readable in sandbox {reader}"

    def sleeping(pool, ms):
        """Starts a sleep; returns once its START is logged, so the other sandbox answers what follows."""
        started = host.log_text("java-tmp").count("START RequestId:")
        busy = pool.submit(host.invoke, "java-tmp", {"action": "sleep", "ms": ms})
        deadline = time.time() + 10
        while host.log_text("java-tmp").count("START RequestId:") == started and time.time() < deadline:
            time.sleep(0.02)
        return busy

    try:
        first = write_in_idle_sandbox("a")
        with ThreadPoolExecutor(1) as pool:
            busy = sleeping(pool, 6000)  # long enough for the second sandbox's cold start
            second = write_in_idle_sandbox("b")
            assert second != first, "the first sandbox is busy: a second one must answer"
            read_all_in(second)
            assert busy.result()[1]["pid"] == first
        with ThreadPoolExecutor(1) as pool:  # either one busy now: the other reads
            busy = sleeping(pool, 2000)
            _, idle = host.invoke("java-tmp", {"action": "pid"})
            read_all_in(idle["pid"])
            assert {busy.result()[1]["pid"], idle["pid"]} == {first, second}
    finally:
        for _, name, _ in files:  # a host without a private /tmp left them in ours
            Path("/tmp", name).unlink(missing_ok=True)
