"""An order workflow as a Lambda durable function, written with the official
AWS Durable Execution SDK for Python: reserve the stock (a step, retried on
failure), wait for the payment service to call back with its verdict (up to
an hour, without running meanwhile), give the warehouse a moment (a durable
wait), then ship (a step). Every step's result is checkpointed: when the
function is invoked again after the callback or the wait, the SDK replays
the finished steps from their checkpoints instead of running them again."""

import json

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration


@durable_execution
def handler(event, context: DurableContext):
    order = event["order"]
    reservation = context.step(lambda _: f"reserved {event.get('items', 1)} for {order}", name="reserve")
    payment = context.create_callback(
        name="payment", config=CallbackConfig(timeout=Duration.from_seconds(3600))
    )
    # Whoever takes payments gets the callback id (payment.callback_id; here
    # the README's reader finds it with `flick durable history`) and answers
    # with SendDurableExecutionCallbackSuccess or ...Failure.
    verdict = json.loads(payment.result())
    if verdict.get("status") != "paid":
        return {"order": order, "status": "cancelled", "reservation": reservation}
    context.wait(Duration.from_seconds(2), name="warehouse")
    tracking = context.step(lambda _: f"TRACK-{order}", name="ship")
    return {"order": order, "status": "shipped", "tracking": tracking}
