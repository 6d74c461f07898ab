"""Runs of the `crashy` durable function (durable_app.py) shared by the
crash tests: starting many executions, reading their histories, waiting
for their callbacks, and checking that each finished as if nothing had
happened to the hosts that ran it."""

import json
import threading
import time
from collections import defaultdict

from conftest import shared_dir


def make_step_log(tmp_path_factory, name):
    """The file `crashy` appends its step bodies' runs to: made here,
    writable by all, as each sandbox appends as a user of its own."""
    path = shared_dir(tmp_path_factory, name) / "steps.log"
    path.touch()
    path.chmod(0o666)
    return path


def start_all(host, count):
    """Starts `count` executions of `crashy` (as Event invokes, 8 at a time);
    their ARNs by name."""
    names = [f"exec-{i}" for i in range(count)]
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



def check_all_finished(host, arns, step_log, within=180):
    """Every execution ends SUCCEEDED with its result, its wait fired once,
    and no step body ran again once its result was checkpointed (each
    body's start time against the time its StepSucceeded was recorded)."""
    deadline = time.time() + within
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
