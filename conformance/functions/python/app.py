"""Conformance fixture: the behaviours every conformance function implements,
run by the official Python runtime interface client (awslambdaric).
Dispatches on event["action"]."""

import logging
import os
import subprocess
import sys
import time


class CustomError(Exception):
    """awslambdaric reports errorType = the exception's class name: "CustomError"."""


def _context(context):
    cc = context.client_context
    client_context = None
    if cc is not None:
        client_context = {
            "client": None if cc.client is None else {
                k: getattr(cc.client, k, None)
                for k in ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")
            },
            "custom": cc.custom,
            "env": cc.env,
        }
    ident = context.identity
    identity = None
    if ident is not None and (ident.cognito_identity_id or ident.cognito_identity_pool_id):
        identity = {
            "cognito_identity_id": ident.cognito_identity_id,
            "cognito_identity_pool_id": ident.cognito_identity_pool_id,
        }
    remaining = context.get_remaining_time_in_millis()
    return {
        "request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "deadline_ms": int(time.time() * 1000) + remaining,
        "remaining_ms": remaining,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context": client_context,
        "identity": identity,
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def handler(event, context):
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    if action == "echo":
        return event
    if action == "context":
        return _context(context)
    if action == "env":
        return dict(os.environ)
    if action == "error":
        raise CustomError(event.get("message", "boom"))
    if action == "error_plain":
        raise Exception(event.get("message", "boom"))
    if action == "sleep":
        time.sleep(event.get("ms", 0) / 1000.0)
        return {"slept_ms": event.get("ms", 0), "pid": os.getpid(),
                "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API")}
    if action == "crash":
        print("crashing on purpose", flush=True)
        os._exit(1)
    if action == "oom":
        # Allocate and touch 8 MiB blocks until the memory limit kills us (cap 4 GiB).
        blocks = []
        while len(blocks) * 8 < 4096:
            blocks.append(b"\x01" * (8 << 20))
        return {"allocated_mb": len(blocks) * 8}
    if action == "log":
        marker = event.get("marker", "MARK")
        for i in range(event.get("n", 0)):
            print(f"{marker} stdout {i}")
            print(f"{marker} stderr {i}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        return {"logged": event.get("n", 0)}
    if action == "log_event":
        # One logging record of several lines: one log event through the
        # telemetry descriptor (`_LAMBDA_TELEMETRY_LOG_FD`), as on Lambda.
        logging.getLogger().warning("\n".join(event.get("lines", [])))
        return {"logged": True}
    if action == "big":
        # Over the Runtime API's limit: awslambdaric gets a 413 and exits.
        return "x" * event.get("bytes", 7 * 1024 * 1024)
    if action == "pid":
        return {
            "pid": os.getpid(),
            "cwd": os.getcwd(),
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        }
    if action == "spawn":
        # A grandchild of the host: it must die with the sandbox (process group).
        child = subprocess.Popen(["/bin/sleep", "300"], start_new_session=False)
        return {"pid": os.getpid(), "child_pid": child.pid}
    raise ValueError(f"unknown action {action!r}")
