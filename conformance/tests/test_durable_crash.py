"""Durable executions survive SIGKILL: 200 concurrent executions of a
function that steps, waits, waits for a callback and retries a step; the
host is killed during the waits, again while callbacks are pending, and
again during the retries. After each restart every execution carries on
from its checkpoints: all complete with the right result, no timer or
callback is lost, and no step body runs again once its result was
checkpointed (each body's start time is compared with the time its
StepSucceeded was recorded)."""

import json
import re
import threading
import time
from collections import defaultdict

import pytest

from conftest import python_function, shared_dir

EXECUTIONS = 200


@pytest.fixture(scope="module")
def step_log(tmp_path_factory):
    # Made here, writable by all: each sandbox appends as a user of its own.
    path = shared_dir(tmp_path_factory, "durable-crash") / "steps.log"
    path.touch()
    path.chmod(0o666)
    return path


@pytest.fixture(scope="module")
def host(make_host, step_log):
    crashy = python_function("durable_app.crashy", timeout_s=10, max_concurrency=16,
                             env={"STEP_LOG": str(step_log)},
                             durable={"execution_timeout_s": 600})
    return make_host({"crashy": crashy}, name="durable-crash")


def start_all(host):
    names = [f"exec-{i}" for i in range(EXECUTIONS)]
    arns = {}
    lock = threading.Lock()

    def worker(chunk):
        for name in chunk:
            resp = host.client.invoke(FunctionName="crashy", InvocationType="Event",
                                      DurableExecutionName=name, Payload=json.dumps({"name": name}))
            assert resp["StatusCode"] == 202
            with lock:
                arns[name] = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-durable-execution-arn"]

    threads = [threading.Thread(target=worker, args=(names[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return arns


def histories(host, arns):
    out = {}
    for name, arn in arns.items():
        events, marker = [], None
        while True:
            kwargs = {"Marker": marker} if marker else {}
            page = host.client.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000, **kwargs)
            events += page["Events"]
            marker = page.get("NextMarker")
            if not marker:
                break
        out[name] = events
    return out


def callback_ids(host, arns, want, timeout=120):
    deadline = time.time() + timeout
    while True:
        found = {}
        for name, events in histories(host, arns).items():
            for e in events:
                if e["EventType"] == "CallbackStarted":
                    found[name] = e["CallbackStartedDetails"]["CallbackId"]
        if len(found) >= want or time.time() > deadline:
            return found
        time.sleep(0.5)


def restart(host):
    """SIGKILL, start again; how many executions the new host resumed."""
    host.kill_hard()
    host.start()
    m = re.search(r"durable: (\d+) executions resumed", host.stderr())
    return int(m.group(1)) if m else 0


def test_sigkill_during_waits_callbacks_and_retries_loses_nothing(host, step_log):
    arns = start_all(host)
    assert len(arns) == EXECUTIONS
    time.sleep(1.5)
    # Most executions are in their 2 s wait.
    assert restart(host) == EXECUTIONS

    # Killed again while callbacks are pending (the ids survive the restart).
    ids = callback_ids(host, arns, want=EXECUTIONS // 2)
    assert restart(host) == EXECUTIONS
    ids = callback_ids(host, arns, want=EXECUTIONS)
    assert len(ids) == EXECUTIONS, f"{EXECUTIONS - len(ids)} executions never reached their callback"
    for name, callback_id in ids.items():
        host.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=name.encode())
    time.sleep(0.7)
    assert restart(host) > 0  # during the flaky step's 1 s retry delay

    deadline = time.time() + 180
    pending = dict(arns)
    results = {}
    while pending and time.time() < deadline:
        for name, arn in list(pending.items()):
            e = host.client.get_durable_execution(DurableExecutionArn=arn)
            if e["Status"] != "RUNNING":
                results[name] = e
                del pending[name]
        time.sleep(0.5)
    assert not pending, f"{len(pending)} executions did not finish, e.g. {next(iter(pending))}"
    for name, e in results.items():
        assert e["Status"] == "SUCCEEDED", (name, e.get("Error"))
        assert json.loads(e["Result"]) == {"name": name, "approval": name}

    runs = defaultdict(list)
    for line in step_log.read_text().splitlines():
        name, label, at = line.split()
        runs[(name, label)].append(float(at))
    late = []
    for name, events in histories(host, arns).items():
        for e in events:
            if e["EventType"] == "StepSucceeded":
                checkpointed = e["EventTimestamp"].timestamp()
                late += [(name, e["Name"]) for at in runs[(name, e["Name"])] if at > checkpointed]
        assert [e["EventType"] for e in events].count("WaitSucceeded") == 1, name
    assert not late, f"step bodies ran again after their result was checkpointed: {late[:10]}"
    for name in arns:
        assert runs[(name, "two")], f"{name}: the last step never ran"
        assert len(runs[(name, "flaky")]) >= 2, f"{name}: the retried step ran once"
