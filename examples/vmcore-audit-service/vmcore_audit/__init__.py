"""An example plug-in domain service: appends one JSON line per VM event to a file.

Install it next to vmcore (``pip install examples/vmcore-audit-service``) and every
``vmcore`` command loads it. Options (settings ``services.audit.options``): ``path``, the
log file (default ``$VMCORE_AUDIT_PATH`` or ``./audit.jsonl``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vmcore.domain.topics import VM_EVENTS


class AuditService:
    name = "audit"

    def __init__(self) -> None:
        self.path = Path(os.environ.get("VMCORE_AUDIT_PATH", "audit.jsonl"))
        self.written = 0

    def configure(self, *, path: str) -> None:
        self.path = Path(path)

    def bus_handlers(self) -> Mapping[str, Callable[[Any], None]]:
        return {VM_EVENTS: self.record}

    def record(self, event: Any) -> None:
        line = {"topic": event.bus_topic, "vm": str(event.originator_id),
                "version": event.originator_version, "at": event.timestamp.isoformat()}
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
        self.written += 1

    def health(self) -> tuple[bool, str]:
        writable = os.access(self.path.parent or Path("."), os.W_OK)
        return writable, f"{self.written} events written to {self.path}"
