"""The botocore facilities behind the in-memory clients: validation exactly as boto3's, even
when its verdicts are remembered, and the exception classes real clients expose."""

from __future__ import annotations

import pytest
from botocore.exceptions import ParamValidationError

from conformance.world._service import counter_uuid, service_support


def test_remembered_validation_still_judges_each_length_type_and_value() -> None:
    kinesis = service_support("kinesis")
    kinesis.validate("GetRecords", {"ShardIterator": "x" * 10, "Limit": 5})
    kinesis.validate("GetRecords", {"ShardIterator": "y" * 10, "Limit": 5})  # same shape: remembered
    with pytest.raises(ParamValidationError, match="Invalid length for parameter ShardIterator, value: 0"):
        kinesis.validate("GetRecords", {"ShardIterator": "", "Limit": 5})
    with pytest.raises(ParamValidationError, match="Invalid value for parameter Limit, value: 0"):
        kinesis.validate("GetRecords", {"ShardIterator": "x" * 10, "Limit": 0})
    with pytest.raises(ParamValidationError, match="Invalid type for parameter Limit, value: 5"):
        kinesis.validate("GetRecords", {"ShardIterator": "x" * 10, "Limit": "5"})
    with pytest.raises(ParamValidationError, match="Invalid length for parameter ShardIterator, value: 0"):
        kinesis.validate("GetRecords", {"ShardIterator": "", "Limit": 5})  # a remembered failure


def test_structured_parameters_are_validated_every_time() -> None:
    sqs = service_support("sqs")
    sqs.validate("ReceiveMessage", {"QueueUrl": "u", "AttributeNames": ["All"]})
    with pytest.raises(ParamValidationError, match="Invalid type for parameter AttributeNames"):
        sqs.validate("ReceiveMessage", {"QueueUrl": "u", "AttributeNames": "All"})


def test_errors_are_the_classes_real_clients_raise() -> None:
    sqs = service_support("sqs")
    error = sqs.error(
        "GetQueueUrl", "AWS.SimpleQueueService.NonExistentQueue", "gone", query_code="QueueDoesNotExist"
    )
    assert isinstance(error, sqs.exceptions.QueueDoesNotExist)
    assert error.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.operation_name == "GetQueueUrl"


def test_counter_uuids_are_uuid_shaped_distinct_and_deterministic() -> None:
    ids = [counter_uuid("invoke", n) for n in range(1, 4)] + [counter_uuid("kinesis", 1)]
    assert len(set(ids)) == 4
    assert all(len(i) == 36 and [len(p) for p in i.split("-")] == [8, 4, 4, 4, 12] for i in ids)
    assert counter_uuid("invoke", 2) == ids[1]
