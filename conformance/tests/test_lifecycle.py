"""The sandbox lifecycle of the contract: a sandbox takes an event only while
its runtime waits in /next; an invocation's invoke phase (its log window,
END and REPORT) lasts until the runtime asks for its next event, while the
caller gets its answer as soon as the runtime posts it; and an event whose
sandbox died before taking it goes to a fresh sandbox instead of failing."""

import json
import os
import re
import signal
import time

import pytest

from conftest import decode_tail, invocation_lines, python_function, raw_function, report_lines, request_id_of


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({
        "raw": raw_function(timeout_s=5),
        "victim": raw_function(timeout_s=5),
        "py": python_function(timeout_s=5),
    })


def test_answer_comes_before_the_phase_ends(host):
    t0 = time.monotonic()
    resp, result = host.invoke("raw", {"action": "late_log", "lines": ["late-one", "late-two"], "pause_ms": 600})
    answered = time.monotonic() - t0
    assert result == {"answered": True} and "FunctionError" not in resp
    assert answered < 1.0, f"the caller waited {answered:.2f}s for work after the answer"
    rid = request_id_of(resp)
    host.wait_log("raw", rf"^END RequestId: {rid}$", timeout=5)
    window = invocation_lines(host.log_text("raw"), rid)
    assert "late-one" in window and "late-two" in window, window
    host.wait_log("raw", rf"^REPORT RequestId: {rid}\t")
    [report] = report_lines(host.log_text("raw"), rid)
    assert float(report.group("duration")) >= 1100, "Duration covers the whole invoke phase"


def test_log_tail_waits_for_the_end_of_the_phase(host):
    resp, _ = host.invoke("raw", {"action": "late_log", "lines": ["tail-late"], "pause_ms": 200}, LogType="Tail")
    tail = decode_tail(resp).splitlines()
    rid = request_id_of(resp)
    assert "tail-late" in tail, tail
    assert tail.index("tail-late") < tail.index(f"END RequestId: {rid}")
    assert tail[-1].startswith(f"REPORT RequestId: {rid}")


def test_a_line_without_newline_is_its_own_line_in_its_invocation(host):
    first, _ = host.invoke("raw", {"action": "partial_log", "text": "no-newline-A"})
    second, _ = host.invoke("raw", {"action": "partial_log", "text": "no-newline-B"})
    for resp, text in ((first, "no-newline-A"), (second, "no-newline-B")):
        rid = request_id_of(resp)
        host.wait_log("raw", rf"^END RequestId: {rid}$")
        window = invocation_lines(host.log_text("raw"), rid)
        assert text in window, (text, window)


def test_sequential_callers_reuse_one_sandbox_despite_late_output(host):
    pids = set()
    for _ in range(5):
        _, result = host.invoke("raw", {"action": "pid"})
        pids.add(result["pid"])
    assert len(pids) == 1, f"sequential calls must find the sandbox they just used: {pids}"


def test_runtime_exiting_after_an_oversize_response_fails_nothing_else(host):
    resp, result = host.invoke("py", {"action": "big"})
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "Function.ResponseSizeTooLarge", result
    assert result["errorMessage"] == \
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).", result
    # awslambdaric exits after the Runtime API's 413; the next event must not be
    # handed to that sandbox, but served by a fresh one with its own cold start.
    for _ in range(3):
        resp, result = host.invoke("py", {"action": "echo", "n": 1}, LogType="Tail")
        assert "FunctionError" not in resp, result
    reports = report_lines(host.log_text("py"))
    assert any(m.group("init") for m in reports[1:]), "the replacement sandbox reports its own init"


def test_runtime_killed_between_invocations_is_replaced_for_the_next(host):
    _, first = host.invoke("victim", {"action": "pid"})
    os.kill(first["pid"], signal.SIGKILL)
    resp, second = host.invoke("victim", {"action": "pid"}, LogType="Tail")
    assert "FunctionError" not in resp, second
    assert second["pid"] != first["pid"]
    rid = request_id_of(resp)
    [report] = report_lines(decode_tail(resp), rid)
    assert report.group("init"), "served by a fresh sandbox: a cold start with its Init Duration"


def test_a_response_cut_off_by_a_crash_is_a_crash(host):
    resp, result = host.invoke("raw", {"action": "broken_response"})
    assert resp.get("FunctionError") == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError", result
    assert re.search(r"Runtime exited with error: exit status 1$", result["errorMessage"]), result
    resp, result = host.invoke("raw", {"action": "echo", "n": 2})
    assert result == {"action": "echo", "n": 2}


def test_duration_does_not_count_the_idle_time_before_the_event(host):
    host.invoke("raw", {"action": "echo"})
    time.sleep(1.0)
    resp, _ = host.invoke("raw", {"action": "echo"}, LogType="Tail")
    [report] = report_lines(decode_tail(resp), request_id_of(resp))
    assert float(report.group("duration")) < 500, report.group(0)


def server_timing(resp):
    header = resp["ResponseMetadata"]["HTTPHeaders"].get("server-timing", "")
    return {part.split(";dur=")[0].strip(): float(part.split(";dur=")[1]) for part in header.split(",") if part}


def test_server_timing_tells_the_phases_and_recycle_makes_the_next_cold(host):
    status, _, body = host.http("POST", "/_flick/functions/victim/recycle")
    assert status == 200 and json.loads(body)["function"] == "victim", body
    cold, _ = host.invoke("victim", {"action": "pid"}, LogType="Tail")
    phases = server_timing(cold)
    assert set(phases) == {"sandbox", "init", "invoke"}, phases
    [report] = report_lines(decode_tail(cold), request_id_of(cold))
    assert abs(float(report.group("init")) - phases["init"]) < 0.01, (report.group(0), phases)
    warm, _ = host.invoke("victim", {"action": "pid"})
    assert set(server_timing(warm)) == {"invoke"}
    status, _, body = host.http("POST", "/_flick/functions/nobody/recycle")
    assert status == 404 and b"nobody" in body
