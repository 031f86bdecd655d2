"""The harness: drive one poller through one scenario and record what happened.

One run builds the world, asks the adapter's factory for a poller, then repeats

    release the records whose arrival time has come  →  ``poller.poll()``  →  advance the clock

until every record has arrived and the poller has made nothing but reads for a quiet period (reads
that brought no records, the last of each poll answered, not refused by a throttle or an expired
iterator) lasting at least a round of polls, one per shard, or until the budget runs out. The
result is an :class:`~conformance.observation.Observation`:

* ``COMPLETED``: the run settled; the rule checkers judge the trace.
* ``LIVENESS``: the poll or virtual-time budget ran out first (or the poller slept past the
  virtual-time budget inside ``poll()``); rule ``LIVE-1`` reports it.
* ``INCONCLUSIVE``: the factory or ``poll()`` raised, or a call did not return within
  ``Budget.poll_timeout`` wall seconds. Nothing is concluded from such a trace, and it is never a
  silent pass.

No real time is read or waited on. Wall time is only *bounded*: each call into the poller runs
under a kernel interval timer (``SIGALRM``) when the harness runs in the main thread of a POSIX
process, and in a helper thread joined with a timeout elsewhere (see :class:`_AlarmGuard` and
:class:`_ThreadGuard`).

Pollers that read the system clock themselves (``Adapter.patches_system_clock``) run under
freezegun with ``tick=False``, pinned to the virtual clock and moved whenever it moves. What that
patches (freezegun 1.5): ``datetime.datetime.now/utcnow/today``, ``datetime.date.today``,
``time.time``, ``time.time_ns``, ``time.monotonic``, ``time.monotonic_ns``, ``time.perf_counter``,
``time.perf_counter_ns``, ``time.localtime``, ``time.gmtime``, ``time.strftime`` and the time
source of ``uuid.uuid1``, plus every module attribute already bound to one of those functions
(``from time import monotonic``). The frozen ``monotonic`` reads the virtual instant as Unix
seconds. Not patched: ``time.sleep``, ``threading`` waits (``Event.wait``, ``Condition.wait``,
``Thread.join``), ``queue``, ``asyncio`` loop time and any clock read from C code. A poller that
waits with those is waiting on real time: it hangs until the wall-time bound stops it.
"""

from __future__ import annotations

import dataclasses
import re
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any, Generic, Protocol, TypeVar

from conformance.clock import VirtualClock, VirtualTimeExhausted
from conformance.contract import Adapter, Poller, PollerContext
from conformance.observation import Observation, RunStatus
from conformance.scenario import Scenario
from conformance.trace import Call, StreamRecord, Trace

__all__ = ["Budget", "is_read", "run_in_world", "run_scenario", "timed_out"]

_T = TypeVar("_T")

# Calls that only look at the stream. A poller doing nothing but these is "quiet": waiting for
# records, not working on them.
_READ_SERVICES = frozenset({"kinesis", "dynamodbstreams"})
_READ_OPERATIONS = frozenset({"get_records", "get_shard_iterator"})
_READ_PREFIXES = ("list_", "describe_")

_CALLS = ("the poller factory", "poll()", "close()")
_TIMED_OUT = re.compile(rf"^({'|'.join(re.escape(what) for what in _CALLS)}) did not return within ")


@dataclass(frozen=True)
class Budget:
    """Limits of one run.

    ``max_polls`` and ``max_virtual_seconds`` bound the run in steps and in virtual time (running
    out is a liveness verdict). ``poll_timeout`` bounds, in wall seconds, each call into the
    poller (the factory, ``poll()``, ``close()``). ``quiet_seconds`` is how long, in virtual time,
    the poller must make nothing but reads before the run counts as settled; the harness never
    uses less than the mapping's batching window plus 10 s, so a partial batch held back by the
    window is still seen.
    """

    max_polls: int = 2000
    max_virtual_seconds: float = 4 * 3600
    poll_timeout: float = 10.0
    quiet_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_polls", "max_virtual_seconds", "poll_timeout", "quiet_seconds"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"Budget.{name} must be positive, got {value!r}")


class WorldLike(Protocol):
    """What the harness needs of a world (``conformance.world.World`` satisfies it)."""

    @property
    def clock(self) -> VirtualClock: ...

    @property
    def trace(self) -> Trace: ...

    def context(self) -> PollerContext: ...

    def release_due_records(self) -> None: ...

    def released_records(self) -> tuple[StreamRecord, ...]: ...

    def pending_arrivals(self) -> float | None: ...

    def close(self) -> None: ...


