"""A durable function without the SDK, for the checkpoint benchmark: inside
one invocation it makes COUNT checkpoints through the host's Lambda API
(AWS_ENDPOINT_URL_LAMBDA, one keep-alive connection, as an SDK does), each
one update (a step's START, then its SUCCEED), then as many state reads,
and returns each call's latency."""

import http.client
import json
import os
import time
import urllib.parse


def handler(event, context):
    url = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL_LAMBDA"])
    conn = http.client.HTTPConnection(url.hostname, url.port)
    arn = urllib.parse.quote(event["DurableExecutionArn"], safe="")
    token = event["CheckpointToken"]
    count = json.loads(event["InitialExecutionState"]["Operations"][0]["ExecutionDetails"]["InputPayload"])["count"]
    writes = []
    for i in range(count):
        action = "START" if i % 2 == 0 else "SUCCEED"
        update = {"Id": f"s{i // 2}", "Type": "STEP", "Action": action}
        if action == "SUCCEED":
            update["Payload"] = "1"
        body = json.dumps({"CheckpointToken": token, "Updates": [update]})
        t = time.perf_counter()
        conn.request("POST", f"/2025-12-01/durable-executions/{arn}/checkpoint", body,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        writes.append(time.perf_counter() - t)
        assert resp.status == 200, answer
        token = answer["CheckpointToken"]
    reads = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", f"/2025-12-01/durable-executions/{arn}/state?CheckpointToken="
                     f"{urllib.parse.quote(token, safe='')}&MaxItems=1")
        resp = conn.getresponse()
        resp.read()
        reads.append(time.perf_counter() - t)
    return {"Status": "SUCCEEDED", "Result": json.dumps({"writes": writes, "reads": reads})}
