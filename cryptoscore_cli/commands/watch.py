"""Showing where a bundle is: its state, why it is stuck, what it waits for, and, for
``submit --wait``, following it until it is decided.

``wait_for_decision`` polls a submission's status and reports every change of state with the
time since it started: on a terminal, one status line on stderr rewritten in place; otherwise
one plain line on stdout per change (logs and pipes keep them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.api import ProtocolClient

__all__ = [
    "WAIT_INTERVAL",
    "WAIT_TIMED_OUT",
    "print_progress",
    "print_released",
    "wait_for_decision",
]

WAIT_TIMED_OUT = 3
"""``submit --wait``'s exit status when the timeout ends the wait before a decision (as the
audit's 3: all fine so far, still in progress)."""
WAIT_INTERVAL = 2.0
"""Seconds between two polls of ``submit --wait``."""


def print_progress(status: Mapping[str, Any]) -> None:
    """The reason (a trustee's refusal, a failed check) and what it waits for, if any."""
    if status.get("reason"):
        print(f"  reason: {status['reason']}")
    if status.get("waiting_for"):
        print(f"  waiting for: {status['waiting_for']}")


def print_released(values: Mapping[str, int]) -> None:
    print("  " + ", ".join(f"{name} {value}" for name, value in sorted(values.items())))


def _describe(status: Mapping[str, Any]) -> str:
    text = str(status["state"])
    if status.get("reason"):
        text += f" — {status['reason']}"
    elif status.get("waiting_for"):
        text += f" — waiting for {status['waiting_for']}"
    return text


def wait_for_decision(
    client: ProtocolClient,
    challenge_id: str,
    digest: str,
    *,
    timeout: float,
    quiet: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the submission is released (its status is returned) or invalid (CliError
    with the reason); SystemExit(WAIT_TIMED_OUT) after ``timeout`` seconds."""
    started = clock()
    live = sys.stderr.isatty() and not quiet
    last = ""
    try:
        while True:
            status: dict[str, Any] = client.submission(challenge_id, digest)
            elapsed = clock() - started
            line = f"[{elapsed:7.1f} s] {_describe(status)}"
            if live:
                sys.stderr.write("\r\x1b[K" + line)
                sys.stderr.flush()
            elif not quiet and _describe(status) != last:
                print(line, flush=True)
            last = _describe(status)
            if status["state"] == "released":
                return status
            if status["state"] == "invalid":
                reason = status.get("reason") or "round 1 found it is not a valid encoding"
                raise CliError(f"submission {digest[:16]}… is invalid: {reason}")
            if elapsed >= timeout:
                if live:
                    sys.stderr.write("\n")
                print(
                    f"cryptoscore: still {last} after {timeout:.0f} s; `cryptoscore status "
                    f"{digest} --challenge {challenge_id}` shows it later",
                    file=sys.stderr,
                )
                raise SystemExit(WAIT_TIMED_OUT)
            sleep(min(WAIT_INTERVAL, max(0.0, timeout - elapsed)))
    finally:
        if live:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
