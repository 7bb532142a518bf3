"""A trustee's commands: ``trustee init`` (its Ed25519 identity, whose public key goes in a
ceremony's roster) and ``trustee run`` (the loop of ``cryptoscore_cli/trustee_loop.py``
against the service: it takes part in the key ceremonies the service relays for this trustee,
and serves a share — ``--share``, else the one its ceremony finished in ``--home``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cryptoscore_cli.commands.common import (
    MIN_PASSPHRASE_BYTES,
    ask_passphrase,
    new_identity,
    protocol_client,
    read_file,
    server_options,
    unlock_identity,
)
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.identity import Identity
    from cryptoscore.threshold.ceremony import KeyShare
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["CEREMONY_RECORD", "add_trustee", "check_identity_on_roster", "record_beside"]

CEREMONY_RECORD = "ceremony.record"
"""The record's name in the directory ``ceremony deal --out`` writes (beside the share files)."""


def cmd_trustee_init(args: argparse.Namespace) -> None:
    out, key = new_identity(args, "a trustee identity")
    print(f"trustee identity written to {out}/identity.pem (encrypted)")
    print(f"give the organizer your public key (for the ceremony's roster): {key}")


def cmd_trustee_run(args: argparse.Namespace) -> None:
    from cryptoscore.threshold.ceremony import open_share_file
    from cryptoscore_cli.api import ServiceCeremonyExchange
    from cryptoscore_cli.ceremony_trustee import (
        ServiceCeremonies,
        finished_shares,
        message_cache,
    )
    from cryptoscore_cli.trustee_loop import TrusteeLoop

    home = Path(args.home)
    identity, identity_passphrase = unlock_identity(args.home, args.passphrase_env)
    share_path: Path | None = Path(args.share) if args.share else None
    said: list[str] = []
    if share_path is None:
        found = finished_shares(home)
        if found:
            share_path = found[0]
            if len(found) > 1:
                said.append(
                    f"{len(found)} finished ceremonies' shares in {home}: serving the newest, "
                    f"{share_path}"
                )
    # asked once: it opens the share served, and seals those the ceremonies finish
    share_passphrase = ask_passphrase(
        args.share_passphrase_env,
        "share-file passphrase: ",
        option="--share-passphrase-env VAR",
        new=share_path is None,
        minimum=MIN_PASSPHRASE_BYTES if share_path is None else 0,
    )

    def open_share(path: Path) -> tuple[KeyShare, Path | None]:
        share = open_share_file(read_file(str(path)), share_passphrase)
        where = argparse.Namespace(
            share=str(path), ceremony_record=args.ceremony_record, home=args.home
        )
        return share, check_identity_on_roster(identity, share, where)

    share, checked_in = open_share(share_path) if share_path is not None else (None, None)
    client = protocol_client(args)
    loop = TrusteeLoop(client, share, identity, home / "partials.journal")
    loop.roster_checked_in = checked_in
    loop.open_share = open_share
    loop.ceremonies = ServiceCeremonies(
        home,
        identity,
        identity_passphrase,
        lambda: share_passphrase,
        lambda ceremony_id: ServiceCeremonyExchange(
            client, ceremony_id, cache_dir=message_cache(home, ceremony_id)
        ),
        say=loop.say,
        bar=loop.bar,
    )
    for line in said:
        loop.say(line)
    loop.run(once=args.once, interval=args.interval)


def record_beside(share: Path) -> Path:
    """The ceremony record beside a share file: ``ceremony-X.record`` for ``share-X.bin`` (a
    trustee's home, as ``ceremony step`` writes them), else ``ceremony.record`` (the folder
    ``ceremony deal`` writes)."""
    name = share.name
    if name.startswith("share-") and name.endswith(".bin"):
        own = share.with_name(f"ceremony-{name[len('share-') : -len('.bin')]}.record")
        if own.is_file():
            return own
    return share.with_name(CEREMONY_RECORD)


def check_identity_on_roster(
    identity: Identity, share: KeyShare, args: argparse.Namespace
) -> Path | None:
    """Refuse a share and an identity that do not belong together: the ceremony record
    (``--ceremony-record``, else the one beside ``--share``: :func:`record_beside`) must be
    the share's and name the identity's public key for the share's trustee. Returns the
    record checked against, or ``None`` when there is none beside the share."""
    from cryptoscore.threshold.ceremony import CeremonyRecord

    path = Path(args.ceremony_record or record_beside(Path(args.share)))
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
    p = trustee_sub.add_parser(
        "run",
        help="take part in the key ceremonies the service relays for this trustee, and answer "
        "what awaits it (recompute first) with its share",
    )
    server_options(p)
    p.add_argument(
        "--home",
        required=True,
        help="this trustee's folder: identity.pem, the journal, and each ceremony's seed, "
        "share and record",
    )
    p.add_argument(
        "--share",
        help="the share file to serve (default: the one a ceremony finished in --home, the "
        "newest if several; with none yet, the first ceremony it finishes)",
    )
    p.add_argument(
        "--ceremony-record",
        metavar="PATH",
        help="the ceremony's record, to check the identity against its roster before starting "
        "(default: the record beside the share, if there)",
    )
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="identity passphrase from this variable (needed without a terminal)",
    )
    p.add_argument(
        "--share-passphrase-env",
        metavar="VAR",
        help="share-file passphrase from this variable (needed without a terminal); it also "
        "seals the shares its ceremonies finish",
    )
    p.add_argument("--once", action="store_true", help="one pass, print a summary, then exit")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    p.set_defaults(func=cmd_trustee_run)
