"""The queue's database watched: deleted under a running host, it is written
back from the open connection and nothing acknowledged is lost; gone for
good (its folder removed), Event invocations get a 5xx service error instead
of a 202 that nothing durable stands behind."""

import json
import re
import shutil

import pytest
from botocore.exceptions import ClientError

from conftest import delivery_function, shared_dir, wait_deliveries


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    return shared_dir(tmp_path_factory, "deliveries") / "deliveries.jsonl"


def test_a_deleted_database_is_written_back_and_loses_nothing(make_host, deliveries):
    # The worker waits long before its first retry, so its event stays queued.
    host = make_host({"worker": delivery_function(deliveries, {"retry_delays_s": [60]}),
                      "later": delivery_function(deliveries)}, name="deleted")
    db = host.root / ".flick" / "queue.db"
    status, headers, _ = host.send_event("worker", {"action": "fail_first", "n": 1, "id": "kept"})
    assert status == 202
    kept = headers["x-amzn-requestid"]
    wait_deliveries(deliveries, lambda ds: any(d["rid"] == kept for d in ds))
    db.unlink()
    status, headers, _ = host.send_event("later", {"action": "echo", "id": "after"})
    assert status == 202
    after = headers["x-amzn-requestid"]
    wait_deliveries(deliveries, lambda ds: any(d["rid"] == after for d in ds))
    assert db.exists(), "the database is back at its path"
    log = host.stderr()
    assert re.search(r"queue: \S+queue\.db is gone .* under the running host", log), log[-2000:]
    assert "nothing accepted was lost" in log
    host.stop()
    # The event waiting for its retry is still in the database after a restart.
    queued = host.flick("queue", "--config", str(host.manifest), "list")
    assert queued.returncode == 0, queued.stderr
    worker = [line.split() for line in queued.stdout.splitlines() if line.startswith("worker")]
    assert worker and worker[0][1] == "1", queued.stdout


def test_a_store_gone_for_good_refuses_events_with_a_service_error(make_host, deliveries):
    host = make_host({"worker": delivery_function(deliveries)}, name="gone")
    shutil.rmtree(host.root / ".flick")
    status, headers, body = host.send_event("worker", {"action": "echo"})
    assert status == 500, body
    assert headers["x-amzn-errortype"] == "ServiceException"
    assert headers.get("x-amzn-requestid")
    assert "queue" in json.loads(body)["Message"]
    with pytest.raises(ClientError) as err:
        host.client.invoke(FunctionName="worker", InvocationType="Event", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ServiceException"
    # Synchronous invocations need no store and go on.
    _, result = host.invoke("worker", {"action": "echo", "sync": True})
    assert result == {"action": "echo", "sync": True}
