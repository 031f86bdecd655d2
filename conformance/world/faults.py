"""The scenario's world conditions (``Scenario.world``) applied to the clients a poller gets, the
same way in both backends: the world misbehaves as AWS does, so pollers' error paths run.

:class:`WorldFaults` holds the state of one world (how many GetRecords and destination writes
were made, when each shard iterator was issued) and wraps each raw client between the backend
and the recording proxy, so every injected error is recorded like any other.

* GetRecords throttling: the calls ``first_call .. first_call + count - 1`` (numbered from 1 over
  the whole world) raise the stream's throughput error, as botocore raises it:
  ``ProvisionedThroughputExceededException`` (Kinesis) or ``LimitExceededException`` (DynamoDB
  Streams, its own limit code), HTTP 400. Nothing is read.
* Iterator expiry: the in-memory world expires iterators itself (``iterator_lifetime``); moto's
  never expire, so for moto this layer remembers when each iterator was handed out and raises
  ``ExpiredIteratorException`` exactly when the in-memory world would (older than the lifetime).
* Destination write failures: the first ``destination_failures`` SendMessage / Publish /
  PutObject calls fail with the service's throttling error (SQS ``RequestThrottled``, SNS
  ``Throttled`` 429, S3 ``SlowDown`` 503); nothing is written.
* Arrival times in a non-UTC offset: GetRecords answers carry ``ApproximateArrivalTimestamp`` /
  ``ApproximateCreationDateTime`` as the same instant in the scenario's fixed offset, as botocore
  hands out ``tzlocal()`` datetimes on a host that is not on UTC.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from conformance.clock import VirtualClock
from conformance.scenario import WorldConditions
from conformance.world import names
from conformance.world._service import service_support

__all__ = ["EXPIRED_MESSAGES", "WorldFaults"]

EXPIRED_MESSAGES = {
    "kinesis": "Iterator expired. The iterator was created too long ago; get a new shard iterator.",
    "dynamodbstreams": "Shard iterator has expired",
}
"""The ``ExpiredIteratorException`` messages of each stream service (both backends use them)."""

# (code, HTTP status, message) of the injected errors.
_READ_THROTTLES = {
    "kinesis": (
        "ProvisionedThroughputExceededException",
        400,
        f"Rate exceeded for stream {names.STREAM_NAME} under account {names.ACCOUNT_ID}.",
    ),
    "dynamodbstreams": (
        "LimitExceededException",
        400,
        "Throughput exceeds the current throughput limit for your account, please contact AWS Support "
        "at https://aws.amazon.com/support request a limit increase",
    ),
}
_WRITE_FAILURES = {
    ("sqs", "send_message"): ("SendMessage", "RequestThrottled", 400, "Request is throttled."),
    ("sns", "publish"): ("Publish", "Throttled", 429, "Rate exceeded"),
    ("s3", "put_object"): ("PutObject", "SlowDown", 503, "Please reduce your request rate."),
}


class WorldFaults:
    """The conditions of one world and the counters they need."""

    def __init__(self, conditions: WorldConditions, clock: VirtualClock, *, expire_iterators: bool) -> None:
        self.conditions = conditions
        self._clock = clock
        self._expire = expire_iterators and conditions.iterator_lifetime is not None
        self._reads = itertools.count(1)
        self._writes = itertools.count(1)
        self._issued: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return not self.conditions.is_default

    def wrap(self, service: str, client: Any) -> Any:
        """``client`` with this world's conditions applied (``client`` itself if none apply)."""
        if not self.active:
            return client
        if service in _READ_THROTTLES:
            return _StreamClient(client, service, self)
        if any(key[0] == service for key in _WRITE_FAILURES):
            return _DestinationClient(client, service, self)
        return client

    # ---- decisions ------------------------------------------------------------------------------

    def read_throttled(self) -> bool:
        throttles = self.conditions.get_records_throttles
        number = next(self._reads)
        return throttles is not None and throttles.covers(number)

    def write_fails(self) -> bool:
        return next(self._writes) <= self.conditions.destination_failures

    def issued(self, iterator: Any) -> None:
        if self._expire and isinstance(iterator, str):
            self._issued[iterator] = self._clock.elapsed

    def expired(self, iterator: Any) -> bool:
        lifetime = self.conditions.iterator_lifetime
        issued = self._issued.get(iterator) if self._expire and isinstance(iterator, str) else None
        return lifetime is not None and issued is not None and self._clock.elapsed - issued > lifetime


def _error(client: Any, service: str, api_name: str, code: str, status: int, message: str) -> ClientError:
    """The ClientError ``client`` itself raises for this error code (its own exception class, so
    ``except client.exceptions.X`` works with real and in-memory clients alike)."""
    shaped = service_support(service).error(api_name, code, message, status)
    cls: Callable[..., ClientError] = client.exceptions.from_code(code)
    return cls(shaped.response, api_name)


class _Wrapped:
    def __init__(self, client: Any, service: str, faults: WorldFaults) -> None:
        self._client = client
        self._service = service
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"<{self._service} client with world conditions around {self._client!r}>"


class _StreamClient(_Wrapped):
    """Kinesis / DynamoDB Streams: throttled reads, expiring iterators, arrivals in an offset."""

    def get_shard_iterator(self, **params: Any) -> Any:
        response = self._client.get_shard_iterator(**params)
        self._faults.issued(response.get("ShardIterator"))
        return response

    def get_records(self, **params: Any) -> Any:
        faults = self._faults
        if faults.read_throttled():
            code, status, message = _READ_THROTTLES[self._service]
            raise _error(self._client, self._service, "GetRecords", code, status, message)
        if faults.expired(params.get("ShardIterator")):
            raise _error(
                self._client,
                self._service,
                "GetRecords",
                "ExpiredIteratorException",
                400,
                EXPIRED_MESSAGES[self._service],
            )
        response = self._client.get_records(**params)
        faults.issued(response.get("NextShardIterator"))
        if faults.conditions.arrival_utc_offset_minutes:
            _relabel_arrivals(response, self._service, faults.conditions)
        return response


def _relabel_arrivals(response: Any, service: str, conditions: WorldConditions) -> None:
    """The same instants, written in the scenario's UTC offset (fresh datetimes: the stream's
    own are left alone)."""
    zone = conditions.arrival_zone
    for record in response.get("Records", []):
        if service == "kinesis":
            record["ApproximateArrivalTimestamp"] = record["ApproximateArrivalTimestamp"].astimezone(zone)
        else:
            change = record["dynamodb"]
            change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].astimezone(zone)


class _DestinationClient(_Wrapped):
    """SQS / SNS / S3: the first writes to the on-failure destination fail."""

    def _maybe_fail(self, operation: str) -> None:
        if self._faults.write_fails():
            api_name, code, status, message = _WRITE_FAILURES[(self._service, operation)]
            raise _error(self._client, self._service, api_name, code, status, message)

    def send_message(self, **params: Any) -> Any:
        self._maybe_fail("send_message")
        return self._client.send_message(**params)

    def publish(self, **params: Any) -> Any:
        self._maybe_fail("publish")
        return self._client.publish(**params)

    def put_object(self, **params: Any) -> Any:
        self._maybe_fail("put_object")
        return self._client.put_object(**params)
