"""An external extension written against the Extensions API with nothing but
the standard library, as the AWS samples write theirs: it registers under
its own file name, then loops on /event/next, and appends what it sees to
the JSON-lines file EXT_RECORD_FILE ({"ext", "what", ...} per line).

The test copies it into a layer's extensions/ folder under several names;
the environment variable EXT_MODE_<NAME> (the name upper-cased, '-' as '_')
picks what that copy does:

  normal          register for INVOKE and SHUTDOWN, record every event
  shutdown_only   register for SHUTDOWN only
  slow_invoke     like normal, but take EXT_SLOW_MS before asking again after an INVOKE
  crash_at_init   register, then exit 3 before asking for an event
  crash_on_invoke exit 4 on the first INVOKE
  exit_error      report /extension/exit/error on the first INVOKE, then exit 0
  init_error      register, then report /extension/init/error
  never_register  sleep forever without registering
  twice           register, then register again (records the answer)
  telemetry_http  like normal, and subscribes to the Telemetry API (EXT_TELEMETRY_TYPES,
                  default platform,function) with an HTTP listener on EXT_TELEMETRY_PORT
                  (default 4243): records every record received, and first the answer
                  to a subscription naming another host
  telemetry_tcp   the same with a TCP destination (one JSON record per line)
  logs_api        the same through the older Logs API (schema 2021-03-18), over HTTP
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

NAME = os.path.basename(sys.argv[0])
MODE = os.environ.get("EXT_MODE_" + NAME.upper().replace("-", "_"), "normal")
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = API + "/2020-01-01/extension"


def record(what, **fields):
    # The test made the file, writable by every sandbox's user (O_CREAT
    # would be refused in a sticky shared folder for a file of another's).
    line = json.dumps({"ext": NAME, "what": what, "t": time.time(), **fields}) + "\n"
    fd = os.open(os.environ["EXT_RECORD_FILE"], os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def call(method, path, body=None, headers=None, base=BASE):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def register(events):
    status, headers, body = call("POST", "/register", json.dumps({"events": events}).encode(),
                                 {"Lambda-Extension-Name": NAME, "Lambda-Extension-Accept-Feature": "accountId"})
    record("register", status=status, body=json.loads(body or b"null"),
           identifier=headers.get("lambda-extension-identifier"))
    return headers.get("lambda-extension-identifier")


def listen(port, tcp):
    """Receives telemetry on 0.0.0.0:port and records each record."""
    import http.server
    import socketserver
    import threading

    def got(batch):
        for r in batch:
            record("telemetry", **r)

    class Http(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            got(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST

        def log_message(self, *args):
            pass

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                got([json.loads(line)])

    server_class = socketserver.ThreadingTCPServer if tcp else http.server.ThreadingHTTPServer
    server_class.allow_reuse_address = True
    server = server_class(("0.0.0.0", port), Tcp if tcp else Http)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def subscribe(ext_id, port):
    tcp, logs_api = MODE == "telemetry_tcp", MODE == "logs_api"
    listen(port, tcp)
    path = "/2020-08-15/logs" if logs_api else "/2022-07-01/telemetry"
    types = os.environ.get("EXT_TELEMETRY_TYPES", "platform,function").split(",")
    def body(host):
        scheme = "tcp" if tcp else "http"
        return json.dumps({"schemaVersion": "2021-03-18" if logs_api else "2022-12-13", "types": types,
                           "buffering": {"timeoutMs": 25},
                           "destination": {"protocol": "TCP" if tcp else "HTTP",
                                           "URI": f"{scheme}://{host}:{port}/in"}}).encode()
    headers = {"Lambda-Extension-Identifier": ext_id, "Content-Type": "application/json"}
    status, _, answer = call("PUT", path, body("example.com"), headers, base=API)
    record("subscribe_elsewhere", status=status, body=json.loads(answer or b"null"))
    status, _, answer = call("PUT", path, body("sandbox.localdomain"), headers, base=API)
    record("subscribe", status=status, body=json.loads(answer or b"null"))


def give_up(ext_id, phase, error_type, code):
    """Reports /extension/{phase}/error, records the answer, exits `code`."""
    status, _, body = call("POST", f"/{phase}/error", b"{}", {"Lambda-Extension-Identifier": ext_id,
                                                             "Lambda-Extension-Function-Error-Type": error_type})
    record(f"{phase}_error", status=status, body=json.loads(body or b"null"))
    sys.exit(code)


def main():
    record("started", env=sorted(os.environ), cwd=os.getcwd(), uid=os.getuid())
    # What an extension prints is the extension stream's, not the function's.
    print(f"{NAME} is up", flush=True)
    if MODE == "never_register":
        time.sleep(3600)
    ext_id = register(["SHUTDOWN"] if MODE == "shutdown_only" else ["INVOKE", "SHUTDOWN"])
    if MODE == "twice":
        register(["INVOKE"])
    if MODE in ("telemetry_http", "telemetry_tcp", "logs_api"):
        subscribe(ext_id, int(os.environ.get("EXT_TELEMETRY_PORT", "4243")))
    if MODE == "crash_at_init":
        sys.exit(3)
    if MODE == "init_error":
        give_up(ext_id, "init", "Extension.ProbeFailed", 1)
    while True:
        status, _, body = call("GET", "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
        event = json.loads(body or b"null")
        record("event", status=status, event=event)
        if status != 200:
            sys.exit(2)
        if event["eventType"] == "SHUTDOWN":
            record("exiting")
            sys.exit(0)
        if MODE == "crash_on_invoke":
            sys.exit(4)
        if MODE == "exit_error":
            give_up(ext_id, "exit", "Extension.ProbeQuit", 0)
        if MODE == "slow_invoke":
            time.sleep(int(os.environ.get("EXT_SLOW_MS", "1000")) / 1000)
            record("slow_done", requestId=event["requestId"])


if __name__ == "__main__":
    main()
