"""The seed-003 example runs as a program and prints what seed 003 describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seed003_event_bus.py"


def test_seed003_example_runs_and_reports_every_section() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = set(result.stdout.splitlines())
    expected = {
        "Agent chatbot started",
        "Agent completed in 1200ms",
        "Agent completed in 800ms",
        "Premium user event: user_123",
        "Login: user_123 from 192.168.1.1",
        "chatbot stats: {'avg': 1000.0, 'min': 800, 'max': 1200, 'count': 2}",
        "log_all_events saw 4 events, removed 1 subscription",
        "priority order: ['high', 'medium', 'low']",
    }
    assert expected == expected & lines
