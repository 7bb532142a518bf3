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

if TYPE_CHECKING:
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_trustee"]


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
        ask_passphrase(args.share_passphrase_env, "share-file passphrase: ", confirm=False),
    )
    loop = TrusteeLoop(protocol_client(args), share, identity, home / "partials.journal")
    loop.run(once=args.once, interval=args.interval)


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
    p.add_argument("--share", required=True, help="this trustee's share file")
    p.add_argument("--passphrase-env", help="identity passphrase from this variable")
    p.add_argument("--share-passphrase-env", help="share-file passphrase from this variable")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=2.0)
    p.set_defaults(func=cmd_trustee_run)
