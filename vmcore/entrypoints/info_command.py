"""``vmcore info``: where vmcore keeps its data and the configuration in effect, with where
each setting came from. Opens nothing: it works when the store is unreachable."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmcore.entrypoints.cli_session import CliSession

_EPILOG = """\
examples:
  vmcore info
  VMCORE_HOME=/srv/vmcore vmcore info --json
  vmcore --store sqlite:/tmp/vm.sqlite info
"""


def add_info_command(commands: Any) -> None:
    info = commands.add_parser("info", help="where data lives and the configuration in effect",
                               description="Where vmcore keeps its data and the configuration"
                               " in effect (flags, then VMCORE_* variables, then the --config"
                               " file, then the defaults). Passwords are never shown.",
                               epilog=_EPILOG)
    info.set_defaults(run=run_info_command)


def gather(session: CliSession) -> dict[str, Any]:
    """The configuration in effect, as shown by ``vmcore info``."""
    from vmcore.composition.container import DEFAULTS, ENVIRONMENT
    from vmcore.composition.stores import HOME_VARIABLE, StoreSpec, vmcore_home
    from vmcore.entrypoints.cli import version

    config = session.container().config()
    spec = StoreSpec.parse(str(config["store"])).resolved(session.environ)
    config_file = getattr(session.args, "config", None)
    sources = {key: _source(key, variable, session,
                            config_file if config[key] != DEFAULTS[key] else None)
               for key, variable in ENVIRONMENT.items()}
    return {
        "version": version(),
        "home": str(vmcore_home(session.environ)),
        "home_from": HOME_VARIABLE if session.environ.get(HOME_VARIABLE) else "per-user data"
                     " directory",
        "store": spec.redacted(),
        "store_from": sources["store"],
        "machine_snapshots": str(spec.machine_snapshot_dir(session.environ)),
        "fsync": str(config["fsync"]),
        "fsync_from": sources["fsync"],
        "snapshot_interval": int(config["snapshot_interval"]),
        "snapshot_interval_from": sources["snapshot_interval"],
        "config_file": config_file,
        "python": sys.version.split()[0],
    }


def _source(key: str, variable: str, session: CliSession, config_file: str | None) -> str:
    if key in session.settings() and session.settings()[key] is not None:
        return f"--{key}"
    if session.environ.get(variable):
        return variable
    if config_file:
        return config_file
    return "default"


def run_info_command(args: argparse.Namespace, session: CliSession) -> int:
    from vmcore.entrypoints.presenters import key_values

    del args
    record = gather(session)
    session.emit(record, lambda: key_values(record))
    return 0
