"""What a CLI command gets besides its arguments: where to write, whether to write JSON, and
the composition (container, ControlPlane) opened lazily, only if the command asks for it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported for real only by the commands that open a store
    from vmcore.application.control_plane import ControlPlane
    from vmcore.composition.container import Container


class CliSession:
    """One run of the ``vmcore`` command. ``close()`` closes whatever was opened."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO,
                 environ: Mapping[str, str] | None = None) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.environ = os.environ if environ is None else environ
        self._container: Container | None = None
        self._control_plane: ControlPlane | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    def settings(self) -> dict[str, Any]:
        """The settings given on the command line (``--store``)."""
        return {"store": getattr(self.args, "store", None)}

    def remote_url(self) -> str | None:
        """The running ``vmcore serve`` to send commands to (``--url``, else ``VMCORE_URL``)."""
        return getattr(self.args, "url", None) or self.environ.get("VMCORE_URL") or None

    def container(self) -> Container:
        """The composition for this run: defaults, ``--config``, ``VMCORE_*``, then flags."""
        if self._container is None:
            self._container = self._new_container()
        return self._container

    def _new_container(self) -> Container:
        from vmcore.composition.container import Container

        return Container.from_settings(self.settings(), environ=self.environ,
                                       config_file=getattr(self.args, "config", None))

    def control_plane(self) -> ControlPlane:
        """The ControlPlane on the configured store, opened once; a store that cannot be
        opened is reported as :class:`StoreUnavailable` (unless its failure is a user error
        of its own, such as a locked store or a full disk)."""
        if self._control_plane is None:
            self._control_plane = _open(self.container())
        return self._control_plane

    def open_control_plane(self) -> ControlPlane:
        """Another, fresh ControlPlane on the same store (the caller closes it)."""
        return _open(self._new_container())

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Writes ``data`` as JSON with ``--json``, else ``text``; either may be a function
        returning it (for output too big to build when it is not shown)."""
        if self.json:
            from vmcore.entrypoints.presenters import to_json

            self.out.write(to_json(data() if callable(data) else data) + "\n")
        else:
            self.out.write((text if isinstance(text, str) else text()) + "\n")

    def close(self) -> None:
        if self._control_plane is not None:
            self._control_plane.close()
        # Stops the bus and the services if the first published event created them.
        if self._container is not None:
            self._container.shutdown_resources()


def _open(container: Container) -> ControlPlane:
    try:
        return container.control_plane()
    except Exception as error:  # each driver fails in its own way
        from vmcore.application.errors import StoreUnavailable
        from vmcore.entrypoints.cli_errors import describe, one_line

        if describe(error) is not None and not _is_driver_error(error):
            raise
        spec = container.store_spec().redacted()
        raise StoreUnavailable(f"cannot open store {spec!r}: {one_line(error)}") from None


def _is_driver_error(error: BaseException) -> bool:
    """OSErrors from a driver (refused connection, unknown host) are the store's: report
    them as 'cannot open store', except a full disk or a permission, which name the file."""
    import errno

    return isinstance(error, OSError) and error.errno not in (
        errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS)
