"""A minimal Runtime API stand-in for checking a conformance function by itself,
without the Flick host: serves the given events one by one on /next, prints
what the function posts back as one JSON line each, and exits when all events
are answered (or the process dies, or --timeout passes).

  python3 conformance/tools/mini_runtime_api.py --cwd DIR --event '{"action":"pid"}' -- CMD ARGS...
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--event", action="append", default=[])
    ap.add_argument("--cwd", default=".")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the function")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("cmd", nargs="+")
    args = ap.parse_args()

    events = queue.Queue()
    for e in args.event:
        events.put((str(uuid.uuid4()), e.encode()))
    results = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _reply(self, code, body=b'{"status":"OK"}'):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                return self._reply(404, b"{}")
            rid, body = events.get()
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 3000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:mini")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
            if os.environ.get("MINI_NO_CONTENT_TYPE") != "1":
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_POST(self):
            body = self._body()
            kind = self.path[len(PREFIX):]
            results.put({"path": kind, "error_type_header": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                         "body": body.decode(errors="replace")[:2000]})
            self._reply(202)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
           "AWS_LAMBDA_FUNCTION_NAME": "mini", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
           "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/mini",
           "AWS_LAMBDA_LOG_STREAM_NAME": "mini-stream", "AWS_REGION": "us-east-1", "TZ": ":UTC",
           "LAMBDA_TASK_ROOT": os.path.abspath(args.cwd)}
    env.update(kv.split("=", 1) for kv in args.env)
    proc = subprocess.Popen(args.cmd, cwd=args.cwd, env=env)
    deadline = time.time() + args.timeout
    answered = 0
    while answered < len(args.event) and time.time() < deadline:
        try:
            r = results.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        print(json.dumps(r), flush=True)
        if r["path"] != "/init/error":
            answered += 1
    time.sleep(0.2)
    while not results.empty():
        print(json.dumps(results.get()), flush=True)
    proc.kill()
    proc.wait()
    print(json.dumps({"exit": proc.returncode}), flush=True)


if __name__ == "__main__":
    main()
