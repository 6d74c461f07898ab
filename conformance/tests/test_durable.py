"""Durable functions (Lambda's durable executions) on the host, with the
official AWS Durable Execution SDK for Python under the official runtime
interface client, called with boto3 and with the SDK's own testing package:

- steps, a retried step, a wait, a callback completed through boto3,
  map/parallel, a child context, chained invokes, stop, execution timeout;
- results and operations compared with the testing package's local
  reference executor, and its cloud runner passing against the host;
- the checkpoint service's refusals (tokens, updates, limits), in the
  service's error types and words.

The crash test (SIGKILL during waits, callbacks and retries) is in
test_durable_crash.py."""

import json
import os
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import FUNCTIONS, REPO, HostExited, function_python, python_function, shared_dir

ARN_RE = (r"^arn:aws:lambda:us-east-1:000000000000:function:{fn}:\$LATEST"
          r"/durable-execution/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$")


def durable(handler, timeout_s=60, **extra):
    return python_function(f"durable_app.{handler}", timeout_s=10,
                           durable={"execution_timeout_s": timeout_s}, **extra)


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    return shared_dir(tmp_path_factory, "durable-probe")


@pytest.fixture(scope="module")
def host(make_host, probe_dir):
    functions = {
        "steps": durable("steps"),
        "retry": durable("retry"),
        "wait": durable("wait"),
        "callback": durable("callback"),
        "fan-out": durable("fan_out"),
        "child": durable("child"),
        "chained": durable("chained", env={"CHAINED_TARGET": "echo:$LATEST"}),
        "chained-durable": durable("chained", env={"CHAINED_TARGET": "steps:$LATEST"}),
        "sleeper": durable("sleeper"),
        "short": durable("sleeper", timeout_s=2),
        "probe": durable("token_probe", env={"PROBE_DIR": str(probe_dir)}, timeout_s=120),
        "echo": python_function("durable_app.echo_handler"),
        "snoop": durable("snoop"),
        # The README's worked example, under the suite's environment (same SDK).
        "order": python_function("order.handler", workdir=str(REPO / "examples" / "durable-order"),
                                 timeout_s=10, durable={"execution_timeout_s": 600}),
    }
    return make_host(functions, name="durable")


