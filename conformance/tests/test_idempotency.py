"""`flick::idempotency` (feature `idempotency`): a charge made once per
order id, its result replayed to repeats, with a real Redis server (Debian's
redis-server, started here on a free port) shared by every sandbox, with a
DynamoDB table (moto's DynamoDB-compatible server, Apache-2.0, through the
AWS SDK for Rust: feature `idempotency-dynamodb`) and with the in-memory
store. Checked: the replayed result is the stored one (same
charge id), a repeat with another amount is refused, a failed charge leaves
nothing (the retry charges), a concurrent repeat is refused while the first
runs, a missing key is a clear error. The function is examples/idempotency."""

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import cargo_bin, free_port
from dynamodb_local import CREDENTIALS, client, create_table, start_moto

TABLE = "idempotency"


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server missing: run scripts/install-deps")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail("redis-server did not answer PING within 10 s")
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        create_table(endpoint, TABLE)
        yield endpoint


@pytest.fixture(scope="module")
def host(make_host, redis, dynamodb):
    binary = cargo_bin("example-idempotency")
    table_env = dict(CREDENTIALS, AWS_ENDPOINT_URL_DYNAMODB=dynamodb, IDEMPOTENCY_TABLE=TABLE)
    return make_host({
        # Redis and DynamoDB on the host's loopback: the functions share the host's network.
        "charge": {"command": [binary], "env": {"REDIS_ADDR": redis}, "network": "host",
                   "timeout_s": 10, "max_concurrency": 4},
        "charge-dynamodb": {"command": [binary], "env": table_env, "network": "host",
                            "timeout_s": 10, "max_concurrency": 4},
        "charge-no-table": {"command": [binary], "env": dict(table_env, IDEMPOTENCY_TABLE="no-such-table"),
                            "network": "host", "timeout_s": 10, "max_concurrency": 1},
        "charge-memory": {"command": [binary], "timeout_s": 10, "max_concurrency": 1},
    }, name="idempotency")


def charge(host, fn, **order):
    resp, result = host.invoke(fn, order)
    return resp.get("FunctionError"), result


@pytest.mark.parametrize("fn", ["charge", "charge-dynamodb", "charge-memory"])
def test_a_repeat_gets_the_first_result_not_a_second_charge(host, fn):
    key = f"order-{fn}-1"
    error, first = charge(host, fn, order_id=key, amount=42)
    assert error is None and first["amount"] == 42, first
    error, again = charge(host, fn, order_id=key, amount=42)
    assert again == first, "the stored result, same charge id"
    error, other = charge(host, fn, order_id=f"{key}-b", amount=42)
    assert other["charge_id"] != first["charge_id"], "another key is another charge"
    error, refused = charge(host, fn, order_id=key, amount=43)
    assert error == "Unhandled" and refused["errorType"] == "IdempotencyValidationError", refused


@pytest.mark.parametrize("fn", ["charge", "charge-dynamodb", "charge-memory"])
def test_a_failed_charge_leaves_nothing_and_a_missing_key_is_named(host, fn):
    key = f"order-{fn}-fail"
    error, failed = charge(host, fn, order_id=key, amount=5, fail=True)
    assert error == "Unhandled" and failed["errorType"] == "ProcessorUnavailable"
    error, retried = charge(host, fn, order_id=key, amount=5)
    assert error is None and retried["amount"] == 5, "the retry ran the charge"
    error, missing = charge(host, fn, amount=5)
    assert missing["errorType"] == "IdempotencyKeyError" and "/order_id" in missing["errorMessage"]


@pytest.mark.parametrize("fn", ["charge", "charge-dynamodb"])
def test_a_concurrent_repeat_is_refused_while_the_first_runs(host, fn):
    """Two sandboxes, one store: the second request finds the key in progress."""
    results = {}

    def slow():
        results["first"] = charge(host, fn, order_id="order-slow", amount=1, sleep_ms=1500)

    first = threading.Thread(target=slow)
    first.start()
    time.sleep(0.5)
    error, second = charge(host, fn, order_id="order-slow", amount=1, sleep_ms=1500)
    first.join()
    assert results["first"][0] is None, results
    assert error == "Unhandled" and second["errorType"] == "IdempotencyAlreadyInProgressError", second
    error, later = charge(host, fn, order_id="order-slow", amount=1)
    assert later == results["first"][1], "once done, the result is replayed"


def test_dynamodb_items_have_powertools_layout(host, dynamodb):
    """What a Powertools table (TTL on `expiration`) holds: the key scoped by
    function and name, the status, expiry in epoch seconds, the result."""
    error, first = charge(host, "charge-dynamodb", order_id="order-layout", amount=7)
    assert error is None, first
    items = client(dynamodb).scan(TableName=TABLE)["Items"]
    [item] = [i for i in items if '"order-layout"' in i["id"]["S"]]
    assert item["id"]["S"] == 'charge-dynamodb.handler#"order-layout"', item
    assert item["status"]["S"] == "COMPLETED"
    assert json.loads(item["data"]["S"]) == first
    expiration = int(item["expiration"]["N"])
    assert time.time() + 3500 < expiration <= time.time() + 3601, "an hour, in seconds"
    assert "validation" in item


def test_a_key_past_dynamodbs_key_limit_is_stored_as_its_digest(host, dynamodb):
    """DynamoDB refuses partition keys over 2 KB: a 3,000-character order
    id still gets its charge once, under the SHA-256 of its key."""
    order = "o" * 3000
    error, first = charge(host, "charge-dynamodb", order_id=order, amount=9)
    assert error is None, first
    error, again = charge(host, "charge-dynamodb", order_id=order, amount=9)
    assert again == first
    ids = [i["id"]["S"] for i in client(dynamodb).scan(TableName=TABLE)["Items"]]
    assert any(i.startswith("charge-dynamodb.handler#sha256:") and len(i) < 100 for i in ids), ids


def test_a_missing_table_is_a_persistence_error_naming_it(host):
    error, refused = charge(host, "charge-no-table", order_id="order-x", amount=1)
    assert error == "Unhandled" and refused["errorType"] == "IdempotencyPersistenceLayerError", refused
    assert "ResourceNotFoundException" in refused["errorMessage"], refused
