"""Conformance fixture: a custom runtime written with only the standard library
(urllib), so the tests can probe the Runtime API directly.

Start: python3 raw_runtime.py   (reads AWS_LAMBDA_RUNTIME_API)
RAW_STATE_FILE env: if set, statuses kept by the actions are also appended there.
RAW_DELIVERY_FILE env: if set, every invocation first appends one JSON line
  {"rid", "fn", "t" (epoch seconds), "event"} there, so tests can count
  deliveries of asynchronous events across sandboxes and host restarts.
RAW_MODE env: "normal" (default) | "init_error" (post /init/error, exit 1)
              | "ignore_sigterm" (serve normally but ignore SIGTERM)
AWS_LAMBDA_MAX_CONCURRENCY > 1: that many threads poll /next in parallel.

Actions (event["action"]):
  echo            answer the event
  text            answer bytes that are not JSON
  pid             {"pid", "cwd", "init_type", "thread"}
  sleep           sleep event["ms"], answer {"slept_ms", "pid"}
  headers         answer the headers of this invocation's /next response
  bogus_id        POST /invocation/<random id>/response; answer its status + body
  double_response answer {"first": true}, then POST a second response for the
                  same id; its status is kept in state and logged
  big_response    POST a 7 MB response; its status is kept in state and logged
  error           POST /invocation/ID/error with event["errorType"], event["message"]
  state           answer the statuses kept by the actions above
  crash           exit 1 without answering
  fail_first      POST an error while this request id has been delivered at
                  most event["n"] times (needs RAW_DELIVERY_FILE), then answer
  stream_json     stream, in the Runtime API's streaming mode and in 64-byte
                  chunks, the JSON result {"statusCode": 200, "headers":
                  {"content-type": "text/plain"}, "body": event["size"] x's}
  stream          stream event["chunks"] (texts) in the Runtime API's streaming
                  mode, one HTTP chunk each, event["pause_ms"] apart, as
                  event["content_type"] (default text/plain); with
                  event["error"] = {"errorType", "errorMessage"} the stream ends
                  with the error trailers Lambda-Runtime-Function-Error-Type /
                  -Body after the chunks. The POST's status is kept in state
  late_log        answer {"answered": true}, then print event["lines"] (texts)
                  event["pause_ms"] apart before asking for the next event:
                  output of the same invoke phase, after the answer
  partial_log     write event["text"] to stdout without a newline, then answer
  broken_response POST a response whose Content-Length promises more than is
                  sent, then exit 1 mid-body
  tmp_write       write event["content"] to /tmp/event["name"]; answer {"pid"}
  tmp_read        answer {"content": /tmp/event["name"] or null, "pid"}
  flood           open event["n"] connections to its own Runtime API, see how
                  many stay open and how many are answered 503 and closed,
                  close them all, answer {"open", "refused"}
  malformed       send the Runtime API a request HTTP cannot parse, then wait
  tmp_fill        write event["mb"] MB to /tmp/fill; answer {"written_mb",
                  "errno" (the error's name, or null)}; the file is removed
  whoami          {"pid", "uid", "gid", "groups", "runtime_api" (its
                  AWS_LAMBDA_RUNTIME_API)}
  probe           act as a hostile function: attack the other sandboxes and
                  the host as event asks (their pids, Runtime APIs, the Lambda
                  API unsigned, connections, the host's files) and answer what
                  it could do; see hostile_probe.py
An API Gateway event (one with "requestContext") takes its action from its
JSON body instead.
"""

import base64
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
STATE = {}
STATE_LOCK = threading.Lock()


def log(msg):
    print(msg, flush=True)


