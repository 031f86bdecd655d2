"""Adapters that plug third-party stream pollers into the kit's plug-in contract.

Each adapter lives in its own module and is imported on demand (``--poller
conformance.adapters.localstack:KINESIS``), so that a missing optional dependency only matters to
the people who use that adapter.
"""

__all__: list[str] = []
