"""A participant's commands: ``identity init`` (an Ed25519 identity, the organizer's too),
``enrol``, ``submit`` (predictions encrypted locally with the trustees' pads, signed, after
every check that can come before the pads, ``prechecks.py``; ``--wait`` follows it until it is
decided), ``status`` (a submission's state, why it is stuck or what it waits for, its released
scores), ``select-finals`` (a public/private split: the signed choice of final submissions)
and ``leaderboard``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from cryptoscore_cli.api import ApiError
from cryptoscore_cli.commands.common import (
    encrypt_for,
    identity_options,
    new_identity,
    open_identity,
    protocol_client,
    server_options,
    signer_options,
    transfer_bar,
    upload_options,
    write_file,
)
from cryptoscore_cli.commands.prechecks import check_input, check_open, check_quota
from cryptoscore_cli.commands.watch import print_progress, print_released, wait_for_decision
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.api import ProtocolClient
    from cryptoscore_cli.commands.common import Subparsers

__all__ = [
    "add_enrol",
    "add_identity",
    "add_leaderboard",
    "add_select_finals",
    "add_status",
    "add_submit",
]


def cmd_identity_init(args: argparse.Namespace) -> None:
    out, key = new_identity(args, "an identity")
    print(f"identity written to {out}/identity.pem (encrypted) and {out}/identity.pub")
    print(f"public key: {key}")


def cmd_enrol(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import Enrolment

    client = protocol_client(args)
    identity = open_identity(args.identity, args.passphrase_env)
    record = Enrolment.sign(identity, args.challenge, args.name)
    client.enrol(args.challenge, record.to_bytes())
    print(f"enrolled {args.name} in {args.challenge} as {identity.public_key.hex()[:16]}…")


def _enrolment(client: ProtocolClient, challenge_id: str) -> Any:
    """The caller's enrolment in the challenge: its identity (hex key) and quota use."""
    try:
        return client.enrolment(challenge_id)
    except ApiError as exc:
        if exc.status == 404:
            raise CliError(
                f"not enrolled in {challenge_id}: run `cryptoscore enrol` first"
            ) from None
        raise


def cmd_submit(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import sign_upload

    client = protocol_client(args)
    info = client.challenge(args.challenge)  # first: an unknown challenge is not "not enrolled"
    enrolment = _enrolment(client, args.challenge)
    enrolled = str(enrolment["identity"])
    identity = open_identity(args.identity, args.passphrase_env)
    if identity.public_key.hex() != enrolled:
        raise CliError(
            f"this identity is not the one enrolled in {args.challenge} ({enrolled[:16]}…)"
        )
    # everything the service would refuse after the trustees made pads, checked before
    check_open(info, "predictions")
    check_quota(enrolment.get("quota") or {})
    check_input(args.input, info)
    bundle, digest = encrypt_for(args, client, info, "predictions", identity)
    signature = sign_upload(identity, args.challenge, "predictions", digest)
    with transfer_bar("uploading predictions", args.quiet) as sent:
        result = client.submit(args.challenge, bundle, signature, upload=sent)
    if args.receipt:
        write_file(args.receipt, json.dumps(result["receipt"], sort_keys=True).encode())
    print(f"submission {result['submission']}: {result['state']}", flush=True)
    if args.receipt:
        print(f"receipt written to {args.receipt}", flush=True)
    if args.wait:
        status = wait_for_decision(
            client, args.challenge, result["submission"], timeout=args.timeout, quiet=args.quiet
        )
        print(f"submission {result['submission']}: released")
        print_released(status["values"])


def cmd_select_finals(args: argparse.Namespace) -> None:
    import time

    from cryptoscore.protocol.signed_inputs import sign_selection

    client = protocol_client(args)
    info = client.challenge(args.challenge)
    split = (info.get("rules") or {}).get("split")
    if not split:
        raise CliError(f"challenge {args.challenge} has no public/private split: no finals")
    if len(args.submissions) > int(split["finals"]):
        raise CliError(
            f"{len(args.submissions)} submissions; challenge {args.challenge} takes at most "
            f"{split['finals']} final(s)"
        )
    enrolled = str(_enrolment(client, args.challenge)["identity"])
    identity = open_identity(args.identity, args.passphrase_env)
    if identity.public_key.hex() != enrolled:
        raise CliError(
            f"this identity is not the one enrolled in {args.challenge} ({enrolled[:16]}…)"
        )
    # the sequence must rise with every selection: this machine's clock in ms does, and a
    # later selection replaces an earlier one
    sequence = time.time_ns() // 1_000_000
    submissions = list(args.submissions)
    signature = sign_selection(identity, args.challenge, sequence, submissions)
    result = client.select_finals(args.challenge, sequence, submissions, signature)
    print(
        f"final submissions of {args.challenge} (selection {sequence}, log entry "
        f"{result['index']}):"
    )
    for digest in result["submissions"]:
        print(f"  {digest}")


def cmd_status(args: argparse.Namespace) -> None:
    status = protocol_client(args).submission(args.challenge, args.submission)
    if args.json:
        print(json.dumps(status, indent=2))
        return
    print(f"submission {status['submission']}: {status['state']}")
    print(f"  by {status['participant']}, uploaded at {status['submitted_at']}")
    print_progress(status)
    if status.get("values") is not None:
        print_released(status["values"])


def cmd_leaderboard(args: argparse.Namespace) -> None:
    from cryptoscore_cli.leaderboard_table import fetch_leaderboard, format_leaderboard

    board = fetch_leaderboard(
        protocol_client(args), args.challenge, "all" if args.all else "best", args.part
    )
    if args.json:
        print(json.dumps(board, indent=2, sort_keys=True))
    else:
        print(format_leaderboard(board, confusion=args.confusion))


def add_identity(sub: Subparsers) -> None:
    p = sub.add_parser("identity", help="organizer and participant identities")
    identity_sub = p.add_subparsers(dest="identity_command", required=True, metavar="ACTION")
    p = identity_sub.add_parser(
        "init", help="create an organizer's or participant's Ed25519 identity"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="directory for identity.pem / identity.pub"
    )
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the passphrase from this variable (default: type it twice)",
    )
    p.set_defaults(func=cmd_identity_init)


