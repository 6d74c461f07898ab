"""AWS Signature Version 4 on the Lambda API: a host with access keys
(`[server.auth]` in the manifest, and `FLICK_AUTH_KEYS` in its environment)
lets through only requests signed with one of them, and refuses the others in
the service's words: 403 with `x-amzn-ErrorType` and a request id.

Five real clients sign as they always do: boto3, the AWS CLI, the AWS SDK for
JavaScript v3, the AWS SDK for Go v2 (`conformance/clients/`) and
`flick invoke`; the right key invokes, an unknown key is
`UnrecognizedClientException`, a wrong secret `InvalidSignatureException`.
Raw requests (http.client, signed with botocore's SigV4Auth where they must
be) cover what no SDK sends: no Authorization, a garbled one, a stale or
early signing time, a body changed after signing. Control-plane reads need
the signature too; the HTTP gateway never does. A body refused for its
authentication is read before the answer (a client still writing must not
hit a closed socket) but never held past the host's bound. A host listening
on a non-loopback address without keys refuses to start unless `--insecure`.
"""

import contextlib
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Optional
from unittest import mock

import pytest

from conftest import REGION, UUID, SdkClient, free_port, http_request, python_function

# The manifest's key ([server.auth]); a secret with the characters base64 keys have.
KEY_ID = "AKIAFLICKCONFORMANCE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYCONFORMANCE"
# The key given in FLICK_AUTH_KEYS.
ENV_KEY_ID = "AKIAFLICKFROMENVIRON"
ENV_SECRET = "fromTheEnvironment/Secret+Key0123456789"
UNKNOWN_KEY_ID = "AKIANOBODYKNOWSTHIS0"

MISSING = "Missing Authentication Token"
UNRECOGNIZED = "The security token included in the request is invalid."
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.")

CLIENTS = ["boto3", "cli", "js", "go", "flick"]
INVOKE_PATH = "/2015-03-31/functions/echo-python/invocations"


@pytest.fixture(scope="module")
def host(make_host):
    gateway = python_function("gateway_app.handler", http={"routes": ["GET /open"], "payload": "2.0"})
    return make_host(
        {"echo-python": python_function(), "open": gateway},
        server={"auth": {"keys": [{"access_key_id": KEY_ID, "secret_access_key": SECRET}]}},
        extra_env={"FLICK_AUTH_KEYS": f"{ENV_KEY_ID}:{ENV_SECRET}"},
    )


# ---------------------------------------------------------------------------
# the clients, each reduced to one outcome


@dataclass
class Outcome:
    """What a client made of one call: the result, or the error it raised.
    `status` and `request_id` are None where the client does not report them."""
    result: object = None
    code: Optional[str] = None
    status: Optional[int] = None
    request_id: Optional[str] = None
    message: Optional[str] = None
    raw: str = ""

    @property
    def failed(self):
        return self.code is not None