def run_scenario(
    adapter: Adapter, scenario: Scenario, *, world: str = "memory", budget: Budget | None = None
) -> Observation:
    """Run ``adapter``'s poller through ``scenario`` in a fresh world of backend ``world``
    (``"memory"`` or ``"moto"``)."""
    from conformance.world import build_world  # the world pulls in boto3; import it only when used

    return run_in_world(adapter, scenario, build_world(scenario, world), budget=budget)


def run_in_world(
    adapter: Adapter, scenario: Scenario, world: WorldLike, *, budget: Budget | None = None
) -> Observation:
    """Run ``adapter``'s poller in an already built ``world`` (which this function closes)."""
    budget = budget or Budget()
    try:
        context = world.context()
        run = _Run(adapter, scenario, world, context, budget)
        status, reason = run.drive()
        # Snapshot: a poller thread abandoned after a timeout may still append calls later.
        trace = Trace(calls=list(world.trace.calls))
        records = world.released_records()
        ended = world.clock.elapsed
    finally:
        world.close()
    return Observation(
        scenario=scenario,
        records=records,
        trace=trace,
        status=status,
        reason=reason,
        mapping_uuid=context.mapping_uuid,
        function_arn=context.function_arn,
        event_source_arn=context.event_source_arn,
        execution_role_arn=context.execution_role_arn,
        region=context.region,
        started_at_offset=run.started_at,
        ended_at_offset=ended,
        polls=run.polls,
    )


def is_read(call: Call) -> bool:
    """Whether ``call`` only reads the stream (``get_records``, ``get_shard_iterator``,
    ``list_*``, ``describe_*`` on Kinesis or DynamoDB Streams)."""
    key = (call.service, call.operation)
    read = _KNOWN_READS.get(key)
    if read is None:
        read = _is_read(*key)
        if len(_KNOWN_READS) < 4096:  # a poller inventing operation names cannot grow it forever
            _KNOWN_READS[key] = read
    return read


def _brought_records(call: Call) -> bool:
    """A read that handed the poller records gave it work to do (a throttled read may have
    delayed them until after the records' arrival), so it does not count as quiet."""
    response = call.response
    return call.error_code is None and isinstance(response, dict) and bool(response.get("Records"))


# Reads the stream refused although the poller asked rightly: a throttle (RETRY-6) or an expired
# iterator. The records they would have brought are still to be read.
_REFUSED_READS = frozenset(
    {"ProvisionedThroughputExceededException", "LimitExceededException", "ExpiredIteratorException"}
)


def _ended_refused(calls: Sequence[Call]) -> bool:
    """The poll's last GetRecords was refused: its reading is left undone (a poller throttled
    through a whole quiet period has not settled, it has not started), so the poll is not quiet.
    A refused read followed by one the stream answered (an expired iterator renewed at once) is."""
    last_read = next((call for call in reversed(calls) if call.operation == "get_records"), None)
    return last_read is not None and last_read.error_code in _REFUSED_READS


# Every call of every poll is classified: the answer per (service, operation) is remembered.
_KNOWN_READS: dict[tuple[str, str], bool] = {}


def _is_read(service: str, operation: str) -> bool:
    if service not in _READ_SERVICES:
        return False
    operation = _snake_case(operation)
    return operation in _READ_OPERATIONS or operation.startswith(_READ_PREFIXES)


def timed_out(observation: Observation) -> bool:
    """Whether the run was stopped because a call into the poller exceeded the wall-time bound."""
    return observation.status is RunStatus.INCONCLUSIVE and bool(_TIMED_OUT.match(observation.reason))


