"""stream-conformance: a property-based conformance kit for Kinesis and DynamoDB Streams pollers.

The public surface is re-exported here; everything else is internal.
"""

from conformance.contract import Adapter, Capabilities, Clock, Poller, PollerContext, PollerFactory
from conformance.scenario import Behaviour, ClockPlan, RecordSpec, Scenario, ShardSpec, Source

__all__ = [
    "Adapter",
    "Behaviour",
    "Capabilities",
    "Clock",
    "ClockPlan",
    "Poller",
    "PollerContext",
    "PollerFactory",
    "RecordSpec",
    "Scenario",
    "ShardSpec",
    "Source",
]

__version__ = "0.1.0"