def clean_env(**extra):
    """No profile, file or host credentials: only the ones the test gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1",
               AWS_PAGER="")
    env.update(extra)
    return env


def boto3_client(host, key, secret):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "lambda", endpoint_url=host.endpoint, region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30, connect_timeout=5),
    )


def boto3_call(host, key, secret, op, **params):
    from botocore.exceptions import ClientError

    try:
        resp = getattr(boto3_client(host, key, secret), op)(**params)
    except ClientError as e:
        meta = e.response.get("ResponseMetadata", {})
        return Outcome(code=e.response["Error"].get("Code"), status=meta.get("HTTPStatusCode"),
                       request_id=meta.get("RequestId"), message=e.response["Error"].get("Message"), raw=str(e))
    if "Payload" in resp:
        resp["Payload"] = json.loads(resp["Payload"].read())
    meta = resp.pop("ResponseMetadata")
    return Outcome(result=resp, status=meta["HTTPStatusCode"], request_id=meta.get("RequestId"))


@pytest.fixture(scope="module")
def aws_exe():
    exe = shutil.which("aws")
    if exe is None:
        pytest.fail("aws CLI not installed: run scripts/install-deps")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True)
    # v2 reads blob arguments as base64 unless told otherwise; v1 takes them raw.
    binary_format = ["--cli-binary-format", "raw-in-base64-out"] if "aws-cli/2" in version.stdout + version.stderr else []
    return exe, binary_format


CLI_ERROR_RE = re.compile(r"An error occurred \((?P<code>[^)]+)\) when calling the \w+ operation: (?P<message>.*)")
# --debug logs the wire: urllib3's status line and botocore's response headers.
CLI_STATUS_RE = re.compile(r'"(?:GET|POST) /\S* HTTP/1\.1" (?P<status>\d{3}) ')
CLI_REQUEST_ID_RE = re.compile(r"'x-amzn-requestid': '(?P<id>[^']+)'", re.I)


def cli_call(aws_exe, host, key, secret, args, tmp_path):
    exe, binary_format = aws_exe
    args = [a for arg in args for a in (binary_format if arg == "BINARY_FORMAT" else [arg])]
    env = clean_env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    proc = subprocess.run([exe, "--debug", "--endpoint-url", host.endpoint, "--output", "json", *args],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    statuses = CLI_STATUS_RE.findall(proc.stderr)
    ids = CLI_REQUEST_ID_RE.findall(proc.stderr)
    out = Outcome(status=int(statuses[-1]) if statuses else None, request_id=ids[-1] if ids else None,
                  raw=proc.stderr[-3000:])
    if proc.returncode == 0:
        out.result = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return out
    m = CLI_ERROR_RE.search(proc.stderr)
    if m is None:
        pytest.fail(f"aws CLI failed without an AWS error (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    out.code, out.message = m.group("code"), m.group("message").strip()
    return out


def cli_invoke(aws_exe, host, key, secret, event, tmp_path, function="echo-python", qualifier=None):
    payload_file = tmp_path / "cli-out.json"
    args = ["lambda", "invoke", "--function-name", function]
    if qualifier is not None:
        args += ["--qualifier", qualifier]
    if event is not None:
        args += ["--payload", json.dumps(event), "BINARY_FORMAT"]
    out = cli_call(aws_exe, host, key, secret, [*args, str(payload_file)], tmp_path)
    if not out.failed:
        out.result["Payload"] = json.loads(payload_file.read_text())
    return out


def sdk_outcome(res):
    if "error" in res:
        e = res["error"]
        return Outcome(code=e.get("code") or e.get("name"), status=e.get("httpStatus"), request_id=e.get("requestId"),
                       message=e.get("message"), raw=json.dumps(res))
    if isinstance(res.get("Payload"), str):
        res["Payload"] = json.loads(res["Payload"])
    return Outcome(result=res, status=res.get("StatusCode", 200), request_id=res.get("requestId"))


FLICK_ERROR_RE = re.compile(
    r"flick invoke: (?P<code>\w+) \(HTTP (?P<status>\d+)[^,]*, request id (?P<rid>[^)]+)\): (?P<body>.*)", re.S)


def flick_invoke(flick_bin, host, key, secret, event, function="echo-python"):
    """`flick invoke`, signing with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    (none when `key` is None). It prints an error as
    `TYPE (HTTP STATUS, request id ID): BODY`."""
    creds = {} if key is None else {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    data = [] if event is None else ["--data", json.dumps(event)]
    proc = subprocess.run([flick_bin, "invoke", function, *data, "--endpoint", host.endpoint],
                          capture_output=True, text=True, timeout=60, env=clean_env(**creds))
    if proc.returncode == 0:
        return Outcome(result={"Payload": json.loads(proc.stdout)})
    m = FLICK_ERROR_RE.search(proc.stderr)
    if m is None:
        pytest.fail(f"flick invoke failed without an error type (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    try:
        message = json.loads(m.group("body")).get("message")
    except ValueError:
        message = m.group("body")
    return Outcome(code=m.group("code"), message=message, raw=proc.stderr,
                   status=int(m.group("status")), request_id=m.group("rid"))


class Caller:
    """One client: `invoke(key, secret, event)` and, except `flick invoke`,
    `read(key, secret, op)` for the control-plane reads
    `get_function_configuration` and `list_functions`."""

    def __init__(self, name, request, host, tmp_path):
        self.name = name
        self.host = host
        self.tmp_path = tmp_path
        self.request = request
        if name in ("js", "go"):
            self.sdk = SdkClient(name, request.getfixturevalue(f"{name}_client_cmd"), host.endpoint)
        elif name == "cli":
            self.aws = request.getfixturevalue("aws_exe")
        elif name == "flick":
            self.flick_bin = request.getfixturevalue("flick_bin")

    # Does the client report the HTTP status and request id of an error?
    @property
    def reports_meta(self):
        return self.name != "flick"

    def invoke(self, key, secret, event, function="echo-python", qualifier=None):
        """Invokes `function` with `event` as JSON (None: no payload at all)."""
        params = {"FunctionName": function}
        if qualifier is not None:
            params["Qualifier"] = qualifier
        if self.name == "boto3":
            if event is not None:
                params["Payload"] = json.dumps(event).encode()
            return boto3_call(self.host, key, secret, "invoke", **params)
        if self.name == "cli":
            return cli_invoke(self.aws, self.host, key, secret, event, self.tmp_path, function, qualifier)
        if self.name in ("js", "go"):
            if event is not None:
                params["Payload"] = json.dumps(event)
            return sdk_outcome(self.sdk("invoke", accessKeyId=key, secretAccessKey=secret, **params))
        assert qualifier is None, "flick invoke has no qualifier option"
        return flick_invoke(self.flick_bin, self.host, key, secret, event, function)

    def read(self, key, secret, op):
        params = {"FunctionName": "echo-python"} if op == "get_function_configuration" else {}
        if self.name == "boto3":
            return boto3_call(self.host, key, secret, op, **params)
        if self.name == "cli":
            args = ["lambda", op.replace("_", "-")] + (["--function-name", "echo-python"] if params else [])
            return cli_call(self.aws, self.host, key, secret, args, self.tmp_path)
        assert self.name in ("js", "go"), f"{self.name} only invokes"
        return sdk_outcome(self.sdk(op, accessKeyId=key, secretAccessKey=secret, **params))


@pytest.fixture(params=CLIENTS)
def caller(request, host, tmp_path):
    return Caller(request.param, request, host, tmp_path)


@pytest.fixture(params=[c for c in CLIENTS if c != "flick"])
def reader(request, host, tmp_path):
    """The clients that also make control-plane calls (`flick invoke` only invokes)."""
    return Caller(request.param, request, host, tmp_path)


def succeeded(out, what):
    if out.failed:
        pytest.fail(f"{what}: the client got {out.code} (HTTP {out.status}): {out.message!r}\n{out.raw[-1500:]}")
    return out.result


def assert_refused(caller, out, code, message, what):
    """A typed 403 with the service's message, and (where the client reports
    them) the HTTP status and a request id."""
    assert out.failed, f"{what}: expected {code}, the call succeeded: {out.result!r}"
    assert out.code == code, f"{what}: expected {code}, the client got {out.code} (HTTP {out.status}): {out.message!r}"
    assert (out.message or "").startswith(message), f"{what}: {code} with message {out.message!r}"
    if caller.reports_meta:
        assert out.status == 403, f"{what}: {code} came with HTTP {out.status}, not 403"
        assert re.fullmatch(UUID, out.request_id or ""), (
            f"{what}: {code} without a request id (x-amzn-RequestId): {out.request_id!r}\n{out.raw[-1500:]}")


# ---------------------------------------------------------------------------
# every client, signing as it does


def test_right_key_invokes(host, caller):
    event = {"action": "echo", "client": caller.name, "text": "signed ✓"}
    result = succeeded(caller.invoke(KEY_ID, SECRET, event), f"{caller.name} invoke with the manifest's key")
    assert result["Payload"] == event


def test_key_from_environment_invokes(host, caller):
    """FLICK_AUTH_KEYS adds its keys to the manifest's."""
    event = {"action": "echo", "client": caller.name, "key": "FLICK_AUTH_KEYS"}
    result = succeeded(caller.invoke(ENV_KEY_ID, ENV_SECRET, event), f"{caller.name} invoke with FLICK_AUTH_KEYS' key")
    assert result["Payload"] == event


