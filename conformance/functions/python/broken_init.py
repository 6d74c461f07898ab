"""Conformance fixture: a handler module whose import fails at init.
awslambdaric catches the exception, posts /runtime/init/error and exits 1."""

raise RuntimeError("flick conformance: init failed on purpose")


def handler(event, context):  # never reached
    return event
