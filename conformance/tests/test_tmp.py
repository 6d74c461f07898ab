"""Each sandbox has a /tmp of its own, as each Lambda execution environment
does: invisible to other sandboxes and to the host, emptied when the sandbox
ends, and `ephemeral_storage_mb` in size (a write past it fails with ENOSPC
inside the function, and nothing else is disturbed)."""

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import raw_function


@pytest.fixture(scope="module")
def host(make_host):
    return make_host({
        "files": raw_function(timeout_s=10, max_concurrency=2),
        # One sandbox at most: the crash ends the very sandbox that wrote.
        "files-one": raw_function(timeout_s=10, max_concurrency=1),
        "small": raw_function(timeout_s=60, memory_mb=128, ephemeral_storage_mb=512),
    })


def test_a_file_in_tmp_is_seen_by_its_own_sandbox_only(host):
    name = f"secret-{uuid.uuid4().hex}"
    _, wrote = host.invoke("files", {"action": "tmp_write", "name": name, "content": "mine"})
    with ThreadPoolExecutor(2) as pool:
        # Keep the writer's sandbox busy, so the read lands in a second one.
        started = host.log_text("files").count("START RequestId")
        busy = pool.submit(host.invoke, "files", {"action": "sleep", "ms": 3000})
        deadline = time.time() + 5
        while host.log_text("files").count("START RequestId") == started and time.time() < deadline:
            time.sleep(0.02)
        _, other = pool.submit(host.invoke, "files", {"action": "tmp_read", "name": name}).result()
        busy.result()
    assert other["pid"] != wrote["pid"], "the read must have run in another sandbox"
    assert other["content"] is None, "a sibling sandbox must not see the file"
    assert not os.path.exists(f"/tmp/{name}"), "the host's /tmp must not see it either"
    _, again = host.invoke("files", {"action": "tmp_read", "name": name})
    if again["pid"] == wrote["pid"]:
        assert again["content"] == "mine", "the writer's own sandbox keeps its /tmp"


def test_tmp_is_emptied_when_the_sandbox_ends(host):
    name = f"gone-{uuid.uuid4().hex}"
    _, wrote = host.invoke("files-one", {"action": "tmp_write", "name": name, "content": "x"})
    resp, _ = host.invoke("files-one", {"action": "crash"})
    assert resp.get("FunctionError") == "Unhandled"
    for _ in range(3):
        _, read = host.invoke("files-one", {"action": "tmp_read", "name": name})
        assert read["pid"] != wrote["pid"], "the writer's sandbox crashed: a new one serves"
        assert read["content"] is None, "a new sandbox starts with an empty /tmp"


def test_writing_past_the_ephemeral_size_is_enospc_not_a_crash(host):
    # 600 MB into a 512 MB /tmp of a 128 MB function: the disk fills, memory does not.
    resp, result = host.invoke("small", {"action": "tmp_fill", "mb": 600})
    assert "FunctionError" not in resp, result
    assert result["errno"] == "ENOSPC", result
    assert 512 <= result["written_mb"] < 600, result
    resp, result = host.invoke("small", {"action": "echo", "after": "full"})
    assert result == {"action": "echo", "after": "full"}
    resp, result = host.invoke("files", {"action": "echo"})
    assert result == {"action": "echo"}
