"""The legacy dealer's command: ``ceremony deal``, key ceremony v1 (a trusted dealer, run
offline). From the trustees' public keys it writes the ceremony record, the public context, the
evaluation keys and one passphrase-encrypted share file per trustee, then erases the key — but
the dealer held the whole secret key and could have kept a copy: it warns so, and the
dealerless ceremony (``commands/ceremony.py``) is the one to use. Also the roster file both
read (:func:`read_roster`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import cryptoscore as cs
from cryptoscore_cli.commands.common import (
    MIN_PASSPHRASE_BYTES,
    ask_passphrase,
    progress_bar,
    read_file,
    write_file,
)
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.threshold.ceremony import RosterEntry
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["DEALER_WARNING", "add_deal", "read_roster"]

DEALER_WARNING = (
    "cryptoscore: warning: `ceremony deal` is the legacy dealer ceremony: this machine "
    "generates the whole secret key and could keep a copy to decrypt every submission; "
    "prefer the dealerless ceremony (`ceremony plan`/`step`/`verify`, or `ceremony start` and "
    "`trustee run`), in which nobody ever holds the key"
)


def read_roster(path: str) -> list[RosterEntry]:
    """A roster file: a JSON list of ``{"id": roster id, "public_key": hex}``, one per trustee,
    in Shamir order (the first is index 1); each key is what that trustee's ``trustee init``
    printed (its identity.pub)."""
    from cryptoscore.identity import TrusteePublicKey
    from cryptoscore.threshold.ceremony import RosterEntry

    try:
        roster_json = json.loads(read_file(path))
        if not isinstance(roster_json, list):
            raise TypeError("not a list")
        return [
            RosterEntry(str(e["id"]), i + 1, TrusteePublicKey.from_hex(str(e["public_key"])))
            for i, e in enumerate(roster_json)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(f"{path}: expected a JSON list of {{id, public_key}} ({exc})") from None


def cmd_deal(args: argparse.Namespace) -> None:
    from cryptoscore.threshold.ceremony import run_ceremony

    print(DEALER_WARNING, file=sys.stderr)
    roster = read_roster(args.roster)
    passphrases = {}
    for entry in roster:
        env = (
            f"{args.passphrase_env_prefix}{entry.trustee_id.upper().replace('-', '_')}"
            if (args.passphrase_env_prefix)
            else None
        )
        passphrases[entry.trustee_id] = ask_passphrase(
            env,
            f"share-file passphrase for {entry.trustee_id} (typed by that trustee): ",
            option="--passphrase-env-prefix PREFIX",
            new=True,
            minimum=MIN_PASSPHRASE_BYTES,
        )
    params = cs.get_parameter_set(args.params)
    from cryptoscore.scoring.noise import smudging_is_proven

    if not smudging_is_proven(params, committee=len(roster)):
        print(
            f"cryptoscore: note: {params.ID}: decryption smudging rests on a heuristic noise "
            "estimate, not a proof (SECURITY.md); bfv-16384 has a proven one",
            file=sys.stderr,
        )
    # a step: the key generated, then each share file sealed (scrypt: a second or so each)
    with progress_bar(1 + len(roster), "key ceremony", args.quiet, "step") as progress:
        result = run_ceremony(params, roster, args.threshold, passphrases, progress=progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_file(str(out / "ceremony.record"), result.record.to_bytes())
    write_file(str(out / "public.ctx"), result.public.to_bytes())
    write_file(str(out / "evaluation.keys"), result.evaluation.to_bytes())
    for tid, blob in result.share_files.items():
        write_file(str(out / f"share-{tid}.bin"), blob, private=True)
    print(f"ceremony {result.record.digest[:16]}…: {args.threshold} of {len(roster)} trustees")
    print(
        f"wrote {out}/ceremony.record, public.ctx, evaluation.keys and one share file per "
        "trustee; the dealer erased the key, but held it (see SECURITY.md)"
    )


def add_deal(actions: Subparsers) -> None:
    """``ceremony deal``, added to ``ceremony``'s actions (``commands/ceremony.py``)."""
    p = actions.add_parser(
        "deal",
        help="legacy dealer ceremony, run offline: the dealer sees the whole secret key "
        "(prefer the dealerless ceremony)",
        description=DEALER_WARNING.removeprefix("cryptoscore: warning: "),
    )
    p.add_argument("--roster", required=True, help='JSON: [{"id": ..., "public_key": hex}]')
    p.add_argument("--threshold", type=int, required=True)
    p.add_argument(
        "--params",
        default=cs.BFV16384.ID,
        help="parameter set (default bfv-16384, whose decryption smudging is proven; "
        "bfv-8192 is faster and rests on a heuristic noise estimate: see `params`)",
    )
    p.add_argument("--out", required=True)
    p.add_argument(
        "--passphrase-env-prefix",
        help="read each trustee's passphrase from PREFIX<ID> (id upper-cased, - as _)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_deal)
