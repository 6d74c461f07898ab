"""`flick logs NAME`: a function's log from the host's log file, each line
with its time; `--request-id` keeps one invocation's lines (its output
included, multi-line events whole), `--since` the recent ones, `--follow`
prints new lines as they come. The file itself holds records
`TIME<TAB>REQUEST_ID<TAB>text`."""

import re
import subprocess
import time

import pytest

from conftest import raw_function

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({"talker": raw_function(), "quiet": raw_function()})


def talk(host, *lines):
    resp, result = host.invoke("talker", {"action": "late_log", "lines": list(lines)})
    assert "FunctionError" not in resp, result
    request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert host.wait_log("talker", rf"REPORT RequestId: {request_id}", timeout=5)
    return request_id


def logs(host, *args):
    return host.flick("logs", "--config", str(host.manifest), *args)


def test_every_line_comes_with_its_time_and_each_record_names_its_invocation(host):
    first = talk(host, "one", "two")
    proc = logs(host, "talker")
    assert proc.returncode == 0, proc.stderr
    for text in (f"START RequestId: {first}", "one", "two", f"REPORT RequestId: {first}"):
        assert re.search(rf"^{TIME} {re.escape(text)}", proc.stdout, re.M), (text, proc.stdout)
    records = host.log_records("talker")
    mine = [r for r in records if r[1] == first]
    assert [r[2] for r in mine if r[2] in ("one", "two")] == ["one", "two"], records


def test_request_id_keeps_one_invocation(host):
    a = talk(host, "from a")
    b = talk(host, "from b")
    proc = logs(host, "talker", "--request-id", b)
    assert proc.returncode == 0, proc.stderr
    assert "from b" in proc.stdout and f"REPORT RequestId: {b}" in proc.stdout
    assert "from a" not in proc.stdout and a not in proc.stdout


def test_since_keeps_the_recent_lines(host):
    old = talk(host, "old line")
    time.sleep(2.2)
    new = talk(host, "new line")
    proc = logs(host, "talker", "--since", "2s")
    assert proc.returncode == 0, proc.stderr
    assert "new line" in proc.stdout and new in proc.stdout
    assert "old line" not in proc.stdout and old not in proc.stdout


def test_follow_prints_what_comes_later(host):
    follower = subprocess.Popen([host.flick_bin, "logs", "--config", str(host.manifest), "quiet", "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=host.root)
    try:
        time.sleep(0.5)
        resp, _ = host.invoke("quiet", {"action": "late_log", "lines": ["followed"]})
        request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        seen = ""
        deadline = time.time() + 10
        while f"REPORT RequestId: {request_id}" not in seen and time.time() < deadline:
            seen += follower.stdout.readline()
        assert "followed" in seen and f"REPORT RequestId: {request_id}" in seen, seen
        assert "\x1b[" not in seen, "no colours when stdout is not a terminal"
    finally:
        follower.kill()
        follower.wait()


@pytest.mark.parametrize("args,needle", [
    (["nope"], "no function nope"),
    (["talker", "--since", "10"], "give a unit"),
    (["talker", "--since", "3y"], "unknown unit"),
])
def test_bad_arguments_are_named(host, args, needle):
    proc = logs(host, *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert needle in proc.stderr, proc.stderr
