"""`flick::metrics` (feature `metrics`): CloudWatch's Embedded Metric Format,
one JSON log line per invocation that CloudWatch Logs would turn into
metrics, and a ColdStart count on a sandbox's first invocation; EMF's limits
are errors of type InvalidMetrics. The function is examples/metrics."""

import json
import time

import pytest

from conftest import cargo_bin


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({"shop": {"command": [cargo_bin("example-metrics")], "memory_mb": 128}})


def emf_documents(host, request_id=None):
    docs = []
    for line in host.log_text("shop").splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            if request_id is None or doc.get("requestId") == request_id or "ColdStart" in doc:
                docs.append(doc)
    return docs


def test_each_invocation_writes_one_emf_document_and_a_cold_start_is_counted(host):
    ids = []
    for value in (12.5, 7.0):
        resp, result = host.invoke("shop", {"value": value})
        assert "FunctionError" not in resp and result == {"recorded": True}, result
        ids.append(resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"])
    assert host.wait_log("shop", rf"REPORT RequestId: {ids[1]}")
    docs = emf_documents(host)
    orders = [d for d in docs if "OrderValue" in d]
    assert [d["requestId"] for d in orders] == ids
    assert [d["OrderValue"] for d in orders] == [12.5, 7.0]
    first = orders[0]
    metrics = first["_aws"]["CloudWatchMetrics"][0]
    assert metrics == {"Namespace": "Shop", "Dimensions": [["service"]],
                       "Metrics": [{"Name": "OrderValue", "Unit": "None"}]}
    assert first["service"] == "orders"
    assert abs(first["_aws"]["Timestamp"] / 1000 - time.time()) < 60
    cold = [d for d in docs if "ColdStart" in d]
    assert len(cold) == 1, "one sandbox, one cold start"
    assert cold[0]["ColdStart"] == 1 and cold[0]["function_name"] == "shop"
    assert cold[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function_name"]]


def test_going_past_emfs_limit_is_an_invalid_metrics_error(host):
    resp, result = host.invoke("shop", {"value": 1.0, "extra_metrics": 100})
    assert resp.get("FunctionError") == "Unhandled", result
    assert result["errorType"] == "InvalidMetrics", result
    assert "one more than EMF's 100" in result["errorMessage"], result