def arn_of(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-durable-execution-arn"]


def start(host, fn, payload, name=None):
    kwargs = {"DurableExecutionName": name} if name else {}
    resp = host.client.invoke(FunctionName=fn, InvocationType="Event",
                              Payload=json.dumps(payload), **kwargs)
    assert resp["StatusCode"] == 202
    return arn_of(resp)


def wait_end(host, arn, timeout=30):
    deadline = time.time() + timeout
    while True:
        e = host.client.get_durable_execution(DurableExecutionArn=arn)
        if e["Status"] not in ("RUNNING", "PAUSING", "PAUSED") or time.time() > deadline:
            return e
        time.sleep(0.1)


def history(host, arn):
    events, marker = [], None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = host.client.get_durable_execution_history(DurableExecutionArn=arn, **kwargs)
        events += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            return events


def event_types(events, name=None):
    return [e["EventType"] for e in events if name is None or e.get("Name") == name]


def runners(host, fn, handler, payload, *extra):
    out = subprocess.run(
        [function_python(), str(FUNCTIONS.parent / "tools" / "durable_runners.py"), host.endpoint,
         f"{fn}:$LATEST", f"durable_app.{handler}", json.dumps(payload), *extra],
        capture_output=True, text=True, timeout=180, cwd=FUNCTIONS / "python",
        env=dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_DEFAULT_REGION="us-east-1"),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------
# running durable functions


def test_sequential_steps_answer_a_synchronous_invoke_with_the_result(host):
    resp, result = host.invoke("steps", {"n": 4})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert result == {"result": 10}
    arn = arn_of(resp)
    assert re.match(ARN_RE.format(fn="steps"), arn), arn
    e = host.client.get_durable_execution(DurableExecutionArn=arn)
    assert e["Status"] == "SUCCEEDED" and json.loads(e["Result"]) == {"result": 10}
    assert json.loads(e["InputPayload"]) == {"n": 4}
    assert e["FunctionArn"].endswith(":function:steps:$LATEST")
    events = history(host, arn)
    assert event_types(events) == [
        "ExecutionStarted", "StepStarted", "StepSucceeded", "StepStarted", "StepSucceeded",
        "InvocationCompleted", "ExecutionSucceeded"]
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    add_one = [e for e in events if e.get("Name") == "add_one" and e["EventType"] == "StepSucceeded"][0]
    assert add_one["StepSucceededDetails"]["Result"]["Payload"] == "5"


def test_a_failing_step_is_retried_by_its_retry_strategy(host):
    arn = start(host, "retry", {})
    e = wait_end(host, arn)
    assert e["Status"] == "SUCCEEDED", e
    assert json.loads(e["Result"]) == {"attempts": 3}
    events = history(host, arn)
    flaky = [ev for ev in events if ev.get("Name") == "flaky"]
    assert [ev["EventType"] for ev in flaky] == [
        "StepStarted", "StepFailed", "StepStarted", "StepFailed", "StepStarted", "StepSucceeded"]
    failed = [ev["StepFailedDetails"] for ev in flaky if ev["EventType"] == "StepFailed"]
    assert [f["RetryDetails"]["CurrentAttempt"] for f in failed] == [1, 2]
    assert all(f["RetryDetails"]["NextAttemptDelaySeconds"] == 1 for f in failed)
    assert "attempt 1 failed" in failed[0]["Error"]["Payload"]["ErrorMessage"]
    # Each retry waited its delay, in a new invocation of the function.
    starts = [ev["EventTimestamp"] for ev in flaky if ev["EventType"] == "StepStarted"]
    assert all((b - a).total_seconds() >= 0.9 for a, b in zip(starts, starts[1:])), starts
    assert event_types(events).count("InvocationCompleted") == 3


def test_a_wait_suspends_the_execution_and_a_timer_resumes_it(host):
    resp, result = host.invoke("wait", {"seconds": 2})
    assert resp["StatusCode"] == 200 and result["waited"] >= 2.0, result
    events = history(host, arn_of(resp))
    started = [e for e in events if e["EventType"] == "WaitStarted"][0]
    assert started["WaitStartedDetails"]["Duration"] == 2
    assert event_types(events, "pause") == ["WaitStarted", "WaitSucceeded"]
    # Two invocations: one up to the wait, one after it (the replay).
    assert event_types(events).count("InvocationCompleted") == 2


def callback_id_of(host, arn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in history(host, arn):
            if e["EventType"] == "CallbackStarted":
                return e["CallbackStartedDetails"]["CallbackId"]
        time.sleep(0.1)
    raise AssertionError("no CallbackStarted event")


def test_a_callback_completed_through_boto3_resumes_the_execution(host):
    arn = start(host, "callback", {})
    callback_id = callback_id_of(host, arn)
    host.client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    # The SDK hands the callback's result over as sent (no serdes configured).
    host.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"yes")
    e = wait_end(host, arn)
    assert e["Status"] == "SUCCEEDED" and json.loads(e["Result"]) == {"approved": "yes"}
    assert event_types(history(host, arn), "approval") == ["CallbackStarted", "CallbackSucceeded"]
    # A callback that has completed cannot be completed or heartbeaten again.
    for send in (lambda: host.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"1"),
                 lambda: host.client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)):
        with pytest.raises(ClientError) as err:
            send()
        assert err.value.response["Error"]["Code"] == "CallbackTimeoutException"
    with pytest.raises(ClientError) as err:
        host.client.send_durable_execution_callback_success(CallbackId="AAAA" * 16, Result=b"1")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_failed_callback_fails_the_execution_with_its_error(host):
    arn = start(host, "callback", {})
    callback_id = callback_id_of(host, arn)
    host.client.send_durable_execution_callback_failure(
        CallbackId=callback_id, Error={"ErrorType": "Rejected", "ErrorMessage": "no way"})
    e = wait_end(host, arn)
    assert e["Status"] == "FAILED", e
    assert "no way" in json.dumps(e["Error"])
    failed = [ev for ev in history(host, arn) if ev["EventType"] == "CallbackFailed"][0]
    assert failed["CallbackFailedDetails"]["Error"]["Payload"]["ErrorType"] == "Rejected"


