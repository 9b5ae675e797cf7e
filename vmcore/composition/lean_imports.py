"""dependency-injector, imported without its web-framework hooks.

``dependency_injector.wiring`` (imported by its containers) probes for FastAPI, Starlette
and Werkzeug at import time to register helpers for wiring their request objects. With
Starlette installed (``vmcore serve`` uses it) that probe alone imports ``starlette.requests``
and, through it, ``http.client``, ``email``, ``anyio`` and ``tempfile``: a third of every CLI
command's start-up. vmcore never wires modules, so the probe is answered "not installed"
while dependency-injector loads (``with web_hooks_hidden():``); the modules themselves stay
importable afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

_PROBED = ("fastapi.params", "starlette.requests", "werkzeug.local")


@contextmanager
def web_hooks_hidden() -> Iterator[None]:
    """Within the block, importing the probed modules fails at once (unless one is loaded
    already); after it, they import as usual."""
    hidden = [name for name in _PROBED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes their import fail fast
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