def call(method, path, body=None, headers=None):
    """Returns (status, headers dict lower-cased, body bytes); never raises on HTTP errors."""
    req = urllib.request.Request(API + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def respond(request_id, payload):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return call("POST", f"/invocation/{request_id}/response", data, {"Content-Type": "application/json"})


def post_streamed(request_id, chunks, pause_s, content_type, error=None):
    """POSTs a streamed response with hand-written chunked framing, so that the
    chunks leave one by one and a mid-stream error can go in the trailers.
    Returns the Runtime API's status."""
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", skip_accept_encoding=True)
        conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", content_type)
        if error is not None:
            conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
        conn.endheaders()
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(pause_s)
            data = chunk.encode()
            conn.send(b"%x\r\n%s\r\n" % (len(data), data))
        end = b"0\r\n"
        if error is not None:
            err_type = error.get("errorType", "Custom.StreamError")
            body = json.dumps({"errorMessage": error.get("errorMessage", "stream failed"), "errorType": err_type,
                               "stackTrace": []}).encode()
            end += b"Lambda-Runtime-Function-Error-Type: %s\r\n" % err_type.encode()
            end += b"Lambda-Runtime-Function-Error-Body: %s\r\n" % base64.b64encode(body)
        conn.send(end + b"\r\n")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def remember(key, value):
    with STATE_LOCK:
        STATE[key] = value
        if os.environ.get("RAW_STATE_FILE"):
            # Survives the process: the host may stop it right after the call.
            append_shared(os.environ["RAW_STATE_FILE"], f"{key}={value}\n")
    log(f"RAW_STATE {key}={value}")


def record_delivery(request_id, body):
    path = os.environ.get("RAW_DELIVERY_FILE")
    if not path:
        return
    try:
        event = json.loads(body)
    except ValueError:
        event = body.decode(errors="replace")
    line = json.dumps({"rid": request_id, "fn": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                       "t": time.time(), "event": event}) + "\n"
    append_shared(path, line)


def append_shared(path, text):
    """One write on an O_APPEND descriptor, so that lines of concurrent
    sandboxes do not interleave; the file is made writable by all, since each
    sandbox runs as a user of its own."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        try:
            os.fchmod(fd, 0o666)
        except PermissionError:  # another sandbox's user made it, already shared
            pass
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def deliveries_of(request_id):
    count = 0
    with open(os.environ["RAW_DELIVERY_FILE"]) as f:
        for line in f:
            if f'"rid": "{request_id}"' in line:
                count += 1
    return count


def post_error(request_id, err_type, message):
    err = {"errorMessage": message, "errorType": err_type, "stackTrace": []}
    return call("POST", f"/invocation/{request_id}/error", json.dumps(err).encode(),
                {"Lambda-Runtime-Function-Error-Type": err_type, "Content-Type": "application/json"})


def flood(n):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    held = [socket.create_connection((host, int(port)), timeout=5) for _ in range(n)]
    time.sleep(0.3)
    refused = 0
    for s in held:
        s.setblocking(False)
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        if not data or b" 503 " in data:
            refused += 1
    for s in held:
        s.close()
    return {"open": n - refused, "refused": refused}


def tmp_action(action, event):
    path = os.path.join("/tmp", event.get("name", "fill"))
    if action == "tmp_write":
        with open(path, "w") as f:
            f.write(event["content"])
        return {}
    if action == "tmp_read":
        try:
            with open(path) as f:
                return {"content": f.read()}
        except FileNotFoundError:
            return {"content": None}
    written, err = 0, None
    block = b"\0" * (1024 * 1024)
    try:
        with open(path, "wb") as f:
            for _ in range(event["mb"]):
                f.write(block)
                f.flush()
                written += 1
            os.fsync(f.fileno())
    except OSError as e:
        err = __import__("errno").errorcode.get(e.errno, str(e.errno))
    finally:
        if os.path.exists(path):
            os.remove(path)
    return {"written_mb": written, "errno": err}


def files(event):
    """Reads event["read"] (each file's text, or the errno's name), tries to
    write event["write"] ("written" or the errno's name), and lists
    event["list"] (sorted names, or the errno's name)."""
    import errno

    def attempt(do, path):
        try:
            return do(path)
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e))

    def read(path):
        with open(path) as f:
            return f.read()

    def write(path):
        with open(path, "w") as f:
            f.write("x")
        return "written"

    return {
        "read": {p: attempt(read, p) for p in event.get("read", [])},
        "write": {p: attempt(write, p) for p in event.get("write", [])},
        "list": {p: attempt(lambda q: sorted(os.listdir(q)), p) for p in event.get("list", [])},
        "env": {k: os.environ.get(k) for k in event.get("env", [])},
    }


def bind_and_hold(event):
    """Listens on event["port"] for event["hold_ms"]: "ok", or the errno's name."""
    import errno
    s = socket.socket()
    try:
        s.bind((event.get("host", "0.0.0.0"), event["port"]))
        s.listen(1)
        time.sleep(event.get("hold_ms", 0) / 1000)
        return {"bound": "ok", "pid": os.getpid()}
    except OSError as e:
        return {"bound": errno.errorcode.get(e.errno, str(e)), "pid": os.getpid()}
    finally:
        s.close()


def handle(request_id, headers, body):
    record_delivery(request_id, body)
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if isinstance(event, dict) and "requestContext" in event:
        try:
            event = json.loads(event.get("body") or "null")
        except ValueError:
            event = None
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    if action == "echo":
        respond(request_id, body)
    elif action == "stream_json":
        result = json.dumps({"statusCode": 200, "headers": {"content-type": "text/plain"},
                             "body": "x" * event["size"]}).encode()
        chunks = (result[i:i + 64] for i in range(0, len(result), 64))
        status, _, _ = call("POST", f"/invocation/{request_id}/response", chunks,
                            {"Lambda-Runtime-Function-Response-Mode": "streaming",
                             "Content-Type": "application/json"})
        remember("stream_json", status)
    elif action == "stream":
        try:
            status = post_streamed(request_id, event.get("chunks", []), event.get("pause_ms", 0) / 1000.0,
                                   event.get("content_type", "text/plain"), event.get("error"))
        except OSError as e:  # e.g. the host closed the connection mid-stream
            status = type(e).__name__
        remember("stream", status)
    elif action == "pid":
        respond(request_id, {
            "pid": os.getpid(),
            "cwd": os.getcwd(),
            "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            "thread": threading.current_thread().name,
        })
    elif action == "sleep":
        time.sleep(event.get("ms", 0) / 1000.0)
        respond(request_id, {"slept_ms": event.get("ms", 0), "pid": os.getpid()})
    elif action == "text":
        respond(request_id, b"plain text, not JSON \xe2\x98\x83")
    elif action == "headers":
        respond(request_id, {"headers": headers, "received_ms": int(time.time() * 1000)})
    elif action == "bogus_id":
        status, _, text = respond(str(uuid.uuid4()), {"bogus": True})
        respond(request_id, {"status": status, "body": text.decode(errors="replace")})
    elif action == "double_response":
        first, _, _ = respond(request_id, {"first": True})
        second, _, _ = respond(request_id, {"second": True})
        remember("double_first", first)
        remember("double_second", second)
    elif action == "big_response":
        try:
            status, _, _ = respond(request_id, json.dumps({"big": "x" * (7 * 1024 * 1024)}).encode())
        except OSError as e:  # e.g. the host answered and closed before reading the whole body
            status = f"{type(e).__name__}"
        remember("big_response", status)
    elif action == "late_log":
        respond(request_id, {"answered": True})
        for line in event.get("lines", []):
            time.sleep(event.get("pause_ms", 0) / 1000.0)
            log(line)
    elif action == "partial_log":
        sys.stdout.write(event.get("text", ""))
        sys.stdout.flush()
        respond(request_id, {"answered": True})
    elif action == "broken_response":
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port))
        conn.putrequest("POST", f"/2018-06-01/runtime/invocation/{request_id}/response")
        conn.putheader("Content-Length", "1000")
        conn.endheaders()
        conn.send(b'{"half": ')
        time.sleep(0.05)
        os._exit(1)
    elif action == "whoami":
        respond(request_id, {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(),
                             "groups": os.getgroups(), "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"]})
    elif action == "probe":
        import hostile_probe
        respond(request_id, hostile_probe.run(event))
    elif action == "flood":
        respond(request_id, flood(event.get("n", 100)))
    elif action == "malformed":
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        time.sleep(30)
    elif action == "files":
        respond(request_id, files(event))
    elif action == "bind":
        respond(request_id, bind_and_hold(event))
    elif action in ("tmp_write", "tmp_read", "tmp_fill"):
        respond(request_id, dict(tmp_action(action, event), pid=os.getpid()))
    elif action == "error":
        err_type = event.get("errorType", "Custom.RawError")
        err = {"errorMessage": event.get("message", "raw failure"), "errorType": err_type, "stackTrace": []}
        status, _, _ = call("POST", f"/invocation/{request_id}/error", json.dumps(err).encode(),
                            {"Lambda-Runtime-Function-Error-Type": err_type, "Content-Type": "application/json"})
        remember("error_post", status)
    elif action == "fail_first":
        if deliveries_of(request_id) <= event.get("n", 1):
            post_error(request_id, "Custom.FailFirst", f"failing delivery {deliveries_of(request_id)}")
        else:
            respond(request_id, {"delivered": True, "id": event.get("id")})
    elif action == "state":
        with STATE_LOCK:
            respond(request_id, dict(STATE, pid=os.getpid()))
    elif action == "crash":
        log("crashing on purpose")
        os._exit(1)
    else:
        respond(request_id, {"unknown_action": action})


