"""The unified event bus: sync/async/batch/adaptive delivery, priorities, filter chains,
retry with backoff, dead letters, metrics, version migration and durable subscriptions."""

from typing import TYPE_CHECKING

from vmcore.domain.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

# Names load on first use (PEP 562), so importing one submodule, or the package for
# one name, costs only what that name needs: the CLI's start-up depends on it.
_LAZY = {
    "EventBus": "vmcore.bus.async_api",
    "Priority": "vmcore.bus.async_api",
    "AdaptiveBatching": "vmcore.bus.batching",
    "Clock": "vmcore.bus.clock",
    "FakeClock": "vmcore.bus.clock",
    "SystemClock": "vmcore.bus.clock",
    "UnifiedEventBus": "vmcore.bus.core",
    "DeadLetter": "vmcore.bus.dead_letters",
    "DeadLetterQueue": "vmcore.bus.dead_letters",
    "DurableHandler": "vmcore.bus.durable",
    "DurableSubscription": "vmcore.bus.durable",
    "DurableState": "vmcore.bus.durable_status",
    "DurableStatus": "vmcore.bus.durable_status",
    "BusError": "vmcore.bus.errors",
    "BusNotRunning": "vmcore.bus.errors",
    "QueueFull": "vmcore.bus.errors",
    "UnknownSubscription": "vmcore.bus.errors",
    "EventFilter": "vmcore.bus.filters",
    "EventTypeFilter": "vmcore.bus.filters",
    "FilterChain": "vmcore.bus.filters",
    "PredicateFilter": "vmcore.bus.filters",
    "TimeRangeFilter": "vmcore.bus.filters",
    "VmIdFilter": "vmcore.bus.filters",
    "BusStats": "vmcore.bus.metrics",
    "LatencySummary": "vmcore.bus.metrics",
    "MetricsSnapshot": "vmcore.bus.metrics",
    "SubscriptionStats": "vmcore.bus.metrics",
    "EventMigrator": "vmcore.bus.migration",
    "Upcaster": "vmcore.bus.migration",
    "BusCollector": "vmcore.bus.prometheus",
    "prometheus_text": "vmcore.bus.prometheus",
    "NO_RETRY": "vmcore.bus.retry",
    "RetryPolicy": "vmcore.bus.retry",
    "Handler": "vmcore.bus.subscription",
    "Mode": "vmcore.bus.subscription",
    "EventType": "vmcore.bus.system_events",
    "SystemEvent": "vmcore.bus.system_events",
    "topic_for": "vmcore.bus.system_events",
    "ANY": "vmcore.bus.topics",
    "topic_matches": "vmcore.bus.topics",
}


__getattr__ = lazy_exports(__name__, _LAZY)


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
