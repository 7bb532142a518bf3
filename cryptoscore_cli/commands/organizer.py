"""The organizer's commands: ``challenge create`` (from a ceremony directory, naming the
organizer's key and who may enrol; it states what the releases give away of the labels,
``protocol/leakage.py``, and refuses, before anything is sent, a challenge where one identity
recovers every label before the close or where open enrolment has no cap, unless
``--accept-label-leakage``; ``--public-items N --finals K`` makes a public/private split,
whose leakage is a third line; ``--dp-rho R --dp-budget B`` has every trustee add
differential-privacy noise to each release, at most B/R releases per identity, and the first
line states that guarantee instead; ``--pad-sets any`` lets submitters name unchecked pad sets,
with a warning), ``challenge close`` (a split challenge, after its close
time: the private part of the finals is released), ``challenge show`` (a challenge's public
definition, for anyone), ``labels upload`` (labels encrypted locally with the trustees' pads,
signed, after every check that can come before the pads: ``prechecks.py``; a split's labels
carry the secret public part) and ``labels status``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptoscore.errors import FormatError
from cryptoscore_cli.commands.common import (
    client,
    encrypt_for,
    open_identity,
    protocol_client,
    read_file,
    server_options,
    signer_options,
    transfer_bar,
    upload_options,
)
from cryptoscore_cli.commands.prechecks import check_input, check_open, check_quota
from cryptoscore_cli.commands.watch import print_progress
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.api import Client
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_challenge", "add_labels", "check_label_leakage", "read_invited"]


def _public_key_hex(text: str, where: str) -> str:
    """A hex Ed25519 public key (either case, surrounding space ignored), as lower-case hex."""
    from cryptoscore.identity import PublicKey

    try:
        return PublicKey.from_hex(text.strip().lower()).hex()
    except FormatError:
        raise CliError(f"{where}: not an Ed25519 public key (64 hex digits)") from None


def read_invited(path: str) -> list[str]:
    """The public keys (hex) of an ``--invite`` file: one a line; blank lines and ``#``
    comments (whole lines or after a key) are ignored. At least one key, none twice."""
    from cryptoscore.protocol.rules import MAX_INVITED

    try:
        text = read_file(path).decode()
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a text file of hex public keys") from None
    keys: list[str] = []
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        key = _public_key_hex(entry, f"{path}:{number}")
        if key in lines:
            raise CliError(f"{path}:{number}: {key[:16]}… is already invited on line {lines[key]}")
        lines[key] = number
        keys.append(key)
    if not keys:
        raise CliError(f"{path}: no public keys to invite")
    if len(keys) > MAX_INVITED:
        raise CliError(f"{path}: {len(keys)} keys; a challenge invites at most {MAX_INVITED}")
    return keys


def cmd_challenge_create(args: argparse.Namespace) -> None:
    ceremony = Path(args.ceremony)
    organizer_pub = str(Path(args.organizer) / "identity.pub")
    organizer = _public_key_hex(read_file(organizer_pub).decode("utf-8", "replace"), organizer_pub)
    if args.enrolment == "invite":
        if not args.invite:
            raise CliError("--enrolment invite needs --invite FILE (the invited public keys)")
        invited = read_invited(args.invite)
    elif args.invite:
        raise CliError("--invite is only for --enrolment invite")
    else:
        invited = []
    definition: dict[str, Any] = {
        "id": args.id,
        "name": args.name or args.id,
        "classes": args.classes,
        "n_items": args.n_items,
        "metrics": [m.strip() for m in args.metrics.split(",") if m.strip()],
        "submission_limit_per_day": args.limit_per_day,
        "opens_at": args.opens,
        "closes_at": args.closes,
        "organizer_key": organizer,
        "enrolment": args.enrolment,
        "invited": invited,
    }
    if args.pad_requests_per_day is not None:
        definition["pad_requests_per_day"] = args.pad_requests_per_day
    if args.max_enrolled is not None:
        if args.enrolment != "open":
            raise CliError("--max-enrolled caps open enrolment; an invite list is its own cap")
        definition["max_enrolled"] = args.max_enrolled
    if args.description is not None:
        definition["description"] = args.description
    if args.finals is not None and args.public_items is None:
        raise CliError("--finals is for a public/private split: give --public-items too")
    if args.public_items is not None:
        if not 1 <= args.public_items < args.n_items:
            raise CliError(
                f"--public-items {args.public_items}: a split of {args.n_items} items has "
                f"1..{args.n_items - 1} public items"
            )
        definition["split"] = {"public_items": args.public_items, "finals": args.finals or 1}
    if (args.dp_rho is None) != (args.dp_budget is None):
        raise CliError("differential privacy needs both --dp-rho R and --dp-budget B")
    if args.dp_rho is not None:
        definition["dp"] = {"rho": args.dp_rho, "budget": args.dp_budget}
    if args.ladder_margin is not None:
        if "dp" in definition:
            from cryptoscore.protocol.rules import DP_WITH_LADDER

            raise CliError(f"--ladder-margin with --dp-rho: {DP_WITH_LADDER}")
        definition["ladder_margin"] = args.ladder_margin
    if args.pad_sets == "any":
        from cryptoscore.protocol.rules import PAD_SETS_ANY_WARNING

        definition["pad_sets"] = "any"
        print(PAD_SETS_ANY_WARNING, file=sys.stderr)
    check_label_leakage(definition, args.accept_label_leakage)
    created = create_challenge(client(args), definition, ceremony, args.quiet)
    print(json.dumps(created, indent=2, sort_keys=True))


def _when(text: str, option: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option} {text!r}: not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise CliError(f"{option} {text!r}: give the offset (e.g. Z or +01:00)")
    return when


def check_label_leakage(definition: dict[str, Any], accept: bool) -> None:
    """Print what the challenge's releases give away of its labels (stderr); refuse, in one
    line, what ``LabelLeakage.refusals`` names unless ``accept``."""
    from cryptoscore.protocol.leakage import label_leakage
    from cryptoscore.scoring.policy import ReleasePolicy

    policy = ReleasePolicy(definition["classes"], tuple(definition["metrics"]))
    if definition["enrolment"] == "invite":
        limit: int | None = len(definition["invited"])
    else:
        limit = definition.get("max_enrolled")
    closes = _when(definition["closes_at"], "--closes")
    split = None
    if "split" in definition:
        from cryptoscore.errors import CryptoScoreError
        from cryptoscore.protocol.rules import SplitRule

        try:  # the split closes with the challenge, as the service records it
            split = SplitRule(
                definition["split"]["public_items"],
                int(closes.timestamp() * 1000),
                definition["split"]["finals"],
            )
        except CryptoScoreError as exc:
            raise CliError(f"--public-items/--finals: {exc}") from None
    dp = None
    if "dp" in definition:
        from cryptoscore.errors import CryptoScoreError
        from cryptoscore.protocol.rules import DpRule

        try:
            dp = DpRule(definition["dp"]["rho"], definition["dp"]["budget"])
        except CryptoScoreError as exc:
            raise CliError(f"--dp-rho/--dp-budget: {exc}") from None
    leakage = label_leakage(
        policy,
        definition["n_items"],
        definition["submission_limit_per_day"],
        _when(definition["opens_at"], "--opens"),
        closes,
        limit,
        split,
        dp=dp,
        ladder=_ladder(definition),
    )
    for line in leakage.statement():
        print(line, file=sys.stderr)
    refusals = leakage.refusals()
    if refusals and not accept:
        raise CliError("refusing to create the challenge: " + "; and ".join(refusals))


def _ladder(definition: dict[str, Any]) -> Any:
    """The Ladder of ``--ladder-margin`` η: η in counts of the items it scores (the public
    part, or every item), exactly; refused unless a whole number of them."""
    if "ladder_margin" not in definition:
        return None
    from cryptoscore.errors import CryptoScoreError
    from cryptoscore.protocol.ladder import LadderRule, margin_counts

    split = definition.get("split")
    items = definition["n_items"] if split is None else split["public_items"]
    try:
        return LadderRule(margin_counts(definition["ladder_margin"], items))
    except CryptoScoreError as exc:
        raise CliError(f"--ladder-margin: {exc}") from None


def create_challenge(
    client: Client, definition: dict[str, Any], ceremony: Path, quiet: bool
) -> Any:
    """Create the challenge ``definition`` with the public files ``ceremony`` wrote (a bar for
    the upload: the evaluation keys alone are ~30–150 MB); the service's answer."""
    with transfer_bar("uploading the challenge's keys", quiet) as sent:
        return client.create_challenge(
            definition,
            read_file(str(ceremony / "ceremony.record")),
            read_file(str(ceremony / "public.ctx")),
            read_file(str(ceremony / "evaluation.keys")),
            upload=sent,
        )


