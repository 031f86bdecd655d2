"""What a gallery entry is, and the machinery its broken pollers are built from.

Every broken poller is the reference poller with one small piece swapped: a shard processor,
reader or invoker subclass that overrides one method, an edit of each event record as it is
read, or an edit of each destination document on its way to the SQS, SNS or S3 client. The rest
is the reference, unchanged, so the one bug is the only difference a rule can see.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from conformance.contract import Adapter, Clock, PollerContext
from reference import ADAPTER as REFERENCE_ADAPTER
from reference import ReferencePoller
from reference.config import MappingConfig
from reference.destinations import Destination
from reference.events import PolledRecord
from reference.invoker import Invoker
from reference.shard import ShardProcessor
from reference.source import ShardReader, StreamSource

__all__ = [
    "ConfiguredProcessor",
    "GalleryPoller",
    "VariantPoller",
    "decoded_data",
    "entry",
    "with_event",
    "with_size",
]


@dataclass(frozen=True)
class GalleryPoller:
    """One deliberately broken poller.

    ``adapter`` plugs it into the kit like any implementation (``--poller
    conformance.gallery:<name>``); ``intended_rule`` is the rule id whose checker must catch it;
    ``description`` says, in one line, what the bug is.
    """

    name: str
    adapter: Adapter
    intended_rule: str
    description: str


def entry(name: str, intended_rule: str, description: str, poller: type[ReferencePoller]) -> GalleryPoller:
    """A gallery entry whose adapter makes ``poller`` and claims what the reference claims, so
    every rule the reference is checked against is checked against the variant too."""
    adapter = Adapter(
        name=f"gallery-{name}",
        make_poller=poller,
        capabilities=REFERENCE_ADAPTER.capabilities,
    )
    return GalleryPoller(name=name, adapter=adapter, intended_rule=intended_rule, description=description)


# ---- the variant poller -------------------------------------------------------------------------


class VariantPoller(ReferencePoller):
    """The reference poller with parts swapped by class attributes and hooks.

    * ``processor``, ``reader``, ``invoker``: the classes built through the reference's seams.
    * ``edit_event``, when overridden: called with a copy of every event record as it is read
      (the records the function gets and the S3 payload then carry the edit, as in a poller that
      builds them so).
    * ``edit_document``/``edit_s3_key``, when overridden: every SQS body, SNS message and S3
      object (and S3 key) passes through them on its way to the client.
    """

    processor: ClassVar[type[ShardProcessor]] = ShardProcessor
    reader: ClassVar[type[ShardReader]] = ShardReader
    invoker: ClassVar[type[Invoker]] = Invoker

    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        if _overrides(type(self), "edit_document", "edit_s3_key"):
            context = _editing_destinations(context, self)
        super().__init__(context, new_uuid=new_uuid)

    # ---- hooks ---------------------------------------------------------------------------------

    def edit_event(self, event: dict[str, Any], record: PolledRecord) -> PolledRecord:
        """The record as this poller builds it; ``event`` is a deep copy of the reference's
        event record, free to change. The default keeps the reference's record."""
        return record

    def edit_document(self, document: dict[str, Any], kind: str) -> dict[str, Any]:
        """The destination document as this poller writes it (``kind``: sqs, sns or s3)."""
        return document

    def edit_s3_key(self, key: str, document: Mapping[str, Any]) -> str:
        """The S3 object key as this poller writes it."""
        return key

    # ---- the reference's seams -----------------------------------------------------------------

    def _open_source(self) -> StreamSource:
        source = super()._open_source()
        return _EditingSource(source, self) if _overrides(type(self), "edit_event") else source

    def _open_invoker(self) -> Invoker:
        return self.invoker(self._context, self.config)

    def _new_reader(self, shard_id: str) -> ShardReader:
        return self.reader(self._source, shard_id, self.config)

    def _new_processor(self, reader: ShardReader) -> ShardProcessor:
        return self.processor(
            reader, self.config, self._invoker, self._destination, self._context.clock, self._new_uuid
        )