def test_unknown_key_is_unrecognized_client(host, caller):
    out = caller.invoke(UNKNOWN_KEY_ID, SECRET, {"action": "echo"})
    assert_refused(caller, out, "UnrecognizedClientException", UNRECOGNIZED, f"{caller.name} with an unknown key")


def test_wrong_secret_is_invalid_signature(host, caller):
    out = caller.invoke(KEY_ID, SECRET + "x", {"action": "echo"})
    assert_refused(caller, out, "InvalidSignatureException", MISMATCH, f"{caller.name} with a wrong secret")


def test_another_keys_secret_is_invalid_signature(host, caller):
    """Both keys exist: a signature with the other one's secret is still wrong."""
    out = caller.invoke(ENV_KEY_ID, SECRET, {"action": "echo"})
    assert_refused(caller, out, "InvalidSignatureException", MISMATCH, f"{caller.name} with another key's secret")


def test_invoke_by_arn_with_qualifier(host, caller):
    """The path and query are signed as sent: an ARN's colons percent-encoded
    by the SDKs (and encoded once more in the canonical request), `$LATEST`
    in the query; `flick invoke` puts the ARN in the path as it is."""
    arn = f"arn:aws:lambda:{REGION}:000000000000:function:echo-python"
    qualifier = None if caller.name == "flick" else "$LATEST"
    event = {"action": "echo", "by": "arn", "client": caller.name}
    result = succeeded(caller.invoke(KEY_ID, SECRET, event, function=arn, qualifier=qualifier),
                       f"{caller.name} invoke by ARN with Qualifier")
    assert result["Payload"] == event


