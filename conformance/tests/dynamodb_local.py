"""A local DynamoDB-compatible server for tests: moto's server mode (moto is
Apache-2.0, pinned in conformance/requirements.txt), run as a subprocess on a
free loopback port, for tests of flick's DynamoDB idempotency store.

    with start_moto(tmp_path) as endpoint:       # "http://127.0.0.1:PORT"
        create_table(endpoint, "idempotency")    # hash key `id` (S), on demand

The server keeps everything in memory and accepts any credentials and any
region (clients still need some: see CREDENTIALS). Its log is
tmp_path/moto.log."""

import contextlib
import http.client
import os
import subprocess
import sys
import time

import boto3
import pytest

from conftest import REGION, free_port

# Dummy credentials: moto checks none, but the SDKs refuse to sign without them.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION}


def _answers(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        conn.request("GET", "/moto-api/data.json")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def start_moto(tmp_path, timeout=15.0):
    """Runs `python -m moto.server` on 127.0.0.1:<free port> and yields its
    endpoint URL; stops it (terminate, then kill) when the block ends."""
    port = free_port()
    log_path = tmp_path / "moto.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                exited = proc.poll() is not None
                why = f"exited with {proc.returncode}" if exited else f"did not answer within {timeout:g} s"
                pytest.fail(f"moto server {why}; its log:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def client(endpoint):
    """A boto3 DynamoDB client for the server at `endpoint`."""
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def create_table(endpoint, name):
    """Creates table `name` with string hash key `id`, PAY_PER_REQUEST (moto
    makes it ACTIVE at once)."""
    client(endpoint).create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                  AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                  KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return name
