"""The HTTP gateway: plain HTTP requests on the listen address become API Gateway
events (payload 2.0 and 1.0), and function results become HTTP responses, with
API Gateway's own answers for no route, throttling, function errors and timeouts.
The function is conformance/functions/python/gateway_app.py under awslambdaric."""

import base64
import json
import re
import subprocess
import threading
import time

import pytest
import requests

from conftest import header_values, http_request, python_function, raw_function, render_manifest

TIME_RE = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# An HTTP API's request id, e.g. YxHBEhzwoAMEV2Q= (as in apigw-requestid).
APIGW_ID_RE = re.compile(r"^[A-Za-z0-9+/]{15}=$")


def gateway_function(routes, payload="2.0", **extra):
    spec = python_function("gateway_app.handler", **dict({"timeout_s": 2}, **extra))
    spec["http"] = {"routes": routes, "payload": payload}
    return spec


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({
        "api2": gateway_function(["GET /hello", "ANY /items/{id}", "ANY /api/{proxy+}"]),
        "api1": gateway_function(["ANY /v1/{proxy+}", "GET /v1items/{id}"], payload="1.0"),
        "slow": gateway_function(["GET /slow"], max_concurrency=1, timeout_s=5),
        "streamer": dict(raw_function(), http={"routes": ["POST /stream-json"], "payload": "2.0"}),
    })


def raw_request(host, method, path, headers=(), body=None):
    return http_request(host.port, method, path, headers, body)


values = header_values


def echo(host, method, path, headers=(), body=None):
    status, hdrs, data = raw_request(host, method, path, headers, body)
    assert status == 200, (status, data)
    return json.loads(data), hdrs


# ---------------------------------------------------------------------------
# payload 2.0 events


def test_v2_event_every_field(host):
    before = int(time.time() * 1000)
    event, hdrs = echo(host, "GET", "/items/42?a=1&a=2&b=x%20y", headers=[
        ("X-Custom", "v1"), ("X-Custom", "v2"), ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "conformance/1.0"),
    ])
    after = int(time.time() * 1000)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "v1,v2"
    assert "cookie" not in event["headers"]
    assert all(k == k.lower() for k in event["headers"])
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"id": "42"}
    assert "body" not in event and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "conformance/1.0"}
    assert ctx["routeKey"] == "ANY /items/{id}" and ctx["stage"] == "$default"
    assert ctx["accountId"] == "000000000000"
    assert ctx["domainName"] == f"127.0.0.1:{host.port}"
    # Two ids, as on AWS: the HTTP API's own, and the Lambda invocation's.
    assert APIGW_ID_RE.match(ctx["requestId"]), ctx["requestId"]
    assert values(hdrs, "apigw-requestid") == [ctx["requestId"]]
    lambda_id = values(hdrs, "x-lambda-request-id")[0]
    assert UUID_RE.match(lambda_id) and lambda_id != ctx["requestId"]
    assert host.wait_log("api2", re.escape(f"START RequestId: {lambda_id} Version: $LATEST"))
    assert TIME_RE.match(ctx["time"]), ctx["time"]
    assert before - 1000 <= ctx["timeEpoch"] <= after


def test_v2_absent_parts_are_left_out(host):
    event, _ = echo(host, "GET", "/hello")
    assert event["routeKey"] == "GET /hello"
    assert event["rawQueryString"] == ""
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event, absent


def test_v2_greedy_path_and_any_method(host):
    event, _ = echo(host, "DELETE", "/api/a/b%20c/echo")
    assert event["routeKey"] == "ANY /api/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b c/echo"}
    assert event["rawPath"] == "/api/a/b%20c/echo"
    assert event["requestContext"]["http"]["method"] == "DELETE"


def test_v2_text_and_binary_bodies(host):
    event, _ = echo(host, "POST", "/api/echo", [("Content-Type", "application/json")], b'{"k": "v \xe2\x98\x83"}')
    assert event["body"] == '{"k": "v \u2603"}' and event["isBase64Encoded"] is False
    blob = bytes(range(256))
    event, _ = echo(host, "POST", "/api/echo", [("Content-Type", "application/octet-stream")], blob)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob


