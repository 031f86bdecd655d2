"""Pollers for the CLI and plugin tests, named on command lines as ``sample_pollers:NAME``.

``reversing`` wraps the reference but hands the function each batch's records in reverse order,
which breaks ORD-2; ``Raising`` raises from every poll (inconclusive); ``NO_BISECT`` is the
reference without the bisection capability (capability skips).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import reference
from conformance.contract import Adapter, Capabilities, Poller, PollerContext


class _ReversingLambda:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def invoke(self, **params: Any) -> Any:
        event = json.loads(params["Payload"])
        event["Records"] = list(reversed(event["Records"]))
        return self._inner.invoke(**{**params, "Payload": json.dumps(event).encode()})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def reversing(context: PollerContext) -> Poller:
    clients = context.clients

    def wrapped(service: str) -> Any:
        client = clients(service)
        return _ReversingLambda(client) if service == "lambda" else client

    return reference.make_poller(replace(context, clients=wrapped))


class Raising:
    def __init__(self, context: PollerContext) -> None:
        self.context = context

    def poll(self) -> None:
        raise RuntimeError("lost the shard iterator")

    def close(self) -> None:
        return None


NO_BISECT = Adapter(
    name="no-bisect",
    make_poller=reference.make_poller,
    capabilities=Capabilities(
        features=reference.ADAPTER.capabilities.features - {"bisect"},
        notes={"bisect": "splitting batches is not implemented"},
    ),
)