def test_empty_payload_invokes(host, caller):
    """No payload: the signature covers the empty body's hash."""
    result = succeeded(caller.invoke(KEY_ID, SECRET, None), f"{caller.name} invoke without a payload")
    assert result["Payload"] == {}


@pytest.mark.parametrize("op", ["get_function_configuration", "list_functions"])
def test_control_plane_reads_signed(host, reader, op):
    result = succeeded(reader.read(KEY_ID, SECRET, op), f"{reader.name} {op} with the right key")
    if op == "list_functions":
        assert {f["FunctionName"] for f in result["Functions"]} == {"echo-python", "open"}
    else:
        assert result["FunctionName"] == "echo-python" and result["MemorySize"] == 128, result
    out = reader.read(KEY_ID, SECRET + "x", op)
    assert_refused(reader, out, "InvalidSignatureException", MISMATCH, f"{reader.name} {op} with a wrong secret")
    out = reader.read(UNKNOWN_KEY_ID, SECRET, op)
    assert_refused(reader, out, "UnrecognizedClientException", UNRECOGNIZED, f"{reader.name} {op} with an unknown key")


def test_flick_invoke_without_keys_is_not_signed(host, flick_bin):
    """Without AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, flick invoke sends no signature."""
    out = flick_invoke(flick_bin, host, None, None, {"action": "echo"})
    assert out.code == "MissingAuthenticationTokenException", out
    assert out.message == MISSING, out


# ---------------------------------------------------------------------------
# raw requests


def call(host, method, path, body=b"", headers=()):
    status, header_list, raw = http_request(host.port, method, path, list(headers), body)
    headers = {k.lower(): v for k, v in header_list}
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = raw
    return status, headers, doc


def assert_api_error(answer, code, message):
    status, headers, doc = answer
    assert status == 403, answer
    assert headers.get("x-amzn-errortype") == code, answer
    assert re.fullmatch(UUID, headers.get("x-amzn-requestid", "")), f"no request id: {answer}"
    assert isinstance(doc, dict) and doc.get("message", "").startswith(message), answer
    return doc["message"]


def sign(host, method, path, body=b"", headers=None, key=KEY_ID, secret=SECRET, at=None, region=REGION,
         service="lambda"):
    """The headers botocore's SigV4Auth adds to a request (service lambda, the
    suite's region), signed at `at` (a UTC datetime) or now; returns the
    request's header list with X-Amz-Date and Authorization."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=host.endpoint + path, data=body, headers=dict(headers or {}))
    clock = mock.patch("botocore.auth.get_current_datetime", return_value=at) if at else contextlib.nullcontext()
    with clock:
        SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    return list(req.headers.items())


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


EVENT = json.dumps({"action": "echo", "raw": True}).encode()
INVOKE_HEADERS = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}


def test_signed_raw_request_invokes(host):
    """The control for the raw tests below: botocore's signature, sent with http.client, passes."""
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS)
    status, hdrs, doc = call(host, "POST", INVOKE_PATH, EVENT, headers)
    assert status == 200, (status, hdrs, doc)
    assert doc == json.loads(EVENT)


@pytest.mark.parametrize("method,path", [
    ("POST", INVOKE_PATH),
    ("GET", "/2015-03-31/functions/"),                                  # ListFunctions
    ("GET", "/2015-03-31/functions/echo-python/configuration"),         # GetFunctionConfiguration
    ("GET", "/2015-03-31/functions/echo-python"),                       # GetFunction
    ("GET", "/2016-08-19/account-settings/"),                           # GetAccountSettings
    ("GET", "/2015-03-31/functions/echo-python/policy"),                # GetPolicy, not served
    ("POST", "/2021-11-15/functions/echo-python/response-streaming-invocations"),
])
def test_no_authorization_is_missing_token(host, method, path):
    body = EVENT if method == "POST" else b""
    assert_api_error(call(host, method, path, body), "MissingAuthenticationTokenException", MISSING)