def _snake_case(name: str) -> str:
    # Recording proxies name operations by python method ("get_records"); accept "GetRecords" too.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---- one run ------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        adapter: Adapter,
        scenario: Scenario,
        world: WorldLike,
        context: PollerContext,
        budget: Budget,
    ) -> None:
        self._adapter = adapter
        self._scenario = scenario
        self._world = world
        self._budget = budget
        self._clock = world.clock
        self.started_at = self._clock.elapsed
        self.polls = 0
        self._system_clock_sync: Callable[[], None] = _nothing
        self._poller_clock = _RunClock(self._clock, budget.max_virtual_seconds, self._moved)
        self._context = dataclasses.replace(context, clock=self._poller_clock)
        window = float(scenario.parameters.get("MaximumBatchingWindowInSeconds") or 0)
        self._quiet_needed = max(budget.quiet_seconds, window + 10.0)

    def _moved(self) -> None:
        self._system_clock_sync()

    def drive(self) -> tuple[RunStatus, str]:
        if not any(gap > 0 for gap in self._scenario.clock.poll_gaps):
            return RunStatus.INCONCLUSIVE, (
                "the scenario's clock plan never advances time (every poll gap is 0 s), so the run "
                "could never settle; give clock.poll_gaps at least one positive gap"
            )
        with _poll_guard(self._budget.poll_timeout) as guard, self._system_clock() as sync:
            self._system_clock_sync = sync
            try:
                made = guard.call(lambda: self._adapter.make_poller(self._context))
                if made.error is not None or made.timed_out:
                    return self._stopped(made, "the poller factory")
                poller = made.value
                if not isinstance(poller, Poller):
                    return RunStatus.INCONCLUSIVE, (
                        f"the poller factory returned {poller!r}, which is not a poller; it must return "
                        "an object with poll() and close() methods"
                    )
                status, reason = self._loop(guard, poller)
                closed = guard.call(poller.close)
                if status is RunStatus.COMPLETED and (closed.error is not None or closed.timed_out):
                    return self._stopped(closed, "close()")
                return status, reason
            finally:
                self._system_clock_sync = _nothing

    def _loop(self, guard: _Guard, poller: Poller) -> tuple[RunStatus, str]:
        budget = self._budget
        calls = self._world.trace.calls
        last_busy_at = self._clock.elapsed
        last_busy: Call | None = None
        # A poller may serve one shard per poll (LocalStack does): the quiet period also lasts a
        # round of polls, one per shard, so every shard has been read since the last busy poll.
        round_of_polls = max(1, len(self._scenario.shards))
        quiet_polls = 0
        step = 0
        released = len(self._world.released_records())
        while True:
            self._world.release_due_records()
            arrived = len(self._world.released_records())
            if arrived > released:
                # A new record is work to do: the quiet period starts again from its arrival.
                released, last_busy_at, quiet_polls = arrived, self._clock.elapsed, 0
            seen = len(calls)
            polled = guard.call(poller.poll)
            self.polls += 1
            if polled.error is not None or polled.timed_out:
                return self._stopped(polled, "poll()")
            quiet_polls += 1
            for index in range(len(calls) - 1, seen - 1, -1):  # the last call that was not a read
                if not is_read(calls[index]) or _brought_records(calls[index]):
                    last_busy_at, last_busy, quiet_polls = self._clock.elapsed, calls[index], 0
                    break
            else:
                if _ended_refused(calls[seen:]):
                    last_busy_at, last_busy, quiet_polls = self._clock.elapsed, calls[-1], 0
            pending = self._world.pending_arrivals()
            now = self._clock.elapsed
            if pending is None and now - last_busy_at >= self._quiet_needed and quiet_polls >= round_of_polls:
                return RunStatus.COMPLETED, (
                    f"settled after {self.polls} polls: every record had arrived and the poller made "
                    f"only reads for {now - last_busy_at:g} s of virtual time"
                )
            if self.polls >= budget.max_polls or now >= budget.max_virtual_seconds:
                return RunStatus.LIVENESS, self._liveness_reason(pending, last_busy, last_busy_at)
            self._clock.advance(self._scenario.clock.gap(step))
            self._moved()
            step += 1

    def _liveness_reason(self, pending: float | None, last_busy: Call | None, last_busy_at: float) -> str:
        spent = (
            f"{self.polls} polls"
            if self.polls >= self._budget.max_polls
            else f"{self._budget.max_virtual_seconds:g} s of virtual time"
        )
        if pending is not None:
            why = f"records were still due to arrive (next at +{pending:g} s)"
        else:
            what = f"{last_busy.service}.{last_busy.operation}" if last_busy else "a call"
            why = (
                f"the poller never stayed quiet for {self._quiet_needed:g} s: it was still making calls "
                f"other than reads (last: {what} at +{last_busy_at:g} s)"
            )
        return (
            f"the run did not settle within its budget of {spent} "
            f"(after {self.polls} polls, {self._clock.elapsed:g} s of virtual time): {why}"
        )

    def _stopped(self, outcome: _Outcome[Any], what: str) -> tuple[RunStatus, str]:
        if outcome.timed_out:
            return RunStatus.INCONCLUSIVE, (
                f"{what} did not return within {self._budget.poll_timeout:g} s; the poller may be "
                "waiting on real time (use context.clock.sleep) or doing too much work in one call "
                "(return from poll() sooner; a poll is one unit of work)"
            )
        error = outcome.error
        assert error is not None
        if isinstance(error, VirtualTimeExhausted):
            return RunStatus.LIVENESS, (
                f"{what} slept past the virtual-time budget of {self._budget.max_virtual_seconds:g} s "
                f"(after {self.polls} polls): {error}"
            )
        return RunStatus.INCONCLUSIVE, f"{what} raised {_describe(error)}"

    @contextmanager
    def _system_clock(self) -> Iterator[Callable[[], None]]:
        if not self._adapter.patches_system_clock:
            yield _nothing
            return
        import freezegun  # only adapters that read the system clock need it

        clock = self._clock
        freezer = freezegun.freeze_time(clock.now(), tick=False)
        frozen = freezer.start()
        try:
            yield lambda: frozen.move_to(clock.now())
        finally:
            freezer.stop()


