"""The contract of a flick::http::openapi function (examples/http-api) behind
`flick serve`'s gateway: the document served at /openapi.json is the one
`flick openapi` prints, invalid input gets a 400 RFC 9457 problem naming the
field, and schemathesis, driven by that document through the gateway, finds no
server error and no response that breaks the schema."""

import http.client
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, render_manifest

TOKEN = "conformance-token"


@pytest.fixture(scope="session")
def http_api_bin():
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", "example-http-api"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p example-http-api failed:\n{proc.stderr}")
    return str(target / "release" / "example-http-api")


def api_spec(binary):
    return {"command": [binary], "memory_mb": 128, "timeout_s": 3, "max_concurrency": 4,
            "env": {"API_TOKEN": TOKEN}, "http": {"routes": ["$default"], "payload": "2.0"}}


@pytest.fixture(scope="module")
def host(make_host, http_api_bin):
    return make_host({"api": api_spec(http_api_bin)}, name="openapi")


def get(host, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_served_document_is_openapi_3_1_and_matches_flick_openapi(host, flick_bin, tmp_path, http_api_bin):
    status, headers, body = get(host, "GET", "/openapi.json")
    assert status == 200
    served = json.loads(body)
    assert served["openapi"] == "3.1.0"
    assert set(served["paths"]) == {"/items", "/items/{id}", "/health"}

    manifest = tmp_path / "flick.toml"
    manifest.write_text(render_manifest({"listen": "127.0.0.1:0"}, {"api": api_spec(http_api_bin)}))
    proc = subprocess.run([flick_bin, "openapi", "--config", str(manifest), "api"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == served


def test_flick_openapi_names_an_unknown_function(flick_bin, tmp_path, http_api_bin):
    manifest = tmp_path / "flick.toml"
    manifest.write_text(render_manifest({"listen": "127.0.0.1:0"}, {"api": api_spec(http_api_bin)}))
    proc = subprocess.run([flick_bin, "openapi", "--config", str(manifest), "nope"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "no function `nope`" in proc.stderr and "api" in proc.stderr


def test_invalid_input_is_a_400_problem_naming_the_field(host):
    status, headers, body = get(host, "POST", "/items", body=json.dumps({"name": "x", "quantity": "lots"}),
                                headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert problem["errors"] == [{"in": "body", "field": "quantity", "detail": problem["errors"][0]["detail"]}]
    status, _, body = get(host, "GET", "/items/not-a-number")
    assert status == 400 and json.loads(body)["errors"][0]["field"] == "id"


def test_valid_input_is_served(host):
    status, headers, body = get(host, "POST", "/items", body=json.dumps({"name": "bolt", "quantity": 3}),
                                headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert status == 201, body
    item = json.loads(body)
    assert headers["x-request-id"]  # the middleware's request id
    status, _, body = get(host, "GET", f"/items/{item['id']}")
    # Sandboxes each hold their own store: one warm sandbox serves both calls here.
    assert status == 200 and json.loads(body) == item


def test_schemathesis_finds_no_server_error_and_no_schema_violation(host, tmp_path):
    exe = shutil.which("schemathesis") or shutil.which("st")
    if exe is None:
        pytest.fail("schemathesis is not installed: pip install -r conformance/requirements.txt")
    base = f"http://127.0.0.1:{host.port}"
    proc = subprocess.run(
        [exe, "run", f"{base}/openapi.json", "--url", base,
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
         "--max-examples", "20", "--seed", "1", "--request-timeout", "10", "--generation-database", "none",
         "--header", f"Authorization: Bearer {TOKEN}"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,  # its cache stays out of the tree
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout, proc.stdout[-3000:]