@pytest.mark.parametrize("authorization", [
    "garbage",
    "Basic Y29uZm9ybWFuY2U6c2VjcmV0",
    "AWS4-HMAC-SHA256",
    f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20261127/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date",
    "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
])
def test_garbled_authorization_is_incomplete_signature(host, authorization):
    headers = [("Authorization", authorization), ("X-Amz-Date", utc_now().strftime("%Y%m%dT%H%M%SZ"))]
    assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "IncompleteSignatureException", "")


def test_signed_request_without_date_is_incomplete_signature(host):
    headers = [(k, v) for k, v in sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS) if k.lower() != "x-amz-date"]
    assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "IncompleteSignatureException", "")


def test_signature_ten_minutes_old_is_expired(host):
    at = utc_now() - datetime.timedelta(minutes=10)
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS, at=at)
    message = assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "InvalidSignatureException",
                               "Signature expired: ")
    # Signature expired: 20261127T073941Z is now earlier than 20261127T074441Z (20261127T074941Z - 5 min.)
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    assert re.fullmatch(rf"Signature expired: {stamp} is now earlier than \d{{8}}T\d{{6}}Z "
                        r"\(\d{8}T\d{6}Z - 5 min\.\)", message), message


def test_signature_ten_minutes_ahead_is_not_yet_current(host):
    at = utc_now() + datetime.timedelta(minutes=10)
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS, at=at)
    message = assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "InvalidSignatureException",
                               "Signature not yet current: ")
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    assert re.fullmatch(rf"Signature not yet current: {stamp} is still later than \d{{8}}T\d{{6}}Z "
                        r"\(\d{8}T\d{6}Z \+ 5 min\.\)", message), message


def test_signature_four_minutes_old_passes(host):
    """Within the five minutes either way, a signature is current."""
    at = utc_now() - datetime.timedelta(minutes=4)
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS, at=at)
    status, _, doc = call(host, "POST", INVOKE_PATH, EVENT, headers)
    assert status == 200, doc


def test_body_changed_after_signing_is_invalid_signature(host):
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS)
    changed = EVENT.replace(b"true", b"fals")  # same length: only the content differs
    assert len(changed) == len(EVENT) and changed != EVENT
    assert_api_error(call(host, "POST", INVOKE_PATH, changed, headers), "InvalidSignatureException", MISMATCH)


def test_signed_header_changed_after_signing_is_invalid_signature(host):
    headers = sign(host, "POST", INVOKE_PATH, EVENT, INVOKE_HEADERS)
    headers = [(k, "Event" if k.lower() == "x-amz-invocation-type" else v) for k, v in headers]
    assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "InvalidSignatureException", MISMATCH)


def test_signature_for_another_path_is_invalid(host):
    """A signature covers the path: one made for another function does not pass."""
    other = "/2015-03-31/functions/open/invocations"
    headers = sign(host, "POST", other, EVENT, INVOKE_HEADERS)
    assert_api_error(call(host, "POST", INVOKE_PATH, EVENT, headers), "InvalidSignatureException", MISMATCH)


@pytest.mark.parametrize("region,service,words", [
    ("eu-west-1", "lambda", "Credential should be scoped to a valid region, not 'eu-west-1'"),
    (REGION, "sts", "Credential should be scoped to correct service: 'lambda'"),
])
def test_a_signature_scoped_elsewhere_is_refused(host, region, service, words):
    """A valid signature made for another region or service cannot be
    replayed here, as on AWS."""
    path = "/2015-03-31/functions/echo-python/invocations"
    headers = sign(host, "POST", path, EVENT, INVOKE_HEADERS, region=region, service=service)
    assert_api_error(call(host, "POST", path, EVENT, headers), "InvalidSignatureException", words)


def test_control_plane_reads_need_the_signature(host):
    for path in ("/2015-03-31/functions/echo-python/configuration", "/2015-03-31/functions/"):
        assert_api_error(call(host, "GET", path), "MissingAuthenticationTokenException", MISSING)
        headers = sign(host, "GET", path)
        status, hdrs, doc = call(host, "GET", path, b"", headers)
        assert status == 200, (path, status, doc)
        assert re.fullmatch(UUID, hdrs.get("x-amzn-requestid", "")), hdrs
        assert_api_error(call(host, "GET", path, b"", sign(host, "GET", path, secret="wrong")),
                         "InvalidSignatureException", MISMATCH)


