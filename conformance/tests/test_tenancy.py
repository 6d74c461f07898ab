"""Tenant isolation (`tenancy = "per_tenant"`, Lambda's PER_TENANT mode): the
caller's X-Amz-Tenant-Id reaches the runtime as Lambda-Runtime-Aws-Tenant-Id,
each sandbox serves one tenant only, and a tenant id goes with, and only
with, a function in that mode (InvalidParameterValueException otherwise)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import raw_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({
        "isolated": raw_function(tenancy="per_tenant", max_concurrency=2),
        "shared": raw_function(),
    })


def tenant_invoke(host, name, tenant, payload):
    resp = host.client.invoke(FunctionName=name, TenantId=tenant, Payload=json.dumps(payload).encode())
    return json.loads(resp["Payload"].read())


def test_each_tenant_has_sandboxes_of_its_own(host):
    pids = {t: {tenant_invoke(host, "isolated", t, {"action": "pid"})["pid"] for _ in range(3)}
            for t in ("acme", "globex")}
    assert len(pids["acme"]) == 1 and len(pids["globex"]) == 1, pids
    assert pids["acme"] != pids["globex"], "a tenant's invocation must never run in another's sandbox"
    headers = tenant_invoke(host, "isolated", "acme", {"action": "headers"})["headers"]
    assert headers["lambda-runtime-aws-tenant-id"] == "acme"


def test_a_new_tenant_takes_the_place_of_an_idle_one_at_the_limit(host):
    # max_concurrency 2 is taken by acme and globex, both idle: a third tenant
    # gets a sandbox of its own in place of one of theirs, not a throttle.
    first = tenant_invoke(host, "isolated", "initech", {"action": "pid"})["pid"]
    assert tenant_invoke(host, "isolated", "initech", {"action": "pid"})["pid"] == first


@pytest.mark.parametrize("name,tenant", [("isolated", None), ("shared", "acme")])
def test_tenant_id_only_with_isolation(host, name, tenant):
    kwargs = {"TenantId": tenant} if tenant else {}
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    e = err.value.response
    assert e["Error"]["Code"] == "InvalidParameterValueException", e
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e["ResponseMetadata"]["RequestId"]


def test_tenant_ids_are_validated(host):
    status, headers, body = host.http("POST", "/2015-03-31/functions/isolated/invocations", b"{}",
                                      {"X-Amz-Tenant-Id": "bad\ttenant!"})
    assert status == 400, body
    assert headers["x-amzn-errortype"] == "ValidationException", body
    assert b"tenantId" in body


def test_event_invocations_keep_their_tenant(host):
    resp = host.client.invoke(FunctionName="isolated", InvocationType="Event", TenantId="acme",
                              Payload=json.dumps({"action": "echo"}).encode())
    assert resp["StatusCode"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    assert host.wait_log("isolated", rf"^END RequestId: {rid}$", timeout=10)