def _overrides(cls: type[VariantPoller], *names: str) -> bool:
    return any(getattr(cls, name) is not getattr(VariantPoller, name) for name in names)


class ConfiguredProcessor(ShardProcessor):
    """A shard processor that reads one setting of the mapping wrongly (``misread``)."""

    def __init__(
        self,
        reader: ShardReader,
        config: MappingConfig,
        invoker: Invoker,
        destination: Destination | None,
        clock: Clock,
        new_uuid: Callable[[], UUID],
    ) -> None:
        super().__init__(reader, self.misread(config), invoker, destination, clock, new_uuid)

    def misread(self, config: MappingConfig) -> MappingConfig:
        return config


# ---- editing event records ----------------------------------------------------------------------


def with_event(record: PolledRecord, event: Mapping[str, Any]) -> PolledRecord:
    """``record`` carrying ``event`` instead, its size (for the payload cap) measured again."""
    return dataclasses.replace(record, event_record=event, size=len(json.dumps(event).encode("utf-8")))


def with_size(record: PolledRecord, size: int) -> PolledRecord:
    """``record`` as a poller that measures it as ``size`` bytes sees it."""
    return dataclasses.replace(record, size=size)


class _EditingSource:
    """A stream source whose records pass through ``VariantPoller.edit_event``."""

    def __init__(self, inner: StreamSource, poller: VariantPoller) -> None:
        self._inner = inner
        self._poller = poller
        self.timestamp_iterators = inner.timestamp_iterators

    def shard_ids(self) -> list[str]:
        return self._inner.shard_ids()

    def iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        after_sequence: str | None = None,
        timestamp: datetime | None = None,
    ) -> str | None:
        return self._inner.iterator(
            shard_id, iterator_type, after_sequence=after_sequence, timestamp=timestamp
        )

    def read(self, iterator: str) -> tuple[list[Mapping[str, Any]], str | None]:
        return self._inner.read(iterator)

    def record(self, raw: Mapping[str, Any], shard_id: str) -> PolledRecord:
        record = self._inner.record(raw, shard_id)
        event = json.loads(json.dumps(record.event_record))  # a deep copy, free to edit
        return self._poller.edit_event(event, record)


# ---- editing destination documents --------------------------------------------------------------


def _editing_destinations(context: PollerContext, poller: VariantPoller) -> PollerContext:
    clients = context.clients

    def client(service: str) -> Any:
        inner = clients(service)
        return _DocumentEditingClient(inner, poller) if service in ("sqs", "sns", "s3") else inner

    return dataclasses.replace(context, clients=client)


class _DocumentEditingClient:
    """An SQS, SNS or S3 client whose documents pass through the poller's edit hooks on the way
    in; every other call goes straight through."""

    def __init__(self, inner: Any, poller: VariantPoller) -> None:
        self._inner = inner
        self._poller = poller

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_message(self, **params: Any) -> Any:
        params["MessageBody"] = self._edit(params["MessageBody"], "sqs")
        return self._inner.send_message(**params)

    def publish(self, **params: Any) -> Any:
        params["Message"] = self._edit(params["Message"], "sns")
        return self._inner.publish(**params)

    def put_object(self, **params: Any) -> Any:
        body = params["Body"]
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
        document = json.loads(text)
        params["Key"] = self._poller.edit_s3_key(str(params["Key"]), document)
        params["Body"] = json.dumps(self._poller.edit_document(document, "s3")).encode("utf-8")
        return self._inner.put_object(**params)

    def _edit(self, text: str, kind: str) -> str:
        return json.dumps(self._poller.edit_document(json.loads(text), kind))


# ---- small helpers shared by the entries ------------------------------------------------------


def decoded_data(event: Mapping[str, Any]) -> bytes:
    """The raw bytes of a Kinesis event record's ``data``."""
    return base64.b64decode(event["kinesis"]["data"])
