"""The reference stream poller: AWS Lambda event source mapping semantics for Kinesis and
DynamoDB Streams, written to the numbered rules of SPEC.md.

It talks to the world only through the boto3-compatible clients and the clock of its
``PollerContext``, so the same code runs against the kit's simulated world, moto, or AWS.
"""

from __future__ import annotations

from conformance.contract import Adapter, Capabilities
from reference.config import InvalidMappingParameter, MappingConfig, UnsupportedMappingParameter
from reference.poller import ReferencePoller, make_poller

__all__ = [
    "ADAPTER",
    "InvalidMappingParameter",
    "MappingConfig",
    "ReferencePoller",
    "UnsupportedMappingParameter",
    "make_poller",
]

ADAPTER = Adapter(
    name="reference",
    make_poller=make_poller,
    capabilities=Capabilities(
        sources=frozenset({"kinesis", "dynamodb"}),
        features=frozenset(
            {
                "bisect",
                "report_batch_item_failures",
                "record_age",
                "batching_window",
                "destination_sqs",
                "destination_sns",
                "destination_s3",
                "starting_position_latest",
                "starting_position_at_timestamp",
                "parameter_validation",  # MappingConfig.from_parameters refuses invalid mappings
            }
        ),
        notes={
            "tumbling_window": "the reference poller does not implement tumbling windows (TW-*)",
            "filtering": "the reference poller does not implement FilterCriteria (FILT-*)",
            "parallelization": "the reference poller keeps one batch per shard in flight (ORD-7)",
            "resharding": "the reference poller lists shards once and does not follow resharding (ORD-8)",
        },
    ),
)