def test_callback_timeouts_are_enforced(host):
    arn = start(host, "callback", {"timeout": 1})
    e = wait_end(host, arn)
    assert e["Status"] == "FAILED", e
    timed_out = [ev for ev in history(host, arn) if ev["EventType"] == "CallbackTimedOut"][0]
    assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Timeout"
    # A heartbeat timeout: heartbeats keep the callback alive, their absence ends it.
    arn = start(host, "callback", {"heartbeat": 2})
    callback_id = callback_id_of(host, arn)
    for _ in range(3):
        time.sleep(1)
        host.client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert host.client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    e = wait_end(host, arn)
    assert e["Status"] == "FAILED"
    timed_out = [ev for ev in history(host, arn) if ev["EventType"] == "CallbackTimedOut"][0]
    assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"


def test_map_parallel_and_child_contexts_match_the_reference_executor(host):
    for fn, handler, payload in [("fan-out", "fan_out", {"items": [1, 2, 3]}), ("child", "child", {}),
                                 ("steps", "steps", {"n": 1}), ("retry", "retry", {})]:
        seen = runners(host, fn, handler, payload)
        assert seen["cloud"]["status"] == "SUCCEEDED", seen
        assert seen["cloud"] == seen["local"], f"{fn}: host and reference executor differ:\n{seen}"
    assert json.loads(runners(host, "fan-out", "fan_out", {"items": [2, 5]}, "--cloud-only")["cloud"]["result"]) == {
        "squares": [4, 25], "branches": ["left", "right"]}


def test_the_cloud_runner_completes_a_callback_through_the_host(host):
    seen = runners(host, "callback", "callback", {}, "--callback", "ok", "--cloud-only")
    assert seen["cloud"]["status"] == "SUCCEEDED", seen
    assert json.loads(seen["cloud"]["result"]) == {"approved": "ok"}
    assert [op["type"] for op in seen["cloud"]["operations"]] == ["CALLBACK"]


def test_chained_invokes_call_plain_and_durable_functions(host):
    resp, result = host.invoke("chained", {"n": 7})
    assert result == {"reply": {"echo": {"n": 7}}}, result
    events = history(host, arn_of(resp))
    started = [e for e in events if e["EventType"] == "ChainedInvokeStarted"][0]
    assert started["ChainedInvokeStartedDetails"]["FunctionName"] == "echo:$LATEST"
    assert event_types(events, "call") == ["ChainedInvokeStarted", "ChainedInvokeSucceeded"]
    # A durable target runs as an execution of its own.
    resp, result = host.invoke("chained-durable", {"n": 4})
    assert result == {"reply": {"result": 10}}, result
    # A durable target runs as an execution of its own, named after the
    # parent's operation (64 hex digits), so a replay finds it again.
    listed = host.client.list_durable_executions_by_function(FunctionName="steps")["DurableExecutions"]
    children = [x for x in listed if re.fullmatch(r"[0-9a-f]{64}", x["DurableExecutionName"])]
    assert len(children) == 1, listed
    child = host.client.get_durable_execution(DurableExecutionArn=children[0]["DurableExecutionArn"])
    assert json.loads(child["InputPayload"]) == {"n": 4} and child["Status"] == "SUCCEEDED"


