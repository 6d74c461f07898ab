"""Runs a durable function through the AWS durable-execution testing
package's two runners and prints what each saw, as JSON:

- "cloud": DurableFunctionCloudTestRunner against the host's Lambda endpoint
  (the runner AWS ships for testing functions deployed on Lambda);
- "local": DurableFunctionTestRunner, the package's in-process reference
  executor, on the same handler (omitted with --cloud-only).

Run with the functions' environment (conformance/functions/python/.venv),
whose boto3 knows the durable-execution API:

    durable_runners.py ENDPOINT FUNCTION MODULE.HANDLER INPUT_JSON [--callback RESULT] [--cloud-only]
"""

import argparse
import importlib
import json
import os
import sys


def summary(result):
    """What both runners must agree on: status, result, error type and the
    operation tree (names, types, statuses, attempts), not ids or times."""

    def ops(operations):
        out = []
        for op in operations:
            item = {
                "name": op.name,
                "type": op.operation_type.value,
                "status": op.status.value,
                "sub_type": op.sub_type,
            }
            if getattr(op, "attempt", None) is not None and op.operation_type.value == "STEP":
                item["attempt"] = op.attempt
            children = getattr(op, "child_operations", None)
            if children:
                item["children"] = ops(children)
            out.append(item)
        return out

    error = result.error
    return {
        "status": result.status.value,
        "result": result.result,
        "error_type": error.type if error else None,
        "operations": ops(result.operations),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("function")
    parser.add_argument("handler")
    parser.add_argument("input")
    parser.add_argument("--callback", help="complete the function's callback with this result")
    parser.add_argument("--cloud-only", action="store_true")
    args = parser.parse_args()
    payload = json.loads(args.input)

    from aws_durable_execution_sdk_python_testing.runner import (
        DurableFunctionCloudTestRunner,
        DurableFunctionTestRunner,
    )

    out = {}
    cloud = DurableFunctionCloudTestRunner(
        function_name=args.function, region="us-east-1", lambda_endpoint=args.endpoint, poll_interval=0.2
    )
    if args.callback is None:
        out["cloud"] = summary(cloud.run(input=payload, timeout=60))
    else:
        arn = cloud.run_async(input=payload, timeout=60)
        callback_id = cloud.wait_for_callback(execution_arn=arn, timeout=30)
        cloud.send_callback_success(callback_id=callback_id, result=args.callback.encode())
        out["cloud"] = summary(cloud.wait_for_result(execution_arn=arn, timeout=60))
        out["callback_id"] = callback_id
    if not args.cloud_only:
        # The handler's module is in the folder the script runs in (the functions').
        sys.path.insert(0, os.getcwd())
        module, name = args.handler.rsplit(".", 1)
        handler = getattr(importlib.import_module(module), name)
        with DurableFunctionTestRunner(handler=handler, poll_interval=0.2) as local:
            out["local"] = summary(local.run(input=json.dumps(payload), execution_timeout=60))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
