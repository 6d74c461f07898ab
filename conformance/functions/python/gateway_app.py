"""Conformance fixture for the HTTP gateway, run by awslambdaric.

Dispatches on the last segment of the request path (payload 2.0 `rawPath`,
1.0 `path`) and answers each response shape API Gateway knows:

  .../echo         the event itself, as a JSON body (structured response), with the
                   invocation's request id in `x-lambda-request-id`
  .../bare         a bare object (2.0: a 200 application/json of the object)
  .../string       a bare JSON string
  .../structured   status 201, headers, multi-value headers, cookies, a text body
  .../binary       bytes 0..255 as a base64 body
  .../roundtrip    the request body back, with its content type and encoding
  .../cookies      each request cookie back as a Set-Cookie
  .../error        raises: a function error
  .../sleep        sleeps past the timeout
  .../slow         sleeps 1.5 s, then answers
  .../malformed    (1.0) an object without statusCode
"""

import base64
import json
import time


def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    action = path.rstrip("/").rsplit("/", 1)[-1]
    if action == "bare":
        return {"bare": True, "n": 1}
    if action == "string":
        return "just a string"
    if action == "structured":
        return {
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-single": "one"},
            "multiValueHeaders": {"x-multi": ["1", "2"]},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": "made",
            "isBase64Encoded": False,
        }
    if action == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    if action == "roundtrip":
        headers = event.get("headers") or {}
        content_type = headers.get("content-type") or headers.get("Content-Type") or "application/octet-stream"
        return {
            "statusCode": 200,
            "headers": {"content-type": content_type},
            "body": event.get("body") or "",
            "isBase64Encoded": event.get("isBase64Encoded", False),
        }
    if action == "cookies":
        return {"statusCode": 200, "cookies": [c + "; Path=/" for c in event.get("cookies", [])], "body": ""}
    if action == "error":
        raise RuntimeError("the function failed on purpose")
    if action == "sleep":
        time.sleep(10)
    if action == "slow":
        time.sleep(1.5)
        return {"statusCode": 200, "body": "slow"}
    if action == "malformed":
        return {"no": "status"}
    # The Lambda request id is the invocation's own, not the gateway's.
    headers = {"content-type": "application/json", "x-lambda-request-id": context.aws_request_id}
    return {"statusCode": 200, "headers": headers, "body": json.dumps(event)}
