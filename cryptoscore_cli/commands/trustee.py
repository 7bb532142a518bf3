"""A trustee's commands: ``trustee init`` (its Ed25519 identity, whose public key goes to the
dealer) and ``trustee run`` (the loop of ``cryptoscore_cli/trustee_loop.py`` against the
service, with the share file from the ceremony)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cryptoscore_cli.commands.common import (
    ask_passphrase,
    new_identity,
    open_identity,
    protocol_client,
    read_file,
    server_options,
)
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.identity import Identity
    from cryptoscore.threshold.ceremony import KeyShare
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["CEREMONY_RECORD", "add_trustee", "check_identity_on_roster"]

CEREMONY_RECORD = "ceremony.record"
"""The record's name in the directory ``ceremony --out`` writes (beside the share files)."""


def cmd_trustee_init(args: argparse.Namespace) -> None:
    out, key = new_identity(args, "a trustee identity")
    print(f"trustee identity written to {out}/identity.pem (encrypted)")
    print(f"give the dealer your public key: {key}")


def cmd_trustee_run(args: argparse.Namespace) -> None:
    from cryptoscore.threshold.ceremony import open_share_file
    from cryptoscore_cli.trustee_loop import TrusteeLoop

    home = Path(args.home)
    identity = open_identity(args.home, args.passphrase_env)
    share = open_share_file(
        read_file(args.share),
        ask_passphrase(
            args.share_passphrase_env,
            "share-file passphrase: ",
            option="--share-passphrase-env VAR",
        ),
    )
    checked_in = check_identity_on_roster(identity, share, args)
    loop = TrusteeLoop(protocol_client(args), share, identity, home / "partials.journal")
    loop.roster_checked_in = checked_in
    loop.run(once=args.once, interval=args.interval)


def check_identity_on_roster(
    identity: Identity, share: KeyShare, args: argparse.Namespace
) -> Path | None:
    """Refuse a share and an identity that do not belong together: the ceremony record
    (``--ceremony-record``, else the one beside ``--share``, as ``ceremony`` writes them) must
    be the share's and name the identity's public key for the share's trustee. Returns the
    record checked against, or ``None`` when there is none beside the share."""
    from cryptoscore.threshold.ceremony import CeremonyRecord

    path = Path(args.ceremony_record or Path(args.share).with_name(CEREMONY_RECORD))
    if args.ceremony_record is None and not path.exists():
        return None
    record = CeremonyRecord.from_bytes(read_file(str(path)))
    if record.key_id != share.key_id:
        raise CliError(f"{path} is the record of another ceremony than {args.share}")
    if record.entry(share.trustee_id).public_key != identity.public_key:
        raise CliError(
            f"{args.home}/identity.pem is not the identity the roster names for "
            f"{share.trustee_id} ({path}): use {share.trustee_id}'s identity"
        )
    return path


def add_trustee(sub: Subparsers) -> None:
    p = sub.add_parser("trustee", help="trustee identity")
    trustee_sub = p.add_subparsers(dest="trustee_command", required=True, metavar="ACTION")
    p = trustee_sub.add_parser("init", help="create this trustee's Ed25519 identity")
    p.add_argument("--out", required=True, help="directory for identity.pem / identity.pub")
    p.add_argument("--passphrase-env", help="read the passphrase from this variable")
    p.set_defaults(func=cmd_trustee_init)
    p = trustee_sub.add_parser("run", help="answer what awaits this trustee (recompute first)")
    server_options(p)
    p.add_argument("--home", required=True, help="directory with identity.pem (and the journal)")
    p.add_argument(
        "--share", required=True, help="this trustee's share file (ceremony/share-<id>.bin)"
    )
    p.add_argument(
        "--ceremony-record",
        metavar="PATH",
        help="the ceremony's record, to check the identity against its roster before starting "
        "(default: ceremony.record beside --share, if there)",
    )
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="identity passphrase from this variable (needed without a terminal)",
    )
    p.add_argument(
        "--share-passphrase-env",
        metavar="VAR",
        help="share-file passphrase from this variable (needed without a terminal)",
    )
    p.add_argument("--once", action="store_true", help="one pass, print a summary, then exit")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    p.set_defaults(func=cmd_trustee_run)
