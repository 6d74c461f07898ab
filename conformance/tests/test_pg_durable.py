"""Durable executions on several hosts sharing one PostgreSQL store: one
host at a time runs them (it holds the lead), the others pass durable
requests on to it, and when the leader dies another takes over and resumes
every execution from its checkpoints.

Checked: executions started, read and called back through a host that does
not lead complete as on one host; SIGKILL of the leader during the waits,
then of the next leader during the retries, loses nothing (every execution
succeeds with its result, its wait fires once, no step body runs again after
its result was checkpointed); each takeover starts a new term; a database of
the previous schema version is migrated in place; a bad `advertise` URL is
refused at start."""

import re
import subprocess
import time
import types

import pytest

from conftest import Host, make_client, python_function, render_manifest
from durable_runs import callback_ids, check_all_finished, make_step_log, start_all

EXECUTIONS = 60


def patient(host):
    """A view of `host` whose client retries what a takeover answers (the
    ServiceException of a host that knows no leader yet, or a forward to the
    leader that just died), as an SDK's standard retries do."""
    return types.SimpleNamespace(client=make_client(host.endpoint, attempts=20))


def leads(host):
    """How many terms this run of `host` has started."""
    return len(re.findall(r"durable: this host runs the durable executions", host.stderr()))


def wait_for(condition, timeout, what):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)
    return time.time()


@pytest.fixture(scope="module")
def step_log(tmp_path_factory):
    return make_step_log(tmp_path_factory, "pg-durable")


@pytest.fixture(scope="module")
def pair(pg_cluster, make_host, step_log):
    url = pg_cluster.create_database("durable_shared")
    crashy = python_function("durable_app.crashy", timeout_s=10, max_concurrency=8,
                             env={"STEP_LOG": str(step_log)},
                             durable={"execution_timeout_s": 600})
    a = make_host({"crashy": crashy}, server={"store": url}, name="pg-durable-a")
    b = make_host({"crashy": crashy}, server={"store": url}, name="pg-durable-b")
    return a, b, "durable_shared"


def test_the_leader_killed_twice_loses_no_execution(pair, pg_cluster, step_log):
    a, b, database = pair
    assert leads(a) == 1 and leads(b) == 0, "the first host to start leads"

    # Everything through the host that does not lead: passed on to the leader.
    arns = start_all(patient(b), EXECUTIONS)
    assert len(arns) == EXECUTIONS
    some = next(iter(arns.values()))
    assert b.client.get_durable_execution(DurableExecutionArn=some)["Status"] == "RUNNING"

    time.sleep(1.5)  # most executions are in their 2 s wait
    killed = time.time()
    a.kill_hard()
    took = wait_for(lambda: f"durable: {EXECUTIONS} executions resumed" in b.stderr(), 20,
                    "the second host takes the lead and resumes every execution") - killed
    print(f"\nthe lead passed in {took:.2f} s")
    a.start()
    assert leads(a) == 0, "a host that starts again follows the leader it finds"

    # Callbacks found and completed through the host that follows now.
    via_a = patient(a)
    ids = callback_ids(via_a, arns, want=EXECUTIONS)
    assert len(ids) == EXECUTIONS, f"{EXECUTIONS - len(ids)} executions never reached their callback"
    for name, callback_id in ids.items():
        via_a.client.send_durable_execution_callback_success(CallbackId=callback_id, Result=name.encode())
    time.sleep(0.7)  # during the flaky step's 1 s retry delay
    b.kill_hard()
    wait_for(lambda: leads(a) == 1, 20, "the restarted host takes the lead back")
    b.start()

    check_all_finished(patient(b), arns, step_log)
    assert pg_cluster.psql("SELECT term FROM flick_durable_leader", database) == "3"
    assert pg_cluster.psql("SELECT count(*) FROM flick_durable_executions", database) == str(EXECUTIONS)


def test_postgres_restarted_during_waits(pg_cluster, make_host):
    """The leader loses its session with the restart: it stops its engine,
    a leader is elected again when the database is back, and the waiting
    executions end as if nothing had happened."""
    url = pg_cluster.create_database("durable_restart")
    sleeper = python_function("durable_app.sleeper", timeout_s=10, durable={"execution_timeout_s": 120})
    hosts = [make_host({"sleeper": sleeper}, server={"store": url}, name=f"pg-durable-r{i}")
             for i in range(2)]
    via = patient(hosts[1])
    arns = []
    for i in range(10):
        resp = via.client.invoke(FunctionName="sleeper", InvocationType="Event",
                                 DurableExecutionName=f"nap-{i}", Payload=b'{"seconds": 4}')
        arns.append(resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-durable-execution-arn"])
    pg_cluster.restart(down_s=2.0)
    wait_for(lambda: sum(leads(h) for h in hosts) == 2, 30, "a leader elected again")
    deadline = time.time() + 60
    for arn in arns:
        while (e := via.client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
            assert time.time() < deadline, f"{arn} still running"
            time.sleep(0.3)
        assert e["Status"] == "SUCCEEDED" and e["Result"] == '"woke"', e
        events = via.client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        assert [x["EventType"] for x in events].count("WaitSucceeded") == 1, arn


def test_a_database_of_the_previous_version_is_migrated(pg_cluster, host_factory):
    url = pg_cluster.create_database("version_one")
    steps = python_function("durable_app.steps", timeout_s=10, durable={"execution_timeout_s": 60})
    host = host_factory({"steps": steps}, server={"store": url}, name="pg-migrate")
    host.stop()
    # What a host of version 1 left: the queue's tables only, no traces.
    pg_cluster.psql("DROP TABLE flick_durable_operations, flick_durable_events, "
                    "flick_durable_executions, flick_durable_leader; "
                    "ALTER TABLE flick_events DROP COLUMN trace; "
                    "DELETE FROM flick_schema WHERE version > 1", "version_one")
    host.start()
    assert "tables migrated from version 1 to 3" in host.stderr()
    resp, body = host.invoke("steps", {"n": 3}, DurableExecutionName="after-migration")
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, body
    assert body == {"result": 8}
    assert pg_cluster.psql("SELECT max(version) FROM flick_schema", "version_one") == "3"


def test_executions_left_in_the_embedded_store_are_named_at_start(pg_cluster, host_factory):
    steps = python_function("durable_app.steps", timeout_s=10, durable={"execution_timeout_s": 60})
    host = host_factory({"steps": steps}, server={"store": None}, name="pg-moved")
    resp, _ = host.invoke("steps", {"n": 1}, DurableExecutionName="kept-in-sqlite")
    assert resp["StatusCode"] == 200
    host.stop()
    host.server["store"] = pg_cluster.create_database("moved")
    host.manifest.write_text(render_manifest(host.server, host.functions))
    host.start()
    assert "holds 1 durable executions from before this host used the shared store" in host.stderr()


def test_a_bad_advertise_url_is_refused_at_start(flick_bin, tmp_path):
    host = Host(flick_bin, tmp_path, {"f": python_function()},
                server={"store": "postgres://flick@127.0.0.1:1/x", "advertise": "10.0.0.5:9000"})
    proc = subprocess.run([flick_bin, "serve", "--config", str(host.manifest), "--no-build"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "server.advertise: `10.0.0.5:9000` is not a URL like http://10.0.0.5:9000" in proc.stderr