# ---------------------------------------------------------------------------
# payload 2.0 responses


def test_v2_bare_results(host):
    r = requests.get(f"{host.endpoint}/api/bare")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"bare": True, "n": 1}
    r = requests.get(f"{host.endpoint}/api/string")
    assert r.status_code == 200 and r.text == '"just a string"'


def test_v2_structured_response(host):
    status, hdrs, body = raw_request(host, "GET", "/api/structured")
    assert status == 201 and body == b"made"
    assert values(hdrs, "content-type") == ["text/plain"]
    assert values(hdrs, "x-single") == ["one"]
    assert values(hdrs, "x-multi") == ["1", "2"]
    assert values(hdrs, "set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]


def test_v2_binary_response_and_round_trip(host):
    r = requests.get(f"{host.endpoint}/api/binary")
    assert r.status_code == 200 and r.content == bytes(range(256))
    assert r.headers["content-type"] == "application/octet-stream"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    r = requests.post(f"{host.endpoint}/api/roundtrip", data=png, headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and r.content == png
    assert r.headers["content-type"] == "image/png"


def test_v2_cookie_round_trip(host):
    s = requests.Session()
    assert s.get(f"{host.endpoint}/api/structured").status_code == 201
    assert s.cookies.get("a") == "1" and s.cookies.get("b") == "2"
    event = s.get(f"{host.endpoint}/api/echo").json()
    assert sorted(event["cookies"]) == ["a=1", "b=2"]
    status, hdrs, _ = raw_request(host, "GET", "/api/cookies", [("Cookie", "s=abc; t=def")])
    assert status == 200
    assert values(hdrs, "set-cookie") == ["s=abc; Path=/", "t=def; Path=/"]


# ---------------------------------------------------------------------------
# API Gateway's own answers


def test_no_route_is_404(host):
    for method, path in [("GET", "/nowhere"), ("POST", "/hello"), ("GET", "/items"), ("GET", "/api")]:
        r = requests.request(method, f"{host.endpoint}{path}")
        assert r.status_code == 404, (method, path)
        assert r.json() == {"message": "Not Found"}
        assert r.headers["content-type"] == "application/json"


def test_function_error_is_502(host):
    r = requests.get(f"{host.endpoint}/api/error")
    assert r.status_code == 502 and r.json() == {"message": "Internal Server Error"}


def test_timeout_is_504(host):
    started = time.time()
    r = requests.get(f"{host.endpoint}/api/sleep")
    assert r.status_code == 504 and r.json() == {"message": "Endpoint request timed out"}
    assert 1.5 < time.time() - started < 8
    # The sandbox was replaced: the next request works.
    assert requests.get(f"{host.endpoint}/api/bare").status_code == 200


def test_throttle_is_429(host):
    results = []

    def call():
        results.append(requests.get(f"{host.endpoint}/slow"))

    first = threading.Thread(target=call)
    first.start()
    assert host.wait_log("slow", r"START RequestId", timeout=20)
    second = requests.get(f"{host.endpoint}/slow")
    first.join()
    assert second.status_code == 429 and second.json() == {"message": "Too Many Requests"}
    assert results[0].status_code == 200 and results[0].text == "slow"


def test_invoke_api_is_unchanged(host):
    resp, result = host.invoke("api2", {"rawPath": "/x/bare"})
    assert resp["StatusCode"] == 200 and result == {"bare": True, "n": 1}
    status, _, body = host.http("GET", "/2015-03-31/nothing-here")
    assert status == 404 and b"Unknown operation" in body


# ---------------------------------------------------------------------------
# payload 1.0


def test_v1_event_every_field(host):
    event, hdrs = echo(host, "GET", "/v1/x/echo?a=1&a=2&b=x%20y", headers=[
        ("X-Custom", "v1"), ("X-Custom", "v2"), ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "conformance/1.0"),
    ])
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{proxy+}"
    assert event["path"] == "/v1/x/echo"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["x-custom"] == "v2"
    assert event["multiValueHeaders"]["x-custom"] == ["v1", "v2"]
    assert event["headers"]["cookie"] == "c1=v1; c2=v2"
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["pathParameters"] == {"proxy": "x/echo"}
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["httpMethod"] == "GET" and ctx["path"] == "/v1/x/echo" and ctx["protocol"] == "HTTP/1.1"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "conformance/1.0"
    assert ctx["resourcePath"] == "/v1/{proxy+}" and ctx["stage"] == "$default"
    # The REST API's request id is a UUID of its own; its extended id is the
    # one in the header, and neither is the Lambda invocation's.
    assert UUID_RE.match(ctx["requestId"])
    assert values(hdrs, "apigw-requestid") == [ctx["extendedRequestId"]]
    lambda_id = values(hdrs, "x-lambda-request-id")[0]
    assert lambda_id not in (ctx["requestId"], ctx["extendedRequestId"])
    assert TIME_RE.match(ctx["requestTime"])
    assert abs(ctx["requestTimeEpoch"] - time.time() * 1000) < 60_000


def test_v1_absent_parts_are_null(host):
    event, _ = echo(host, "GET", "/v1items/7")
    assert event["pathParameters"] == {"id": "7"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_v1_binary_round_trip(host):
    blob = bytes(range(256)) * 8
    event, _ = echo(host, "PUT", "/v1/echo", [("Content-Type", "application/octet-stream")], blob)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == blob
    r = requests.post(f"{host.endpoint}/v1/roundtrip", data=blob, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 200 and r.content == blob


def test_v1_structured_response(host):
    status, hdrs, body = raw_request(host, "GET", "/v1/structured")
    assert status == 201 and body == b"made"
    assert values(hdrs, "x-multi") == ["1", "2"] and values(hdrs, "x-single") == ["one"]
    # `cookies` is a 2.0 field; a 1.0 function sets cookies with Set-Cookie headers.
    assert values(hdrs, "set-cookie") == []


def test_v1_results_without_status_are_502(host):
    for path in ("/v1/bare", "/v1/malformed", "/v1/error"):
        r = requests.get(f"{host.endpoint}{path}")
        assert r.status_code == 502 and r.json() == {"message": "Internal Server Error"}, path


# ---------------------------------------------------------------------------
# the manifest


def test_a_stream_without_the_http_integration_type_is_the_body_itself(host):
    # As through a function URL: only a stream declared as
    # application/vnd.awslambda.http-integration-response has a prelude; this
    # one (application/json, thousands of 64-byte chunks) is passed on as it
    # is, even though it reads like a structured result.
    size = 200_000
    status, hdrs, body = raw_request(host, "POST", "/stream-json", [("Content-Type", "application/json")],
                                     json.dumps({"action": "stream_json", "size": size}).encode())
    assert status == 200, body[:200]
    assert values(hdrs, "content-type") == ["application/json"]
    assert values(hdrs, "transfer-encoding") == ["chunked"]
    assert json.loads(body) == {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "x" * size}


def test_duplicate_route_is_a_manifest_error(flick_bin, tmp_path):
    text = render_manifest({"listen": "127.0.0.1:0", "state_dir": str(tmp_path / ".flick")}, {
        "a": gateway_function(["GET /hello", "ANY /items/{id}"]),
        "b": gateway_function(["ANY /items/{key}"]),
    })
    manifest = tmp_path / "flick.toml"
    manifest.write_text(text)
    proc = subprocess.run([flick_bin, "serve", "--config", str(manifest), "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=20, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "functions.b.http.routes" in proc.stderr and "function `a`" in proc.stderr, proc.stderr
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "ANY /items/{key}" in l)
    assert re.search(rf"\bline {line}\b", proc.stderr), (line, proc.stderr)
