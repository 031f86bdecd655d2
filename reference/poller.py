"""The reference poller: one event source mapping, driven one ``poll()`` at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from uuid import UUID

from conformance.contract import PollerContext
from reference.config import MappingConfig, source_of_arn
from reference.destinations import open_destination
from reference.invoker import Invoker
from reference.shard import ShardProcessor
from reference.source import ShardReader, StreamSource, open_source

__all__ = ["ReferencePoller", "make_poller"]


class ReferencePoller:
    """Serves one mapping through the clients and the clock of ``context``.

    The parameters are validated at construction (``InvalidMappingParameter``). Shards are
    listed and their iterators positioned at the first ``poll()`` (START-3: LATEST counts from
    there). Each ``poll()`` then gives every shard one step: read what is available, and invoke
    at most one batch (ORD-3); shards never wait for each other (ORD-6). Nothing here sleeps or
    reads real time: time comes from ``context.clock``.

    ``new_uuid`` makes the random parts (S3 key suffixes, request ids of batches discarded before
    any invocation) reproducible in tests; it defaults to ``uuid.uuid4``.
    """

    def __init__(self, context: PollerContext, *, new_uuid: Callable[[], UUID] = uuid.uuid4) -> None:
        source = source_of_arn(context.event_source_arn)
        self.config = MappingConfig.from_parameters(context.parameters, source, context.event_source_arn)
        self._context = context
        self._new_uuid = new_uuid
        self._source = self._open_source()
        self._invoker = self._open_invoker()
        self._destination = open_destination(self.config.destination_arn, context, source, new_uuid)
        self._shards: list[ShardProcessor] | None = None
        self._closed = False

    @property
    def shards(self) -> tuple[ShardProcessor, ...]:
        """The shards being served (empty before the first poll)."""
        return tuple(self._shards or ())

    def poll(self) -> None:
        if self._closed:
            raise RuntimeError(
                "poll() was called after close(); make a new poller to serve the mapping again"
            )
        if not self.config.enabled:
            return  # a disabled mapping reads nothing
        if self._shards is None:
            self._shards = self._start()
        for shard in self._shards:
            shard.poll()  # ORD-1: each batch is built from one shard only

    def close(self) -> None:
        # Nothing is held open between polls: clients belong to the context.
        self._closed = True

    def _start(self) -> list[ShardProcessor]:
        # Shards are discovered once. Resharding (ORD-8, uncertain) is not followed.
        shards = []
        for shard_id in self._source.shard_ids():
            reader = self._new_reader(shard_id)
            reader.open(self._context.clock.now())
            shards.append(self._new_processor(reader))
        return shards

    # ---- seams: the parts a variant of this poller may swap (the kit's gallery does) -------------

    def _open_source(self) -> StreamSource:
        return open_source(self._context, self.config)

    def _open_invoker(self) -> Invoker:
        return Invoker(self._context, self.config)

    def _new_reader(self, shard_id: str) -> ShardReader:
        return ShardReader(self._source, shard_id, self.config)

    def _new_processor(self, reader: ShardReader) -> ShardProcessor:
        return ShardProcessor(
            reader, self.config, self._invoker, self._destination, self._context.clock, self._new_uuid
        )


def make_poller(context: PollerContext) -> ReferencePoller:
    """The plug-in factory (``conformance.contract.PollerFactory``)."""
    return ReferencePoller(context)
