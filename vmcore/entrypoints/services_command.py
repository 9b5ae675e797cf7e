"""``vmcore services list [--json]``: the domain services vmcore would load, from the
installed entry points (group ``vmcore.services``) and the settings. Opens no store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

_COLUMNS = ["name", "enabled", "distribution", "factory", "options"]
_EPILOG = """\
examples:
  vmcore services list
  VMCORE_SERVICES_DISABLED=lifecycle vmcore services list --json
"""


def add_services_command(commands: Any) -> None:
    services = commands.add_parser("services", help="domain services plugged into the bus",
                                   description="The domain services vmcore loads: entry points"
                                   " of the group vmcore.services, enabled or disabled by the"
                                   " settings.", epilog=_EPILOG)
    actions = services.add_subparsers(dest="services_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="discovered services, enabled or not, and"
                                 " their options", epilog=_EPILOG)
    listing.set_defaults(run=run_services_command)


def run_services_command(args: argparse.Namespace, session: CliSession) -> int:
    from vmcore.application.services import discover, parse_all
    from vmcore.application.services.api import catalogue
    from vmcore.entrypoints.presenters import table

    rows = catalogue(discover(), parse_all(session.container().config.services()))
    shown = [{**row, "enabled": "yes" if row["enabled"] else "no",
              "options": ", ".join(f"{k}={v}" for k, v in row["options"].items()) or None}
             for row in rows]
    session.emit(rows, lambda: table(shown, _COLUMNS))
    return 0
