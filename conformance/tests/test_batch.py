"""`flick::batch` (feature `batch`): SQS, Kinesis and DynamoDB Streams
handlers that answer with the `batchItemFailures` Lambda reads (with
ReportBatchItemFailures) to retry only the failed records; an SQS FIFO batch
stops at its first failure; a batch whose every record failed fails whole;
a malformed record is that record's failure, not a crash. The function is
examples/batch, run under the host with real event shapes (AWS's samples)."""

import base64
import json

import pytest

from conftest import cargo_bin

QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"


@pytest.fixture(scope="module")
def host(make_host):
    binary = cargo_bin("example-batch")

    def fn(source, **env):
        return {"command": [binary], "env": {"BATCH_SOURCE": source, **env}, "memory_mb": 128}

    return make_host({
        "sqs": fn("sqs"),
        "sqs-parallel": fn("sqs", BATCH_CONCURRENCY="4"),
        "kinesis": fn("kinesis"),
        "dynamodb": fn("dynamodb"),
    }, name="batch")


def sqs_event(bodies, queue=QUEUE):
    return {"Records": [{
        "messageId": f"m{i}", "receiptHandle": f"handle-{i}", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                       "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
        "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs", "eventSourceARN": queue, "awsRegion": "us-east-1",
    } for i, body in enumerate(bodies, 1)]}


def order(i, fail=False):
    return json.dumps({"id": f"o{i}", "fail": fail})


def failures(result):
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


@pytest.mark.parametrize("fn", ["sqs", "sqs-parallel"])
def test_only_the_failed_messages_are_reported(host, fn):
    bodies = [order(1), order(2, fail=True), "not json", order(4, fail=True), order(5)]
    resp, result = host.invoke(fn, sqs_event(bodies))
    assert "FunctionError" not in resp, result
    assert failures(result) == ["m2", "m3", "m4"]
    for logged in ("InvalidRecord", "StoreUnavailable"):
        assert host.wait_log(fn, logged), f"each failure is logged with its type ({logged})"


def test_a_record_whose_handler_panics_is_that_records_failure(host):
    bodies = [order(1), json.dumps({"id": "o2", "panic": True}), order(3)]
    resp, result = host.invoke("sqs-parallel", sqs_event(bodies))
    assert "FunctionError" not in resp, result
    assert failures(result) == ["m2"]
    resp, result = host.invoke("sqs-parallel", sqs_event([order(4)]))
    assert failures(result) == [], "the sandbox serves on"


def test_a_fifo_batch_stops_at_its_first_failure(host):
    bodies = [order(1), order(2, fail=True), order(3), order(4)]
    resp, result = host.invoke("sqs", sqs_event(bodies, queue=QUEUE + ".fifo"))
    assert failures(result) == ["m2", "m3", "m4"], "the rest are not processed out of order"
    resp, result = host.invoke("sqs", sqs_event([order(1), order(2)], queue=QUEUE + ".fifo"))
    assert failures(result) == []


def test_a_batch_whose_every_record_failed_fails_whole(host):
    resp, result = host.invoke("sqs", sqs_event([order(1, fail=True), "{"]))
    assert resp["FunctionError"] == "Unhandled"
    assert result["errorType"] == "BatchProcessingError"
    assert "All records failed processing" in result["errorMessage"]


def test_an_event_that_is_no_sqs_batch_is_a_clear_error(host):
    resp, result = host.invoke("sqs", {"hello": "world"})
    assert resp["FunctionError"] == "Unhandled"
    assert "Records" in result["errorMessage"], result


def kinesis_record(seq, data):
    return {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1", "sequenceNumber": seq,
                    "data": base64.b64encode(data.encode()).decode(), "approximateArrivalTimestamp": 1545084650.987},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000006:{seq}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::000000000000:role/lambda-role",
        "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
    }


def test_kinesis_failures_are_reported_by_sequence_number(host):
    seqs = ["49590338271490256608559692538361571095921575989136588898",
            "49590338271490256608559692540925702759324208523137515618",
            "49590338271490256608559692540925702759324208523137515619"]
    event = {"Records": [kinesis_record(seqs[0], order(1)), kinesis_record(seqs[1], order(2, fail=True)),
                         kinesis_record(seqs[2], "\x00 not json")]}
    resp, result = host.invoke("kinesis", event)
    assert "FunctionError" not in resp, result
    assert failures(result) == seqs[1:]


def dynamodb_record(seq, key, fail):
    return {
        "eventID": f"e{seq}", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": 1479499740, "Keys": {"id": {"S": key}},
                     "NewImage": {"id": {"S": key}, "fail": {"BOOL": fail}},
                     "SequenceNumber": seq, "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2015-06-27T00:48:05.899",
    }


def test_dynamodb_stream_failures_are_reported_by_sequence_number(host):
    event = {"Records": [dynamodb_record("111", "a", False), dynamodb_record("222", "b", True),
                         dynamodb_record("333", "c", False)]}
    resp, result = host.invoke("dynamodb", event)
    assert "FunctionError" not in resp, result
    assert failures(result) == ["222"]