def add_enrol(sub: Subparsers) -> None:
    p = sub.add_parser("enrol", help="enrol an identity in a challenge (before submitting)")
    server_options(p)
    p.add_argument("--challenge", required=True, help="the challenge to enrol in")
    identity_options(p, "directory with the identity.pem to enrol (from `identity init`)")
    p.add_argument(
        "--name", required=True, help="the name to enrol under (1..64 printable characters)"
    )
    p.set_defaults(func=cmd_enrol)


def add_submit(sub: Subparsers) -> None:
    p = sub.add_parser("submit", help="encrypt predictions locally and submit them")
    upload_options(p)
    p.add_argument("--receipt", help="write the submission receipt (JSON) here")
    p.add_argument(
        "--wait",
        action="store_true",
        help="after the upload, follow the submission until it is decided: exit 0 and print "
        "the scores once released, 2 with the reason if invalid, 3 if --timeout ends the wait",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="with --wait: how long to follow it (default 3600)",
    )
    signer_options(
        p,
        "directory with the identity.pem you enrolled (`enrol`): signs the pad request and "
        "the predictions",
    )
    p.set_defaults(func=cmd_submit)


def add_select_finals(sub: Subparsers) -> None:
    p = sub.add_parser(
        "select-finals",
        help="a public/private split: choose the submissions whose private part is released "
        "after the close (signed; the latest selection before the close counts)",
    )
    server_options(p)
    p.add_argument("--challenge", required=True)
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="submission digests")
    identity_options(p, "directory with the identity.pem you enrolled (`enrol`): signs it")
    p.set_defaults(func=cmd_select_finals)


def add_status(sub: Subparsers) -> None:
    p = sub.add_parser(
        "status", help="a submission's state, why it is stuck or what it waits for, its scores"
    )
    server_options(p)
    p.add_argument("submission")
    p.add_argument("--challenge", required=True)
    p.add_argument("--json", action="store_true", help="the service's status object as JSON")
    p.set_defaults(func=cmd_status)


def add_leaderboard(sub: Subparsers) -> None:
    p = sub.add_parser("leaderboard", help="released scores, ranked")
    server_options(p)
    p.add_argument("challenge")
    p.add_argument(
        "--all",
        action="store_true",
        help="every released submission (default: each participant's best)",
    )
    p.add_argument(
        "--part",
        choices=("public", "private"),
        help="a public/private split: which part's scores (default: public until the close, "
        "private after)",
    )
    p.add_argument(
        "--confusion",
        action="store_true",
        help="print each row's confusion matrix (predicted × label) under it, if released",
    )
    p.add_argument(
        "--json", action="store_true", help="print the API response (every page's rows joined)"
    )
    p.set_defaults(func=cmd_leaderboard)