def _nothing() -> None:
    return None


def _describe(error: BaseException) -> str:
    """``ValueError: boom`` followed by the last frames of the traceback."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__][-6:]
    head = "".join(traceback.format_exception_only(type(error), error)).strip()
    return f"{head}\n" + "".join(traceback.format_list(frames)).rstrip()


class _RunClock:
    """The clock a poller is given: the world's virtual clock, with the run's virtual-time budget
    enforced on ``sleep`` and the frozen system clock (if any) moved along with it."""

    def __init__(self, clock: VirtualClock, limit: float, moved: Callable[[], None]) -> None:
        self._clock = clock
        self._limit = limit
        self._moved = moved

    def now(self) -> datetime:
        return self._clock.now()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def sleep(self, seconds: float) -> None:
        self._clock.advance(max(0.0, seconds))
        self._moved()
        if self._clock.elapsed > self._limit:
            raise VirtualTimeExhausted(
                f"virtual time budget of {self._limit:g} s exhausted while the poller was sleeping"
            )


# ---- bounding wall time -------------------------------------------------------------------------


@dataclass
class _Outcome(Generic[_T]):
    value: _T | None = None
    error: BaseException | None = None
    timed_out: bool = False


class _Guard(Protocol):
    def call(self, fn: Callable[[], _T]) -> _Outcome[_T]: ...


class _PollTimeout(BaseException):
    """Raised into the poller by the alarm. A BaseException, like KeyboardInterrupt, so that a
    poller's ``except Exception`` does not swallow it."""


class _AlarmGuard:
    """Bounds each call with ``setitimer(ITIMER_REAL)``: one system call per call, no thread.

    When the timer fires, the handler raises :class:`_PollTimeout` in the main thread, which
    interrupts Python code and blocking waits alike (lock and ``Event`` waits, ``time.sleep`` and
    socket reads are interruptible by signals on POSIX). If the poller swallows it anyway, the
    call is still reported as timed out.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._armed = False
        self._fired = False
        self._previous: Any = None

    def __enter__(self) -> _AlarmGuard:
        self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:  # a late signal after the call returned is ignored
            self._fired = True
            raise _PollTimeout

    def call(self, fn: Callable[[], _T]) -> _Outcome[_T]:
        self._fired = False
        try:
            try:
                self._armed = True
                # Setting the timer restarts its countdown. It is left running after the call
                # (one system call per call, not two): a signal between calls finds the guard
                # disarmed and is ignored, and __exit__ stops the timer.
                signal.setitimer(signal.ITIMER_REAL, self._timeout)
                value = fn()
            finally:
                self._armed = False
        except _PollTimeout:
            return _Outcome(timed_out=True)
        except Exception as error:
            return _Outcome(error=error, timed_out=self._fired)
        return _Outcome(value=value, timed_out=self._fired)


class _ThreadGuard:
    """Bounds each call by running it in a helper thread joined with a timeout (used off the main
    thread, where signals cannot be delivered, or when the interval timer is already in use).

    A thread start and join per call. A call that times out cannot be stopped: its daemon thread
    is abandoned and finishes (or not) on its own.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def __enter__(self) -> _ThreadGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def call(self, fn: Callable[[], _T]) -> _Outcome[_T]:
        outcome: _Outcome[_T] = _Outcome()

        def target() -> None:
            try:
                outcome.value = fn()
            except BaseException as error:  # handed to the harness's thread, not lost
                outcome.error = error

        worker = threading.Thread(target=target, name="stream-conformance-poll", daemon=True)
        worker.start()
        worker.join(self._timeout)
        if worker.is_alive():
            return _Outcome(timed_out=True)
        return outcome


def _poll_guard(timeout: float) -> _AlarmGuard | _ThreadGuard:
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        # Someone else's interval timer (pytest-timeout's signal method, for one) is left alone.
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    return _AlarmGuard(timeout) if usable else _ThreadGuard(timeout)