def test_stop_ends_a_running_execution(host):
    arn = start(host, "sleeper", {"seconds": 60})
    time.sleep(1)
    stopped = host.client.stop_durable_execution(
        DurableExecutionArn=arn, Error={"ErrorType": "Cancelled", "ErrorMessage": "by the test"})
    e = host.client.get_durable_execution(DurableExecutionArn=arn)
    assert e["Status"] == "STOPPED" and e["Error"]["ErrorMessage"] == "by the test"
    assert e["EndTimestamp"] == stopped["StopTimestamp"]
    # Stopping again answers with the first stop.
    again = host.client.stop_durable_execution(DurableExecutionArn=arn)
    assert again["StopTimestamp"] == stopped["StopTimestamp"]
    assert event_types(history(host, arn))[-1] == "ExecutionStopped"


def test_an_execution_times_out_after_its_execution_timeout(host):
    arn = start(host, "short", {"seconds": 30})
    e = wait_end(host, arn, timeout=15)
    assert e["Status"] == "TIMED_OUT", e
    assert e["Error"]["ErrorMessage"] == "Execution timed out after 2 seconds."
    assert (e["EndTimestamp"] - e["StartTimestamp"]).total_seconds() < 4


def test_an_execution_name_starts_one_execution(host):
    first = start(host, "sleeper", {"seconds": 1}, name="only-once")
    again = start(host, "sleeper", {"seconds": 1}, name="only-once")
    assert first == again and "/durable-execution/only-once/" in first
    with pytest.raises(ClientError) as err:
        start(host, "sleeper", {"seconds": 2}, name="only-once")
    assert err.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as err:
        start(host, "sleeper", {}, name="not a name!")
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_executions_are_listed_by_function_newest_first_with_filters(host):
    arns = [start(host, "sleeper", {"seconds": 60}, name=f"listed-{i}") for i in range(3)]
    host.client.stop_durable_execution(DurableExecutionArn=arns[0])
    listed = host.client.list_durable_executions_by_function(FunctionName="sleeper", MaxItems=1000)
    mine = [x["DurableExecutionArn"] for x in listed["DurableExecutions"] if x["DurableExecutionArn"] in arns]
    assert mine == arns[::-1]
    running = host.client.list_durable_executions_by_function(FunctionName="sleeper", Statuses=["RUNNING"])
    names = {x["DurableExecutionName"] for x in running["DurableExecutions"]}
    assert {"listed-1", "listed-2"} <= names and "listed-0" not in names
    page = host.client.list_durable_executions_by_function(FunctionName="sleeper", MaxItems=1)
    assert len(page["DurableExecutions"]) == 1 and page["NextMarker"]
    for arn in arns[1:]:
        host.client.stop_durable_execution(DurableExecutionArn=arn)
    with pytest.raises(ClientError) as err:
        host.client.list_durable_executions_by_function(FunctionName="nope")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


# ---------------------------------------------------------------------------
# the checkpoint service's refusals


def probe_input(probe_dir, timeout=15):
    path = probe_dir / "input.json"
    deadline = time.time() + timeout
    while not path.exists():
        assert time.time() < deadline, "the probe function never ran"
        time.sleep(0.05)
    time.sleep(0.05)
    return json.loads(path.read_text())


