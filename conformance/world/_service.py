"""botocore facilities shared by the in-memory clients and the scripted function.

The in-memory world answers with the same *shapes* a real boto3 client returns after parsing, and
fails the same way: parameters are checked by botocore's own validator against the real service
model (so a misspelt or missing parameter raises ``ParamValidationError`` exactly as boto3 would),
and service errors are raised as the same ``ClientError`` subclasses a real client exposes on
``client.exceptions`` (so ``except client.exceptions.ResourceNotFoundException`` works unchanged).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError, OperationNotPageableError, ParamValidationError
from botocore.model import OperationModel, ServiceModel
from botocore.paginate import Paginator
from botocore.validate import ParamValidator

from conformance.world import names

__all__ = [
    "ClientMeta",
    "ServiceSupport",
    "counter_uuid",
    "deterministic_uuid",
    "response_metadata",
    "service_support",
]

_REQUEST_ID_NAMESPACE = uuid.UUID("5b0c2a4e-8d1f-4c3b-9e6a-7f2d1c0b9a8e")


def deterministic_uuid(label: str) -> str:
    """A uuid-shaped identifier that depends only on ``label``, so runs replay identically."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, label))


def counter_uuid(kind: str, number: int) -> str:
    """The ``number``-th uuid-shaped identifier of ``kind``: deterministic, distinct per
    (kind, number), and cheap enough for every call on the hot path (request ids)."""
    head = _KIND_HEADS.get(kind)
    if head is None:
        head = _KIND_HEADS[kind] = deterministic_uuid(kind)[:24]
    return f"{head}{number:012x}"


_KIND_HEADS: dict[str, str] = {}


_UNJUDGED: Any = object()  # no verdict remembered yet (None is the verdict "valid")


@functools.lru_cache(maxsize=1)
def _botocore_session() -> botocore.session.Session:
    # Only used to *load service models* (JSON files shipped with botocore); no credentials,
    # configuration or network are involved.
    return botocore.session.get_session()


@dataclass
class ClientMeta:
    """The parts of ``client.meta`` pollers commonly read."""

    service_model: ServiceModel
    region_name: str = names.REGION
    partition: str = "aws"
    endpoint_url: str = ""
    config: Any = None
    method_to_api_mapping: Mapping[str, str] = field(default_factory=dict)


class ServiceSupport:
    """Model, validator and exception classes of one AWS service, loaded once per process."""

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.model: ServiceModel = _botocore_session().get_service_model(service_name)
        self.exceptions: Any = ClientExceptionsFactory().create_client_exceptions(self.model)
        self._validator = ParamValidator()
        self._operations: dict[str, OperationModel] = {}
        self.api_names: dict[str, str] = {botocore.xform_name(op): op for op in self.model.operation_names}
        self._meta: ClientMeta | None = None
        # Validation outcomes of flat parameter sets, keyed by what botocore's validator looks
        # at for scalars (type, string length, number value), per operation.
        self._scalar_members: dict[str, frozenset[str]] = {}
        self._verdicts: dict[tuple[Any, ...], str | None] = {}

    def meta(self) -> ClientMeta:
        """The shared ``client.meta`` of this service's in-memory clients (built once)."""
        if self._meta is None:
            self._meta = ClientMeta(
                service_model=self.model,
                endpoint_url=f"https://{self.model.endpoint_prefix}.{names.REGION}.amazonaws.com",
                method_to_api_mapping=dict(self.api_names),
            )
        return self._meta

    def can_paginate(self, operation_name: str) -> bool:
        api_name = self.api_names.get(operation_name)
        if api_name is None:
            return False
        try:
            _botocore_session().get_paginator_model(self.service_name).get_paginator(api_name)
        except ValueError:
            return False
        return True

    def paginator(self, operation_name: str, method: Any) -> Paginator[Any]:
        """botocore's own paginator for ``operation_name``, fetching pages through ``method``."""
        if not self.can_paginate(operation_name):
            raise OperationNotPageableError(operation_name=operation_name)
        api_name = self.api_names[operation_name]
        config = _botocore_session().get_paginator_model(self.service_name).get_paginator(api_name)
        return Paginator(method, config, self.operation(api_name))

    def operation(self, api_name: str) -> OperationModel:
        op = self._operations.get(api_name)
        if op is None:
            op = self._operations[api_name] = self.model.operation_model(api_name)
        return op

    def validate(self, api_name: str, params: Mapping[str, Any]) -> None:
        """Raise ``ParamValidationError`` exactly as a boto3 client would before sending.

        botocore's verdict on a flat set of string, number, boolean and blob parameters depends
        only on their names, types, string lengths and numeric values, so it is remembered under
        that key: the hot calls (GetRecords, Invoke ...) are validated once per distinct shape.
        """
        key = self._verdict_key(api_name, params)
        report = self._verdicts.get(key, _UNJUDGED) if key is not None else _UNJUDGED
        if report is _UNJUDGED:
            shape = self.operation(api_name).input_shape
            if shape is None:
                return
            result = self._validator.validate(params, shape)
            report = result.generate_report() if result.has_errors() else None
            if key is not None and len(self._verdicts) < 10_000:
                self._verdicts[key] = report
        if report is not None:
            raise ParamValidationError(report=report)

    def _verdict_key(self, api_name: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        scalars = self._scalar_members.get(api_name)
        if scalars is None:
            shape = self.operation(api_name).input_shape
            members = shape.members if shape is not None else {}
            scalars = self._scalar_members[api_name] = frozenset(
                name
                for name, member in members.items()
                if member.type_name in ("string", "integer", "long", "boolean", "blob")
            )
        key: list[Any] = [api_name]
        for name, value in params.items():
            if name not in scalars:
                return None
            kind = type(value)
            if kind is str or kind is bytes:
                key.append((name, kind, len(value)))
            elif kind is int or kind is bool:
                key.append((name, kind, value))
            else:
                return None
        return tuple(key)  # in the caller's order: another order is just another entry

    def error(
        self,
        api_name: str,
        code: str,
        message: str,
        status: int = 400,
        *,
        request_id: str = "",
        query_code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ClientError:
        """The ``ClientError`` (subclass) a real client raises for this service error.

        ``query_code`` is the short name botocore uses to pick the exception class when the
        wire code differs (SQS: ``AWS.SimpleQueueService.NonExistentQueue`` → ``QueueDoesNotExist``).
        """
        error: dict[str, Any] = {"Code": _as_parsed(code), "Message": message}
        if query_code is not None:
            error["QueryErrorCode"] = query_code
        if extra:
            error.update(extra)
        response: dict[str, Any] = {
            "Error": error,
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": status,
                "HTTPHeaders": {"x-amzn-requestid": request_id, "x-amzn-errortype": code},
                "RetryAttempts": 0,
            },
        }
        cls = self.exceptions.from_code(query_code or code)
        exc: ClientError = cls(response, api_name)
        return exc


@functools.cache
def service_support(service_name: str) -> ServiceSupport:
    return ServiceSupport(service_name)


def response_metadata(request_id: str, status: int = 200, **headers: str) -> dict[str, Any]:
    """``ResponseMetadata`` as botocore attaches it to every parsed response."""
    http_headers = {"x-amzn-requestid": request_id}
    if headers:
        http_headers.update(headers)
    return {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": http_headers,
        "RetryAttempts": 0,
    }


def _as_parsed(text: str) -> str:
    """``text`` as a string object of its own, as botocore hands out an error code it parsed from
    the response body: never the (interned) object of a string literal, so a poller that
    compares error codes with ``is`` fails here as it would against AWS."""
    return "".join(list(text))
