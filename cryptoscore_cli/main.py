"""The ``cryptoscore`` command line.

Thin: argument parsing, files, progress bars and error messages; every cryptographic step is
a call into ``cryptoscore``. Errors print one line (``cryptoscore: error: ...``) and exit 2;
a command may return another status (1: a ceremony aborted, naming its culprits).

This module builds the parser and runs a command; the commands live a module a role in
``cryptoscore_cli/commands/`` (single_key, ceremony and dealer, trustee, organizer, participant,
auditor, about), their shared helpers in ``commands/common.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import cryptoscore as cs
from cryptoscore_cli.api import ApiError
from cryptoscore_cli.commands import (
    about,
    auditor,
    ceremony,
    organizer,
    participant,
    single_key,
    trustee,
)
from cryptoscore_cli.commands.auditor import AUDIT_IN_PROGRESS
from cryptoscore_cli.commands.organizer import read_invited
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

# AUDIT_IN_PROGRESS and read_invited are imported from here (tests, other packages)
__all__ = [
    "AUDIT_IN_PROGRESS",
    "COMMANDS",
    "COMMANDS_ENTRY_POINT",
    "build_parser",
    "main",
    "read_invited",
]

COMMANDS_ENTRY_POINT = "cryptoscore.commands"
"""Entry-point group of functions ``add(subparsers)`` that add commands (the server's)."""

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    participant.add_identity,
    organizer.add_challenge,
    participant.add_enrol,
    organizer.add_labels,
    participant.add_submit,
    participant.add_status,
    participant.add_select_finals,
    participant.add_leaderboard,
    about.add_params,
    single_key.add_keygen,
    trustee.add_trustee,
    ceremony.add_ceremony,
    single_key.add_encrypt,
    single_key.add_validity,
    single_key.add_score,
    about.add_demo,
    auditor.add_audit,
    auditor.add_receipt,
    single_key.add_decrypt,
)
"""Each adds one top-level command (with its actions), in the order ``cryptoscore --help``
lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptoscore", description="Encrypted benchmark scoring with threshold release."
    )
    parser.add_argument("--version", action="version", version=cs.__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    # commands other packages add (the server's serve, worker and token), found by
    # entry point so that this command line never imports them itself
    for command_set in entry_points(group=COMMANDS_ENTRY_POINT):
        command_set.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if importlib.util.find_spec("tqdm") is None:  # installed without the [cli] extra
        print(
            "cryptoscore: error: the command line needs its extra: pip install 'cryptoscore[cli]'",
            file=sys.stderr,
        )
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (cs.CryptoScoreError, CliError, ApiError) as exc:
        print(f"cryptoscore: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. a malformed --seed
        print(f"cryptoscore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cryptoscore: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