def test_the_checkpoint_service_refuses_bad_tokens_and_updates(host, probe_dir):
    for leftover in ("input.json", "done"):
        (probe_dir / leftover).unlink(missing_ok=True)
    arn = start(host, "probe", {})
    given = probe_input(probe_dir)
    assert given["DurableExecutionArn"] == arn
    ops = given["InitialExecutionState"]["Operations"]
    assert ops[0]["Type"] == "EXECUTION" and ops[0]["Id"] == arn.rsplit("/", 1)[1]
    assert isinstance(ops[0]["StartTimestamp"], int), "the invocation input carries epoch milliseconds"
    c, token = host.client, given["CheckpointToken"]

    def refused(updates, tok=None, code="InvalidParameterValueException"):
        with pytest.raises(ClientError) as err:
            c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=tok or token, Updates=updates)
        assert err.value.response["Error"]["Code"] == code
        return err.value.response["Error"]["Message"]

    assert refused([], tok="bm90LWEtdG9rZW4=") == "Invalid checkpoint token"
    assert refused([{"Id": "w", "Type": "WAIT", "Action": "SUCCEED"}]) == "Invalid action for the given operation type."
    assert refused([{"Id": "s", "Type": "STEP", "Action": "RETRY"}]) == "Invalid StepOptions for the given action."
    assert refused([{"Id": "s", "Type": "STEP", "Action": "START", "ParentId": "nobody"}]) == "Invalid parent operation id."
    assert refused([{"Id": "x", "Type": "CHAINED_INVOKE", "Action": "START"}]) == (
        "Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.")
    assert refused([{"Id": "s", "Type": "STEP", "Action": "FAIL",
                     "Error": {"ErrorMessage": "x" * 40000}}]).startswith("Error object size must be less than 32768")
    assert refused([{"Id": "a", "Type": "EXECUTION", "Action": "SUCCEED"},
                    {"Id": "s", "Type": "STEP", "Action": "START"}]) == "EXECUTION checkpoint must be the last update."
    # Nothing of a refused checkpoint was kept: the token still works.
    start_s1 = [{"Id": "s1", "Type": "STEP", "Action": "START", "Name": "one"}]
    done = c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token,
                                          Updates=start_s1, ClientToken="retry-1")
    assert [op["Id"] for op in done["NewExecutionState"]["Operations"]] == ["s1"]
    # A retry of that request (same client token, same token) gets the same answer.
    retry = c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token,
                                           Updates=start_s1, ClientToken="retry-1")
    assert retry["CheckpointToken"] == done["CheckpointToken"]
    assert done["NewExecutionState"]["Operations"][0]["Status"] == "STARTED"
    assert refused([], tok=token).startswith("Invalid checkpoint token"), "a used token is refused"
    again = c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=done["CheckpointToken"], Updates=[
        {"Id": "s1", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"}])
    assert again["NewExecutionState"]["Operations"][0]["Status"] == "SUCCEEDED"
    assert refused([{"Id": "s1", "Type": "STEP", "Action": "START"}], tok=again["CheckpointToken"]) == (
        "Invalid current STEP state to start.")
    state = c.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken=again["CheckpointToken"])
    assert [op["Type"] for op in state["Operations"]] == ["EXECUTION", "STEP"]
    (probe_dir / "done").write_text("")
    assert wait_end(host, arn)["Status"] == "SUCCEEDED"
    assert refused([], tok=again["CheckpointToken"]) == "Invalid checkpoint token", "no token outlives its execution"
    with pytest.raises(ClientError) as err:
        c.get_durable_execution(DurableExecutionArn=arn.replace("/durable-execution/", "/durable-execution/x"))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_durable_config_is_checked_in_the_manifest(host_factory):
    bad = host_factory({"f": python_function("durable_app.steps", durable={"retention_days": 3})},
                       start=False, name="durable-bad")
    with pytest.raises(HostExited) as err:
        bad.start()
    assert bad.proc.returncode == 2
    assert "functions.f.durable.execution_timeout_s: required" in str(err.value)


def test_flick_durable_lists_shows_and_steers_executions(host):
    def flick(*args):
        out = host.flick("durable", "--endpoint", host.endpoint, *args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    arn = start(host, "callback", {}, name="cli-callback")
    callback_id = callback_id_of(host, arn)
    listed = flick("list", "callback", "--status", "RUNNING")
    assert "cli-callback" in listed and "RUNNING" in listed
    assert "CallbackStarted" in flick("history", arn)
    assert json.loads(flick("show", arn, "--json"))["Status"] == "RUNNING"
    assert "done" in flick("callback", callback_id, "--succeed", "from-the-cli")
    assert wait_end(host, arn)["Status"] == "SUCCEEDED"
    shown = flick("show", arn)
    assert "SUCCEEDED" in shown and "from-the-cli" in shown

    sleeping = start(host, "sleeper", {"seconds": 60}, name="cli-stop")
    flick("stop", sleeping, "--message", "enough")
    e = host.client.get_durable_execution(DurableExecutionArn=sleeping)
    assert e["Status"] == "STOPPED" and e["Error"]["ErrorMessage"] == "enough"
    refused = host.flick("durable", "--endpoint", host.endpoint, "callback", callback_id, "--heartbeat")
    assert refused.returncode == 1 and "CallbackTimeoutException" in refused.stderr


def test_the_readme_order_workflow(host):
    outcomes = {}
    for order, verdict in (("42", "paid"), ("43", "declined")):
        resp = host.client.invoke(FunctionName="order", InvocationType="Event", DurableExecutionName=f"order-{order}",
                                  Payload=json.dumps({"order": order, "items": 3}))
        arn = arn_of(resp)
        callback_id = callback_id_of(host, arn)
        host.client.send_durable_execution_callback_success(
            CallbackId=callback_id, Result=json.dumps({"status": verdict}).encode())
        e = wait_end(host, arn)
        assert e["Status"] == "SUCCEEDED", e
        outcomes[order] = json.loads(e["Result"])
        steps = [ev["Name"] for ev in history(host, arn) if ev["EventType"] == "StepSucceeded"]
        assert steps == (["reserve", "ship"] if verdict == "paid" else ["reserve"])
    assert outcomes["42"] == {"order": "42", "status": "shipped", "tracking": "TRACK-42"}
    assert outcomes["43"]["status"] == "cancelled"


def control(host, arn, verb, body=None):
    """Pause or resume through the API (the suite's boto3 predates them)."""
    from urllib.parse import quote
    status, headers, data = host.http("POST", f"/2025-12-01/durable-executions/{quote(arn, safe='')}/{verb}",
                                      json.dumps(body or {}).encode(), {"Content-Type": "application/json"})
    return status, headers.get("x-amzn-errortype"), data


def status_becomes(host, arn, wanted, timeout=10):
    deadline = time.time() + timeout
    while True:
        status = host.client.get_durable_execution(DurableExecutionArn=arn)["Status"]
        if status == wanted or time.time() > deadline:
            return status
        time.sleep(0.05)


def test_a_paused_execution_is_not_invoked_until_resumed(host):
    arn = start(host, "sleeper", {"seconds": 2})
    time.sleep(0.8)  # invoked once, now waiting (or, on a slow machine, at its wait's checkpoint)
    assert control(host, arn, "pause", {"Reason": "maintenance"})[0] == 202
    assert status_becomes(host, arn, "PAUSED") == "PAUSED"
    time.sleep(2.5)  # the wait ends meanwhile, but nothing runs
    events = history(host, arn)
    assert "WaitSucceeded" in event_types(events)
    assert event_types(events).count("InvocationCompleted") == 1
    assert host.client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSED"
    assert control(host, arn, "pause")[:2] == (409, "ResourceConflictException")
    assert control(host, arn, "resume", {"Reason": "done"})[0] == 202
    e = wait_end(host, arn)
    assert e["Status"] == "SUCCEEDED" and json.loads(e["Result"]) == "woke"
    types = event_types(history(host, arn))
    assert types.index("ExecutionPaused") < types.index("ExecutionResumed") < types.index("ExecutionSucceeded")
    assert control(host, arn, "resume")[:2] == (409, "ResourceConflictException")


def test_a_pause_stops_the_execution_timeout_unless_told_otherwise(host):
    arn = start(host, "short", {"seconds": 30})  # 2 s execution timeout
    assert control(host, arn, "pause")[0] == 202
    time.sleep(3)
    assert host.client.get_durable_execution(DurableExecutionArn=arn)["Status"] in ("PAUSING", "PAUSED")
    assert control(host, arn, "resume")[0] == 202
    assert wait_end(host, arn, timeout=10)["Status"] == "TIMED_OUT"
    arn = start(host, "short", {"seconds": 30})
    assert control(host, arn, "pause", {"ExecutionTimeoutPaused": False})[0] == 202
    assert wait_end(host, arn, timeout=10)["Status"] == "TIMED_OUT", "the timeout ran on while paused"


def test_a_pause_during_an_invocation_takes_effect_at_its_next_checkpoint(host, probe_dir):
    for leftover in ("input.json", "done"):
        (probe_dir / leftover).unlink(missing_ok=True)
    arn = start(host, "probe", {})
    token = probe_input(probe_dir)["CheckpointToken"]
    assert control(host, arn, "pause")[0] == 202
    assert host.client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSING"
    answer = host.client.checkpoint_durable_execution(
        DurableExecutionArn=arn, CheckpointToken=token, Updates=[{"Id": "s", "Type": "STEP", "Action": "START"}])
    assert "CheckpointToken" not in answer, "no token: the SDK stops and returns PENDING"
    assert host.client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSED"
    (probe_dir / "done").write_text("")
    assert control(host, arn, "resume")[0] == 202


SNOOPED = {"get_other": "AccessDeniedException", "history_other": "AccessDeniedException",
           "list_other": "AccessDeniedException", "stop_other": "AccessDeniedException", "get_own": "ok"}


def test_a_function_cannot_read_or_steer_another_functions_executions(host):
    target = start(host, "sleeper", {"seconds": 60})
    resp, result = host.invoke("snoop", {"target": target, "target_function": "sleeper"})
    assert result.pop("admin") != 200, "the admin API is not served inside a sandbox's network"
    assert result == SNOOPED, result
    assert host.client.get_durable_execution(DurableExecutionArn=target)["Status"] == "RUNNING"
    host.client.stop_durable_execution(DurableExecutionArn=target)


def test_with_access_keys_each_function_signs_with_a_key_of_its_own(host_factory):
    """On the host's own network (no private copy of the API to say who
    calls), the key a function is given says it."""
    keyed = host_factory({
        "sleeper": durable("sleeper", network="host"),
        "snoop": durable("snoop", network="host"),
    }, server={"auth": {"keys": [{"access_key_id": "conformance", "secret_access_key": "conformance"}]}},
        name="durable-keys")
    target = start(keyed, "sleeper", {"seconds": 60})
    resp, result = keyed.invoke("snoop", {"target": target, "target_function": "sleeper"})
    assert result.pop("admin") == 403, "the admin API takes the operator's keys only"
    assert result == SNOOPED, result
    keyed.client.stop_durable_execution(DurableExecutionArn=target)
    keyed.stop()


def test_delete_forgets_an_ended_execution_only(host):
    from urllib.parse import quote
    arn = start(host, "sleeper", {"seconds": 60})
    path = f"/2025-12-01/durable-executions/{quote(arn, safe='')}"
    status, headers, _ = host.http("DELETE", path)
    assert (status, headers.get("x-amzn-errortype")) == (409, "ResourceConflictException"), "not while it runs"
    host.client.stop_durable_execution(DurableExecutionArn=arn)
    status, _, body = host.http("DELETE", path)
    assert status == 202 and "DeletionRequestTimestamp" in json.loads(body)
    with pytest.raises(ClientError) as err:
        host.client.get_durable_execution(DurableExecutionArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    names = [x["DurableExecutionArn"] for x in
             host.client.list_durable_executions_by_function(FunctionName="sleeper", MaxItems=1000)["DurableExecutions"]]
    assert arn not in names
