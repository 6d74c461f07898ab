"""START/END/REPORT lines, LogType=Tail, the log file and host stderr."""

import math
import uuid

import pytest

from conftest import END_RE, RUNTIMES, START_RE, all_runtime_functions, decode_tail, need, report_lines


@pytest.fixture(scope="module")
def host(make_host, runtimes):
    functions = all_runtime_functions(runtimes)
    functions.update(all_runtime_functions(runtimes, prefix="cold"))
    return make_host(functions)


def check_report(m, memory=128):
    duration, billed = float(m.group("duration")), int(m.group("billed"))
    init = float(m.group("init")) if m.group("init") else 0.0
    assert billed >= math.ceil(duration) - 0.01 and billed >= 1, m.group(0)
    assert billed <= math.ceil(duration + init) + 1, m.group(0)
    assert int(m.group("memory")) == memory, m.group(0)
    assert int(m.group("used")) >= 1, m.group(0)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_tail(host, rt):
    name = need(host, f"echo-{rt}")
    marker = f"MARK{uuid.uuid4().hex[:12]}"
    resp, result = host.invoke(name, {"action": "log", "n": 3, "marker": marker}, LogType="Tail")
    assert result == {"logged": 3}
    tail = decode_tail(resp)
    lines = tail.splitlines()
    starts = [i for i, l in enumerate(lines) if START_RE.search(l)]
    ends = [i for i, l in enumerate(lines) if END_RE.search(l)]
    reports = [i for i, l in enumerate(lines) if "REPORT RequestId:" in l]
    assert len(starts) == 1 and len(ends) == 1 and len(reports) == 1, tail
    request_id = START_RE.search(lines[starts[0]]).group("id")
    assert END_RE.search(lines[ends[0]]).group("id") == request_id
    found = report_lines(tail, request_id)
    assert found, f"REPORT line does not match the format:\n{lines[reports[0]]!r}"
    check_report(found[0])
    assert starts[0] < ends[0] < reports[0], tail
    for i in range(3):
        for stream in ("stdout", "stderr"):
            idx = [j for j, l in enumerate(lines) if l.endswith(f"{marker} {stream} {i}")]
            assert idx, f"{marker} {stream} {i} missing from the tail:\n{tail}"
            assert starts[0] < idx[0] < ends[0], f"function output outside START..END:\n{tail}"


def test_no_tail_unless_asked(host):
    resp, _ = host.invoke("echo-python", {"action": "echo"})
    assert "LogResult" not in resp
    resp, _ = host.invoke("echo-python", {"action": "echo"}, LogType="None")
    assert "LogResult" not in resp


def test_tail_is_last_4kb(host):
    marker = f"BIG{uuid.uuid4().hex[:12]}"
    resp, _ = host.invoke("echo-python", {"action": "log", "n": 200, "marker": marker}, LogType="Tail")
    tail = decode_tail(resp)
    assert len(tail.encode()) <= 4096, len(tail.encode())
    assert len(tail.encode()) >= 3500, "the tail should be the last 4 KB, not less"
    last = tail.rstrip("\n").splitlines()[-1]
    assert report_lines(last), f"the tail must end with the REPORT line, got {last!r}"
    # stdout and stderr are two pipes, so their relative order may vary, but each
    # stream's lines in the tail must be its last ones.
    for stream in ("stdout", "stderr"):
        numbers = [int(l.rsplit(" ", 1)[1]) for l in tail.splitlines() if f"{marker} {stream} " in l
                   and l.rsplit(" ", 1)[1].isdigit()]
        if numbers:
            assert max(numbers) == 199 and numbers == sorted(numbers), (stream, numbers)
    assert f"{marker} stdout 199" in tail or f"{marker} stderr 199" in tail, tail
    assert f"{marker} stdout 0\n" not in tail and f"{marker} stderr 0\n" not in tail