def test_signed_query_string(host):
    """The query is signed too (GetFunctionConfiguration?Qualifier=$LATEST, as SDKs send it)."""
    path = "/2015-03-31/functions/echo-python/configuration?Qualifier=%24LATEST"
    status, _, doc = call(host, "GET", path, b"", sign(host, "GET", path))
    assert status == 200, doc
    assert doc["FunctionName"] == "echo-python" and doc["Version"] == "$LATEST", doc
    tampered = "/2015-03-31/functions/echo-python/configuration?Qualifier=%24LATEST&x=1"
    assert_api_error(call(host, "GET", tampered, b"", sign(host, "GET", path)), "InvalidSignatureException", MISMATCH)


def test_gateway_needs_no_signature(host):
    status, hdrs, event = call(host, "GET", "/open?q=1")
    assert status == 200, (status, hdrs, event)
    assert event["rawPath"] == "/open" and event["routeKey"] == "GET /open", event
    # An Authorization header is the function's business: passed on, not checked.
    status, _, event = call(host, "GET", "/open", b"", [("Authorization", "Bearer not-a-signature")])
    assert status == 200, event
    assert event["headers"]["authorization"] == "Bearer not-a-signature"


# ---------------------------------------------------------------------------
# large bodies: read before the refusal, and never held past the bound

BIG = 7 * 1024 * 1024  # over the 6 MB synchronous limit


@pytest.mark.parametrize("sdk_name", ["js", "go"])
def test_signed_big_invoke_is_too_large(host, request, sdk_name):
    """Signed with the right key, 7 MB is still RequestEntityTooLargeException (413)."""
    sdk = SdkClient(sdk_name, request.getfixturevalue(f"{sdk_name}_client_cmd"), host.endpoint)
    out = sdk_outcome(sdk("invoke", FunctionName="echo-python", PayloadSize=BIG, accessKeyId=KEY_ID,
                          secretAccessKey=SECRET))
    assert (out.code, out.status) == ("RequestEntityTooLargeException", 413), out
    assert re.fullmatch(UUID, out.request_id or ""), out


def test_js_big_invoke_with_unknown_key_gets_the_403(host, js_client_cmd):
    """A 7 MB invoke with a key the host does not know: the JS SDK must see
    the typed 403, not a socket error, and its process must live on to make
    the next call (as with the 413 of test_sdk_clients)."""
    sdk = SdkClient("js", js_client_cmd, host.endpoint)
    res = sdk("big_invoke", FunctionName="echo-python", PayloadSize=BIG, accessKeyId=UNKNOWN_KEY_ID,
              secretAccessKey=SECRET,
              hint="An unhandled EPIPE here means the host refused the unknown key and closed the connection "
                   "without reading the 7 MB body the client was still sending (the 413 path reads it first).")
    for which in ("first", "second"):
        out = sdk_outcome(res[which])
        assert (out.code, out.status) == ("UnrecognizedClientException", 403), f"{which} call: {out}"
        assert re.fullmatch(UUID, out.request_id or ""), f"{which} call: {out}"


def test_a_7_mb_unsigned_body_is_read_before_the_403(host):
    """The whole body is read before MissingAuthenticationToken, so a client
    still writing does not hit a closed socket (as before the 413)."""
    big = b'{"x":"' + b"a" * BIG + b'"}'
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", host.port), timeout=30) as s:
            s.sendall(f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: x\r\n".encode()
                      + b"Content-Length: %d\r\n\r\n" % len(big) + big)
            s.sendall(b"GET /open HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            while data.count(b"HTTP/1.1 ") < 2 or b'"rawPath"' not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        pytest.fail(f"the host closed the connection while the 7 MB body was being sent ({e!r}); "
                    f"what came back: {data[:300]!r}")
    assert data.startswith(b"HTTP/1.1 403 "), data[:300]
    assert b"MissingAuthenticationTokenException" in data, data[:300]
    assert b"HTTP/1.1 200 " in data, f"the connection did not serve the next request: {data[-300:]!r}"


def memory_high_water_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmHWM"].split()[0])


