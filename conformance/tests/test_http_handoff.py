"""examples/http-handoff behind `flick serve`: an HTTP endpoint (`POST /jobs`,
through the gateway) that hands each job to a worker function through the
host's own Invoke API as an `Event` invocation. 202 with the host's request id
as the job id, one delivery of the job to the worker; a full worker queue
(`max_queued`) comes back as 429 with Retry-After and an RFC 9457 problem,
and no job answered 202 is ever lost."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, UUID, delivery_function, read_deliveries, render_manifest, shared_dir, wait_deliveries

PROBLEM = "application/problem+json"


@pytest.fixture(scope="session")
def handoff_bin():
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", "example-http-handoff"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p example-http-handoff failed:\n{proc.stderr}")
    return str(target / "release" / "example-http-handoff")


def handoff_host(make_host, handoff_bin, worker_name, functions, name):
    """A host serving the example as `api` on `POST /jobs`, its env pointing
    back at this same host (known only once the host has its port)."""
    api = {"command": [handoff_bin], "memory_mb": 128, "timeout_s": 5,
           "env": {"WORKER_FUNCTION": worker_name}, "http": {"routes": ["POST /jobs"]}}
    host = make_host(dict(functions, api=api), start=False, name=name)
    api["env"]["FLICK_ENDPOINT"] = host.endpoint
    host.manifest.write_text(render_manifest(host.server, host.functions))
    host.start()
    return host


def post_job(host, job):
    status, headers, body = host.http("POST", "/jobs", json.dumps(job).encode(),
                                      {"Content-Type": "application/json"}, timeout=30)
    return status, headers, body


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "handoff") / "deliveries.jsonl"


@pytest.fixture(scope="module")
def host(make_host, handoff_bin, deliveries):
    return handoff_host(make_host, handoff_bin, "worker", {"worker": delivery_function(deliveries)}, "handoff")


@pytest.fixture(scope="module")
def tight(make_host, handoff_bin, deliveries):
    """A worker that takes one slow job at a time and queues at most 2."""
    worker = delivery_function(deliveries, {"max_queued": 2}, max_concurrency=1, timeout_s=5)
    return handoff_host(make_host, handoff_bin, "slow", {"slow": worker}, "handoff-tight")


def of(deliveries, rid):
    return [d for d in read_deliveries(deliveries) if d["rid"] == rid]


def test_job_is_accepted_with_202_and_delivered_once(host, deliveries):
    job = {"action": "echo", "id": "job-1", "items": [1, 2, 3]}
    status, headers, body = post_job(host, job)
    assert status == 202, body
    assert headers["content-type"] == "application/json"
    job_id = json.loads(body)["jobId"]
    assert re.fullmatch(UUID, job_id), body
    found = wait_deliveries(deliveries, lambda ds: any(d["rid"] == job_id for d in ds))
    mine = [d for d in found if d["rid"] == job_id]
    assert [(d["fn"], d["event"]) for d in mine] == [("worker", job)]
    time.sleep(0.5)
    assert len(of(deliveries, job_id)) == 1, "a job the worker finished is delivered once"


def test_every_job_of_a_burst_is_delivered(host, deliveries):
    ids = {}
    for i in range(10):
        status, _, body = post_job(host, {"action": "echo", "id": f"burst-{i}"})
        assert status == 202, body
        ids[json.loads(body)["jobId"]] = f"burst-{i}"
    assert len(ids) == 10, "each job gets its own id"
    found = wait_deliveries(deliveries, lambda ds: set(ids) <= {d["rid"] for d in ds})
    assert {d["rid"]: d["event"]["id"] for d in found if d["rid"] in ids} == ids


def test_a_job_that_is_not_json_is_a_400_problem(host):
    status, headers, body = host.http("POST", "/jobs", b"not json", {"Content-Type": "application/json"})
    assert status == 400
    assert headers["content-type"] == PROBLEM
    assert json.loads(body)["status"] == 400


def test_full_queue_is_429_with_retry_after_and_nothing_is_lost(tight, deliveries):
    accepted, refused = [], []
    for i in range(8):
        status, headers, body = post_job(tight, {"action": "sleep", "ms": 700, "id": f"slow-{i}"})
        if status == 202:
            accepted.append(json.loads(body)["jobId"])
        else:
            assert status == 429, (status, body)
            refused.append((headers, body))
    assert len(accepted) >= 2, "the queue takes max_queued jobs before it is full"
    assert refused, "with one slow worker and max_queued 2, eight quick jobs overflow the queue"
    headers, body = refused[0]
    assert headers["content-type"] == PROBLEM
    assert headers["retry-after"].isdigit()
    problem = json.loads(body)
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
    assert "queue is full" in problem["detail"]
    # every 202 is a job the worker gets, exactly once here (the worker never fails)
    found = wait_deliveries(deliveries, lambda ds: set(accepted) <= {d["rid"] for d in ds},
                            timeout=2 + len(accepted))
    got = [d["rid"] for d in found if d["rid"] in accepted]
    assert sorted(got) == sorted(accepted)
    # once the queue drains, jobs are accepted again
    deadline = time.time() + 10
    while True:
        status, _, body = post_job(tight, {"action": "echo", "id": "after"})
        if status == 202 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert status == 202, body


def test_a_refusal_other_than_a_full_queue_is_a_502_problem(make_host, handoff_bin):
    host = handoff_host(make_host, handoff_bin, "nobody", {}, "handoff-nobody")
    status, headers, body = post_job(host, {"id": "lost?"})
    assert status == 502, body
    assert headers["content-type"] == PROBLEM
    problem = json.loads(body)
    assert problem["status"] == 502 and "404" in problem["detail"]
