"""`flick serve --watch`: a function is rebuilt when its sources change; new
invocations get the new build while one under way ends on the old; a build
that fails is reported and the last good build serves on."""

import threading
import time

from conftest import function_python, traversable

APP = '''import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {{"version": {version}}}
'''


def write_version(path, version):
    # A new modification time for certain, whatever the file system's resolution.
    time.sleep(0.05)
    path.write_text(APP.format(version=version))


def test_an_edit_is_served_after_a_rebuild_and_a_broken_one_is_not(host_factory, tmp_path_factory):
    root = traversable(tmp_path_factory.mktemp("watch"))
    src, out = root / "src", root / "out"
    src.mkdir()
    out.mkdir()
    write_version(src / "app.py", 1)
    (out / "app.py").write_text((src / "app.py").read_text())
    python = function_python()
    build = f"{python} -m py_compile {src / 'app.py'} && cp {src / 'app.py'} {out / 'app.py'}"
    host = host_factory({"w": {"command": [python, "-m", "awslambdaric", "app.handler"], "workdir": str(out),
                               "build": build, "artifact": {"python": str(src)}, "timeout_s": 10}},
                        start=False, name="watch-host")
    host.serve_args = ["--watch"]
    host.start()
    try:
        assert host.invoke("w", {})[1] == {"version": 1}
        slow = {}
        under_way = threading.Thread(target=lambda: slow.update(result=host.invoke("w", {"sleep": 3})[1]))
        under_way.start()
        time.sleep(0.5)
        write_version(src / "app.py", 2)
        deadline, result = time.time() + 20, None
        while time.time() < deadline:
            result = host.invoke("w", {})[1]
            if result == {"version": 2}:
                break
            time.sleep(0.2)
        assert result == {"version": 2}, "the edit is served after the rebuild"
        under_way.join()
        assert slow["result"] == {"version": 1}, "the invocation under way ended on the old build"

        time.sleep(0.05)
        (src / "app.py").write_text("def handler(:\n")
        deadline = time.time() + 15
        while "the last good build serves on" not in host.stderr() and time.time() < deadline:
            time.sleep(0.2)
        assert "the last good build serves on" in host.stderr()
        assert host.invoke("w", {})[1] == {"version": 2}
    finally:
        host.stop()
