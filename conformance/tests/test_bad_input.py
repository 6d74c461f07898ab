"""Bad requests to the Invoke API: unknown function, bad payloads."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import python_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({"echo-python": python_function()})


def error_of(host, method, path, body=b""):
    status, headers, raw = host.http(method, path, body)
    code = headers.get("x-amzn-errortype", "").split(":")[0]
    return status, code, json.loads(raw) if raw else {}


def message(doc):
    return doc.get("message") or doc.get("Message") or ""


def test_unknown_function(host):
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="no-such-function", Payload=b"{}")
    e = err.value.response
    assert e["Error"]["Code"] == "ResourceNotFoundException"
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 404
    # Invoke names the version it looked for ($LATEST), as the service's recorded answers do.
    assert re.fullmatch(r"Function not found: arn:aws:lambda:us-east-1:\d{12}:function:no-such-function:\$LATEST",
                        e["Error"]["Message"]), e["Error"]["Message"]
    status, code, doc = error_of(host, "POST", "/2015-03-31/functions/no-such-function/invocations", b"{}")
    assert (status, code) == (404, "ResourceNotFoundException")
    assert doc.get("Type") == "User", doc


def test_unknown_qualifier(host):
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="echo-python", Qualifier="7", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_get_unknown_function(host):
    with pytest.raises(ClientError) as err:
        host.client.get_function(FunctionName="no-such-function")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"{\"a\": 1} trailing"], ids=["broken", "binary", "trailing"])
def test_non_json_payload(host, body):
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="echo-python", Payload=body)
    e = err.value.response
    assert e["Error"]["Code"] == "InvalidRequestContentException"
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Could not parse request body into json" in e["Error"]["Message"]


def test_payload_over_6mb(host):
    body = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    status, code, doc = error_of(host, "POST", "/2015-03-31/functions/echo-python/invocations", body)
    assert (status, code) == (413, "RequestEntityTooLargeException"), doc
    assert doc["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="echo-python", Payload=body)
    assert err.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_payload_just_under_6mb(host):
    body = json.dumps({"blob": "x" * (6 * 1024 * 1024 - 100)}).encode()
    assert len(body) <= 6 * 1024 * 1024
    resp = host.client.invoke(FunctionName="echo-python", Payload=body)
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert len(resp["Payload"].read()) == len(body)


def test_unknown_invocation_type(host):
    status, headers, raw = host.http("POST", "/2015-03-31/functions/echo-python/invocations", b"{}",
                                     {"X-Amz-Invocation-Type": "Sideways"})
    assert 400 <= status < 500, (status, raw)


def test_still_serving(host):
    resp, result = host.invoke("echo-python", {"action": "echo", "ok": True})
    assert result == {"action": "echo", "ok": True}
