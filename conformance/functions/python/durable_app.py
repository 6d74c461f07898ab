"""Durable functions written with the official AWS Durable Execution SDK for
Python (aws-durable-execution-sdk-python), run by the official runtime
interface client under the host. One handler per behaviour the conformance
suite checks (test_durable.py)."""

import os
import time

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig
from aws_durable_execution_sdk_python.retries import (
    JitterStrategy,
    RetryStrategyConfig,
    create_retry_strategy,
)


@durable_execution
def steps(event, context: DurableContext):
    """Sequential steps: each result checkpointed, replay never reruns them."""
    a = context.step(lambda _: event["n"] + 1, name="add_one")
    b = context.step(lambda _: a * 2, name="double")
    return {"result": b}


def flaky(step_context: StepContext):
    # Fails its first two attempts; the SDK's retry strategy schedules the next.
    if step_context.attempt < 3:
        raise RuntimeError(f"attempt {step_context.attempt} failed")
    return step_context.attempt


@durable_execution
def retry(event, context: DurableContext):
    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=5,
            initial_delay=Duration.from_seconds(1),
            backoff_rate=1,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    attempts = context.step(flaky, name="flaky", config=StepConfig(retry_strategy=strategy))
    return {"attempts": attempts}


@durable_execution
def wait(event, context: DurableContext):
    started = context.step(lambda _: time.time(), name="before")
    context.wait(Duration.from_seconds(event.get("seconds", 2)), name="pause")
    ended = context.step(lambda _: time.time(), name="after")
    return {"waited": ended - started}


@durable_execution
def callback(event, context: DurableContext):
    cb = context.create_callback(
        name="approval",
        config=CallbackConfig(
            timeout=Duration.from_seconds(event.get("timeout", 0)),
            heartbeat_timeout=Duration.from_seconds(event.get("heartbeat", 0)),
        ),
    )
    answer = cb.result()
    return {"approved": answer}


def square(ctx, item, index, items):
    return ctx.step(lambda _: item * item, name=f"square-{index}")


@durable_execution
def fan_out(event, context: DurableContext):
    mapped = context.map(event["items"], square, name="squares")
    branches = context.parallel(
        [lambda ctx: ctx.step(lambda _: "left", name="l"), lambda ctx: ctx.step(lambda _: "right", name="r")],
        name="both",
    )
    return {"squares": mapped.get_results(), "branches": branches.get_results()}


@durable_execution
def child(event, context: DurableContext):
    def inner(ctx: DurableContext):
        x = ctx.step(lambda _: 20, name="inner-step")
        ctx.wait(Duration.from_seconds(1), name="inner-wait")
        return x + 1

    value = context.run_in_child_context(inner, name="group")
    return {"value": value * 2}


@durable_execution
def chained(event, context: DurableContext):
    reply = context.invoke(os.environ["CHAINED_TARGET"], {"n": event["n"]}, name="call")
    return {"reply": reply}


@durable_execution
def sleeper(event, context: DurableContext):
    context.wait(Duration.from_seconds(event.get("seconds", 30)), name="long")
    return "woke"


@durable_execution
def crashy(event, context: DurableContext):
    """For the crash test: a step, a wait, a callback, a step retried once,
    a last step. Each step body that runs appends `NAME LABEL START_TIME` to
    STEP_LOG, so the test can tell whether one ran after its result was
    checkpointed."""
    log = os.environ["STEP_LOG"]
    name = event["name"]

    def record(label, fail_first=False):
        def body(step_context: StepContext):
            with open(log, "a") as f:
                f.write(f"{name} {label} {time.time():.3f}\n")
            if fail_first and step_context.attempt == 1:
                raise RuntimeError("first attempt fails")
            return label

        return body

    once = create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1),
                            jitter_strategy=JitterStrategy.NONE)
    )
    context.step(record("one"), name="one")
    context.wait(Duration.from_seconds(event.get("wait", 2)), name="pause")
    approval = context.create_callback(name="cb").result()
    context.step(record("flaky", fail_first=True), name="flaky", config=StepConfig(retry_strategy=once))
    context.step(record("two"), name="two")
    return {"name": name, "approval": approval}


def echo_handler(event, context):
    """A plain (not durable) function, the target of a chained invoke."""
    return {"echo": event}


def token_probe(event, context):
    """A durable function without the SDK: hands its invocation input to the
    test (through PROBE_DIR) and waits until the test is done checkpointing
    with it, then ends the execution."""
    import json

    probe = os.environ["PROBE_DIR"]
    with open(os.path.join(probe, "input.json"), "w") as f:
        json.dump(event, f)
    deadline = time.time() + 20
    while time.time() < deadline and not os.path.exists(os.path.join(probe, "done")):
        time.sleep(0.05)
    return {"Status": "SUCCEEDED", "Result": json.dumps("probed")}


def snoop(event, context):
    """A hostile durable function (no SDK): with the credentials and endpoint
    the host gives it, it tries to read and steer another function's
    execution, and reads its own. Returns the error code (or "ok") of each."""
    import json

    import boto3
    from botocore.exceptions import ClientError

    own_arn = event["DurableExecutionArn"]
    payload = json.loads(event["InitialExecutionState"]["Operations"][0]["ExecutionDetails"]["InputPayload"])
    target, target_function = payload["target"], payload["target_function"]
    client = boto3.client("lambda")
    attempts = {
        "get_other": lambda: client.get_durable_execution(DurableExecutionArn=target),
        "history_other": lambda: client.get_durable_execution_history(DurableExecutionArn=target),
        "list_other": lambda: client.list_durable_executions_by_function(FunctionName=target_function),
        "stop_other": lambda: client.stop_durable_execution(DurableExecutionArn=target),
        "get_own": lambda: client.get_durable_execution(DurableExecutionArn=own_arn),
    }
    seen = {}
    for name, call in attempts.items():
        try:
            call()
            seen[name] = "ok"
        except ClientError as e:
            seen[name] = e.response["Error"]["Code"]
    seen["admin"] = admin_status(client, context.function_name)
    return {"Status": "SUCCEEDED", "Result": json.dumps(seen)}


def admin_status(client, name):
    """The host's admin API (recycle this function's sandboxes), signed with
    the function's key: its HTTP status."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = f"{os.environ['AWS_ENDPOINT_URL_LAMBDA']}/_flick/functions/{name}/recycle"
    request = AWSRequest(method="POST", url=url, data=b"")
    SigV4Auth(client._request_signer._credentials, "lambda", os.environ["AWS_REGION"]).add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST",
                                                           headers=dict(request.headers)), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
