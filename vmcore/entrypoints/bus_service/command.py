"""``vmcore bus``: ``serve --config event_buses.json``, and a client of a running service:
``emit``, ``poll``, ``topics``, ``rules``, ``subscribe`` (``--url tcp://HOST:PORT``).
Answers print as JSON, one object per line."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from vmcore.application.errors import ConfigurationError, VmcoreError
from vmcore.bus.client import BlockingBusClient, BusRpcError

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

_EPILOG = """\
examples:
  vmcore bus serve --config event_buses.json
  vmcore bus emit --url tcp://127.0.0.1:7070 vm.note '{"text": "hi"}' --source-trn trn:user:alice
  vmcore bus poll --url tcp://127.0.0.1:7070 --topic 'vm.*' --since 0 --limit 10
  vmcore bus subscribe --url tcp://127.0.0.1:7070 'vm.*' --count 5
"""


class BusCommandError(VmcoreError):
    """The service refused, or could not be reached."""


def add_bus_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bus = commands.add_parser("bus", help="the event bus service (JSON-RPC over TCP)",
                              description="Run seed 002's event bus service, or talk to a"
                              " running one; answers print as JSON, one object per line.",
                              epilog=_EPILOG)
    bus.set_defaults(run=run_bus_command)
    actions = bus.add_subparsers(dest="bus_command", required=True)
    serve = actions.add_parser("serve", help="run every bus instance of a config file")
    serve.add_argument("--config", dest="bus_config", required=True,
                       help="event_buses.json: a list of bus instances")

    def client(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=text)
        parser.add_argument("--url", required=True, help="tcp://HOST:PORT of a bus instance")
        return parser

    emit = client("emit", "emit one event")
    emit.add_argument("topic", help="the event's topic, e.g. vm.note")
    emit.add_argument("payload", type=_json, help="the payload, as JSON")
    for flag, text in (("source-trn", "who emits, e.g. trn:user:alice"),
                       ("target-trn", "what the event is about"),
                       ("correlation-id", "ties related events together")):
        emit.add_argument(f"--{flag}", help=text)
    emit.add_argument("--metadata", type=_json, help="metadata, as a JSON object")
    poll = client("poll", "events after --since (an event_id)")
    poll.add_argument("--topic", default="*", help="a topic, '*' or 'prefix.*'")
    poll.add_argument("--since", type=int, default=0,
                      help="the last event_id seen; 0 = from the start")
    poll.add_argument("--limit", type=int, default=100, help="at most this many events")
    client("topics", "topics with their event counts")
    rules = client("rules", "list rules; --add RULE_JSON or --delete ID")
    rules.add_argument("--add", type=_json, help="an EventTriggerRule as JSON")
    rules.add_argument("--delete", metavar="ID", help="delete the rule with this id")
    subscribe = client("subscribe", "print events pushed on a topic as they come")
    subscribe.add_argument("topic", help="a topic, '*' or 'prefix.*'")
    subscribe.add_argument("--count", type=int, help="stop after this many events")


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"not JSON: {text[:80]!r}") from None


def run_bus_command(args: argparse.Namespace, session: CliSession) -> int:
    out = session.out
    if args.bus_command == "serve":
        from vmcore.application.bus_service import load_config
        from vmcore.entrypoints.bus_service.serve import run_serve

        return run_serve(load_config(args.bus_config), out)
    try:
        client = BlockingBusClient(args.url)
    except ValueError as error:
        raise ConfigurationError(f"--url: {error}") from None
    except OSError as error:
        raise BusCommandError(f"cannot reach the bus service at {args.url}:"
                              f" {error.strerror or error}") from None
    try:
        _client_command(client, args, out)
    except KeyboardInterrupt:  # the way to end `vmcore bus subscribe`
        return 0
    except BusRpcError as error:
        raise BusCommandError(f"the bus service refused: {error}") from None
    except (ConnectionError, OSError) as error:
        raise BusCommandError(f"lost the bus service at {args.url}: {error}") from None
    finally:
        client.close()
    return 0


def _client_command(client: BlockingBusClient, args: argparse.Namespace, out: TextIO) -> None:
    def write(value: Any) -> None:
        out.write(orjson.dumps(value).decode() + "\n")
        out.flush()

    command = args.bus_command
    if command == "emit":
        envelope = {key: value for key, value in (
            ("source_trn", args.source_trn), ("target_trn", args.target_trn),
            ("correlation_id", args.correlation_id), ("metadata", args.metadata))
            if value is not None}
        write(client.emit(args.topic, args.payload, **envelope))
    elif command == "poll":
        write(client.poll(args.topic, args.since, args.limit))
    elif command == "topics":
        write(client.topics())
    elif command == "rules":
        if args.add is not None:
            write(client.register_rule(args.add))
        elif args.delete is not None:
            client.delete_rule(args.delete)
            write({"deleted": args.delete})
        else:
            write(client.list_rules())
    else:
        for count, event in enumerate(client.subscribe(args.topic), start=1):
            write(event)
            if args.count is not None and count >= args.count:
                break
