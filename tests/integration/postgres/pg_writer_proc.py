"""A writer process for the concurrency test (run as a script, not collected by pytest).

Usage: python pg_writer_proc.py WRITER_NAME VERSIONS VM_ID [VM_ID ...]

Reads POSTGRES_* and POSTGRES_SCHEMA from the environment, opens the application recorder
(creating the tables on first use, as every writer does at the same moment), prints
``ready``, waits for a line on stdin, then for each version 1..VERSIONS and each VM id in
turn tries to record that version. It prints one JSON object: the (vm, version) pairs it
won, those it lost with IntegrityError, and any other error.
"""

from __future__ import annotations

import json
import os
import sys
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from vmcore_event_store.postgres import Factory


def main(argv: list[str]) -> int:
    name, versions, vm_ids = argv[1], int(argv[2]), [UUID(v) for v in argv[3:]]
    factory = Factory(dict(os.environ))
    recorder = factory.application_recorder()
    print("ready", flush=True)
    sys.stdin.readline()
    won: list[tuple[str, int]] = []
    lost: list[tuple[str, int]] = []
    errors: list[str] = []
    for version in range(1, versions + 1):
        for vm_id in vm_ids:
            event = StoredEvent(vm_id, version, "vm.started", name.encode())
            try:
                recorder.insert_events([event])
            except IntegrityError:
                lost.append((str(vm_id), version))
            except Exception as e:  # reported to the parent, which fails the test
                errors.append(f"{type(e).__name__}: {e}")
            else:
                won.append((str(vm_id), version))
    print(json.dumps({"name": name, "won": won, "lost": lost, "errors": errors}), flush=True)
    factory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
