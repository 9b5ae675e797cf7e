"""``vmcore services list [--json]``: the domain services vmcore would load, from the
installed entry points (group ``vmcore.services``) and the settings."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

_COLUMNS = ["name", "enabled", "distribution", "factory", "options"]


def add_services_command(commands: Any) -> None:
    services = commands.add_parser("services", help="domain services plugged into the bus")
    actions = services.add_subparsers(dest="services_command", required=True)
    listing = actions.add_parser("list", help="discovered services, enabled or not, and"
                                 " their options")
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="machine-readable output")


def run_services_command(args: argparse.Namespace, out: TextIO) -> int:
    from vmcore.application.services import discover, parse_all
    from vmcore.application.services.api import catalogue
    from vmcore.composition import Container
    from vmcore.entrypoints.presenters import table, to_json

    container = Container.from_settings({"store": args.store}, config_file=args.config)
    rows = catalogue(discover(), parse_all(container.config.services()))
    if args.json:
        out.write(to_json(rows) + "\n")
        return 0
    shown = [{**row, "enabled": "yes" if row["enabled"] else "no",
              "options": ", ".join(f"{k}={v}" for k, v in row["options"].items()) or None}
             for row in rows]
    out.write(table(shown, _COLUMNS) + "\n")
    return 0
