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
  init_error      register, then report /extension/init/error
  never_register  sleep forever without registering
  twice           register, then register again (records the answer)
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

NAME = os.path.basename(sys.argv[0])
MODE = os.environ.get("EXT_MODE_" + NAME.upper().replace("-", "_"), "normal")
BASE = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"


def record(what, **fields):
    # The test made the file, writable by every sandbox's user (O_CREAT
    # would be refused in a sticky shared folder for a file of another's).
    line = json.dumps({"ext": NAME, "what": what, "t": time.time(), **fields}) + "\n"
    fd = os.open(os.environ["EXT_RECORD_FILE"], os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
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


def main():
    record("started", env=sorted(os.environ), cwd=os.getcwd(), uid=os.getuid())
    if MODE == "never_register":
        time.sleep(3600)
    ext_id = register(["SHUTDOWN"] if MODE == "shutdown_only" else ["INVOKE", "SHUTDOWN"])
    if MODE == "twice":
        register(["INVOKE"])
    if MODE == "crash_at_init":
        sys.exit(3)
    if MODE == "init_error":
        status, _, body = call("POST", "/init/error", b"{}", {"Lambda-Extension-Identifier": ext_id,
                                                              "Lambda-Extension-Function-Error-Type": "Extension.ProbeFailed"})
        record("init_error", status=status, body=json.loads(body or b"null"))
        sys.exit(1)
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
        if MODE == "slow_invoke":
            time.sleep(int(os.environ.get("EXT_SLOW_MS", "1000")) / 1000)
            record("slow_done", requestId=event["requestId"])


if __name__ == "__main__":
    main()