def cmd_challenge_close(args: argparse.Namespace) -> None:
    closed = protocol_client(args).close(args.id)
    finals = closed["finals"]
    print(f"challenge {args.id} closed (log entry {closed['index']})")
    print(f"private parts asked for {len(finals)} final submission(s):")
    for digest in finals:
        print(f"  {digest}")


def cmd_challenge_show(args: argparse.Namespace) -> None:
    print(json.dumps(client(args).challenge(args.id), indent=2, sort_keys=True))


def cmd_labels_upload(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import sign_upload

    client = protocol_client(args)
    info = client.challenge(args.challenge)
    rules = info.get("rules")
    if not rules:
        raise CliError(
            f"challenge {args.challenge} predates signed inputs: it names no organizer key"
        )
    identity = open_identity(args.identity, args.passphrase_env)
    if rules.get("organizer") != identity.public_key.hex():
        raise CliError("this identity is not the challenge's organizer key")
    # everything the service would refuse after the trustees made pads, checked before
    check_open(info, "labels")
    status = client.labels_status(args.challenge)
    if status["uploaded"]:
        raise CliError(
            f"challenge {args.challenge} has its labels already ({status['bundle'][:16]}…, "
            f"{status['state']}): `cryptoscore labels status` shows them"
        )
    check_quota({"pad_requests": status["pad_requests"]})
    check_input(args.input, info)
    bundle, digest = encrypt_for(args, client, info, "labels", identity)
    signature = sign_upload(identity, args.challenge, "labels", digest)
    with transfer_bar("uploading labels", args.quiet) as sent:
        result = client.upload_labels(args.challenge, bundle, signature, upload=sent)
    print(json.dumps(result, indent=2, sort_keys=True))


def cmd_labels_status(args: argparse.Namespace) -> None:
    status = protocol_client(args).labels_status(args.challenge)
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
        return
    if not status["uploaded"]:
        print(f"labels of {args.challenge}: not uploaded")
    else:
        print(f"labels {status['bundle']}: {status['state']}")
        print(f"  uploaded at {status['submitted_at']}")
    print_progress(status)
    quota = status["pad_requests"]
    print(f"  pad requests: {quota['used']} of {quota['per_day']} in the last 24 hours")


def add_challenge(sub: Subparsers) -> None:
    p = sub.add_parser("challenge", help="challenges on a server")
    challenge_sub = p.add_subparsers(dest="challenge_command", required=True, metavar="ACTION")
    p = challenge_sub.add_parser("create", help="create a challenge from a ceremony directory")
    server_options(p)
    p.add_argument("--id", required=True)
    p.add_argument("--name")
    p.add_argument(
        "--description",
        help="text for readers of the web page (up to 4000 characters; not part of the logged "
        "definition)",
    )
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--n-items", type=int, required=True)
    p.add_argument("--metrics", default="correct,errors")
    p.add_argument("--limit-per-day", type=int, default=5)
    p.add_argument("--opens", required=True, help="ISO 8601 with offset")
    p.add_argument("--closes", required=True, help="ISO 8601 with offset")
    p.add_argument("--ceremony", required=True, help="directory written by `ceremony`")
    p.add_argument(
        "--organizer",
        required=True,
        metavar="DIR",
        help="directory with the organizer's identity.pub (from `identity init`): the key "
        "that must sign the labels",
    )
    p.add_argument(
        "--enrolment",
        choices=("open", "invite"),
        default="open",
        help="who may enrol: open (any identity) or invite (only the --invite keys); default open",
    )
    p.add_argument(
        "--invite",
        metavar="FILE",
        help="with --enrolment invite: the invited public keys, one hex key a line "
        "(blank lines and # comments ignored)",
    )
    p.add_argument(
        "--pad-requests-per-day",
        type=int,
        metavar="N",
        help="pad requests each enrolled identity may make in any 24 hours "
        "(default: twice --limit-per-day)",
    )
    p.add_argument(
        "--max-enrolled",
        type=int,
        metavar="N",
        help="with --enrolment open: at most N identities may enrol (the first N in the log); "
        "trustees refuse inputs of any later one",
    )
    p.add_argument(
        "--accept-label-leakage",
        action="store_true",
        help="create the challenge even if one identity can recover every label before the "
        "close, or open enrolment has no cap (the warning is printed all the same)",
    )
    p.add_argument(
        "--public-items",
        type=int,
        metavar="N",
        help="a public/private split: N items are public (which ones stays secret); the "
        "leaderboard shows public scores until --closes, then the private part of each "
        "participant's final submissions (`challenge close`)",
    )
    p.add_argument(
        "--finals",
        type=int,
        metavar="K",
        help="with --public-items: final submissions per participant (default 1)",
    )
    p.add_argument(
        "--dp-rho",
        type=float,
        metavar="R",
        help="differential privacy: every trustee adds discrete Gaussian noise to each release "
        "so that one honest trustee's noise alone gives R-zCDP per release (with --dp-budget)",
    )
    p.add_argument(
        "--dp-budget",
        type=float,
        metavar="B",
        help="with --dp-rho: each participant's privacy budget (zCDP rho_total); trustees "
        "refuse releases beyond B/R per participant",
    )
    p.add_argument(
        "--ladder-margin",
        metavar="ETA",
        help="the Ladder (docs/design.md, 'Ladder'): a participant's shown score changes only "
        "when a submission beats it by more than ETA (0 < ETA < 1, e.g. 0.01; ETA times the "
        "items scored — the public part, or every item — must be a whole number)",
    )
    p.add_argument(
        "--pad-sets",
        choices=("checked", "any"),
        default="checked",
        help="which pad sets a submitter may name (docs/design.md, 'Checked pad sets'): "
        "checked (default) — enough trustees that every bundle's round 1 and score are checked "
        "against lying trustees; any — availability first: as few as t trustees, whose "
        "releases are not checked (a warning is printed)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_challenge_create)
    p = challenge_sub.add_parser(
        "close",
        help="close a public/private split challenge after its close time: the private part "
        "of each participant's final submissions is released",
    )
    server_options(p)
    p.add_argument("id")
    p.set_defaults(func=cmd_challenge_close)

    p = challenge_sub.add_parser("show", help="a challenge's public definition")
    server_options(p)
    p.add_argument("id")
    p.set_defaults(func=cmd_challenge_show)


def add_labels(sub: Subparsers) -> None:
    p = sub.add_parser("labels", help="the organizer's labels")
    labels_sub = p.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    p = labels_sub.add_parser("upload", help="encrypt labels locally and upload them")
    upload_options(p)
    signer_options(
        p,
        "directory with the organizer's identity.pem (its identity.pub went to `challenge "
        "create --organizer`): signs the pad request and the labels",
    )
    p.set_defaults(func=cmd_labels_upload)
    p = labels_sub.add_parser(
        "status", help="the labels' round-1 state, why they are stuck, what they wait for"
    )
    server_options(p)
    p.add_argument("--challenge", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_labels_status)
