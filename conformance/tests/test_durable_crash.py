"""Durable executions survive SIGKILL: 200 concurrent executions of a
function that steps, waits, waits for a callback and retries a step; the
host is killed during the waits, again while callbacks are pending, and
again during the retries. After each restart every execution carries on
from its checkpoints: all complete with the right result, no timer or
callback is lost, and no step body runs again once its result was
checkpointed (each body's start time is compared with the time its
StepSucceeded was recorded)."""

import re
import time

import pytest

from conftest import python_function
from durable_runs import callback_ids, check_all_finished, make_step_log, start_all

EXECUTIONS = 200


@pytest.fixture(scope="module")
def step_log(tmp_path_factory):
    return make_step_log(tmp_path_factory, "durable-crash")


@pytest.fixture(scope="module")
def host(make_host, step_log):
    crashy = python_function("durable_app.crashy", timeout_s=10, max_concurrency=16,
                             env={"STEP_LOG": str(step_log)},
                             durable={"execution_timeout_s": 600})
    return make_host({"crashy": crashy}, name="durable-crash")


def restart(host):
    """SIGKILL, start again; how many executions the new host resumed."""
    host.kill_hard()
    host.start()
    m = re.search(r"durable: (\d+) executions resumed", host.stderr())
    return int(m.group(1)) if m else 0


def test_sigkill_during_waits_callbacks_and_retries_loses_nothing(host, step_log):
    arns = start_all(host, EXECUTIONS)
    assert len(arns) == EXECUTIONS
    time.sleep(1.5)
    # Most executions are in their 2 s wait.
    assert restart(host) == EXECUTIONS

    # Killed again while callbacks are pending (the ids survive the restart).
    ids = callback_ids(host, arns, want=EXECUTIONS // 2)
    assert restart(host) == EXECUTIONS
    ids = callback_ids(host, arns, want=EXECUTIONS)
    assert len(ids) == EXECUTIONS, f"{EXECUTIONS - len(ids)} executions never reached their callback"
    for name, callback_id in ids.items():
        host.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=name.encode())
    time.sleep(0.7)
    assert restart(host) > 0  # during the flaky step's 1 s retry delay

    check_all_finished(host, arns, step_log)
