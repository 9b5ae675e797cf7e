"""The unified event bus: sync/async/batch/adaptive delivery, priorities, filter chains,
retry with backoff, dead letters, metrics, version migration and durable subscriptions."""

from vmcore.bus.async_api import EventBus, Priority
from vmcore.bus.batching import AdaptiveBatching
from vmcore.bus.clock import Clock, FakeClock, SystemClock
from vmcore.bus.core import UnifiedEventBus
from vmcore.bus.dead_letters import DeadLetter, DeadLetterQueue
from vmcore.bus.durable import DurableHandler, DurableSubscription
from vmcore.bus.durable_status import DurableState, DurableStatus
from vmcore.bus.errors import BusError, BusNotRunning, QueueFull, UnknownSubscription
from vmcore.bus.filters import (
    EventFilter,
    EventTypeFilter,
    FilterChain,
    PredicateFilter,
    TimeRangeFilter,
    VmIdFilter,
)
from vmcore.bus.metrics import BusStats, LatencySummary, MetricsSnapshot, SubscriptionStats
from vmcore.bus.migration import EventMigrator, Upcaster
from vmcore.bus.prometheus import BusCollector, prometheus_text
from vmcore.bus.retry import NO_RETRY, RetryPolicy
from vmcore.bus.subscription import Handler, Mode
from vmcore.bus.system_events import EventType, SystemEvent, topic_for
from vmcore.bus.topics import ANY, topic_matches

__all__ = [
    "ANY",
    "NO_RETRY",
    "AdaptiveBatching",
    "BusCollector",
    "BusError",
    "BusNotRunning",
    "BusStats",
    "Clock",
    "DeadLetter",
    "DeadLetterQueue",
    "DurableHandler",
    "DurableState",
    "DurableStatus",
    "DurableSubscription",
    "EventBus",
    "EventFilter",
    "EventMigrator",
    "EventType",
    "EventTypeFilter",
    "FakeClock",
    "FilterChain",
    "Handler",
    "LatencySummary",
    "MetricsSnapshot",
    "Mode",
    "PredicateFilter",
    "Priority",
    "QueueFull",
    "RetryPolicy",
    "SubscriptionStats",
    "SystemClock",
    "SystemEvent",
    "TimeRangeFilter",
    "UnifiedEventBus",
    "UnknownSubscription",
    "Upcaster",
    "VmIdFilter",
    "prometheus_text",
    "topic_for",
    "topic_matches",
]