@pytest.mark.parametrize("rt", RUNTIMES)
def test_init_duration_on_cold_start_only(host, rt):
    name = need(host, f"cold-{rt}")
    ids = [host.invoke(name, {"action": "context"})[1]["request_id"] for _ in range(2)]
    reports = []
    for request_id in ids:
        assert host.wait_log(name, rf"REPORT RequestId: {request_id}\t"), \
            f"no REPORT for {request_id} in {host.log_path(name)}:\n{host.log_text(name)[-2000:]}"
        found = report_lines(host.log_text(name), request_id)
        assert len(found) == 1, f"REPORT for {request_id} malformed or repeated:\n{host.log_text(name)[-2000:]}"
        check_report(found[0])
        reports.append(found[0])
    assert reports[0].group("init") is not None, f"cold start without Init Duration: {reports[0].group(0)!r}"
    assert float(reports[0].group("init")) > 0
    assert reports[1].group("init") is None, f"warm start with Init Duration: {reports[1].group(0)!r}"
    text = host.log_text(name)
    for request_id in ids:
        assert f"START RequestId: {request_id} Version: $LATEST" in text
        assert f"END RequestId: {request_id}" in text


def test_logs_on_host_stderr_and_file(host):
    marker = f"ERR{uuid.uuid4().hex[:12]}"
    _, ctx = host.invoke("echo-python", {"action": "context"})
    host.invoke("echo-python", {"action": "log", "n": 1, "marker": marker})
    assert host.wait_log("echo-python", rf"{marker} stderr 0")
    assert host.wait_log("echo-python", rf"{marker} stdout 0")
    stderr = host.stderr()
    assert f"{marker} stdout 0" in stderr and f"{marker} stderr 0" in stderr, stderr[-2000:]
    assert f"REPORT RequestId: {ctx['request_id']}" in stderr


def test_concurrent_tails_are_separate(host):
    """Two invocations running at once in two sandboxes: each Tail holds its own lines only."""
    from concurrent.futures import ThreadPoolExecutor

    markers = [f"SEP{i}{uuid.uuid4().hex[:10]}" for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(host.invoke, "echo-python", {"action": "log", "n": 20, "marker": m}, LogType="Tail")
                   for m in markers]
        tails = [decode_tail(f.result()[0]) for f in futures]
    for mine, other, tail in ((markers[0], markers[1], tails[0]), (markers[1], markers[0], tails[1])):
        assert f"{mine} stdout 19" in tail, tail
        assert other not in tail, f"another invocation's lines leaked into this tail:\n{tail}"
        assert tail.count("START RequestId") == 1, tail


def test_init_output_is_logged(host):
    """What a runtime prints while it initialises (before its first /next) is kept in the log."""
    name = need(host, "cold-node")
    host.invoke(name, {"action": "echo"})
    assert host.wait_log(name, r"Executing 'index.handler' in function directory"), host.log_text(name)[-2000:]


@pytest.mark.parametrize("rt", ["python", "node"])
def test_a_multi_line_log_event_stays_whole(host, rt):
    """The Python and Node clients write each log call as one frame on
    `_LAMBDA_TELEMETRY_LOG_FD`; its lines arrive together and with real line
    breaks (without the descriptor both clients would print `\\r` instead)."""
    name = need(host, f"echo-{rt}")
    lines = [f"event-{i}-{uuid.uuid4().hex[:8]}" for i in range(3)]
    resp, _ = host.invoke(name, {"action": "log_event", "lines": lines}, LogType="Tail")
    tail = decode_tail(resp)
    assert "\r" not in tail, repr(tail)
    at = [i for i, line in enumerate(tail.splitlines()) if line.endswith(lines[0])]
    assert at, tail
    assert tail.splitlines()[at[0] + 1:at[0] + 3] == lines[1:], tail


def test_python_traceback_is_one_event_of_many_lines(host):
    name = need(host, "echo-python")
    resp, _ = host.invoke(name, {"action": "error", "message": "traced"}, LogType="Tail")
    tail = decode_tail(resp).splitlines()
    assert "Traceback (most recent call last):" in tail, tail
    assert any(line.startswith("[ERROR] CustomError: traced") for line in tail), tail