def test_a_key_id_alone_cannot_make_the_host_hold_a_huge_body(host):
    """Access key ids are no secret (every Authorization header carries one).
    A request naming a known key with a signature that cannot be right, and
    a 256 MB chunked body, must be refused without the host holding the body:
    an unsigned host stops at its drain bound (32 MB) with a 413."""
    before = memory_high_water_kb(host.proc.pid)
    authorization = (f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{utc_now():%Y%m%d}/{REGION}/lambda/aws4_request, "
                     f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}")
    head = (f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{host.port}\r\nTransfer-Encoding: chunked\r\n"
            f"X-Amz-Date: {utc_now():%Y%m%dT%H%M%SZ}\r\nAuthorization: {authorization}\r\n\r\n")
    chunk = b"%x\r\n" % (1 << 20) + b"x" * (1 << 20) + b"\r\n"
    sent_mb, answer = 0, b""
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as s:
        try:
            s.sendall(head.encode())
            while sent_mb < 256:
                s.sendall(chunk)
                sent_mb += 1
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # refused midway: what is wanted
        try:
            answer = s.recv(4096)
        except OSError:
            pass
    grown_mb = (memory_high_water_kb(host.proc.pid) - before) // 1024
    status = answer.split(b"\r\n", 1)[0]
    assert grown_mb < 96, (
        f"the host's peak memory grew by {grown_mb} MB while an unverified caller sent {sent_mb} MB "
        f"(answer {status!r}): the body was held whole before the signature was checked")


# ---------------------------------------------------------------------------
# listening beyond loopback


def test_non_loopback_without_keys_refuses_to_start(make_host):
    port = free_port()
    host = make_host({"echo-python": python_function()}, server={"listen": f"0.0.0.0:{port}"}, start=False,
                     name="open-host")
    host.extra_env = {"FLICK_AUTH_KEYS": ""}
    host.listen_arg = False  # the manifest's listen address, not the suite's loopback one
    host.start(wait=False)
    try:
        rc = host.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        host.kill_hard()
        pytest.fail(f"flick serve on 0.0.0.0 without keys kept running:\n{host.stderr()[-2000:]}")
    assert rc == 2, f"exit {rc}:\n{host.stderr()}"
    assert "--insecure" in host.stderr(), host.stderr()
    assert "0.0.0.0" in host.stderr(), host.stderr()


def test_non_loopback_with_insecure_starts(make_host):
    port = free_port()
    host = make_host({"echo-python": python_function()}, server={"listen": f"0.0.0.0:{port}"}, start=False,
                     name="insecure-host")
    host.port = port
    host.extra_env = {"FLICK_AUTH_KEYS": ""}
    host.listen_arg = False
    host.serve_args = ["--insecure"]
    host.start()
    try:
        # No keys: nothing is checked, any client invokes.
        _, result = host.invoke("echo-python", {"action": "echo", "insecure": True})
        assert result == {"action": "echo", "insecure": True}
    finally:
        host.stop()


def test_non_loopback_with_keys_starts(make_host):
    port = free_port()
    host = make_host({"echo-python": python_function()},
                     server={"listen": f"0.0.0.0:{port}",
                             "auth": {"keys": [{"access_key_id": KEY_ID, "secret_access_key": SECRET}]}},
                     start=False, name="keyed-host")
    host.port = port
    host.extra_env = {"FLICK_AUTH_KEYS": ""}
    host.listen_arg = False
    host.start()
    try:
        out = boto3_call(host, KEY_ID, SECRET, "invoke", FunctionName="echo-python", Payload=b'{"action":"echo"}')
        assert out.result and out.result["Payload"] == {"action": "echo"}, out
        assert_api_error(call(host, "POST", INVOKE_PATH, EVENT), "MissingAuthenticationTokenException", MISSING)
    finally:
        host.stop()


@pytest.mark.parametrize("value", ["no-colon", "ID:", ":SECRET"])
def test_malformed_flick_auth_keys_refuse_to_start(make_host, value):
    host = make_host({"echo-python": python_function()}, start=False, extra_env={"FLICK_AUTH_KEYS": value},
                     name="bad-keys-host")
    host.start(wait=False)
    try:
        rc = host.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        host.kill_hard()
        pytest.fail(f"flick serve with FLICK_AUTH_KEYS={value!r} kept running")
    assert rc == 2, f"exit {rc}:\n{host.stderr()}"
    assert "FLICK_AUTH_KEYS" in host.stderr(), host.stderr()
