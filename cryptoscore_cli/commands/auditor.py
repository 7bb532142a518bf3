"""An auditor's commands: ``audit`` (verify an audit bundle, a file or the server's, by its
named checks), ``audit export`` (download one) and ``receipt verify`` (a submission receipt,
and that a later tree head still contains it)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptoscore_cli.commands.common import (
    progress_bar,
    protocol_client,
    read_file,
    server_options,
    transfer_bar,
    write_file,
)
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["AUDIT_IN_PROGRESS", "add_audit", "add_receipt"]

AUDIT_IN_PROGRESS = 3
"""``audit``'s exit status when every check passed but the challenge's rounds are not done
(0: passed and complete; 2: a check failed)."""


def cmd_audit(args: argparse.Namespace) -> None:
    from cryptoscore.verify import CHECKS, verify_bundle

    if not args.bundle:
        raise CliError("give an audit bundle file, or --server URL and --challenge ID")
    with progress_bar(len(CHECKS), "audit", args.quiet, "check") as progress:
        report = verify_bundle(args.bundle, progress)
    for check in report.checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name:24} {check.detail}")
    if not report.ok:
        failed = report.first_failure
        raise CliError(f"audit failed at check {failed.name if failed else '?'}")
    for item in report.in_progress:
        print(f"WAIT  {item}")
    if report.in_progress:
        # not a failure: nothing logged is wrong, but the challenge's rounds are not done
        print(
            f"audit passed so far; {len(report.in_progress)} item(s) in progress: "
            "audit again when the rounds are done",
            file=sys.stderr,
        )
        raise SystemExit(AUDIT_IN_PROGRESS)


def cmd_audit_dispatch(args: argparse.Namespace) -> None:
    """``audit BUNDLE`` verifies a file; ``audit --server --challenge`` verifies the server's
    bundle; ``audit export --server --challenge -o FILE`` downloads it."""
    if args.bundle == "export":
        if not (args.challenge and args.output):
            raise CliError("audit export needs --server, --challenge and -o FILE")
        data = download_audit_bundle(args)
        write_file(args.output, data)
        print(f"wrote {args.output} ({len(data)} bytes)")
    elif args.challenge and not args.bundle:
        cmd_audit_server(args)
    else:
        cmd_audit(args)


def cmd_audit_server(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.zip"
        path.write_bytes(download_audit_bundle(args))
        args.bundle = str(path)
        cmd_audit(args)


def download_audit_bundle(args: argparse.Namespace) -> bytes:
    """The server's audit bundle of ``--challenge`` (a bar while it downloads)."""
    with transfer_bar("downloading the audit bundle", args.quiet) as received:
        return protocol_client(args).audit_bundle(args.challenge, received)


def cmd_receipt_verify(args: argparse.Namespace) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from cryptoscore.transparency.log import ConsistencyProof, SignedTreeHead
    from cryptoscore.transparency.receipts import Receipt, verify_receipt, verify_receipt_against

    receipt = Receipt.from_bytes(read_file(args.receipt))
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(args.service_key))
    except ValueError:
        raise CliError("--service-key must be 64 hex digits (the service's Ed25519 key)") from None
    later_json: Any = None
    if args.later:
        later_json = json.loads(read_file(args.later))
    elif args.server and args.challenge:
        later_json = protocol_client(args).consistency(args.challenge, receipt.tree_head.size)
    if later_json is not None:
        later = later_json
        verify_receipt_against(
            receipt,
            SignedTreeHead.from_json(later["tree_head"]),
            ConsistencyProof.from_json(later["consistency"]),
            key,
        )
        print(f"receipt valid; the log of size {later['tree_head']['size']} still contains it")
    else:
        verify_receipt(receipt, key)
        print(f"receipt valid: entry {receipt.index} in the log of size {receipt.tree_head.size}")


def add_audit(sub: Subparsers) -> None:
    p = sub.add_parser(
        "audit",
        help="verify an audit bundle (named checks); `audit export` downloads one",
        description="audit BUNDLE | audit --server URL --challenge ID | "
        "audit export --server URL --challenge ID -o FILE. Exit status 0: every check passed "
        "and the challenge's rounds are done; 3: every check passed, some work is still in "
        "progress (listed as WAIT); 2: a check failed.",
    )
    p.add_argument("bundle", nargs="?", help="an audit bundle file, or the word export")
    server_options(p)
    p.add_argument("--challenge", help="the challenge on --server")
    p.add_argument("-o", "--output", help="with export: where to write the bundle")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_audit_dispatch)


def add_receipt(sub: Subparsers) -> None:
    p = sub.add_parser("receipt", help="submission receipts")
    receipt_sub = p.add_subparsers(dest="receipt_command", required=True, metavar="ACTION")
    p = receipt_sub.add_parser("verify", help="check a receipt (and a later tree head)")
    p.add_argument("receipt")
    p.add_argument("--service-key", required=True, help="the service's Ed25519 public key (hex)")
    p.add_argument("--later", help="JSON with a later tree_head and a consistency proof")
    server_options(p)
    p.add_argument("--challenge", help="with --server: check against the server's latest head")
    p.set_defaults(func=cmd_receipt_verify)
