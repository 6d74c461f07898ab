"""The AWS Lambda Web Adapter (crate lambda_web_adapter, the adapter AWS ships
as a layer) fronting an ordinary web app, as on Lambda: the adapter is an
external extension in the function's layer that registers, then acts as the
runtime client, turning each event into an HTTP request to the app (the
function's command, which knows nothing of Lambda) on 127.0.0.1:8080 inside
the sandbox. Requests come in through the host's HTTP gateway."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FUNCTIONS, REPO, function_python, traversable

LWA_VERSION = "0.9.1"


@pytest.fixture(scope="session")
def lwa_bin():
    """The adapter's binary, built from crates.io once per target folder."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    root = target / f"lwa-{LWA_VERSION}"
    binary = root / "bin" / "lambda-adapter"
    if not binary.is_file():
        proc = subprocess.run(["cargo", "install", "lambda_web_adapter", "--version", LWA_VERSION, "--locked",
                               "--root", str(root), "--target-dir", str(target / "lwa-build")],
                              capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            pytest.fail(f"cargo install lambda_web_adapter failed:\n{proc.stderr[-3000:]}")
    return binary


@pytest.fixture(scope="module")
def host(make_host, tmp_path_factory, lwa_bin):
    layer = traversable(tmp_path_factory.mktemp("lwa-layer"))
    (layer / "extensions").mkdir()
    shutil.copy(lwa_bin, layer / "extensions" / "lambda-adapter")
    for path in (layer, layer / "extensions", layer / "extensions" / "lambda-adapter"):
        path.chmod(0o755)
    return make_host({
        "web": {
            "command": [function_python(), "-u", "web_app.py"],
            "workdir": str(FUNCTIONS / "python"),
            "layers": [str(layer)],
            "memory_mb": 256,
            "timeout_s": 10,
            "http": {"routes": ["$default"], "payload": "2.0"},
        },
    })


def test_a_get_reaches_the_web_app_through_the_adapter(host):
    status, headers, body = host.http("GET", "/hello/world?x=1&y=two", headers={"X-Custom": "yes"})
    assert status == 200, body
    assert headers.get("x-served-by") == "web_app.py"
    seen = json.loads(body)
    assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/hello/world", "x=1&y=two")
    assert seen["headers"]["x-custom"] == "yes"


def test_a_post_body_and_status_come_back_unchanged(host):
    status, headers, body = host.http("POST", "/items", body=b'{"name":"widget"}',
                                      headers={"Content-Type": "application/json"})
    assert status == 201, body
    seen = json.loads(body)
    assert seen["body"] == '{"name":"widget"}'
    assert headers["content-type"] == "application/json"


def test_each_request_is_an_invocation_with_its_report(host):
    before = host.log_text("web").count("REPORT RequestId")
    for _ in range(3):
        status, _, _ = host.http("GET", "/again")
        assert status == 200
    assert host.wait_log("web", r"(?s)(REPORT RequestId.*){%d}" % (before + 3), timeout=5)
    assert "web_app: " in host.log_text("web"), "the app's own log lines land in the function's log"