def loop():
    while True:
        status, headers, body = call("GET", "/invocation/next")
        if status != 200:
            log(f"RAW /next answered {status}: {body[:200]!r}")
            time.sleep(0.05)
            continue
        handle(headers["lambda-runtime-aws-request-id"], headers, body)


def internal_extension(name):
    """Registers `name` as an internal extension (from inside the runtime,
    before its first /next), recording to EXT_RECORD_FILE what the
    Extensions API answers and every event it gets."""
    base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"

    def record(what, **fields):
        line = json.dumps({"ext": name, "what": what, "t": time.time(), **fields}) + "\n"
        fd = os.open(os.environ["EXT_RECORD_FILE"], os.O_WRONLY | os.O_APPEND)  # made by the test
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def register(events):
        req = urllib.request.Request(base + "/register", data=json.dumps({"events": events}).encode(),
                                     method="POST", headers={"Lambda-Extension-Name": name})
        try:
            with urllib.request.urlopen(req) as resp:
                record("register", status=resp.status, events=events)
                return resp.headers["Lambda-Extension-Identifier"]
        except urllib.error.HTTPError as e:
            record("register", status=e.code, events=events, body=json.loads(e.read()))

    register(["INVOKE", "SHUTDOWN"])  # refused: internal extensions get no SHUTDOWN
    ext_id = register(["INVOKE"])

    def events():
        while True:
            req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
            with urllib.request.urlopen(req) as resp:
                record("event", event=json.loads(resp.read()))

    threading.Thread(target=events, daemon=True).start()


def main():
    mode = os.environ.get("RAW_MODE", "normal")
    if os.environ.get("RAW_INTERNAL_EXTENSION"):
        internal_extension(os.environ["RAW_INTERNAL_EXTENSION"])
    if mode == "init_error":
        err = {"errorMessage": "raw runtime refused to start", "errorType": "Runtime.FlickRawInitError", "stackTrace": []}
        status, _, _ = call("POST", "/init/error", json.dumps(err).encode(),
                            {"Lambda-Runtime-Function-Error-Type": "Runtime.FlickRawInitError"})
        remember("init_error", status)
        sys.exit(1)
    if mode == "ignore_sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threads = max(1, int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or "1"))
    workers = [threading.Thread(target=loop, name=f"poller-{i}", daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
