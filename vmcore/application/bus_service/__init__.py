"""The event bus service of seed 002: bus instances reached over JSON-RPC, with a durable
event log, push subscriptions, TRN source policy and rules that emit events or invoke tools."""

from vmcore.application.bus_service.config import BusConfig, load_config, parse_config
from vmcore.application.bus_service.engine import (
    DEAD_LETTER_TOPIC,
    TOOL_ERROR_TOPIC,
    TOOL_RESULT_TOPIC,
    RuleEngine,
)
from vmcore.application.bus_service.errors import RpcError
from vmcore.application.bus_service.instance import BusInstance
from vmcore.application.bus_service.rpc import (
    Session,
    dropped_line,
    error_line,
    event_line,
    handle_message,
)
from vmcore.application.bus_service.rules import Rule, parse_rule
from vmcore.application.bus_service.subscriptions import Subscription
from vmcore.application.bus_service.tools import (
    ENTRY_POINT_GROUP,
    Tool,
    ToolError,
    entry_point_tools,
    vm_tools,
)

__all__ = [
    "DEAD_LETTER_TOPIC",
    "ENTRY_POINT_GROUP",
    "TOOL_ERROR_TOPIC",
    "TOOL_RESULT_TOPIC",
    "BusConfig",
    "BusInstance",
    "RpcError",
    "Rule",
    "RuleEngine",
    "Session",
    "Subscription",
    "Tool",
    "ToolError",
    "dropped_line",
    "entry_point_tools",
    "error_line",
    "event_line",
    "handle_message",
    "load_config",
    "parse_config",
    "parse_rule",
    "vm_tools",
]
