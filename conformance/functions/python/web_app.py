"""An ordinary web app, with no Lambda in it: the AWS Lambda Web Adapter (an
extension in the function's layer) turns each event into a request to it on
127.0.0.1:PORT (default 8080) and its answer into the Lambda response.

GET / answers "ok" (the adapter's readiness check); any other request is
answered with JSON saying what arrived: method, path, query, the body and
the headers (lower-cased), and the pid that served it."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits
    # for the adapter's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path == "/":
            out, kind = b"ok", "text/plain"
        else:
            path, _, query = self.path.partition("?")
            out = json.dumps({
                "method": self.command, "path": path, "query": query, "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()}, "pid": os.getpid(),
            }).encode()
            kind = "application/json"
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", kind)
        self.send_header("X-Served-By", "web_app.py")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, fmt, *args):
        print("web_app: " + fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1", port), App).serve_forever()
